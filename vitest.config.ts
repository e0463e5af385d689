import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Seconds of test time per file in a full run on a 2-core machine (the heavy ones; any other file
 * counts as 1 s). Only their order matters: see LongestFirst.
 */
const SECONDS: Record<string, number> = {
  'test/suite.test.ts': 40,
  'test/explorer.test.ts': 38,
  'test/parallel.test.ts': 34,
  'test/fastcheck.test.ts': 34,
  'test/c-check.test.ts': 29,
  'test/reduction.test.ts': 27,
  'test/cli.test.ts': 23,
  'test/ports.test.ts': 21,
  'test/trace-viewer.test.ts': 14,
  'test/c-guards.test.ts': 12,
  'test/shards.test.ts': 11,
  'test/atomicity.test.ts': 9,
  'test/kmemleak.test.ts': 9,
  'test/c-compile.test.ts': 8,
  'test/rt.test.ts': 8,
  'test/c-bio.test.ts': 7,
  'test/c-cli.test.ts': 7,
  'test/scopes.test.ts': 7,
  'test/c-constructs.test.ts': 7,
};

/**
 * The longest files first, so that the last ones to start are short and both workers end
 * together (a 34 s file started last would leave the other core idle for half a minute). Vitest
 * orders by its own timings of the last run, which a fresh clone (CI, a user's `npm ci`) does
 * not have: it then orders by file size, and fastcheck.test.ts, one of the shortest files and one
 * of the longest runs, would start last. Here: vitest's timing of a file when it has one, else
 * the table above.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification): number => {
      const path = relative(this.ctx.config.root, f.moduleId).split('\\').join('/');
      const ms = this.ctx.cache.getFileTestResults(`${f.project.name}:${path}`)?.duration;
      return ms !== undefined ? ms / 1000 : (SECONDS[path] ?? 1);
    };
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // One test file per core: most files are single-threaded explorations, so two at once on the
    // project's 2-core machines halves the wall time (vitest's default leaves one core idle).
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
    // Tests and the checker load as Node loads them, through tsx (as bin/dio-cache.js and the
    // worker threads do), not through Vite's module runner, whose rewritten imports cost the
    // explorations' hot loops about a sixth of their CPU time. Nothing here uses vi.mock.
    execArgv: ['--import', 'tsx'],
    experimental: { viteModuleRunner: false },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
