import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // One test file per core: most files are single-threaded explorations, so two at once on the
    // project's 2-core machines halves the wall time (vitest's default leaves one core idle).
    maxWorkers: 2,
    // Tests and the checker load as Node loads them, through tsx (as bin/dio-cache.js and the
    // worker threads do), not through Vite's module runner, whose rewritten imports cost the
    // explorations' hot loops about a sixth of their CPU time. Nothing here uses vi.mock.
    execArgv: ['--import', 'tsx'],
    experimental: { viteModuleRunner: false },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
