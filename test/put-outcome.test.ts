/**
 * What a put did is what its own statements did, not where its object is when the caller returns.
 *
 * The seed's error-path put site (`__iomap_dio_rw()`, direct-io.c:886) runs the caller's lines
 * after dio_put_percpu_cache() returns (`if (ret)`, a nondeterministic branch). With migration
 * the put's task can be moved between its put_cpu() and those lines, and the other task can pop
 * the object it just pushed: when the caller returns, the object is in that task's operation,
 * on no list. The seam classified the put by where the object was then ("kept"), and the
 * statechart refused the OP_RETURN: a `refinement` violation on a correct patch. It found this at
 * `check --scope smp-small --preemptions 2` (20 steps: task0 pushes #4 on cpu0; task1 migrates
 * there and pops #4; task0 migrates to cpu1 and returns). The put's push is now recorded in its
 * frame when it happens (GHOST.PUSHED / PUSHED_IRQ, conformance/abstraction.ts noteOwnWrite).
 *
 * Expected: the seed conforms there (it was `refinement` before the fix). That every known-bad
 * variant keeps its id with the fix is test/variants.test.ts's and test/suite.test.ts's.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check } from '../conformance/c/run.js';
import { SCOPES } from '../conformance/scopes.js';

const SEED = fileURLToPath(new URL('./fixtures/seed/iomap-dio-alloc-cache-v1.txt', import.meta.url));
const MIGRATING = { ...SCOPES['smp-small']!, name: 'smp-small[preemptions=2]', preemptions: 2 };

describe('a put is judged by what it did, whoever holds its object when the caller returns', () => {
  it('the seed conforms where its put site returns on another CPU after its object was popped', async () => {
    // DFS (check --dfs): every interleaving BFS explores, sooner; no counterexample to keep short.
    const r = await check({ file: SEED, scopes: [MIGRATING], strategy: 'dfs' });
    expect(r.violations.map((v) => `${v.id}: ${v.message}`)).toEqual([]);
    expect(r.verdict).toBe('conforms');
    // Both the scope's run and the error-path site's run, every interleaving.
    expect(r.runs.length).toBe(2);
    expect(r.runs.every((x) => x.complete)).toBe(true);
  });
});
