/**
 * Partial-order reduction for multi-CPU scopes: ample sets of one transition, with the cycle
 * proviso, computed from each step's footprint (the heap objects its statement touched, recorded
 * by the Kernel: primitives.ts recordAccesses()).
 *
 * Which step may stand alone. At a state s, a step t of the context X on top of CPU c is taken
 * as the only successor of s when:
 * - c is locked to X: irqs are off on c (X is a hardirq handler, or X is inside
 *   local_irq_save()). Then no interrupt can enter c, no task can be switched in or out on c and
 *   c cannot go offline before X moves, whatever the other CPUs do; and t is c's only choice at s
 *   (no failing-allocation or other variant of the statement is offered);
 * - t is invisible: it ends no operation, oopses on nothing, reports no fact, breaks no
 *   invariant, leaves every CPU's quiescence and every quiescent CPU's lists and counters as they
 *   were, allocates and frees nothing and assigns no static. Then every invariant and the largest
 *   `nr + nr_irq` on a quiescent CPU (what the search reports) read the same before and after t;
 * - t is independent of everything the other CPUs can do before X moves: every object t
 *   touched is owned by c alone at s (below), or is a root (a static's descriptor, a __percpu
 *   map) that t only read;
 * - the cycle proviso: the state t leads to has not been stored yet (otherwise s is expanded
 *   fully). Every cycle of the reduced graph then has a fully expanded state, under BFS and DFS
 *   alike: of the states on a cycle, the one expanded first was stored before its predecessor
 *   was expanded, so that predecessor's ample successor was not new.
 *
 * Ownership (owners()): an object is owned by CPU c if it is reachable through cells from c's
 * instance of a __percpu area, or from what a context on c names (its frame's arguments and read
 * log: a task is on the CPU it last ran on). Reachable from two CPUs, it is shared and owned by
 * neither. Roots are the objects the statics reach without passing through a __percpu map's
 * cells: the map itself and descriptors.
 *
 * The premise. That the other CPUs cannot touch what c owns is a property of the code, not of
 * the state: a task that migrates while holding a pointer into its old CPU's cache (a
 * this_cpu_ptr() used preemptibly), a hotplug callback pruning a dead CPU's lists, or a stale
 * link followed. So every step the search takes is checked (step()): one that touches an object
 * owned by another CPU alone, writes a root or assigns a static breaks the premise, and the
 * search is then run again without the reduction (explore.ts). This keeps the reduction sound:
 * let s be a state where t was taken alone and π a path of the full graph from s to a violation,
 * a new maximum or a broken premise. The steps of π before t (or before its end, if t is not on
 * π) run on other CPUs than c (c is locked); the first of them that touches what t touched would
 * be the first to reach an object c owns alone at s, and no earlier step can have given the
 * other CPUs a pointer to one without touching one itself: that step breaks the premise. So
 * every step of π before it commutes with t, and t followed by π (t moved to the front, or
 * prepended) reaches the same finding (t is invisible), by a path the reduced graph contains by
 * induction on the length of π. The reduced search therefore finds every violation, the same
 * largest total, or a broken premise, which makes it fall back to the full search.
 *
 * What it does not change: every step taken is a step of the full graph, so counterexamples are
 * concrete paths (choice indices into System.enabled()) and replay as before; they are minimised
 * by minimise.ts without the reduction. A BFS with the reduction finds a shortest path of the
 * reduced graph, which may be longer than the full graph's shortest: minimisation repairs that
 * for counterexamples; the witness of the largest total is a shortest one of the reduced graph.
 */
import { recordAccesses, type AccessLog } from '../../impl/kernel/primitives.js';
import { isPtr, ptrId, type Value } from '../../impl/kernel/values.js';
import { flatObj, type Frame, type World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import type { Choice, Scope, StepReport, System } from '../system.js';

/** owners() codes: 0 no owner (held, in flight, unreached), ROOT, SHARED, else CPU + 1. */
const ROOT = -1;
const SHARED = -2;
const GHOST_SHIFT = 8;

/** What partial-order reduction did in one search (ExploreResult.stats.por). */
export interface PorStats {
  /** States expanded by one transition instead of all of theirs. */
  reduced: number;
  /** Candidates refused because their successor was stored already (the cycle proviso). */
  proviso: number;
  /** Why the premise broke (the search was then redone without the reduction), if it did. */
  fellBack?: string;
}

/** Whether the reduction can help a scope: more than one CPU, and no hotplug (cpu_dead prunes another CPU's lists). */
export function porApplies(scope: Scope): boolean {
  return scope.cpus > 1 && !scope.hotplug;
}

/** The CPU a choice runs on, or -1 when a kind is not known here (then nothing is reduced). */
function cpuOf(w: World, c: Choice): number {
  switch (c.kind) {
    case 'step':
    case 'hardirq':
    case 'softirq':
    case 'switch':
    case 'offline':
      return c.cpu;
    case 'start':
      return w.tasks[c.task]?.cpu ?? -1;
    default:
      return -1;
  }
}

export class PartialOrder {
  /** Why the premise broke, once it has: the search must be redone without the reduction. */
  broken: string | null = null;
  readonly stats: PorStats = { reduced: 0, proviso: 0 };
  private readonly log: AccessLog = { touched: [], written: [], created: 0, globalsWritten: false };
  private ownedIn: World | null = null;
  private owned: Int32Array = new Int32Array(64);

  constructor(private readonly sys: System) {}

  /** System.step, with what the statement touched recorded and checked against the premise. */
  step(w: World, abs: AbstractState, c: Choice): StepReport {
    const log = this.log;
    log.touched.length = 0;
    log.written.length = 0;
    log.created = 0;
    log.globalsWritten = false;
    recordAccesses(log);
    let r: StepReport;
    try {
      r = this.sys.step(w, abs, c);
    } finally {
      recordAccesses(null);
    }
    if (this.broken === null && (log.touched.length || log.written.length || log.globalsWritten)) this.broken = this.premise(w, c);
    return r;
  }

  /**
   * A step of `choices` (an index into it) that may be taken alone at `w`, and the reports of
   * the steps tried for it (to be reused by the caller, which takes them anyway). `alone` is -1
   * when none qualifies; the caller still applies the cycle proviso to one that does.
   */
  ample(w: World, abs: AbstractState, choices: Choice[]): { alone: number; reports: Map<number, StepReport> } | null {
    let reports: Map<number, StepReport> | null = null;
    for (let c = 0; c < w.cpus.length; c++) {
      const cs = w.cpus[c]!;
      if (!cs.online || !(cs.irqsOff || cs.hardirq)) continue;
      let only = -1;
      let n = 0;
      for (let i = 0; i < choices.length; i++) {
        const k = cpuOf(w, choices[i]!);
        if (k < 0) return reports && { alone: -1, reports };
        if (k === c) {
          n++;
          only = i;
        }
      }
      const ch = choices[only];
      if (n !== 1 || !ch || ch.kind !== 'step' || ch.failAlloc) continue;
      const r = this.step(w, abs, ch);
      (reports ??= new Map()).set(only, r);
      if (this.broken !== null) return { alone: -1, reports };
      if (this.standsAlone(w, abs, c, r)) return { alone: only, reports };
    }
    return reports && { alone: -1, reports };
  }

  /** The conditions on the step just recorded (this.log) of CPU c's locked context. */
  private standsAlone(w: World, abs: AbstractState, c: number, r: StepReport): boolean {
    const log = this.log;
    if (log.created || log.globalsWritten) return false;
    const own = this.owners(w);
    const n = w.heap.length;
    for (const id of log.written) if (id >= n || own[id] !== c + 1) return false;
    for (const id of log.touched) {
      const o = id < n ? own[id]! : 0;
      if (o !== c + 1 && o !== ROOT) return false;
    }
    const st = r.abs.step;
    if (!st || st.done || st.fault || st.facts.length || st.offlined) return false;
    const x = r.world;
    if (x.heap.length !== w.heap.length || x.inflight.length !== w.inflight.length || x.preemptions !== w.preemptions || x.allocFails !== w.allocFails) return false;
    for (let i = 1; i < w.heap.length; i++) if ((w.heap[i] === undefined) !== (x.heap[i] === undefined) || (w.heap[i] !== undefined && w.heap[i]!.freed !== x.heap[i]!.freed)) return false;
    for (let i = 0; i < w.cpus.length; i++) {
      const a = w.cpus[i]!;
      const b = x.cpus[i]!;
      if (a.online !== b.online || a.current !== b.current || (i !== c && a.irqsOff !== b.irqsOff)) return false;
    }
    for (let i = 0; i < w.tasks.length; i++) {
      const a = w.tasks[i]!;
      const b = x.tasks[i]!;
      if (a.cpu !== b.cpu || a.opsDone !== b.opsDone || a.held.length !== b.held.length || (a.frame === null) !== (b.frame === null)) return false;
    }
    const before = abs.caches;
    const after = r.abs.caches;
    for (let i = 0; i < after.length; i++) {
      const p = before[i]!;
      const q = after[i]!;
      if (p.quiescent !== q.quiescent || p.online !== q.online) return false;
      if (q.quiescent && (p.nr !== q.nr || p.nrIrq !== q.nrIrq || p.listFault !== q.listFault || !same(p.freeList, q.freeList) || !same(p.freeListIrq, q.freeListIrq))) return false;
    }
    return r.violations.length === 0;
  }

  /** Why step `c` from `w` (just recorded in this.log) breaks the premise, or null. */
  private premise(w: World, c: Choice): string | null {
    const log = this.log;
    const cpu = cpuOf(w, c);
    const what = this.sys.describe(c);
    if (log.globalsWritten) return `${what} assigned a static after boot`;
    if (c.kind === 'offline') return `${what}: its hotplug callback touches the dead CPU's data`;
    const own = this.owners(w);
    // Ids past the parent's heap are objects this step created: nobody else's.
    const n = w.heap.length;
    for (const id of log.written) {
      if (id >= n) continue;
      const o = own[id]!;
      if (o === ROOT) return `${what} wrote #${id}, which the statics reach (a descriptor or a __percpu map)`;
      if (o > 0 && o !== cpu + 1) return `${what} (on cpu${cpu}) wrote #${id}, which only cpu${o - 1} reaches`;
    }
    for (const id of log.touched) {
      if (id >= n) continue;
      const o = own[id]!;
      if (o > 0 && o !== cpu + 1) return `${what} (on cpu${cpu}) touched #${id}, which only cpu${o - 1} reaches`;
    }
    return null;
  }

  /** Owner of each object id of `w` (computed once per world: the steps out of one state share it). */
  private owners(w: World): Int32Array {
    if (this.ownedIn === w) return this.owned;
    const heap = w.heap;
    if (this.owned.length < heap.length) this.owned = new Int32Array(Math.max(heap.length, this.owned.length * 2));
    const own = this.owned;
    own.fill(0, 0, heap.length);
    const todo: number[] = [];
    // Roots: what the statics reach, up to and including the __percpu maps.
    const instances: { id: number; cpu: number }[] = [];
    const rootVisit = (v: Value) => {
      if (!isPtr(v)) return;
      const id = ptrId(v);
      if (id >= heap.length || !heap[id] || own[id] === ROOT) return;
      own[id] = ROOT;
      todo.push(id);
    };
    for (const k in w.globals) rootVisit(w.globals[k]!);
    while (todo.length) {
      const id = todo.pop()!;
      const o = heap[id]!;
      const f = flatObj(o);
      if (o.type === '__percpu') {
        for (let j = 3; j < f.length; j += 2) if (isPtr(f[j + 1]!)) instances.push({ id: ptrId(f[j + 1]!), cpu: Math.floor(f[j]! / 8) });
        continue;
      }
      for (let j = 4; j < f.length; j += 2) rootVisit(f[j]!);
    }
    // Each CPU's part: its instances, and what its contexts name, with everything they reach.
    const claim = (id: number, cpu: number) => {
      if (id <= 0 || id >= heap.length || !heap[id]) return;
      const o = own[id]!;
      if (o === ROOT || o === SHARED || o === cpu + 1) return;
      own[id] = o === 0 ? cpu + 1 : SHARED;
      todo.push(id);
    };
    const drain = (cpu: number) => {
      while (todo.length) {
        const f = flatObj(heap[todo.pop()!]!);
        for (let j = 4; j < f.length; j += 2) if (isPtr(f[j]!)) claim(ptrId(f[j]!), cpu);
      }
    };
    const frame = (fr: Frame | null, cpu: number) => {
      if (!fr) return;
      for (const v of fr.args) if (isPtr(v)) claim(ptrId(v), cpu);
      for (const v of fr.reads) if (isPtr(v)) claim(ptrId(v), cpu);
      const g = fr.ghost >>> GHOST_SHIFT;
      if (g) claim(g, cpu);
      drain(cpu);
    };
    for (const { id, cpu } of instances) {
      claim(id, cpu);
      drain(cpu);
    }
    for (let cpu = 0; cpu < w.cpus.length; cpu++) {
      frame(w.cpus[cpu]!.softirq, cpu);
      frame(w.cpus[cpu]!.hardirq, cpu);
    }
    for (const t of w.tasks) frame(t.frame, t.cpu);
    this.ownedIn = w;
    return own;
  }
}

function same(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
