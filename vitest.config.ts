import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // One test file per core: most files are single-threaded explorations, so two at once on the
    // project's 2-core machines halves the wall time (vitest's default leaves one core idle).
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
