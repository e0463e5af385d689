/**
 * The parallel BFS (`--workers N`): worker threads sharing one visited set must find exactly what
 * the sequential search finds — the same states, transitions, depth and extremes, the same
 * verdict with a counterexample of the same (shortest) length — and stop on the same conditions.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check } from '../conformance/c/run.js';
import { explore, exploreAsync, type ExploreResult } from '../conformance/explorer/explore.js';
import { SharedFingerprintSet } from '../conformance/explorer/fingerprint.js';
import { runChoices } from '../conformance/explorer/trace.js';
import { SCOPES } from '../conformance/scopes.js';
import { System } from '../conformance/system.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { findImpl } from '../impl/registry.js';

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

describe('parallel BFS', () => {
  it('2 workers find the states, transitions, depth and extremes of the sequential BFS (spin-ref K=4 with and without symmetry, smp-small)', async () => {
    for (const [scope, symmetry] of [[spinRef(4), true], [spinRef(4), false], [SCOPES['smp-small']!, true]] as const) {
      const seq = explore({ impl: iomapV1, scope, symmetry });
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
    const seq = await check({ file });
    const par = await check({ file, workers: 2 });
    expect(par.verdict).toBe('conforms');
    expect(par.stats.states).toBe(seq.stats.states);
    expect(par.coverage).toEqual(seq.coverage);
  });

  it('an implementation the workers cannot load is refused, not run on one thread silently', async () => {
    const copy = { ...iomapV1, name: 'not-in-the-registry' };
    await expect(exploreAsync({ impl: copy, scope: spinRef(2), workers: 2 })).rejects.toThrow(/cannot load/);
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

  it('CLI: --workers with --dfs is a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'conformance/cli/main.ts', 'explore', '--workers', '2', '--dfs'], { cwd: repo, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--workers/);
  });
});
