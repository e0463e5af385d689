/**
 * Counterexample minimisation: among the paths that break the same invariant, find one with the
 * fewest interrupts, then the fewest preemptions, then the fewest steps.
 *
 * A uniform-cost search (Dijkstra) over the same state graph with the lexicographic cost
 * (interrupts, preemptions, steps), pruned at the cost of the path the main search found, so it
 * never returns anything worse. A kernel reader gets the race with as few interrupts as it needs,
 * not the first one BFS happened to meet. When the budget runs out the best path so far is kept
 * (complete: false).
 */
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import type { System } from '../system.js';
import type { PathCost } from './types.js';
import { Fingerprinter, FingerprintSet } from './fingerprint.js';
import { runChoices } from './trace.js';

const I = 2 ** 36;
const P = 2 ** 20;
const keyOf = (c: PathCost) => c.interrupts * I + c.preemptions * P + c.steps;

interface Node {
  key: number;
  w: World;
  abs: AbstractState;
  /** Index into `links` for the path back to boot. */
  link: number;
  steps: number;
}

/** A binary min-heap on `key`. */
class Heap {
  private a: Node[] = [];
  get size(): number {
    return this.a.length;
  }
  push(n: Node): void {
    const a = this.a;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.key <= n.key) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = n;
  }
  pop(): Node | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mk = last.key;
        if (l < a.length && a[l]!.key < mk) {
          m = l;
          mk = a[l]!.key;
        }
        if (r < a.length && a[r]!.key < mk) m = r;
        if (m === i) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

export interface Minimised {
  choices: number[];
  from: PathCost;
  to: PathCost;
  /** False when the budget or a signal stopped the search before it proved the result minimal. */
  complete: boolean;
}

export function minimise(
  sys: System,
  invariantId: string,
  choices: readonly number[],
  o: { maxStates: number; symmetry: boolean; frameKeys?: boolean; signal?: AbortSignal | undefined },
): Minimised {
  const base = runChoices(sys, choices);
  const from: PathCost = { interrupts: base.interrupts, preemptions: base.preemptions, steps: choices.length };
  let best = { choices: [...choices], cost: from, key: keyOf(from) };
  if (choices.length === 0) return { choices: best.choices, from, to: from, complete: true };

  const links: { parent: number; choice: number }[] = [{ parent: -1, choice: -1 }];
  const pathOf = (link: number, last: number) => {
    const out = [last];
    for (let l = link; l > 0; l = links[l]!.parent) out.push(links[l]!.choice);
    return out.reverse();
  };
  const fp = new Fingerprinter(o.symmetry, o.frameKeys !== false);
  const settled = new FingerprintSet();
  const heap = new Heap();
  const init = sys.initial();
  heap.push({ key: 0, w: init.world, abs: init.abs, link: 0, steps: 0 });
  let complete = true;
  let n = 0;
  for (;;) {
    const node = heap.pop();
    if (!node) break;
    if (node.key >= best.key) break;
    fp.fingerprint(node.w);
    if (!settled.add(fp.hi, fp.lo)) continue;
    if (settled.size > o.maxStates || ((++n & 255) === 0 && o.signal?.aborted)) {
      complete = false;
      break;
    }
    const en = sys.enabled(node.w);
    for (let i = 0; i < en.length; i++) {
      const r = sys.step(node.w, node.abs, en[i]!);
      const cost: PathCost = { interrupts: r.world.interrupts, preemptions: r.world.preemptions, steps: node.steps + 1 };
      const key = keyOf(cost);
      if (key >= best.key) continue;
      if (r.violations.some((v) => v.id === invariantId)) {
        best = { choices: pathOf(node.link, i), cost, key };
        continue;
      }
      if (r.violations.some((v) => v.severity === 'error')) continue;
      links.push({ parent: node.link, choice: i });
      heap.push({ key, w: r.world, abs: r.abs, link: links.length - 1, steps: node.steps + 1 });
    }
  }
  return { choices: best.choices, from, to: best.cost, complete };
}
