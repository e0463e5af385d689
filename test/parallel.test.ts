/**
 * The parallel searches (`--workers N`, and with `--dfs`): worker threads sharing one visited set
 * must find exactly what the sequential search finds — the same states and transitions (and, for
 * the BFS, depth and shortest witnesses), the same verdict with a counterexample that replays —
 * and stop on the same conditions. The threads are kept from one search to the next (the pool in
 * conformance/explorer/protocol.ts), so most searches here run on threads an earlier one used.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { explore, exploreAsync, type ExploreResult } from '../conformance/explorer/explore.js';
import { SharedFingerprintSet } from '../conformance/explorer/fingerprint.js';
import { pool } from '../conformance/explorer/protocol.js';
import { runChoices } from '../conformance/explorer/trace.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { System } from '../conformance/system.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { findImpl } from '../impl/registry.js';
import { runCli } from './cli-run.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const spinRef = (ops: number) => ({ ...SCOPES['spin-ref']!, ops });
const summary = (r: ExploreResult) => ({
  verdict: r.verdict,
  complete: r.complete,
  states: r.stats.states,
  transitions: r.stats.transitions,
  depth: r.stats.depth,
  maxCached: r.extremes.maxCached,
  witnessValues: r.extremes.witnesses.map((w) => w.value),
  witnessLengths: r.extremes.witnesses.map((w) => w.choices.length),
});

/**
 * The scopes both parallel searches are compared on, with the slots the DFS's table starts with:
 * 1 CPU, and 2 CPUs with tasks preempted and migrating mid-operation, with and without symmetry.
 * About 13,000 states each: levels past parallel.ts's SMALL_LEVEL, so that both BFS workers
 * expand states (smaller levels stay with worker 0), and a DFS table that doubles again and again
 * from 16 and 64 slots. (spin-ref K=4 without symmetry and smp-small, 43,647 and 40,553
 * states, proved no more and took most of this file's time.)
 */
const SMP_MIGRATING = scopeWith(SCOPES['smp-small']!, { ops: 1, preemptions: 2 });
const COMPARED = [
  [spinRef(4), true, undefined],
  [SMP_MIGRATING, false, 16],
  [SMP_MIGRATING, true, 64],
] as const;

/**
 * iomap-v1's sequential BFS of a scope, searched once for both parallel searches' tests: the
 * parallel DFS must store the same states and take the same transitions, which the sequential
 * DFS does too (explorer.test.ts: "DFS visits exactly the states BFS visits", and at K=6).
 */
const sequential = new Map<string, ExploreResult>();
function sequentialBfs(scope: (typeof COMPARED)[number][0], symmetry: boolean): ExploreResult {
  const key = `${scope.name}/${scope.ops}/${symmetry}`;
  let r = sequential.get(key);
  if (!r) sequential.set(key, (r = explore({ impl: iomapV1, scope, symmetry })));
  return r;
}

describe('parallel BFS', () => {
  it('2 workers find the states, transitions, depth and extremes of the sequential BFS (spin-ref K=4, smp-small at 1 op and 2 preemptions with and without symmetry)', async () => {
    for (const [scope, symmetry] of COMPARED) {
      const seq = sequentialBfs(scope, symmetry);
      const par = await exploreAsync({ impl: iomapV1, scope, symmetry, workers: 2 });
      expect(par.stats.workers).toBe(2);
      expect(summary(par)).toEqual(summary(seq));
      expect(seq.verdict).toBe('conforms');
    }
  });

  it('3 workers on a violation: the same invariant, a counterexample as short as the sequential one, that replays', async () => {
    const impl = findImpl('splice-no-irqsave')!;
    const scope = spinRef(5);
    const seq = explore({ impl, scope, minimise: false });
    const par = await exploreAsync({ impl, scope, workers: 3, minimise: false });
    expect(par.verdict).toBe('violation');
    expect(par.violations.map((v) => v.id)).toEqual(seq.violations.map((v) => v.id));
    expect(par.violations[0]!.steps.length).toBe(seq.violations[0]!.steps.length);
    // The choice vector rebuilt from three workers' parent arrays replays to the same violation.
    const again = runChoices(new System(impl, scope), par.violations[0]!.steps.map((x) => x.choice));
    expect(again.violations.map((v) => v.id)).toContain(par.violations[0]!.id);
    expect(again.steps.map((x) => x.labels)).toEqual(par.violations[0]!.steps.map((x) => x.labels));
    expect(par.complete).toBe(false);
    expect(par.stoppedBy).toBe('violation');
  });

  it('stops at maxStates and on an abort signal with a partial result', async () => {
    const capped = await exploreAsync({ impl: iomapV1, scope: spinRef(6), workers: 2, maxStates: 5000 });
    expect(capped.stoppedBy).toBe('maxStates');
    expect(capped.complete).toBe(false);
    expect(capped.stats.states).toBeGreaterThanOrEqual(5000);
    const ac = new AbortController();
    ac.abort();
    const aborted = await exploreAsync({ impl: iomapV1, scope: spinRef(6), workers: 2, signal: ac.signal });
    expect(aborted.stoppedBy).toBe('signal');
    expect(aborted.complete).toBe(false);
  });

  it('check --workers on a patch: each worker rebuilds the C, and their coverage adds up to the sequential run\'s', async () => {
    const file = resolve(repo, 'test/fixtures/c/v3-as-posted.patch');
    // One scope whose levels reach parallel.ts's SMALL_LEVEL, so that both workers expand states
    // (and the call-site run on it): on check's default scopes every level is smaller, worker 0
    // took them all and the coverage added up trivially; 22,680 states here cost what they did.
    const scopes = [{ ...CHECK_SCOPES[0]!, ops: 5 }];
    const seq = await check({ file, scopes });
    const par = await check({ file, scopes, workers: 2 });
    expect(par.verdict).toBe('conforms');
    expect(par.stats.states).toBe(seq.stats.states);
    expect(par.coverage).toEqual(seq.coverage);
  });

  it('an implementation the workers cannot load is refused, not run on one thread silently', async () => {
    const copy = { ...iomapV1, name: 'not-in-the-registry' };
    await expect(exploreAsync({ impl: copy, scope: spinRef(2), workers: 2 })).rejects.toThrow(/cannot load/);
  });

  it('the worker threads are kept between searches, BFS and DFS alike; a search that failed gives its threads up', async () => {
    const scope = spinRef(2);
    const first = await exploreAsync({ impl: iomapV1, scope, workers: 2 });
    const kept = pool.idleThreadIds();
    expect(kept.length).toBeGreaterThanOrEqual(2);
    // The next searches start no thread: they run on the kept ones, and give them back.
    const dfs = await exploreAsync({ impl: iomapV1, scope, workers: 2, strategy: 'dfs' });
    const bfs = await exploreAsync({ impl: iomapV1, scope, workers: 2 });
    expect(pool.idleThreadIds().sort()).toEqual([...kept].sort());
    expect([dfs.stats.states, bfs.stats.states]).toEqual([first.stats.states, first.stats.states]);
    // A worker that cannot load the implementation fails the search, and its thread is not kept.
    await expect(exploreAsync({ impl: iomapV1, scope, workers: 2, load: { ref: join(repo, 'no-such-module.ts') } })).rejects.toThrow(/no-such-module\.ts/);
    const left = pool.idleThreadIds();
    expect(left.length).toBe(kept.length - 2);
    expect(left.every((id) => kept.includes(id))).toBe(true);
    expect((await exploreAsync({ impl: iomapV1, scope, workers: 2 })).stats.states).toBe(first.stats.states);
  });

  it('the shared visited set: concurrent-style inserts answer added / present / full, and growing keeps every fingerprint', () => {
    const t = SharedFingerprintSet.create(16);
    expect(t.add(1, 2)).toBe(1);
    expect(t.add(1, 2)).toBe(0);
    expect(t.add(1, 3)).toBe(1); // same high word, different low word
    expect(t.add(0, 0)).toBe(1); // nudged to (1, 1): still a distinct entry
    for (let i = 10; t.size < 14; i++) expect(t.add(i, i * 7)).toBe(1);
    expect(t.add(99, 99)).toBe(SharedFingerprintSet.FULL);
    const g = t.grown(4);
    expect(g.size).toBe(t.size);
    expect(g.add(1, 3)).toBe(0);
    expect(g.add(99, 99)).toBe(1);
  });

});

describe('parallel DFS', () => {
  // What the two searches must agree on; a DFS's depth and first witnesses depend on its order.
  const same = (r: ExploreResult) => ({ verdict: r.verdict, complete: r.complete, states: r.stats.states, transitions: r.stats.transitions, maxCached: r.extremes.maxCached });

  it('2 workers store the states and take the transitions of the sequential search (spin-ref K=4, smp-small at 1 op and 2 preemptions with and without symmetry), also when the table grows mid-search', async () => {
    for (const [scope, symmetry, slots] of COMPARED) {
      // The sequential BFS of the test above: the states, transitions, verdict and maximum of the
      // sequential DFS too, and searched once.
      const seq = sequentialBfs(scope, symmetry);
      const par = await exploreAsync({ impl: iomapV1, scope, symmetry, strategy: 'dfs', workers: 2, ...(slots ? { initialTableSlots: slots } : {}) });
      expect(par.stats.workers).toBe(2);
      expect(par.stats.strategy).toBe('dfs');
      expect(same(par)).toEqual(same(seq));
      expect(seq.verdict).toBe('conforms');
      // Every witness replays to the nr + nr_irq it claims.
      const top = par.extremes.witnesses.find((w) => w.value === par.extremes.maxCached)!;
      const run = runChoices(new System(iomapV1, scope), top.choices);
      const last = run.abs.caches[top.cpu]!;
      expect(last.freeList.length + last.freeListIrq.length).toBe(top.value);
    }
  });

  it('2 workers on a violation: the same invariant, minimised to the cost the sequential DFS minimises to, and the trace replays', async () => {
    const impl = findImpl('splice-no-irqsave')!;
    const scope = spinRef(5);
    const seq = explore({ impl, scope, strategy: 'dfs' });
    const par = await exploreAsync({ impl, scope, strategy: 'dfs', workers: 2 });
    expect(par.verdict).toBe('violation');
    // The other worker may break a second invariant before it sees the stop: it is reported too.
    const id = seq.violations[0]!.id;
    expect(par.violations.map((v) => v.id)).toContain(id);
    const cost = (v: ExploreResult['violations'][number]) => [v.interrupts, v.preemptions, v.steps.length];
    expect(cost(par.violations.find((v) => v.id === id)!)).toEqual(cost(seq.violations[0]!));
    for (const v of par.violations) {
      const again = runChoices(new System(impl, scope), v.steps.map((x) => x.choice));
      expect(again.violations.map((y) => y.id)).toContain(v.id);
    }
    expect(par.stoppedBy).toBe('violation');
  });

  it('stops at maxStates and on an abort signal with a partial result', async () => {
    const capped = await exploreAsync({ impl: iomapV1, scope: spinRef(6), strategy: 'dfs', workers: 2, maxStates: 5000 });
    expect(capped.stoppedBy).toBe('maxStates');
    expect(capped.complete).toBe(false);
    expect(capped.stats.states).toBeGreaterThanOrEqual(5000);
    // Aborted mid-search, once the workers have stored a few thousand states (a timer would
    // wait out a fast start, or fire before a slow one).
    const ac = new AbortController();
    const abortOnceUnderWay = (p: { states: number }) => {
      if (p.states >= 2000) ac.abort();
    };
    const aborted = await exploreAsync({ impl: iomapV1, scope: spinRef(7), symmetry: false, strategy: 'dfs', workers: 2, signal: ac.signal, progress: abortOnceUnderWay, progressEveryMs: 0 });
    expect(aborted.stoppedBy).toBe('signal');
    expect(aborted.complete).toBe(false);
    expect(aborted.stats.states).toBeGreaterThan(0);
  });

  it('check --dfs --workers on a patch: worker 0 runs on the main thread\'s build, the thread rebuilds it, and the coverage adds up to the sequential run\'s', async () => {
    // Worker 0 counts straight into the main thread's counters and sends none back; counted
    // twice, or the thread's left out, the statement hits would differ from one thread's.
    const file = resolve(repo, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
    // A small run first, so that the thread has loaded the checker and joins the search below
    // early enough to take part of it.
    await check({ file, scopes: [spinRef(2)], strategy: 'dfs', workers: 2 });
    const scopes = [spinRef(5)];
    const seq = await check({ file, scopes, strategy: 'dfs' });
    const par = await check({ file, scopes, strategy: 'dfs', workers: 2 });
    expect(par.verdict).toBe('conforms');
    expect(par.runs[0]!.stats.workers).toBe(2);
    expect(par.stats.states).toBe(seq.stats.states);
    // Boundaries entered equally often are listed in the order the counters first met them.
    const byCount = (c: typeof seq.coverage) => c && { ...c, interruptsAt: [...c.interruptsAt].sort((a, b) => b.count - a.count || a.at.localeCompare(b.at)) };
    expect(byCount(par.coverage)).toEqual(byCount(seq.coverage));
    expect(par.coverage!.functions.some((f) => f.statements.some((x) => x.hits > 0))).toBe(true);
  });

  it('CLI: explore --dfs --workers 2 gives the sequential verdict and counts', async () => {
    // In-process (test/cli-run.ts): the command's own entry, without a node + tsx start per run.
    const args = (w: string) => ['explore', '--scope', 'spin-ref', '--ops', '3', '--dfs', '--workers', w, '--json'];
    const one = await runCli(args('1'), repo);
    const two = await runCli(args('2'), repo);
    expect(two.code, two.err).toBe(0);
    const a = JSON.parse(one.out) as ExploreResult;
    const b = JSON.parse(two.out) as ExploreResult;
    expect(b.stats.workers).toBe(2);
    expect([b.verdict, b.stats.states, b.stats.transitions]).toEqual([a.verdict, a.stats.states, a.stats.transitions]);
  });
});
