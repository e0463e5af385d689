/**
 * The statechart-path layer: paths generated from the statechart (model/machine.ts) by xstate's
 * model-based testing, each driven against an implementation through the System (the same
 * semantics the explorer uses), with the implementation's abstract state compared to the
 * machine's context after every model event.
 *
 * Paths. `createTestModel` walks the machine on one CPU with a small MAX/THRESHOLD. States are
 * serialised by what the guards can see (state value, counters, list lengths, objects in use,
 * which contexts are mid-operation): object ids are left out, which is sound because no guard
 * depends on an id and the event generator picks ids canonically (lowest object in use, lowest
 * free id). The vertex key also names the incoming event and the previous state
 * (`serializeState(s, e, prev)`), so every edge of the abstract graph ends some path: guarded
 * refusals (a hardirq while the splice has irqs off) and interrupts between two phases of a task
 * operation are paths of their own. (xstate/graph's default key, the value plus the whole context,
 * never ends on an unbounded counter, and it drops refused events and self-loops.)
 *
 * Driving. A path is replayed on a fresh snapshot (never on the snapshot getShortestPaths()
 * keeps per key, which may come from another run with other abstracted-away fields), re-choosing ids canonically, and in lockstep on the implementation:
 * - a whole operation (`ALLOC`, `PUT`) starts it and runs it to its end;
 * - a phase event starts or resumes one context's operation and runs it statement by statement
 *   until it reaches the point the machine describes: the implementation's observable cache
 *   state (lists, counters, irq state, which contexts are inside get_cpu) equals the machine's
 *   and the next statement would change it (tried on a copy of the world), or the operation
 *   returned. That is where an interrupt enters, whatever the implementation's statements are.
 * - a refused event must be impossible in the implementation too (a hardirq cannot enter with
 *   irqs off), and an accepted one possible.
 * Every statement's StepReport.violations is checked (the registry); every model state is
 * compared with the implementation's (`refinement`, both values in the message).
 */
import type { AnyMachineSnapshot } from 'xstate';
import { createTestModel } from 'xstate/graph';
import { cacheMachine, OBSERVED_EVENT_TYPES, type CacheContext, type CacheEvent, type CacheMachine } from '../model/machine.js';
import type { InvariantId } from '../model/invariants.js';
import { activeNodes, inspectingScope, machineInventory, stepTaking, type Snap } from '../model/inventory.js';
import { getProfile, reachableCapBound, type Profile } from '../model/profiles.js';
import type { AbstractState } from '../model/abstract.js';
import type { Implementation } from '../impl/interface.js';
import { ptrId, type Value } from '../impl/kernel/values.js';
import { topContext, type Frame, type World } from '../impl/kernel/world.js';
import { System, type Choice, type Scope, type StepReport } from './system.js';

export interface PathFailure {
  invariant: InvariantId;
  message: string;
  /** The model events from the initial state, `→`-separated. */
  path: string;
}

export interface PathLayerResult {
  paths: number;
  states: { covered: number; total: number };
  transitions: { covered: number; total: number };
  failures: PathFailure[];
  /** Set when the implementation's bug is out of this layer's reach (it names why). */
  explorerOnly?: string;
}

export interface PathLayerOptions {
  /** Profile of the machine; default: the implementation's own. */
  profile?: string;
  /** Small scope: default MAX 2, THRESHOLD 1. */
  max?: number;
  threshold?: number;
}

/** Invariants whose violation needs something the one-CPU statechart has no event for. */
const OUT_OF_REACH: Partial<Record<InvariantId, string>> = {
  'hotplug-stranding': 'needs a second CPU that goes offline with objects cached; the statechart models one CPU and has no hotplug event',
};

/** Default scope of the path layer: small enough to enumerate, large enough for MAX+2. */
export const PATH_MAX = 2;
export const PATH_THRESHOLD = 1;


// ---- the model side ---------------------------------------------------------------------------

/** Every object the model knows to be alive (cached, in use, or held by an operation). */
function liveIds(c: CacheContext): number[] {
  const inOp = [c.taskObj, c.softirqObj, c.hardirqObj].filter((x): x is number => x !== null);
  return [...c.freeList, ...c.freeListIrq, ...c.inUse, ...inOp];
}

/** A short name of an event without its ids: what the abstract graph distinguishes. */
export function eventKind(e: { type: string; ctx?: string }): string {
  return e.type === 'PUT' ? `PUT:${e.ctx}` : e.type;
}

export function describeEvent(e: CacheEvent): string {
  switch (e.type) {
    case 'ALLOC':
    case 'TASK_ALLOC_BEGIN':
      return `${e.type}(fresh ${e.fresh})`;
    case 'PUT':
      return `PUT(${e.ctx}, ${e.obj})`;
    case 'TASK_PUT_BEGIN':
    case 'SOFTIRQ_ENTER':
    case 'HARDIRQ_ENTER':
      return `${e.type}(${e.obj})`;
    default:
      return e.type;
  }
}

/**
 * Events offered in a state, ids chosen canonically. Objects stay within the reachable cap bound
 * plus nothing: a miss is offered only while fewer than that many objects are alive, which is
 * exactly enough for the MAX+2 race (MAX cached, one in a task put, one in a hardirq put).
 */
const OBSERVED = new Set<string>(OBSERVED_EVENT_TYPES);

export function pathEvents(profile: Profile): (s: Snap) => CacheEvent[] {
  const pool = reachableCapBound(profile);
  return (s) => {
    const c = s.context;
    const live = new Set(liveIds(c));
    let fresh = 1;
    while (live.has(fresh)) fresh++;
    const out: CacheEvent[] = [];
    const wouldMiss = !profile.cached || (c.freeList.length === 0 && c.nrIrq < profile.threshold);
    if (!wouldMiss || live.size < pool) out.push({ type: 'ALLOC', fresh }, { type: 'TASK_ALLOC_BEGIN', fresh });
    if (c.inUse.length > 0) {
      const obj = Math.min(...c.inUse);
      out.push({ type: 'PUT', ctx: 'task', obj }, { type: 'PUT', ctx: 'softirq', obj }, { type: 'PUT', ctx: 'hardirq', obj });
      out.push({ type: 'TASK_PUT_BEGIN', obj }, { type: 'SOFTIRQ_ENTER', obj }, { type: 'HARDIRQ_ENTER', obj });
    }
    out.push({ type: 'TASK_STEP' }, { type: 'SOFTIRQ_EXIT' }, { type: 'HARDIRQ_EXIT' });
    return out;
  };
}

/**
 * createTestModel adds a bare `{type}` for handled types the generator did not offer: drop those,
 * and the observed vocabulary (the explorer's: model/machine.ts), which paths do not walk.
 */
function complete(e: { type: string }): boolean {
  if (OBSERVED.has(e.type)) return false;
  if (e.type === 'ALLOC' || e.type === 'TASK_ALLOC_BEGIN') return 'fresh' in e;
  if (e.type === 'PUT') return 'obj' in e && 'ctx' in e;
  if (e.type === 'TASK_PUT_BEGIN' || e.type === 'SOFTIRQ_ENTER' || e.type === 'HARDIRQ_ENTER') return 'obj' in e;
  return true;
}

/** What the guards can see. */
export function abstractKey(s: AnyMachineSnapshot): string {
  const c = s.context as CacheContext;
  return JSON.stringify([
    s.value, c.nr, c.nrIrq, c.freeList.length, c.freeListIrq.length, c.inUse.length, c.irqsOff, c.taskSpliced,
    c.taskObj !== null, c.taskFresh !== null, c.softirqObj !== null, c.hardirqObj !== null,
  ]);
}

/** Transition coverage: a vertex per (previous state, event, next state) of the abstract graph. */
export function transitionKey(s: AnyMachineSnapshot, e?: { type: string; ctx?: string }, prev?: AnyMachineSnapshot): string {
  return abstractKey(s) + (e ? ` <- ${eventKind(e)} <- ${prev ? abstractKey(prev) : '-'}` : '');
}

export interface PathModel {
  profile: Profile;
  machine: CacheMachine;
  /** Event kinds of each path, from the initial state. */
  paths: string[][];
  /** Vertices of the transition-coverage graph. */
  vertices: number;
}

const modelCache = new Map<string, PathModel>();

/** Builds (once per profile and bounds) the machine and its transition-coverage paths. */
export function pathModel(profile: Profile): PathModel {
  // The machine depends on these fields only: profiles that agree on them share their paths.
  const key = JSON.stringify([profile.capCompare, profile.cached, profile.max, profile.threshold]);
  const hit = modelCache.get(key);
  if (hit) return hit;
  const machine = cacheMachine(profile);
  const events = pathEvents(profile);
  const model = createTestModel(machine, {
    events,
    filterEvents: (_s, e) => complete(e),
    serializeState: ((s: AnyMachineSnapshot, e?: CacheEvent, prev?: AnyMachineSnapshot) => transitionKey(s, e, prev)) as never,
  });
  const all = model.getShortestPaths({ allowDuplicatePaths: true });
  const deduped = model.getShortestPaths();
  // steps[0] is xstate.init; step i>0 carries the event that led to its state (gotcha 11).
  const paths = deduped.map((p) => p.steps.slice(1).map((st) => eventKind(st.event as CacheEvent))).sort((a, b) => a.length - b.length);
  const pm = { profile, machine, paths, vertices: all.length };
  modelCache.set(key, pm);
  return pm;
}

function modelStep(machine: CacheMachine, snap: Snap, event: CacheEvent): { snap: Snap; taken: unknown[] } {
  return stepTaking(machine, snap, event);
}

function initialSnapshot(machine: CacheMachine): { snap: Snap; taken: unknown[] } {
  const taken: unknown[] = [];
  const snap = machine.getInitialSnapshot(inspectingScope((ts) => taken.push(...ts))) as Snap;
  return { snap, taken };
}


// ---- the implementation side ------------------------------------------------------------------

type CtxState = 'none' | 'on' | 'pinned';

/** What the model's context says about the implementation, in model object ids. */
interface Observed {
  freeList: (number | string)[];
  freeListIrq: (number | string)[];
  nr: number;
  nrIrq: number;
  irqsOff: boolean;
  task: CtxState;
  softirq: CtxState;
  hardirq: CtxState;
  inUse: (number | string)[];
}

function ctxState(f: Frame | null): CtxState {
  return f === null ? 'none' : f.preempt > 0 ? 'pinned' : 'on';
}

/** The part of a world that decides a phase boundary (impl ids). */
function boundaryKey(w: World, abs: AbstractState): string {
  const c = abs.caches[0]!;
  const cpu = w.cpus[0]!;
  const t = w.tasks[0]!;
  return JSON.stringify([c.freeList, c.freeListIrq, c.nr, c.nrIrq, cpu.irqsOff, ctxState(t.frame), ctxState(cpu.softirq), ctxState(cpu.hardirq)]);
}

function expectedOf(snap: Snap): Observed {
  const c = snap.context;
  const v = snap.value as Record<string, unknown>;
  return {
    freeList: c.freeList,
    freeListIrq: c.freeListIrq,
    nr: c.nr,
    nrIrq: c.nrIrq,
    irqsOff: c.irqsOff,
    task: v.task === 'idle' ? 'none' : 'pinned',
    softirq: v.softirq === 'idle' ? 'none' : 'pinned',
    hardirq: v.hardirq === 'idle' ? 'none' : 'pinned',
    inUse: [...c.inUse].sort((a, b) => a - b),
  };
}

const show = (o: Observed) =>
  `free_list [${o.freeList.join(',')}] nr ${o.nr}, free_list_irq [${o.freeListIrq.join(',')}] nr_irq ${o.nrIrq}, irqs ${o.irqsOff ? 'off' : 'on'}, task ${o.task}, softirq ${o.softirq}, hardirq ${o.hardirq}, in use [${o.inUse.join(',')}]`;

/** A model object with no implementation counterpart: the two have diverged. */
class Unmapped extends Error {}

/** One node of the replay trie: the model and the implementation after the same events. */
interface Node {
  snap: Snap;
  world: World;
  abs: AbstractState;
  /** impl object id -> model object id */
  toModel: Map<number, number>;
  children: Map<string, Node>;
  failed: boolean;
  /** The event that led here, with its ids (for failure paths). */
  via: string;
}

/** Drives one implementation through System in lockstep with the machine. */
class Driver {
  readonly sys: System;
  constructor(readonly impl: Implementation, readonly profile: Profile) {
    const scope: Scope = {
      name: 'statechart-paths',
      description: 'the statechart-path layer: 1 CPU, 1 task, objects handed to any context',
      cpus: 1,
      taskCpus: [0],
      ops: Number.MAX_SAFE_INTEGER,
      taskOps: ['alloc', 'free', 'submit', 'complete'],
      prefill: 0,
      inflight: 0,
      completers: ['hardirq', 'softirq', 'task'],
      atomicIrq: false,
      preemptions: 0,
      migration: false,
      hotplug: false,
      profile: profile.name,
      max: profile.max,
      threshold: profile.threshold,
    };
    this.sys = new System(impl, scope);
  }

  observed(n: { world: World; abs: AbstractState; toModel: Map<number, number> }): Observed {
    const c = n.abs.caches[0]!;
    const cpu = n.world.cpus[0]!;
    const m = (id: number) => n.toModel.get(id) ?? `impl#${id}`;
    const inUse = n.world.inflight.map((p) => m(ptrId(p)));
    return {
      freeList: c.freeList.map(m),
      freeListIrq: c.freeListIrq.map(m),
      nr: c.nr,
      nrIrq: c.nrIrq,
      irqsOff: cpu.irqsOff,
      task: ctxState(n.world.tasks[0]!.frame),
      softirq: ctxState(cpu.softirq),
      hardirq: ctxState(cpu.hardirq),
      inUse: inUse.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)))),
    };
  }

  /** Whether the implementation could take this kind of event now (System's rules). */
  possible(w: World, kind: string): boolean {
    const top = topContext(w, 0);
    const enabled = this.sys.enabled(w);
    switch (kind) {
      case 'ALLOC':
      case 'TASK_ALLOC_BEGIN':
      case 'PUT:task':
      case 'TASK_PUT_BEGIN':
        return top.ctx === 'task' && top.task >= 0 && top.frame === null;
      case 'TASK_STEP':
        return top.ctx === 'task' && top.frame !== null;
      case 'PUT:softirq':
      case 'SOFTIRQ_ENTER':
        return enabled.some((c) => c.kind === 'softirq');
      case 'PUT:hardirq':
      case 'HARDIRQ_ENTER':
        return enabled.some((c) => c.kind === 'hardirq');
      case 'SOFTIRQ_EXIT':
        return top.ctx === 'softirq';
      case 'HARDIRQ_EXIT':
        return top.ctx === 'hardirq';
      default:
        return false;
    }
  }
}

/**
 * Runs the statechart-path layer on one implementation. Coverage is of the machine built for the
 * implementation's profile (or `opts.profile`) at MAX 2, THRESHOLD 1.
 */
export async function runPathLayer(impl: Implementation, opts: PathLayerOptions = {}): Promise<PathLayerResult> {
  const profile = getProfile(opts.profile ?? impl.profile, { max: opts.max ?? PATH_MAX, threshold: opts.threshold ?? PATH_THRESHOLD });
  const pm = pathModel(profile);
  const { machine } = pm;
  const inv = machineInventory(machine, 'paths');
  const coveredStates = new Set<string>();
  const coveredTransitions = new Set<string>();
  const failures: PathFailure[] = [];
  const seenFailure = new Set<string>();
  const driver = new Driver(impl, profile);
  const events = pathEvents(profile);

  const init = driver.sys.initial();
  const { snap: snap0 } = initialSnapshot(machine);
  for (const id of activeNodes(snap0)) coveredStates.add(id);
  const root: Node = { snap: snap0, world: init.world, abs: init.abs, toModel: new Map(), children: new Map(), failed: false, via: 'xstate.init' };

  const fail = (invariant: InvariantId, message: string, trail: string[]) => {
    const k = `${invariant}\0${message}`;
    if (seenFailure.has(k)) return;
    seenFailure.add(k);
    failures.push({ invariant, message, path: ['xstate.init', ...trail].join(' → ') });
  };

  for (const v of init.violations) if (v.severity === 'error') fail(v.id, v.message, []);

  for (const path of pm.paths) {
    let node = root;
    const trail: string[] = [];
    for (const kind of path) {
      if (node.failed) break;
      const have = node.children.get(kind);
      if (have) {
        node = have;
        trail.push(have.via);
        continue;
      }
      const event = events(node.snap).find((e) => eventKind(e) === kind);
      if (!event) throw new Error(`path layer: no ${kind} event in a state the path reaches (the abstraction is not a bisimulation)`);
      trail.push(describeEvent(event));
      const child = advance(driver, machine, node, event, kind, trail, fail);
      for (const id of activeNodes(child.snap)) coveredStates.add(id);
      for (const t of child.taken) {
        const id = inv.transitions.get(t);
        if (id) coveredTransitions.add(id);
      }
      node.children.set(kind, child.node);
      node = child.node;
    }
  }

  const result: PathLayerResult = {
    paths: pm.paths.length,
    states: { covered: inv.nodes.filter((id) => coveredStates.has(id)).length, total: inv.nodes.length },
    transitions: { covered: coveredTransitions.size, total: inv.transitions.size },
    failures,
  };
  if (failures.length === 0) {
    const reason = impl.explorerOnly ?? (impl.expectedViolation ? OUT_OF_REACH[impl.expectedViolation as InvariantId] : undefined);
    if (reason) result.explorerOnly = reason;
  }
  return result;
}

/** Which context a kind of event drives in the implementation. */
function driverCtx(kind: string): 'task' | 'softirq' | 'hardirq' {
  if (kind.includes('softirq') || kind.startsWith('SOFTIRQ')) return 'softirq';
  if (kind.includes('hardirq') || kind.startsWith('HARDIRQ')) return 'hardirq';
  return 'task';
}

const STATEMENTS_PER_EVENT = 500;

function advance(
  driver: Driver,
  machine: CacheMachine,
  node: Node,
  event: CacheEvent,
  kind: string,
  trail: string[],
  fail: (invariant: InvariantId, message: string, trail: string[]) => void,
): { node: Node; snap: Snap; taken: unknown[] } {
  const sys = driver.sys;
  const accepted = node.snap.can(event);
  const { snap, taken } = accepted ? modelStep(machine, node.snap, event) : { snap: node.snap, taken: [] };
  const toModel = new Map(node.toModel);
  let world = node.world;
  let abs = node.abs;
  let failed = false;
  const out = () => ({ node: { snap, world, abs, toModel, children: new Map(), failed, via: describeEvent(event) }, snap, taken });
  const bad = (inv: InvariantId, msg: string) => {
    fail(inv, msg, trail);
    failed = true;
  };

  const possible = driver.possible(world, kind);
  if (!accepted) {
    if (possible) bad('refinement', `the model refuses ${kind} here (${snap.value ? JSON.stringify(snap.value) : ''}), but the implementation could take it`);
    return out();
  }
  if (!possible) {
    bad('refinement', `the model takes ${describeEvent(event)} here, but the implementation cannot (${topContext(world, 0).ctx} context on top, irqs ${world.cpus[0]!.irqsOff ? 'off' : 'on'})`);
    return out();
  }

  const toImpl = (modelId: number): Value => {
    for (const [implId, m] of toModel) if (m === modelId) for (const p of world.inflight) if (ptrId(p) === implId) return p;
    throw new Unmapped(`model object ${modelId} has no in-flight counterpart in the implementation`);
  };

  const apply = (c: Choice): StepReport | null => {
    const r = sys.step(world, abs, c);
    world = r.world;
    abs = r.abs;
    for (const v of r.violations) if (v.severity === 'error') bad(v.id, v.message);
    return failed ? null : r;
  };

  const ctx = driverCtx(kind);
  const frameOf = (w: World) => (ctx === 'task' ? w.tasks[0]!.frame : ctx === 'softirq' ? w.cpus[0]!.softirq : w.cpus[0]!.hardirq);
  const expected = expectedOf(snap);
  const expectKey = JSON.stringify(expected);
  const whole = kind === 'ALLOC' || kind.startsWith('PUT:');

  /** Runs the context's operation to where the machine says it stops. */
  const run = () => {
    for (let i = 0; i < STATEMENTS_PER_EVENT; i++) {
      if (frameOf(world) === null) return;
      if (topContext(world, 0).ctx !== ctx) return;
      const matches = JSON.stringify(driver.observed({ world, abs, toModel })) === expectKey;
      const here = boundaryKey(world, abs);
      const trial = sys.step(world, abs, { kind: 'step', cpu: 0 });
      if (!whole && matches && boundaryKey(trial.world, trial.abs) !== here) return;
      world = trial.world;
      abs = trial.abs;
      for (const v of trial.violations) if (v.severity === 'error') bad(v.id, `${v.message} [${trial.who}: ${trial.labels.join('; ')}]`);
      if (failed) return;
    }
    bad('refinement', `${describeEvent(event)}: the implementation ran ${STATEMENTS_PER_EVENT} statements without reaching the model's state`);
  };

  const heldBefore = new Set(world.tasks[0]!.held);
  try {
    switch (event.type) {
      case 'ALLOC':
      case 'TASK_ALLOC_BEGIN':
        if (!apply({ kind: 'start', task: 0, op: 'alloc', obj: 0 })) return out();
        run();
        break;
      case 'PUT':
        if (event.ctx === 'task') {
          if (!apply({ kind: 'start', task: 0, op: 'complete', obj: toImpl(event.obj) })) return out();
        } else if (!apply({ kind: event.ctx, cpu: 0, obj: toImpl(event.obj) })) return out();
        run();
        break;
      case 'TASK_PUT_BEGIN':
        if (!apply({ kind: 'start', task: 0, op: 'complete', obj: toImpl(event.obj) })) return out();
        run();
        break;
      case 'SOFTIRQ_ENTER':
      case 'HARDIRQ_ENTER':
        if (!apply({ kind: event.type === 'SOFTIRQ_ENTER' ? 'softirq' : 'hardirq', cpu: 0, obj: toImpl(event.obj) })) return out();
        run();
        break;
      case 'TASK_STEP':
      case 'SOFTIRQ_EXIT':
      case 'HARDIRQ_EXIT':
        run();
        break;
    }
  } catch (e) {
    if (e instanceof Unmapped) {
      bad('refinement', e.message);
      return out();
    }
    throw e;
  }
  if (failed) return out();

  // An alloc that returned: the object goes in flight (any context may complete it), and a miss
  // binds the model's fresh id to the implementation's new object.
  const t = world.tasks[0]!;
  const got = t.held.filter((p) => !heldBefore.has(p));
  if (t.frame === null && got.length > 0) {
    const p = got[0]!;
    const c = snap.context;
    if (c.lastOutcome === 'miss' && c.lastAlloc !== null) {
      for (const [k, m] of toModel) if (m === c.lastAlloc) toModel.delete(k);
      toModel.set(ptrId(p), c.lastAlloc);
    } else if (c.lastAlloc !== null && toModel.get(ptrId(p)) !== c.lastAlloc) {
      bad('refinement', `alloc returned ${toModel.has(ptrId(p)) ? `object ${toModel.get(ptrId(p))}` : `a new object (impl #${ptrId(p)})`}; the model's ${c.lastOutcome} returns object ${c.lastAlloc}, the head of free_list`);
      return out();
    }
    if (!apply({ kind: 'start', task: 0, op: 'submit', obj: p })) return out();
  }
  // Freed objects the model no longer tracks lose their binding (their ids are reused).
  for (const [k] of toModel) {
    const o = world.heap[k];
    if (!o || o.freed) toModel.delete(k);
  }

  const got2 = driver.observed({ world, abs, toModel });
  if (JSON.stringify(got2) !== expectKey) bad('refinement', `after ${describeEvent(event)} the model has ${show(expected)}; the implementation has ${show(got2)}`);
  return out();
}
