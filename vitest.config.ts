import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * About the seconds of test time each file takes in a full run on an idle 2-core machine: the
 * per-file times of the idle run of 2026-12-07 18:00 (203 s wall), with the files that issue
 * 12's last cuts made cheaper scaled by what those cuts saved (measured on a busy machine, each
 * file before and after within minutes: parallel about 0.75, scopes 0.7, shards 0.75, fastcheck
 * 0.9). Only their order matters: see LongestFirst.
 */
const SECONDS: Record<string, number> = {
  'test/explorer.test.ts': 49,
  'test/c-check.test.ts': 32,
  'test/reduction.test.ts': 42,
  'test/parallel.test.ts': 31,
  'test/suite.test.ts': 18.7,
  'test/fastcheck.test.ts': 18.6,
  'test/ports.test.ts': 18.5,
  'test/cli.test.ts': 17.8,
  'test/c-guards.test.ts': 14.9,
  'test/kmemleak.test.ts': 9.7,
  'test/c-constructs.test.ts': 8.7,
  'test/trace-viewer.test.ts': 8.6,
  'test/docs-output.test.ts': 8.4,
  'test/c-bio.test.ts': 8.3,
  'test/c-cli.test.ts': 8,
  'test/shards.test.ts': 7.5,
  'test/boundaries.test.ts': 6.5,
  'test/c-compile.test.ts': 5.9,
  'test/scopes.test.ts': 5,
  'test/paths.test.ts': 4,
  'test/put-outcome.test.ts': 4,
  'test/variants.test.ts': 4,
  'test/sheaves.test.ts': 3,
  'test/c-fuzz.test.ts': 2,
  'test/check-dfs.test.ts': 2,
  'test/primitives.test.ts': 2,
  'test/rt.test.ts': 2,
  'test/atomicity.test.ts': 1,
  'test/kernel.test.ts': 1,
};

/**
 * The longest files first, so that the last ones to start are short and both workers end
 * together (a 34 s file started last would leave the other core idle for half a minute). Vitest
 * orders by its own timing of each file's last run, which a fresh clone (CI, a user's `npm ci`)
 * does not have (it then orders by file size, and fastcheck.test.ts, one of the shortest files
 * and one of the longest runs, starts last), and which a run of one file alone, or on a busy
 * machine, rewrites out of proportion to the others. Here: the table above, then vitest's timing
 * of a file the table does not list (a new one), then 1 s.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification): number => {
      const path = relative(this.ctx.config.root, f.moduleId).split('\\').join('/');
      const ms = this.ctx.cache.getFileTestResults(`${f.project.name}:${path}`)?.duration;
      return SECONDS[path] ?? (ms !== undefined ? ms / 1000 : 1);
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
    // Each of the two worker processes runs one file after another, keeping what the earlier
    // ones loaded: tsx and the checker's modules, the JIT's work and the statechart's memo
    // (abstraction.ts shares it between every run in a process), which a fresh process per file
    // paid again each time (a fifth of the CPU time of twelve of the files, measured). Nothing
    // a test file does outlives it otherwise: no test mutates a module's state, the environment
    // or a registry, and test/cli-run.ts restores the directory, exit code and streams it borrows.
    isolate: false,
    // Tests and the checker load as Node loads them, through tsx (as bin/dio-cache.js and the
    // worker threads do), not through Vite's module runner, whose rewritten imports cost the
    // explorations' hot loops about a sixth of their CPU time. Nothing here uses vi.mock.
    execArgv: ['--import', 'tsx'],
    experimental: { viteModuleRunner: false },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
