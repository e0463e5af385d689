import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * About the seconds of test time each file takes in a full run on a 2-core machine, measured
 * (vitest's per-file times) in the run of 2026-12-07 14:09, which shared the machine with a
 * benchmark: about twice an idle run's figures; the files with worker threads or child processes
 * (parallel, cli) lose the most to such sharing. Only their order matters: see LongestFirst.
 */
const SECONDS: Record<string, number> = {
  'test/c-check.test.ts': 103,
  'test/explorer.test.ts': 102,
  'test/parallel.test.ts': 67,
  'test/reduction.test.ts': 61,
  'test/cli.test.ts': 48,
  'test/fastcheck.test.ts': 39,
  'test/suite.test.ts': 17,
  'test/kmemleak.test.ts': 16,
  'test/ports.test.ts': 16,
  'test/shards.test.ts': 12,
  'test/c-bio.test.ts': 11,
  'test/c-guards.test.ts': 11,
  'test/paths.test.ts': 11,
  'test/trace-viewer.test.ts': 11,
  'test/c-cli.test.ts': 8,
  'test/docs-output.test.ts': 7,
  'test/sheaves.test.ts': 7,
  'test/c-constructs.test.ts': 6,
  'test/scopes.test.ts': 6,
  'test/variants.test.ts': 6,
  'test/boundaries.test.ts': 5,
  'test/c-compile.test.ts': 5,
  'test/c-fuzz.test.ts': 4,
  'test/atomicity.test.ts': 3,
  'test/check-dfs.test.ts': 3,
  'test/put-outcome.test.ts': 3,
  'test/rt.test.ts': 3,
  'test/kernel.test.ts': 2,
  'test/primitives.test.ts': 2,
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
