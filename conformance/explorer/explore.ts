/**
 * The interleaving explorer: an exhaustive, stateful search over every choice a System allows.
 *
 * - BFS (the default: the first counterexample is a shortest one) or DFS.
 * - The visited set holds 64-bit fingerprints of the whole World (fingerprint.ts), up to
 *   object-identity symmetry unless `symmetry: false`; BFS keeps a parent index and a choice index
 *   per stored state instead of paths, and rebuilds a counterexample by re-running its choice
 *   vector (trace.ts), which is also what `dio-cache replay` does.
 * - Every step is checked by System.step against the invariant registry. The largest
 *   `nr + nr_irq` on a quiescent CPU is recorded with the shortest path to each new maximum, so
 *   a test can show the soft cap's bound is reached, not just respected.
 * - Error violations are minimised (minimise.ts): fewest interrupts, then preemptions, then steps.
 *
 * `explore()` runs to the end synchronously; `exploreAsync()` yields to the event loop every
 * few milliseconds so that Ctrl-C (via an AbortSignal) stops it with a partial result.
 *
 * This file is the front door: the search is search.ts and the types are types.ts, both below
 * the parallel searches this file loads, so that nothing the explorer uses imports it back.
 */
import { getHeapStatistics } from 'node:v8';
import { cpuSymmetryOn } from './cpu-symmetry.js';
import { searchWithFallback } from './search.js';
import type { ExploreOptions, ExploreResult } from './types.js';

// The explorer's API, whichever file below declares it.
export type * from './types.js';
export { assemble, BOOT_FAULTS, explore, parentAbs, Parents, type Open } from './search.js';

/**
 * As explore(), yielding to the event loop every ~50 ms so that a signal can stop it; with
 * maxSeconds or maxMemoryMb (or a heap that runs short) a budget stops it the same way, and the
 * result says which.
 */
export async function exploreAsync(o: ExploreOptions): Promise<ExploreResult> {
  const budget = new AbortController();
  let over: 'time' | 'memory' | undefined;
  const stop = (why: 'time' | 'memory') => {
    over ??= why;
    budget.abort();
  };
  const onOuter = () => budget.abort();
  if (o.signal?.aborted) budget.abort();
  o.signal?.addEventListener('abort', onOuter);
  const t0 = performance.now();
  const heapLimit = getHeapStatistics().heap_size_limit;
  const watch = setInterval(() => {
    if (o.maxSeconds !== undefined && performance.now() - t0 >= o.maxSeconds * 1000) stop('time');
    if (o.maxMemoryMb !== undefined && process.memoryUsage.rss() > o.maxMemoryMb * 2 ** 20) stop('memory');
    if (process.memoryUsage().heapUsed > 0.9 * heapLimit) stop('memory');
  }, 100);
  try {
    const r = await exploreUnwatched({ ...o, signal: budget.signal });
    // The stop came from a budget, not from the caller's signal: say which.
    if (over && r.stoppedBy === 'signal' && !o.signal?.aborted) r.stoppedBy = over;
    return r;
  } finally {
    clearInterval(watch);
    o.signal?.removeEventListener('abort', onOuter);
  }
}

async function exploreUnwatched(o: ExploreOptions): Promise<ExploreResult> {
  if ((o.workers ?? 1) > 1 && !o.shard) {
    // Imported lazily: worker threads are only started when asked for.
    const { exploreParallelDfs } = await import('./parallel-dfs.js');
    const { exploreParallel } = await import('./parallel.js');
    const r = o.strategy === 'dfs' ? await exploreParallelDfs(o) : await exploreParallel(o);
    // The workers took CPU symmetry as workerInit() decided it.
    if (cpuSymmetryOn(o)) r.stats.cpuSymmetry = true;
    return r;
  }
  return searchWithFallback(o, async (s) => {
    while (!s.run(50)) await new Promise<void>((r) => setImmediate(r));
  });
}
