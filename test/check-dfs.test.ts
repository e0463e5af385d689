/**
 * `dio-cache check --dfs` (CheckOptions.strategy): the depth-first search a user runs on a large
 * scope of their patch must reach the verdict, the states and the maximum of the breadth-first
 * one, and catch a known-bad edit with the same invariant ids.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, loadInput } from '../conformance/c/run.js';
import { SCOPES } from '../conformance/scopes.js';

const SEED = fileURLToPath(new URL('./fixtures/seed/iomap-dio-alloc-cache-v1.txt', import.meta.url));
const BAD = fileURLToPath(new URL('./fixtures/c/splice-no-irqsave.patch', import.meta.url));
const scopes = [{ ...SCOPES['spin-ref']!, ops: 3 }];

describe('check --dfs', () => {
  it('explores the states of the BFS on the seed (every scope and call-site run) and conforms', async () => {
    const loaded = await loadInput(SEED);
    const bfs = await check({ file: SEED, scopes }, loaded);
    const dfs = await check({ file: SEED, scopes, strategy: 'dfs' }, loaded);
    expect(bfs.verdict).toBe('conforms');
    expect(dfs.verdict).toBe('conforms');
    expect(dfs.stats.states).toBe(bfs.stats.states);
    expect(dfs.stats.transitions).toBe(bfs.stats.transitions);
    expect(dfs.extremes.maxCached).toBe(bfs.extremes.maxCached);
    expect(dfs.runs.map((r) => r.maxCached)).toEqual(bfs.runs.map((r) => r.maxCached));
    expect(bfs.stats.states).toBeGreaterThan(1000);
  });

  it('catches a known-bad edit with the ids of the BFS, each counterexample replayable (choices recorded)', async () => {
    const loaded = await loadInput(BAD);
    const bfs = await check({ file: BAD, scopes }, loaded);
    const dfs = await check({ file: BAD, scopes, strategy: 'dfs' }, loaded);
    const ids = (r: typeof bfs) => [...new Set(r.violations.map((v) => v.id))].sort();
    expect(bfs.verdict).toBe('violation');
    expect(ids(dfs)).toEqual(ids(bfs));
    expect(ids(dfs)).toContain('irq-list-hardirq-only');
    for (const v of dfs.violations) expect(v.steps.length).toBeGreaterThan(0);
  });
});
