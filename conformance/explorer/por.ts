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
 *   touched is reached through cells from c's per-CPU instances and from no other CPU's, or is
 *   reached by no CPU's instances and named by X alone (X's frame names it, or reaches it from
 *   what it names, and no other frame, task's held set or the objects in flight do), or is a root
 *   (what the statics reach up to the __percpu maps: descriptors, the maps) that t only read;
 * - the cycle proviso: the state t leads to has not been stored yet (otherwise s is expanded
 *   fully). Every cycle of the reduced graph then has a fully expanded state, under BFS and DFS
 *   alike: of the states on a cycle, the one expanded first was stored before its predecessor
 *   was expanded, so that predecessor's ample successor was not new.
 *
 * The premise. That the other CPUs cannot touch what c's instances reach is a property of the
 * code, not of the state: a task that migrates with a pointer into its old CPU's cache (a
 * this_cpu_ptr() used preemptibly), a hotplug callback pruning a dead CPU's lists, a stale link
 * followed. So every step the search takes is checked (step()): one run on CPU d that touches an
 * object another CPU's instances reach, writes a root or assigns a static breaks the premise,
 * and the search is then run again without the reduction (explore.ts). This keeps it sound: let s
 * be a state where t was taken alone and π a path of the full graph from s to a violation, a new
 * maximum or a broken premise. The steps of π before t (or before its end, if t is not on π) run
 * on other CPUs than c (c is locked). Let a be the first of them that touches what t touched. If
 * that is an object c's instances reach, a breaks the premise (no step before a changed what c's
 * instances reach without breaking it). If it is one X alone names, some step before a gave CPU d
 * a pointer to it, which it could only read from an object that c's instances reach (breaking
 * the premise) or that X alone names (the same argument, earlier). So every step of π before the
 * first finding commutes with t, and t followed by π (t moved to the front, or prepended) reaches
 * the same finding (t is invisible), by a path the reduced graph contains by induction on the
 * length of π. The reduced search therefore finds every violation, the same largest total, or a
 * broken premise, which makes it fall back to the full search.
 *
 * What it does not change: every step taken is a step of the full graph, so counterexamples are
 * concrete paths (choice indices into System.enabled()) and replay as before; they are minimised
 * by minimise.ts without the reduction. A BFS with the reduction finds a shortest path of the
 * reduced graph, which may be longer than the full graph's shortest: minimisation repairs that
 * for counterexamples; the witness of the largest total is a shortest one of the reduced graph.
 */
import { recordAccesses, type AccessLog } from '../../impl/kernel/primitives.js';
import { isPtr, mkPtr, ptrId, type Value } from '../../impl/kernel/values.js';
import { flatObj, GHOST_ID_SHIFT, type Frame, type World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import type { Choice, Scope, StepReport, System } from '../system.js';

/** owners(): `inst` of what the statics reach; `named` of what several contexts name. */
const ROOT = -1;
const SHARED = -2;
const GHOST_SHIFT = GHOST_ID_SHIFT;

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
  private own = { inst: new Int32Array(64), named: new Int32Array(64) };

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
    const { inst, named } = this.owners(w);
    const n = w.heap.length;
    const me = contextOf(w, c);
    const mine = (id: number, write: boolean): boolean => {
      if (id >= n) return false;
      const m = inst[id]!;
      if (m === ROOT) return !write;
      if (m === 1 << c) return true;
      return m === 0 && named[id] === me;
    };
    for (const id of log.written) if (!mine(id, true)) return false;
    for (const id of log.touched) if (!mine(id, false)) return false;
    const st = r.abs.step;
    if (!st || st.done || st.fault || st.facts.length || st.offlined) return false;
    const x = r.world;
    if (x.heap.length !== w.heap.length || x.inflight.length !== w.inflight.length || x.preemptions !== w.preemptions || x.allocFails !== w.allocFails) return false;
    for (let i = 1; i < w.heap.length; i++) if ((w.heap[i] === undefined) !== (x.heap[i] === undefined) || (w.heap[i] !== undefined && (w.heap[i]!.freed !== x.heap[i]!.freed || w.heap[i]!.kmemleak !== x.heap[i]!.kmemleak))) return false;
    for (let i = 0; i < w.cpus.length; i++) {
      const a = w.cpus[i]!;
      const b = x.cpus[i]!;
      if (a.online !== b.online || a.current !== b.current || (i !== c && (a.irqsOff !== b.irqsOff || a.spec !== b.spec))) return false;
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
    const { inst } = this.owners(w);
    // Ids past the parent's heap are objects this step created: nobody else's.
    const n = w.heap.length;
    const others = cpu >= 0 ? ~(1 << cpu) : ~0;
    for (const id of log.written) {
      if (id >= n) continue;
      const m = inst[id]!;
      if (m === ROOT) return `${what} wrote #${id}, which the statics reach (a descriptor or a __percpu map)`;
      if (m & others) return `${what} (on cpu${cpu}) wrote #${id}, which ${cpusIn(m & others)} reaches through its per-CPU data`;
    }
    for (const id of log.touched) {
      if (id >= n) continue;
      const m = inst[id]!;
      if (m !== ROOT && m & others) return `${what} (on cpu${cpu}) touched #${id}, which ${cpusIn(m & others)} reaches through its per-CPU data`;
    }
    return null;
  }

  /**
   * For each object id of `w` (once per world: the steps out of one state share it):
   * - inst: ROOT for what the statics reach up to the __percpu maps, else the bit set of the CPUs
   *   whose per-CPU instances reach it through cells;
   * - named: which context names it, or reaches it from what it names (its frame's arguments and
   *   read log, a task's held objects; the objects in flight count as one more context): its
   *   contextOf() index, -1 for none, SHARED for several.
   */
  private owners(w: World): { inst: Int32Array; named: Int32Array } {
    if (this.ownedIn === w) return this.own;
    const heap = w.heap;
    if (this.own.inst.length < heap.length) {
      const size = Math.max(heap.length, this.own.inst.length * 2);
      this.own = { inst: new Int32Array(size), named: new Int32Array(size) };
    }
    const { inst, named } = this.own;
    inst.fill(0, 0, heap.length);
    named.fill(-1, 0, heap.length);
    // The walk's steps are module functions, not closures made per call: see OwnerWalk.
    const k: OwnerWalk = { heap, inst, named, todo: [] };
    const { todo } = k;
    const instances: { id: number; cpu: number }[] = [];
    for (const g in w.globals) rootVisit(k, w.globals[g]!);
    while (todo.length) {
      const id = todo.pop()!;
      const o = heap[id]!;
      const f = flatObj(o);
      if (o.type === '__percpu') {
        for (let j = 3; j < f.length; j += 2) if (isPtr(f[j + 1]!)) instances.push({ id: ptrId(f[j + 1]!), cpu: Math.floor(f[j]! / 8) });
        continue;
      }
      for (let j = 4; j < f.length; j += 2) rootVisit(k, f[j]!);
    }
    for (const { id, cpu } of instances) {
      const bit = 1 << cpu;
      reach(k, id, bit);
      while (todo.length) {
        const f = flatObj(heap[todo.pop()!]!);
        for (let j = 4; j < f.length; j += 2) if (isPtr(f[j]!)) reach(k, ptrId(f[j]!), bit);
      }
    }
    const T = w.tasks.length;
    w.tasks.forEach((t, i) => {
      nameFrame(k, t.frame, i);
      nameAll(k, t.held, i);
    });
    w.cpus.forEach((cs, c) => {
      nameFrame(k, cs.softirq, T + 2 * c);
      nameFrame(k, cs.hardirq, T + 2 * c + 1);
    });
    nameAll(k, w.inflight, T + 2 * w.cpus.length);
    this.ownedIn = w;
    return this.own;
  }
}

/**
 * The walk of PartialOrder.owners() over one world: its heap, the two arrays it fills and its work list.
 * Its steps are module functions rather than closures made on each call: tsx compiles with
 * esbuild's keepNames, which wraps every named closure in a __name() call (an
 * Object.defineProperty) each time it is made, and owners() runs once per state expanded.
 */
interface OwnerWalk {
  heap: World['heap'];
  inst: Int32Array;
  named: Int32Array;
  todo: number[];
}

/** What the statics reach: ROOT. */
function rootVisit(k: OwnerWalk, v: Value): void {
  if (!isPtr(v)) return;
  const id = ptrId(v);
  if (id >= k.heap.length || !k.heap[id] || k.inst[id] === ROOT) return;
  k.inst[id] = ROOT;
  k.todo.push(id);
}

/** What CPU `bit`'s per-CPU instance reaches. */
function reach(k: OwnerWalk, x: number, bit: number): void {
  if (x <= 0 || x >= k.heap.length || !k.heap[x]) return;
  const m = k.inst[x]!;
  if (m === ROOT || m & bit) return;
  k.inst[x] = m | bit;
  k.todo.push(x);
}

function nameOne(k: OwnerWalk, x: number, ctx: number): void {
  if (x <= 0 || x >= k.heap.length || !k.heap[x] || k.inst[x] === ROOT) return;
  const m = k.named[x]!;
  if (m === ctx || m === SHARED) return;
  k.named[x] = m === -1 ? ctx : SHARED;
  k.todo.push(x);
}

/** Context `ctx` names these values and what they reach. */
function nameAll(k: OwnerWalk, vs: readonly Value[], ctx: number): void {
  for (const v of vs) if (isPtr(v)) nameOne(k, ptrId(v), ctx);
  while (k.todo.length) {
    const x = k.todo.pop()!;
    const f = flatObj(k.heap[x]!);
    for (let j = 4; j < f.length; j += 2) if (isPtr(f[j]!)) nameOne(k, ptrId(f[j]!), k.named[x]!);
  }
}

function nameFrame(k: OwnerWalk, fr: Frame | null, ctx: number): void {
  if (!fr) return;
  nameAll(k, fr.args, ctx);
  nameAll(k, fr.reads, ctx);
  const g = fr.ghost >>> GHOST_SHIFT;
  if (g) nameAll(k, [mkPtr(g)], ctx);
}

/** owners()' index of the context on top of CPU c. */
function contextOf(w: World, c: number): number {
  const cs = w.cpus[c]!;
  const T = w.tasks.length;
  return cs.hardirq ? T + 2 * c + 1 : cs.softirq ? T + 2 * c : cs.current;
}

function cpusIn(mask: number): string {
  const out: string[] = [];
  for (let c = 0; c < 31; c++) if (mask & (1 << c)) out.push(`cpu${c}`);
  return out.join(' and ');
}

function same(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
