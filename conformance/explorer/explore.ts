/**
 * The interleaving explorer's public API. (First version: plain BFS with a JSON fingerprint;
 * the search, symmetry, minimisation and reporting are built behind this same interface.)
 */
import type { Implementation } from '../../impl/interface.js';
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import { System, type Choice, type Scope, type Violation } from '../system.js';

export interface TraceStep {
  /** Index into System.enabled() at this point: the replay vector. */
  choice: number;
  who: string;
  event: string;
  labels: string[];
}

export interface FoundViolation extends Violation {
  /** The path from boot to the violating state. */
  steps: TraceStep[];
}

export interface ExploreOptions {
  impl: Implementation;
  scope: Scope;
  strategy?: 'bfs' | 'dfs';
  symmetry?: boolean;
  /** Stop after this many distinct states (the result is then incomplete). */
  maxStates?: number;
  /** Keep exploring after the first error violation (collects one trace per invariant id). */
  all?: boolean;
  progress?: (p: { states: number; transitions: number; depth: number; seconds: number }) => void;
  signal?: AbortSignal;
}

export interface ExploreResult {
  verdict: 'conforms' | 'violation' | 'error';
  /** Error-severity violations, one per invariant id, shortest first. */
  violations: FoundViolation[];
  /** Warning-severity findings (hotplug-stranding), one per id. */
  warnings: FoundViolation[];
  /** False when stopped early (maxStates, signal, or the first violation). */
  complete: boolean;
  stats: { states: number; transitions: number; depth: number; seconds: number; statesPerSecond: number; bytesPerState: number };
  /** Largest nr + nr_irq seen on any quiescent CPU. */
  extremes: { maxCached: number };
}

export function explore(o: ExploreOptions): ExploreResult {
  const sys = new System(o.impl, o.scope);
  const t0 = performance.now();
  const init = sys.initial();
  const fp = (w: World) =>
    JSON.stringify([w.heap, w.globals, w.cpus.map((c) => [c, c.softirq?.next, c.hardirq?.next]), w.tasks, [...w.inflight].sort(), w.preemptions]);
  type Node = { w: World; a: AbstractState; path: TraceStep[] };
  const seen = new Set<string>([fp(init.world)]);
  let frontier: Node[] = [{ w: init.world, a: init.abs, path: [] }];
  const violations = new Map<string, FoundViolation>();
  const warnings = new Map<string, FoundViolation>();
  let transitions = 0;
  let depth = 0;
  let maxCached = 0;
  let stopped = false;
  const note = (abs: AbstractState) => {
    for (const c of abs.caches) if (c.quiescent) maxCached = Math.max(maxCached, c.freeList.length + c.freeListIrq.length);
  };
  note(init.abs);
  for (const v of init.violations) violations.set(v.id, { ...v, steps: [] });
  while (frontier.length && !stopped && violations.size === 0) {
    const next: Node[] = [];
    depth++;
    for (const n of frontier) {
      const choices: Choice[] = sys.enabled(n.w);
      for (let i = 0; i < choices.length; i++) {
        const r = sys.step(n.w, n.a, choices[i]!);
        transitions++;
        note(r.abs);
        const path = [...n.path, { choice: i, who: r.who, event: r.event, labels: r.labels }];
        let bad = false;
        for (const v of r.violations) {
          const into = v.severity === 'warning' ? warnings : violations;
          if (!into.has(v.id)) into.set(v.id, { ...v, steps: path });
          if (v.severity === 'error') bad = true;
        }
        if (bad) {
          if (!o.all) stopped = true;
          continue;
        }
        const k = fp(r.world);
        if (!seen.has(k)) {
          seen.add(k);
          next.push({ w: r.world, a: r.abs, path });
        }
        if (o.maxStates && seen.size >= o.maxStates) stopped = true;
      }
      if (stopped) break;
    }
    frontier = next;
  }
  const seconds = (performance.now() - t0) / 1000;
  const errs = [...violations.values()];
  return {
    verdict: errs.length ? 'violation' : 'conforms',
    violations: errs,
    warnings: [...warnings.values()],
    complete: !stopped,
    stats: { states: seen.size, transitions, depth, seconds, statesPerSecond: seen.size / Math.max(seconds, 1e-9), bytesPerState: 0 },
    extremes: { maxCached },
  };
}
