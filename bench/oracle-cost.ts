/**
 * The statechart oracle's cost in a fresh process (run by bench/run.ts, one process per search
 * strategy): after a run without the statechart (which warms the code both share), the first
 * judged run pays the machine's memo misses (xstate macrosteps); later runs share the memo. Prints one JSON line: the first run, then the best of `reps`
 * alternating runs without the statechart (ExploreOptions.statechart false: nothing judges
 * refinement) and with it, warm.
 *
 *   npx tsx bench/oracle-cost.ts K bfs|dfs [reps]
 *   npx tsx bench/oracle-cost.ts K bfs|dfs fresh sc|nosc
 *
 * The second form is one search in this fresh process, judged (sc) or not (nosc), as one CLI run
 * does it: the JIT, the memo and the machine all start cold. bench/run.ts alternates the two,
 * several processes each, and takes the medians: on a shared 2-core machine one pair of runs can
 * differ by tens of percent either way.
 */
import { explore } from '../conformance/explorer/explore.js';
import { SCOPES } from '../conformance/scopes.js';
import { Spec } from '../conformance/abstraction.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';

const k = Number(process.argv[2] ?? 7);
const strategy = process.argv[3] === 'dfs' ? 'dfs' : 'bfs';
const fresh = process.argv[4] === 'fresh';
const reps = fresh ? 1 : Number(process.argv[4] ?? 2);

interface Run {
  states: number;
  transitions: number;
  cpuSeconds: number;
  usPerState: number;
  verdict: string;
}
const once = (statechart: boolean): Run => {
  const c0 = process.cpuUsage();
  const r = explore({ impl: iomapV1, scope: { ...SCOPES['spin-ref']!, ops: k }, strategy, ...(statechart ? {} : { statechart: false as const }) });
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  return { states: r.stats.states, transitions: r.stats.transitions, cpuSeconds, usPerState: (cpuSeconds / r.stats.states) * 1e6, verdict: r.verdict };
};
if (fresh) {
  const r = once(process.argv[5] !== 'nosc');
  process.stdout.write(`${JSON.stringify({ k, strategy, fresh: r, misses: Spec.misses.count, missSeconds: Spec.misses.ms / 1000 })}\n`);
  process.exit(0);
}
// A run without the statechart first warms the code both share (the JIT), so that the first
// judged run differs from a warm one by the memo's misses alone.
once(false);
const first = once(true);
const cold = { ...first, misses: Spec.misses.count, missSeconds: Spec.misses.ms / 1000 };
const best = (xs: Run[]) => xs.reduce((a, b) => (a.usPerState <= b.usPerState ? a : b));
const without: Run[] = [];
const warm: Run[] = [];
for (let i = 0; i < reps; i++) {
  without.push(once(false));
  warm.push(once(true));
}
process.stdout.write(`${JSON.stringify({ k, strategy, cold, warm: best(warm), without: best(without), warmMisses: Spec.misses.count - cold.misses })}\n`);
