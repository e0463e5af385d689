/**
 * The seam between model and implementation: the only file that reads implementation internals.
 * It maps a simulated World (memory, frames, tasks) to the model's AbstractState, using the
 * implementation's CacheBinding to find the per-CPU lists.
 */
import { initialTransition, type StateValue } from 'xstate';
import type { AbsCache, AbsObject, AbstractState, AbsStep, CtxKind, OpOutcome, Place } from '../model/abstract.js';
import { cacheMachine, GUARD_MEANING, initialContext, type CacheContext, type CacheEvent, type CacheMachine, type CacheWrite } from '../model/machine.js';
import { machineInventory, stepTaking, type Inventory, type Snap } from '../model/inventory.js';
import type { Profile } from '../model/profiles.js';
import type { Implementation } from '../impl/interface.js';
import { isPtr, NULL, ptrId, ptrOff, type Value } from '../impl/kernel/values.js';
import { GHOST_ID_SHIFT, type Frame, type World } from '../impl/kernel/world.js';

export interface Layout {
  /** Byte offsets of the cache fields and the element link, from the implementation's structs. */
  freeList: number;
  freeListIrq: number;
  nr: number;
  nrIrq: number;
  next: number;
}

export function layoutOf(impl: Implementation): Layout | null {
  const b = impl.cache;
  if (!b) return null;
  const off = (field: string): number => {
    for (const s of impl.structs) if (field in s.fields) return s.fields[field]!;
    throw new Error(`${impl.name}: cache binding names field '${field}', which no declared struct has`);
  };
  return { freeList: off(b.freeList), freeListIrq: off(b.freeListIrq), nr: off(b.nr), nrIrq: off(b.nrIrq), next: off(b.next) };
}

/** The heap object id of the descriptor `CacheBinding.percpuField` goes through, or null. */
export function descriptorObject(impl: Implementation, w: World): number | null {
  const b = impl.cache;
  if (!b || b.percpuField === undefined) return null;
  const d = w.globals[b.percpu];
  return d !== undefined && isPtr(d) ? ptrId(d) : null;
}

/** The __percpu pointer: the static itself, or the descriptor field it points to. */
function percpuPointer(impl: Implementation, w: World): Value | undefined {
  const b = impl.cache!;
  const pp = w.globals[b.percpu];
  if (b.percpuField === undefined || pp === undefined || !isPtr(pp)) return pp;
  const d = w.heap[ptrId(pp)];
  if (!d || d.freed) return undefined;
  let off: number | undefined;
  for (const s of impl.structs) if (b.percpuField in s.fields) off = s.fields[b.percpuField];
  if (off === undefined) throw new Error(`${impl.name}: cache binding names field '${b.percpuField}', which no declared struct has`);
  return d.cells[ptrOff(pp) + off];
}

/** The cache struct of each CPU, or null where it cannot be found (not initialised). */
export function cacheObjects(impl: Implementation, w: World, into?: (number | null)[]): (number | null)[] {
  const b = impl.cache;
  // `into`: a caller's buffer, reused (racy-load checks run on every plain load of per-CPU data).
  const out: (number | null)[] = into ?? new Array(w.cpus.length);
  // Setting an array's length is a call into the runtime even when it does not change it.
  if (out.length !== w.cpus.length) out.length = w.cpus.length;
  out.fill(null);
  if (!b) return out;
  const pp = percpuPointer(impl, w);
  if (pp === undefined || !isPtr(pp)) return out;
  const map = w.heap[ptrId(pp)];
  if (!map || map.freed) return out;
  for (let c = 0; c < w.cpus.length; c++) {
    const v = map.cells[c * 8];
    if (v !== undefined && isPtr(v)) out[c] = v;
  }
  return out;
}

function cell(w: World, p: Value): Value | undefined {
  const o = w.heap[ptrId(p)];
  return o ? o.cells[ptrOff(p)] : undefined;
}

/** Why the last walk() stopped early, or undefined (a variable, not a result object: walked on every step). */
let walkFault: string | undefined;

/** The length from which walk() looks up the ids it has seen in a Set. */
const LONG_LIST = 32;

/** Walks a list from `head`; returns the object ids up to the end, or up to a fault (walkFault). */
function walk(w: World, head: Value | undefined, nextOff: number): number[] {
  const ids: number[] = [];
  /** The ids of a long list: see below. */
  let seen: Set<number> | null = null;
  walkFault = undefined;
  let p = head ?? NULL;
  while (p !== NULL) {
    if (!isPtr(p)) {
      walkFault = `list holds a non-pointer value ${p}`;
      break;
    }
    const id = ptrId(p);
    const o = w.heap[id];
    if (!o) {
      walkFault = `list points to unknown object #${id}`;
      break;
    }
    // The explorer's lists are a handful of elements long, where a linear scan beats a Set (walked
    // on every step); at the kernel's MAX (fast-check) they hold hundreds, and a scan per element
    // made the walk quadratic.
    if (seen === null && ids.length === LONG_LIST) seen = new Set(ids);
    if (seen !== null ? seen.has(id) : ids.includes(id)) {
      walkFault = `list has a cycle through #${id}`;
      break;
    }
    if (o.freed) {
      walkFault = `list holds freed object #${id}`;
      break;
    }
    ids.push(id);
    seen?.add(id);
    const n = o.cells[ptrOff(p) + nextOff];
    if (n === undefined) {
      walkFault = `list element #${id} has an uninitialised link`;
      break;
    }
    p = n;
  }
  return ids;
}

function frameBusy(f: Frame | null): boolean {
  return f !== null && (f.preempt > 0 || f.irqSaved > 0);
}

/** No interrupt frame on the CPU and no task on it inside get_cpu()/local_irq_save(). */
export function cpuQuiescent(w: World, c: number): boolean {
  const cpu = w.cpus[c]!;
  if (cpu.hardirq || cpu.softirq) return false;
  for (const t of w.tasks) if (t.cpu === c && frameBusy(t.frame)) return false;
  return true;
}

/** abstractCaches()' buffer for cacheObjects(): read only within one call (it runs on every step). */
const CACHE_OBJS: (number | null)[] = [];

export function abstractCaches(impl: Implementation, w: World, layout: Layout | null): AbsCache[] {
  const objs = cacheObjects(impl, w, CACHE_OBJS);
  const out: AbsCache[] = new Array(w.cpus.length);
  // Plain loops: this runs several times per explored transition.
  for (let c = 0; c < w.cpus.length; c++) out[c] = cacheOf(w, c, objs[c], layout);
  return out;
}

/** CPU c's lists walked from its cache struct `cp` (none: null). */
function cacheOf(w: World, c: number, cp: number | null | undefined, layout: Layout | null): AbsCache {
  const cpu = w.cpus[c]!;
  const quiescent = cpuQuiescent(w, c);
  if (!layout || cp === null || cp === undefined) return { cpu: c, online: cpu.online, freeList: [], freeListIrq: [], nr: 0, nrIrq: 0, quiescent };
  const fl = walk(w, cell(w, cp + layout.freeList), layout.next);
  const flFault = walkFault;
  const fi = walk(w, cell(w, cp + layout.freeListIrq), layout.next);
  const r: AbsCache = { cpu: c, online: cpu.online, freeList: fl, freeListIrq: fi, nr: cell(w, cp + layout.nr) ?? 0, nrIrq: cell(w, cp + layout.nrIrq) ?? 0, quiescent };
  const fault = flFault ? `free_list: ${flFault}` : walkFault ? `free_list_irq: ${walkFault}` : undefined;
  if (fault) r.listFault = fault;
  return r;
}

/**
 * abstractCaches() of `w`, a world made from `pw` (whose caches are `prev`) by one step: a CPU's
 * lists are taken over from `prev` where nothing its walk read has changed (the statics object,
 * the __percpu map and a descriptor, its cache struct and each element are the same objects in
 * the same heap slots: a heap object is copy-on-write, so the same object has the same cells),
 * and walked again where something has. A list that ended in a fault is always walked again.
 * Fresh AbsCache objects either way (System.step sets their online and quiescent flags).
 */
export function abstractCachesSince(impl: Implementation, w: World, layout: Layout | null, pw: World, prev: readonly AbsCache[]): AbsCache[] {
  const b = impl.cache;
  if (!layout || !b || w.globals !== pw.globals || w.cpus.length !== pw.cpus.length || prev.length !== w.cpus.length) return abstractCaches(impl, w, layout);
  const heap = w.heap;
  const pheap = pw.heap;
  // The objects cacheObjects() reads: the static's target (the map, or the descriptor and then the map).
  const g = w.globals[b.percpu];
  if (g !== undefined && isPtr(g)) {
    const gid = ptrId(g);
    if (heap[gid] !== pheap[gid]) return abstractCaches(impl, w, layout);
    if (b.percpuField !== undefined) {
      const pp = percpuPointer(impl, w);
      if (pp !== undefined && isPtr(pp) && heap[ptrId(pp)] !== pheap[ptrId(pp)]) return abstractCaches(impl, w, layout);
    }
  }
  const objs = cacheObjects(impl, w, CACHE_OBJS);
  const out: AbsCache[] = new Array(w.cpus.length);
  for (let c = 0; c < w.cpus.length; c++) {
    const p = prev[c]!;
    const cp = objs[c];
    if (cp !== null && cp !== undefined && p.cpu === c && p.listFault === undefined && heap[ptrId(cp)] === pheap[ptrId(cp)] && unchanged(heap, pheap, p.freeList) && unchanged(heap, pheap, p.freeListIrq))
      out[c] = { cpu: c, online: w.cpus[c]!.online, freeList: p.freeList, freeListIrq: p.freeListIrq, nr: p.nr, nrIrq: p.nrIrq, quiescent: cpuQuiescent(w, c) };
    else out[c] = cacheOf(w, c, cp, layout);
  }
  return out;
}

/** Every object of a walked list is the same object in `heap` as in `pheap`. */
function unchanged(heap: World['heap'], pheap: World['heap'], ids: readonly number[]): boolean {
  for (const id of ids) if (heap[id] !== pheap[id]) return false;
  return true;
}

/** Frames in progress with a name for reports. */
export function framesOf(w: World): { who: string; frame: Frame; cpu: number }[] {
  const out: { who: string; frame: Frame; cpu: number }[] = [];
  w.tasks.forEach((t, i) => {
    if (t.frame) out.push({ who: `task${i}`, frame: t.frame, cpu: t.cpu });
  });
  w.cpus.forEach((c, i) => {
    if (c.softirq) out.push({ who: `cpu${i}/softirq`, frame: c.softirq, cpu: i });
    if (c.hardirq) out.push({ who: `cpu${i}/hardirq`, frame: c.hardirq, cpu: i });
  });
  return out;
}

/**
 * Places are immutable values and the same few recur in every state: share one object per
 * (kind, cpu/task/who) instead of allocating them per step.
 */
const TASK_LIST_PLACES: Place[] = [];
const IRQ_LIST_PLACES: Place[] = [];
const HELD_PLACES: Place[] = [];
const IN_FLIGHT: Place = { kind: 'in-flight' };
const IN_OP_PLACES = new Map<string, Place>();
const TASK_WHO: string[] = [];
const SOFTIRQ_WHO: string[] = [];
const HARDIRQ_WHO: string[] = [];

function placeOf(table: Place[], kind: 'task-list' | 'irq-list', cpu: number): Place {
  return (table[cpu] ??= { kind, cpu });
}
function heldPlace(task: number): Place {
  return (HELD_PLACES[task] ??= { kind: 'held', task });
}
function inOpPlace(who: string): Place {
  let p = IN_OP_PLACES.get(who);
  if (!p) IN_OP_PLACES.set(who, (p = { kind: 'in-op', who }));
  return p;
}

// Module-level helpers rather than closures in objectsOf(): it runs on most transitions.
function add(places: (Place[] | undefined)[], id: number, p: Place): void {
  const l = places[id];
  if (l) l.push(p);
  else places[id] = [p];
}

/** The objects an operation in progress refers to (args, then reads), each once per frame. */
function inOp(places: (Place[] | undefined)[], f: Frame, who: string): void {
  let p: Place | null = null;
  for (let j = 0; j < f.args.length + f.reads.length; j++) {
    const v = j < f.args.length ? f.args[j]! : f.reads[j - f.args.length]!;
    if (!isPtr(v)) continue;
    const id = ptrId(v);
    p ??= inOpPlace(who);
    // Once per object per frame: the object's places end with this frame's place if seen.
    const l = places[id];
    if (l && l[l.length - 1] === p) continue;
    add(places, id, p);
  }
}

export function abstractState(impl: Implementation, profile: Profile, w: World, layout: Layout | null, step?: AbsStep): AbstractState {
  return abstractStateOf(impl, profile, w, abstractCaches(impl, w, layout), step);
}

/**
 * abstractState() from the caches abstractCaches() returned for this same world (System.step
 * reuses the lists it already walked when the heap has not changed since). `lazy`: the objects'
 * places are worked out when first read, for a world nobody changes afterwards (System.step's).
 */
export function abstractStateOf(impl: Implementation, profile: Profile, w: World, caches: AbsCache[], step?: AbsStep, lazy = false): AbstractState {
  if (lazy) {
    const a = new LazyObjects(profile, caches, impl, w);
    if (step) a.step = step;
    if (kmemleakAnnotated(w)) a.kmemleak = true;
    return a;
  }
  const objects = objectsOf(impl, w, caches);
  const a: AbstractState = step ? { profile, caches, objects, step } : { profile, caches, objects };
  if (kmemleakAnnotated(w)) a.kmemleak = true;
  return a;
}

/** Whether any object carries a kmemleak annotation (HeapObj.kmemleak): kmemleak-balance applies from then on. */
function kmemleakAnnotated(w: World): boolean {
  const heap = w.heap;
  for (let id = 1; id < heap.length; id++) if (heap[id]?.kmemleak !== undefined) return true;
  return false;
}

/**
 * An abstract state whose `objects` are found on first read. A search that steps into a state it
 * has judged already checks only what the step did (Invariant.revisit), which reads no object's
 * places: about half of all steps, and the places were the largest single cost of the step.
 */
class LazyObjects implements AbstractState {
  declare step?: AbsStep;
  declare kmemleak?: true;
  #objects: AbsObject[] | undefined;
  readonly #impl: Implementation;
  readonly #w: World;
  constructor(
    readonly profile: Profile,
    readonly caches: AbsCache[],
    impl: Implementation,
    w: World,
  ) {
    this.#impl = impl;
    this.#w = w;
  }
  get objects(): AbsObject[] {
    return (this.#objects ??= objectsOf(this.#impl, this.#w, this.caches));
  }
}

/** Every object the cache or its callers own, with the places that hold or refer to it. */
function objectsOf(impl: Implementation, w: World, caches: AbsCache[]): AbsObject[] {
  // Places by object id (ids are small: heap indices).
  const places: (Place[] | undefined)[] = new Array(w.heap.length);
  for (const c of caches) {
    if (c.freeList.length) {
      const p = placeOf(TASK_LIST_PLACES, 'task-list', c.cpu);
      for (const id of c.freeList) add(places, id, p);
    }
    if (c.freeListIrq.length) {
      const p = placeOf(IRQ_LIST_PLACES, 'irq-list', c.cpu);
      for (const id of c.freeListIrq) add(places, id, p);
    }
  }
  for (let i = 0; i < w.tasks.length; i++) {
    const held = w.tasks[i]!.held;
    if (held.length) {
      const p = heldPlace(i);
      for (const v of held) add(places, ptrId(v), p);
    }
  }
  for (const v of w.inflight) add(places, ptrId(v), IN_FLIGHT);
  // Operations in progress, in framesOf() order; each object once per frame, args before reads.
  for (let i = 0; i < w.tasks.length; i++) {
    const f = w.tasks[i]!.frame;
    if (f) inOp(places, f, (TASK_WHO[i] ??= `task${i}`));
  }
  for (let i = 0; i < w.cpus.length; i++) {
    const c = w.cpus[i]!;
    if (c.softirq) inOp(places, c.softirq, (SOFTIRQ_WHO[i] ??= `cpu${i}/softirq`));
    if (c.hardirq) inOp(places, c.hardirq, (HARDIRQ_WHO[i] ??= `cpu${i}/hardirq`));
  }
  // Every allocation except the per-CPU areas (and a v3 descriptor, and an allocator's own structs) is an object the cache or its callers own.
  const objects: AbsObject[] = [];
  const descriptor = descriptorObject(impl, w);
  const own = impl.allocatorStructs;
  for (let id = 0; id < w.heap.length; id++) {
    const o = w.heap[id];
    if (!o || o.origin === 'percpu' || id === descriptor) continue;
    if (own !== undefined && own.includes(o.type)) continue;
    if (o.kmemleak === undefined) objects.push({ id, freed: o.freed, places: places[id] ?? [] });
    else objects.push({ id, freed: o.freed, places: places[id] ?? [], kmemleak: o.kmemleak });
  }
  return objects;
}

// ---- the statechart's view: each step of the implementation as machine events ------------------

/**
 * Frame.ghost, the checker's bits in an operation in progress: what its own statements did to the
 * lists, for the step's description (OpOutcome), and what the statechart recorded of its sections
 * that have ended (an operation may be preempted between two sections, and move to another CPU).
 * Bits GHOST_ID_SHIFT (impl/kernel/world.ts) up hold the object it popped, renamed with the
 * objects by the fingerprint.
 */
export const GHOST = {
  /** The bits below hold the statechart's record of the operation's sections (SAW_*, model/machine.ts). */
  SAW: 63,
  /** It spliced (the same bit as SAW_SPLICED). */
  SPLICED: 4,
  POPPED: 64,
  /** It changed the lists in a way the statechart has no write for. */
  OTHER: 128,
  /**
   * It ran a statement that branches on a value the model does not compute (NONDET_BRANCH:
   * __iomap_dio_rw's `goto out_free_dio`): an alloc's put of its own object from here on is the
   * caller's error path, a put section.
   */
  CALLER: 256,
  /**
   * The operation pushed its own object onto free_list (a put; an alloc's error-path put of the
   * object it got): what it did, whoever holds the object by the time it returns,
   */
  PUSHED: 512,
  /** ... or onto free_list_irq. */
  PUSHED_IRQ: 1024,
  /**
   * A plain load of its section raced with a hardirq put (marked-access; Frame.racy has the
   * text). Held until the section ends, so that a context that goes on to write the irq list
   * with irqs on is judged for that first (irq-list-hardirq-only), as it was before the rule.
   */
  RACY: 2048,
} as const;

/** The step of one context, as the seam needs it to tell what the statechart saw. */
export interface SpecStep {
  /** The context that ran, the CPU it runs on, and the operation (its frame). */
  ctx: CtxKind;
  /** The context is an interrupt handler (or, on PREEMPT_RT, an irq thread): its section is the whole operation. */
  handler: boolean;
  cpu: number;
  op: string;
  /** Whether the context was inside a section (get_cpu()/local_irq_save() held, or a handler) before and after the step. */
  busyBefore: boolean;
  busyAfter: boolean;
  /** For an alloc's section that begins: the caller's error path has begun, so it is a put. */
  callerPut: boolean;
  /** The object a put section gives back (-1: not named). */
  obj: number;
  /** What the operation's earlier sections recorded (SAW_* bits kept in its frame). */
  saw: number;
  /** The operation returned in this step, with what it did (OP_RETURN without `type`, `ctx` and `saw`). */
  returned?: { op: 'alloc' | 'put'; result: number; popped: number; errorPath: boolean; errorPut: 'push-task' | 'push-irq' | 'free' | 'unknown' | null; outcome: 'push-task' | 'push-irq' | 'free' | 'kept' | null };
}

/** What the statechart made of one step: a refusal (the `refinement` message) or null. */
export interface SpecVerdict {
  refused: string | null;
}

interface Memo {
  /** The key (KeyBuffer): code, cache, events. */
  key: Int32Array;
  code: number;
  refused: string | null;
  /** Some event changed the machine's lists (else only its counters and irq state can differ). */
  wrote: boolean;
  nr: number;
  nrIrq: number;
  irqsOff: boolean;
  /** The Spec whose `covered` has its transitions already (memos are shared by every Spec of one machine). */
  countedBy: number;
  /** The record of the section that ended in this step (SAW_* bits), or -1. */
  endSaw: number;
  /** The machine's cache after the events, in the key's object names: as the KeyBuffer writes it, and as text. */
  after: Int32Array;
  afterText: string;
  /** Transitions taken (inventory ids). */
  taken: string[];
}

const LEAF_BITS = { task: 4, softirq: 2, hardirq: 3 } as const;
const SAW_BITS = 6;

/**
 * The xstate machine as the explorer's oracle. One snapshot per online CPU, kept as a number in
 * `Cpu.spec` (the region leaves of task, softirq and hardirq, and the sections' SAW_* history) so
 * that it is hashed with the world; the rest of the machine's context is the implementation's own
 * cache (lists, counters, irq state), which the machine must agree with after every event.
 *
 * Transitions are memoised on (code, the cache with its objects renamed canonically, the events):
 * the abstract space is small, and a hit costs a string key.
 */
export class Spec {
  readonly machine: CacheMachine;
  private readonly leaves: { task: string[]; softirq: string[]; hardirq: string[] };
  private readonly derived: Record<string, unknown>;
  private readonly inv: Inventory;
  /** Memo entries by the hash of their key (KeyBuffer). */
  private readonly memo: Map<number, Memo[]>;
  /** Transition ids taken by some explored step (for the statechart coverage of a run). */
  readonly covered = new Set<string>();

  /** Distinguishes the Specs that share a memo (Memo.countedBy). */
  private readonly id = ++specs;

  constructor(readonly profile: Profile, machine?: CacheMachine) {
    // One machine, and one memo, per profile's parameters: every System of a run (the search,
    // minimisation, replays) and every run in one process share what was worked out.
    const shareKey = machine ? null : JSON.stringify([profile.capCompare, profile.cached, profile.max, profile.threshold]);
    const shared = shareKey !== null ? SHARED.get(shareKey) : undefined;
    this.machine = shared?.machine ?? machine ?? cacheMachine(profile);
    this.memo = shared?.memo ?? new Map();
    this.viewMemo = shared?.viewMemo ?? new Map();
    this.snaps = shared?.snaps ?? new Map();
    if (shareKey !== null && !shared) SHARED.set(shareKey, { machine: this.machine, memo: this.memo, viewMemo: this.viewMemo, snaps: this.snaps });
    const root = this.machine.root as unknown as { states: Record<string, LeafNode> };
    const leavesOf = (n: LeafNode, path: string[]): string[] =>
      Object.keys(n.states).length === 0 ? [path.join('.')] : Object.entries(n.states).flatMap(([k, c]) => leavesOf(c, [...path, k]));
    this.leaves = { task: leavesOf(root.states.task!, []), softirq: leavesOf(root.states.softirq!, []), hardirq: leavesOf(root.states.hardirq!, []) };
    for (const r of ['task', 'softirq', 'hardirq'] as const)
      if (this.leaves[r].length > 1 << LEAF_BITS[r]) throw new Error(`statechart region ${r} has ${this.leaves[r].length} states; Spec encodes ${1 << LEAF_BITS[r]}`);
    const [init] = initialTransition(this.machine);
    this.derived = init.value as Record<string, unknown>;
    this.inv = machineInventory(this.machine, 'observed');
  }

  /** The code of a machine at rest over this cache (boot). */
  boot(c: AbsCache, irqsOff: boolean): number {
    return this.encode(this.decode(0, c, irqsOff));
  }

  /**
   * Advances CPU `cpu`'s machine over one step. `before`/`after`: its cache before and after the
   * step; `irqs`: its irq state before and after; `step`: the context that ran, if it ran on
   * this CPU or wrote this CPU's cache. Returns the new code and what refused, if anything.
   */
  advance(code: number, before: AbsCache, after: AbsCache, irqsBefore: boolean, irqsAfter: boolean, step: SpecStep | null): number {
    this.refused = null;
    this.endSaw = -1;
    if (quiet(before, after, irqsBefore, irqsAfter, step)) return code;
    // The key, as numbers in a scratch buffer: the code, the cache with its objects renamed in
    // order of appearance, the events (this runs on most explored steps: no strings, no garbage;
    // the events become objects only when the machine has to be run).
    const k = this.key;
    // (A head kept per stored cache in a WeakMap cost more to insert than the few tokens it saves.)
    k.reset();
    k.push(code);
    k.cache(before, irqsBefore);
    const start = k.n;
    mapStep(before, after, irqsBefore, irqsAfter, step, k);
    if (k.n === start) return code;
    const n = k.n;
    const h = k.hashFrom(0x811c9dc5, 0);
    let bucket = this.memo.get(h);
    let m: Memo | undefined;
    if (bucket) for (const x of bucket) if (x.key.length === n && k.equals(x.key)) m = x;
    let events: CacheEvent[] | null = null;
    if (!m) {
      // The machine runs on the key's names for the objects (canonical), so that what it works
      // out holds for every step with this key, whatever the objects' ids.
      const evs = this.events(before, after, irqsBefore, irqsAfter, step);
      events = evs;
      const cBefore: AbsCache = { ...before, freeList: before.freeList.map((id) => k.name(id)), freeListIrq: before.freeListIrq.map((id) => k.name(id)) };
      const t0 = performance.now();
      m = this.compute(code, cBefore, irqsBefore, evs.map((e) => canonicalEvent(e, k)), k.copy(), k);
      Spec.misses.count++;
      Spec.misses.ms += performance.now() - t0;
      if (!bucket) this.memo.set(h, (bucket = []));
      bucket.push(m);
    }
    if (m.countedBy !== this.id) {
      // Coverage is a set: each memo entry adds its transitions once per Spec.
      for (const t of m.taken) this.covered.add(t);
      m.countedBy = this.id;
    }
    if (m.refused !== null) {
      this.refused = this.realIds(m.refused, before, events ?? this.events(before, after, irqsBefore, irqsAfter, step), k);
      return code;
    }
    // The machine's cache must be the implementation's. Without a write in the step the lists
    // are the ones both had before, and the counters and irq state are what the events carried.
    let same: boolean;
    if (m.wrote) {
      // The renaming of the key goes on over the cache after the step.
      k.n = n;
      k.cache(after, irqsAfter);
      same = k.n - n === m.after.length && k.equalsFrom(n, m.after);
    } else same = irqsAfter === m.irqsOff && after.nr === m.nr && after.nrIrq === m.nrIrq;
    if (!same) {
      const evs = events ?? this.events(before, after, irqsBefore, irqsAfter, step);
      const named: AbsCache = { ...after, freeList: after.freeList.map((id) => k.name(id)), freeListIrq: after.freeListIrq.map((id) => k.name(id)) };
      this.refused = `cpu${before.cpu}: after ${evs.map(describeEvent).join(', ')} the statechart's cache is ${m.afterText} but the implementation's is ${cacheText(named, irqsAfter)} (objects named in order of appearance)`;
      return m.code;
    }
    this.endSaw = m.endSaw;
    return m.code;
  }

  /** Memo misses in this process (every Spec): how many, and the milliseconds the machine took on them (the bench's cold cost). */
  static readonly misses = { count: 0, ms: 0 };
  /** What the last advance() found: the refusal (the `refinement` message), or null. */
  refused: string | null = null;
  /** The record of a section that ended in the last advance() (SAW_* bits), or -1. */
  endSaw = -1;
  private readonly key = new KeyBuffer();
  /** Decoded snapshots by (code, canonical cache): shared like the memo. */
  private readonly snaps: Map<string, Snap>;
  private readonly viewMemo: Map<string, Record<string, unknown>>;

  /** Statechart coverage: every transition of the observed vocabulary, and whether some step took it. */
  coverage(): { transitions: { id: string; taken: boolean }[] } {
    const ids = [...new Set(this.inv.transitions.values())];
    return { transitions: ids.map((id) => ({ id, taken: this.covered.has(id) })) };
  }

  /** The events of one step on one CPU's cache, in the order the machine takes them (mapStep()'s, as objects). */
  private events(b: AbsCache, a: AbsCache, irqsBefore: boolean, irqsAfter: boolean, st: SpecStep | null): CacheEvent[] {
    const out = new EventList();
    mapStep(b, a, irqsBefore, irqsAfter, st, out);
    return out.events;
  }

  /**
   * Runs the machine over the events from the state `code` over cache `before`, both in the key's
   * (canonical) object names: the decoded start is shared by every sequence of events from it.
   */
  private compute(code: number, before: AbsCache, irqsOff: boolean, events: CacheEvent[], key: Int32Array, kb: KeyBuffer): Memo {
    const start = `${code}|${cacheText(before, irqsOff)}`;
    let snap = this.snaps.get(start);
    if (!snap) this.snaps.set(start, (snap = this.decode(code, before, irqsOff)));
    const taken: string[] = [];
    let endSaw = -1;
    for (const ev of events) {
      // The record a section ends with goes to the operation's return in the same step (-1), or,
      // through the frame, to its next section or a later return.
      if (ev.type === 'SECTION_END') endSaw = ev.ctx === 'hardirq' ? snap.context.hardirqSaw : ev.ctx === 'task' ? snap.context.taskSaw : 0;
      const e: CacheEvent = ev.type === 'OP_RETURN' && ev.saw < 0 ? { ...ev, saw: Math.max(endSaw, 0) } : ev;
      const r = this.stepOnce(snap, e);
      if (!r.accepted) return { key, code, refused: this.refusal(snap, e, before.cpu), endSaw: -1, after: new Int32Array(0), afterText: '', taken, wrote: false, nr: 0, nrIrq: 0, irqsOff: false, countedBy: 0 };
      for (const t of r.taken) taken.push(t);
      snap = r.snap;
    }
    const c = snap.context;
    const machineCache: AbsCache = { cpu: before.cpu, online: true, freeList: c.freeList, freeListIrq: c.freeListIrq, nr: c.nr, nrIrq: c.nrIrq, quiescent: true };
    const afterText = cacheText(machineCache, c.irqsOff);
    // Already in the key's names: written as they are, after the key.
    const n = kb.n;
    kb.cache(machineCache, c.irqsOff, true);
    const after = kb.slice(n);
    kb.n = n;
    const wrote = c.freeList !== before.freeList || c.freeListIrq !== before.freeListIrq;
    return { key, code: this.encode(snap), refused: null, endSaw, after, afterText, taken, wrote, nr: c.nr, nrIrq: c.nrIrq, irqsOff: c.irqsOff, countedBy: 0 };
  }

  /** One macrostep, with the inventory ids of the transitions it took. */
  private stepOnce(snap: Snap, e: CacheEvent): { snap: Snap; taken: string[]; accepted: boolean } {
    const x = stepTaking(this.machine, snap, e);
    const taken: string[] = [];
    for (const t of x.taken) {
      const id = this.inv.transitions.get(t);
      if (id !== undefined) taken.push(id);
    }
    return { snap: x.snap, taken, accepted: x.accepted };
  }

  /** A refusal worked out on the key's names, told with this step's object ids. */
  private realIds(msg: string, before: AbsCache, events: CacheEvent[], k: KeyBuffer): string {
    const real = new Map<number, number>();
    for (const id of before.freeList) real.set(k.name(id), id);
    for (const id of before.freeListIrq) real.set(k.name(id), id);
    for (const e of events) {
      if ((e.type === 'CACHE_WRITE' || e.type === 'SECTION_BEGIN') && e.obj > 0) real.set(k.name(e.obj), e.obj);
      if (e.type === 'OP_RETURN') {
        if (e.popped) real.set(POPPED_NAME, e.popped);
        if (e.result && e.result !== e.popped) real.set(RESULT_NAME, e.result);
      }
    }
    return msg.replace(/#(\d+)/g, (w, n: string) => {
      const id = real.get(Number(n));
      return id === undefined ? w : `#${id}`;
    });
  }

  /** Why the machine cannot take `e`: its state, the event, and the guards of the transitions it has for it. */
  private refusal(snap: Snap, e: CacheEvent, cpu: number): string {
    const guards = this.machine.implementations.guards as Record<string, (a: { context: CacheContext; event: CacheEvent }) => boolean>;
    const tried: string[] = [];
    for (const n of (snap as unknown as { _nodes: { id: string; transitions: Map<string, { guard?: unknown }[]> }[] })._nodes) {
      for (const t of n.transitions.get(e.type) ?? []) {
        const names = guardNames(t.guard);
        const failed = names.filter((g) => guards[g] && !guards[g]!({ context: snap.context, event: e }));
        const why = failed.map((g) => (GUARD_MEANING[g] ? `${g}: ${GUARD_MEANING[g]}` : g));
        tried.push(`${n.id.replace(/^cpu\./, '')}: ${names.length ? `guard ${names.join(' && ')}` : 'no guard'}${why.length ? ` (false: ${why.join('; ')})` : ''}`);
      }
    }
    const state = ['task', 'softirq', 'hardirq'].map((r) => `${r}: ${leafOf(snap.value, r)}`).join(', ');
    return `cpu${cpu}: the statechart cannot take ${describeEvent(e)} in state {${state}}${tried.length ? `; ${tried.join('; ')}` : ': no transition of that state takes this event'}`;
  }

  /**
   * The derived regions (running, irqs, taskList, irqList, capacity) over this context: the views
   * the machine reaches when the counters grow one by one from zero, as the kernel's do (the
   * capacity view moves one step per transition). Worked out on a machine whose contexts are all
   * idle, so that no section's record sees the ramp.
   */
  private views(context: CacheContext): Record<string, unknown> {
    const key = `${context.nr},${context.nrIrq},${context.freeList.length > 0},${context.irqsOff},${context.softirqObj !== null},${context.hardirqObj !== null}`;
    const hit = this.viewMemo.get(key);
    if (hit) return hit;
    let s = this.machine.resolveState({ value: this.derived as StateValue, context: { ...context, nr: 0, nrIrq: 0 } }) as Snap;
    const ramp = (nr: number, nrIrq: number) => (s = stepTaking(this.machine, s, { type: 'COUNTERS', nr, nrIrq }).snap);
    ramp(0, 0);
    for (let n = 1; n <= context.nr; n++) ramp(n, 0);
    for (let n = 1; n <= context.nrIrq; n++) ramp(context.nr, n);
    this.viewMemo.set(key, s.value as Record<string, unknown>);
    return s.value as Record<string, unknown>;
  }

  private decode(code: number, c: AbsCache, irqsOff: boolean): Snap {
    const task = this.leaves.task[code & 15]!;
    const softirq = this.leaves.softirq[(code >>> 4) & 3]!;
    const hardirq = this.leaves.hardirq[(code >>> 6) & 7]!;
    const inSection = (l: string) => l !== 'idle';
    const context: CacheContext = {
      ...initialContext(),
      freeList: c.freeList,
      freeListIrq: c.freeListIrq,
      nr: c.nr,
      nrIrq: c.nrIrq,
      irqsOff,
      taskObj: task.startsWith('section.put') ? -1 : null,
      softirqObj: inSection(softirq) ? -1 : null,
      hardirqObj: inSection(hardirq) ? -1 : null,
      taskSaw: (code >>> 9) & ((1 << SAW_BITS) - 1),
      hardirqSaw: (code >>> (9 + SAW_BITS)) & ((1 << SAW_BITS) - 1),
    };
    const value = { ...this.views(context), task: nest(task), softirq: nest(softirq), hardirq: nest(hardirq) } as StateValue;
    return this.machine.resolveState({ value, context }) as Snap;
  }

  private encode(s: Snap): number {
    const v = s.value as Record<string, unknown>;
    const idx = (r: 'task' | 'softirq' | 'hardirq') => {
      const i = this.leaves[r].indexOf(leafOf(v, r));
      if (i < 0) throw new Error(`statechart region ${r} in a state the seam does not know: ${leafOf(v, r)}`);
      return i;
    };
    return idx('task') | (idx('softirq') << 4) | (idx('hardirq') << 6) | (s.context.taskSaw << 9) | (s.context.hardirqSaw << (9 + SAW_BITS));
  }


}

type LeafNode = { states: Record<string, LeafNode> };


/** Where mapStep() puts the events of a step: as key tokens (KeyBuffer) or as objects (EventList). */
interface EventSink {
  begin(ctx: CtxKind, op: 'alloc' | 'put', obj: number, saw: number): void;
  write(ctx: CtxKind, remote: boolean, write: CacheWrite, obj: number): void;
  counters(nr: number, nrIrq: number): void;
  irqs(off: boolean): void;
  end(ctx: CtxKind): void;
  ret(ctx: CtxKind, r: NonNullable<SpecStep['returned']>, saw: number): void;
}

class EventList implements EventSink {
  readonly events: CacheEvent[] = [];
  begin(ctx: CtxKind, op: 'alloc' | 'put', obj: number, saw: number): void {
    this.events.push({ type: 'SECTION_BEGIN', ctx, op, obj, saw });
  }
  write(ctx: CtxKind, remote: boolean, write: CacheWrite, obj: number): void {
    this.events.push(remote ? { type: 'CACHE_WRITE', ctx, write, obj, remote } : { type: 'CACHE_WRITE', ctx, write, obj });
  }
  counters(nr: number, nrIrq: number): void {
    this.events.push({ type: 'COUNTERS', nr, nrIrq });
  }
  irqs(off: boolean): void {
    this.events.push({ type: 'IRQS', off });
  }
  end(ctx: CtxKind): void {
    this.events.push({ type: 'SECTION_END', ctx });
  }
  ret(ctx: CtxKind, r: NonNullable<SpecStep['returned']>, saw: number): void {
    this.events.push({ type: 'OP_RETURN', ctx, op: r.op, result: r.result, popped: r.popped, errorPath: r.errorPath, errorPut: r.errorPut, outcome: r.outcome, saw });
  }
}

/** Nothing of this step reaches this CPU's machine: no change to its cache, no section boundary, no return. */
function quiet(b: AbsCache, a: AbsCache, irqsBefore: boolean, irqsAfter: boolean, st: SpecStep | null): boolean {
  if (b.nr !== a.nr || b.nrIrq !== a.nrIrq || !sameList(b.freeList, a.freeList) || !sameList(b.freeListIrq, a.freeListIrq)) return false;
  const local = st !== null && st.cpu === b.cpu && st.op !== 'cpu_dead';
  return !local || (st.busyBefore && st.busyAfter && !st.returned && irqsBefore === irqsAfter);
}

/**
 * The one mapping from an implementation's step to the events of one CPU's machine, in the
 * order it takes them: the context's section opening (get_cpu()/local_irq_save(), a handler's
 * entry), the step's writes to the lists, the counters, the task's irq state, the section's end
 * (put_cpu(), a handler's return), the operation's return.
 */
function mapStep(b: AbsCache, a: AbsCache, irqsBefore: boolean, irqsAfter: boolean, st: SpecStep | null, out: EventSink): void {
  const local = st !== null && st.cpu === b.cpu && st.op !== 'cpu_dead';
  const ctx: CtxKind = st?.ctx ?? 'task';
  // A handler, or an operation that begins and ends in one step (an atomic handler), opens its section too.
  if (local && !st.busyBefore && (st.busyAfter || st.handler)) {
    const put = st.op !== 'alloc' || st.callerPut;
    out.begin(st.ctx, put ? 'put' : 'alloc', put ? st.obj : -1, st.saw);
  }
  // A write from another CPU (its own section opened no section here) is `remote`: no region takes it.
  const remote = !local;
  const w = writesOf(b, a);
  if (w !== NONE) {
    out.write(ctx, remote, w, writtenObj);
    if (w === 'splice' && spliceCleared) out.write(ctx, remote, 'splice-clear', 0);
  }
  if (b.nr !== a.nr || b.nrIrq !== a.nrIrq) out.counters(a.nr, a.nrIrq);
  // The task's own irq state (a handler's entry and return are part of its section).
  if (local && st.ctx === 'task' && irqsBefore !== irqsAfter) out.irqs(irqsAfter);
  const ends = local && ((st.busyBefore && !st.busyAfter) || (!st.busyBefore && !st.busyAfter && st.handler));
  if (ends) out.end(st.ctx);
  // The return is judged on the CPU the operation returns on, with its sections' record.
  if (local && st.returned) out.ret(st.ctx, st.returned, ends ? -1 : st.saw);
}

let specs = 0;
/** Machines and memos by profile parameters (Spec's constructor). */
const SHARED = new Map<
  string,
  { machine: CacheMachine; memo: Map<number, Memo[]>; viewMemo: Map<string, Record<string, unknown>>; snaps: Map<string, Snap> }
>();

/** An alloc's popped object and a different result, as the machine sees them (their ids are not in the key). */
const POPPED_NAME = 1_000_001;
const RESULT_NAME = 1_000_002;

/** An event in the key's object names (KeyBuffer.name), for the machine to run on. */
function canonicalEvent(e: CacheEvent, k: KeyBuffer): CacheEvent {
  switch (e.type) {
    case 'SECTION_BEGIN':
      return { ...e, obj: k.name(e.obj) };
    case 'CACHE_WRITE':
      return { ...e, obj: k.name(e.obj) };
    case 'OP_RETURN': {
      const popped = e.popped ? POPPED_NAME : 0;
      return { ...e, popped, result: e.result === 0 ? 0 : e.result === e.popped ? popped : RESULT_NAME };
    }
    default:
      return e;
  }
}

/** A cache as text, its ids as they are. */
function cacheText(c: AbsCache, irqsOff: boolean): string {
  return `[${c.freeList.join(',')}][${c.freeListIrq.join(',')}] nr=${c.nr} nr_irq=${c.nrIrq}${irqsOff ? ' irqs-off' : ''}`;
}

const CTX = { task: 0, softirq: 1, hardirq: 2 } as const;
const WRITE: Record<CacheWrite, number> = { pop: 0, splice: 1, 'splice-clear': 2, 'push-task': 3, 'push-irq': 4, other: 5 };
const PUT_KIND = { 'push-task': 1, 'push-irq': 2, free: 3, unknown: 4, kept: 5 } as const;

/**
 * A memo key as int32s in a reused buffer, objects renamed in order of appearance (a generation
 * stamp per object id instead of a map), hashed FNV-1a.
 */
class KeyBuffer implements EventSink {
  buf = new Int32Array(256);
  n = 0;
  private names = new Int32Array(1024);
  private stamp = new Int32Array(1024);
  private gen = 0;
  private next = 0;
  reset(): void {
    this.n = 0;
    this.gen++;
    this.next = 0;
  }
  push(x: number): void {
    if (this.n === this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = x;
  }
  name(id: number): number {
    if (id <= 0) return id;
    if (id >= this.names.length) {
      const len = Math.max(id + 1, this.names.length * 2);
      const a = new Int32Array(len);
      a.set(this.names);
      this.names = a;
      const b = new Int32Array(len);
      b.set(this.stamp);
      this.stamp = b;
    }
    if (this.stamp[id] !== this.gen) {
      this.stamp[id] = this.gen;
      this.names[id] = ++this.next;
    }
    return this.names[id]!;
  }
  /** A cache, its objects named as the key names them; `named`: its ids are the key's names already (the machine's, in compute()). */
  cache(c: AbsCache, irqsOff: boolean, named = false): void {
    this.push(c.freeList.length);
    for (const id of c.freeList) this.push(named ? id : this.name(id));
    this.push(c.freeListIrq.length);
    for (const id of c.freeListIrq) this.push(named ? id : this.name(id));
    this.push(c.nr);
    this.push(c.nrIrq);
    this.push(irqsOff ? 1 : 0);
  }
  // EventSink: the events as key tokens.
  begin(ctx: CtxKind, op: 'alloc' | 'put', obj: number, saw: number): void {
    this.push(1), this.push(CTX[ctx]), this.push(op === 'put' ? 1 : 0), this.push(this.name(obj)), this.push(saw);
  }
  write(ctx: CtxKind, remote: boolean, write: CacheWrite, obj: number): void {
    this.push(2), this.push(CTX[ctx] | (remote ? 4 : 0)), this.push(WRITE[write]), this.push(this.name(obj));
  }
  counters(nr: number, nrIrq: number): void {
    this.push(3), this.push(nr), this.push(nrIrq);
  }
  irqs(off: boolean): void {
    this.push(off ? 5 : 4);
  }
  end(ctx: CtxKind): void {
    this.push(6), this.push(CTX[ctx]);
  }
  ret(ctx: CtxKind, r: NonNullable<SpecStep['returned']>, saw: number): void {
    this.push(7), this.push(CTX[ctx] | (r.op === 'put' ? 4 : 0) | (r.errorPath ? 8 : 0));
    this.push(r.result === r.popped ? 0 : r.result === 0 ? 1 : 2), this.push(r.popped === 0 ? 0 : 1);
    this.push(r.errorPut ? PUT_KIND[r.errorPut] : 0), this.push(r.outcome ? PUT_KIND[r.outcome] : 0), this.push(saw);
  }
  /** FNV-1a of the tokens from `from` on, continuing from `h` (the hash of those before). */
  hashFrom(h: number, from: number): number {
    for (let i = from; i < this.n; i++) h = Math.imul(h ^ this.buf[i]!, 0x01000193);
    return h;
  }
  equals(k: Int32Array): boolean {
    for (let i = 0; i < k.length; i++) if (this.buf[i] !== k[i]) return false;
    return true;
  }
  equalsFrom(from: number, k: Int32Array): boolean {
    for (let i = 0; i < k.length; i++) if (this.buf[from + i] !== k[i]) return false;
    return true;
  }
  copy(): Int32Array {
    return this.buf.slice(0, this.n);
  }
  slice(from: number): Int32Array {
    return this.buf.slice(from, this.n);
  }
}


export function describeEvent(e: CacheEvent): string {
  switch (e.type) {
    case 'SECTION_BEGIN':
      return `SECTION_BEGIN (${e.ctx} ${e.op}${e.op === 'put' && e.obj >= 0 ? ` #${e.obj}` : ''})`;
    case 'CACHE_WRITE':
      return `CACHE_WRITE ${e.write}${e.obj ? ` #${e.obj}` : ''} by ${e.remote ? `a ${e.ctx} on another CPU` : e.ctx}`;
    case 'COUNTERS':
      return `COUNTERS (nr=${e.nr}, nr_irq=${e.nrIrq})`;
    case 'IRQS':
      return `IRQS ${e.off ? 'off' : 'on'}`;
    case 'SECTION_END':
      return `SECTION_END (${e.ctx})`;
    case 'OP_RETURN':
      return e.op === 'alloc'
        ? `OP_RETURN (${e.ctx} alloc returns ${e.result ? `#${e.result}` : 'NULL'}${e.popped ? `, popped #${e.popped}` : ', popped nothing'}${e.errorPath ? `, caller's error path: ${e.errorPut}` : ''})`
        : `OP_RETURN (${e.ctx} put: ${e.outcome})`;
    default:
      return e.type;
  }
}


function nest(path: string): unknown {
  const parts = path.split('.');
  let v: unknown = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) v = { [parts[i]!]: v };
  return v;
}

function leafOf(value: unknown, region: string): string {
  let v = (value as Record<string, unknown>)[region];
  const parts: string[] = [];
  while (v !== null && typeof v === 'object') {
    const [k, next] = Object.entries(v as Record<string, unknown>)[0]!;
    parts.push(k);
    v = next;
  }
  parts.push(String(v));
  return parts.join('.');
}

function guardNames(g: unknown): string[] {
  if (typeof g === 'string') return [g];
  if (typeof g === 'function' && Array.isArray((g as { guards?: unknown }).guards)) return ((g as unknown as { guards: unknown[] }).guards).flatMap(guardNames);
  return [];
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
function isPushOnto(before: readonly number[], after: readonly number[]): boolean {
  if (after.length !== before.length + 1) return false;
  for (let i = 0; i < before.length; i++) if (after[i + 1] !== before[i]) return false;
  return true;
}

const NONE = 'none' as const;
/** writesOf()'s object (popped or pushed), and whether its splice also cleared free_list_irq. */
let writtenObj = 0;
let spliceCleared = false;

/** What one step did to one CPU's lists, as the write the statechart names (an unnamed change is `other`). */
function writesOf(b: AbsCache, a: AbsCache): CacheWrite | typeof NONE {
  const sameTask = sameList(b.freeList, a.freeList);
  const sameIrq = sameList(b.freeListIrq, a.freeListIrq);
  writtenObj = 0;
  spliceCleared = false;
  if (sameTask && sameIrq) return NONE;
  if (b.freeList.length > 0 && sameIrq && a.freeList.length === b.freeList.length - 1 && isPushOnto(a.freeList, b.freeList)) {
    writtenObj = b.freeList[0]!;
    return 'pop';
  }
  if (!sameTask && b.freeList.length === 0 && b.freeListIrq.length > 0 && a.freeList[0] === b.freeListIrq[0]) {
    // free_list = free_list_irq, and in the same step perhaps free_list_irq = NULL too.
    spliceCleared = a.freeListIrq.length === 0;
    return 'splice';
  }
  if (!sameIrq && sameTask && b.freeListIrq.length > 0 && a.freeListIrq.length === 0) return 'splice-clear';
  if (sameIrq && isPushOnto(b.freeList, a.freeList)) {
    writtenObj = a.freeList[0]!;
    return 'push-task';
  }
  if (sameTask && isPushOnto(b.freeListIrq, a.freeListIrq)) {
    writtenObj = a.freeListIrq[0]!;
    return 'push-irq';
  }
  return 'other';
}

// ---- an operation's own writes and outcome (Frame.ghost) -------------------------------------

const G_SPLICED = GHOST.SPLICED;
const G_POPPED = GHOST.POPPED;
const G_OTHER = GHOST.OTHER;
const G_CALLER = GHOST.CALLER;
const G_PUSHED = GHOST.PUSHED;
const G_PUSHED_IRQ = GHOST.PUSHED_IRQ;
const POP_SHIFT = GHOST_ID_SHIFT; // popped object id lives above the flag bits (the fingerprint renames it)


/**
 * What the operation's own statement did to the lists (`before`: the lists before it), for the
 * step's description (OpOutcome): popped, spliced, the caller's error-path put, or a change the
 * statechart has no write for. Whether it was allowed is the statechart's (Spec).
 */
export function noteOwnWrite(before: { caches: AbsCache[] }, after: { caches: AbsCache[] }, f: Frame, cpu: number): void {
  const c = after.caches[cpu];
  if (!c) return;
  let g = f.ghost;
  const b = before.caches[cpu]!;
  const sameTask = sameList(b.freeList, c.freeList);
  const sameIrq = sameList(b.freeListIrq, c.freeListIrq);
  if (!sameTask || !sameIrq) {
    if (f.op === 'alloc' && b.freeList.length > 0 && sameList(c.freeList, b.freeList.slice(1)) && sameIrq) {
      g |= G_POPPED;
      g = (g & ((1 << POP_SHIFT) - 1)) | (b.freeList[0]! << POP_SHIFT);
    } else if (f.op === 'alloc' && b.freeListIrq.length > 0 && c.freeList[0] === b.freeListIrq[0] && b.freeList.length === 0) {
      g |= G_SPLICED;
    } else if (f.op === 'alloc' && !sameIrq && b.freeListIrq.length > 0 && c.freeListIrq.length === 0 && sameTask) {
      // the second half of the splice: free_list_irq = NULL
    } else if (f.op === 'alloc' && g & G_CALLER && !(g & (G_PUSHED | G_PUSHED_IRQ)) && isPushOnto(b.freeList, c.freeList) && sameIrq && ownObject(g, c.freeList[0]!)) {
      // the caller's error path puts back the object the alloc got
      g |= G_PUSHED;
    } else if (f.op === 'alloc' && g & G_CALLER && !(g & (G_PUSHED | G_PUSHED_IRQ)) && isPushOnto(b.freeListIrq, c.freeListIrq) && sameTask && ownObject(g, c.freeListIrq[0]!)) {
      g |= G_PUSHED_IRQ;
    } else if (f.op === 'free' && isPushOnto(b.freeList, c.freeList) && sameIrq) {
      // push onto free_list; of its own object, what the put did, whoever pops it before the caller returns
      if (c.freeList[0] === putObject(f)) g |= G_PUSHED;
    } else if (f.op === 'free' && isPushOnto(b.freeListIrq, c.freeListIrq) && sameTask) {
      if (c.freeListIrq[0] === putObject(f)) g |= G_PUSHED_IRQ;
    } else if (f.op === 'cpu_dead') {
      // pruning
    } else g |= G_OTHER;
  }
  f.ghost = g;
}

/** What a returned operation did, as the step reports it (OpOutcome): from its frame's bits and the lists after it. */
export function outcomeOf(w: World, f: Frame, cpu: number, ctx: CtxKind, result: Value, caches: AbsCache[] | null): OpOutcome {
  const g = f.ghost;
  const saw = { spliced: (g & G_SPLICED) !== 0, popped: (g & G_POPPED) !== 0, poppedObj: g >>> POP_SHIFT };
  let kind: OpOutcome['kind'] = 'other';
  const out: OpOutcome = { op: f.op, ctx, cpu, kind, saw };
  if (f.op === 'alloc') {
    out.result = isPtr(result) ? ptrId(result) : 0;
    kind = g & G_OTHER ? 'other' : saw.popped ? (saw.spliced ? 'splice-hit' : 'hit') : 'miss';
    // The caller went down its error path and returned no object: how it gave back the one it got.
    if (g & G_CALLER && !isPtr(result)) {
      const popped = w.heap[saw.poppedObj];
      if (g & G_PUSHED) out.errorPut = 'push-task';
      else if (g & G_PUSHED_IRQ) out.errorPut = 'push-irq';
      else if (saw.popped && (!popped || popped.freed)) out.errorPut = 'free';
      // After a miss the object is not known here: a leak of it is object-safety's.
      else out.errorPut = 'unknown';
    }
  } else if (f.op === 'free') {
    const id = ptrId(f.args[0]!);
    const o = w.heap[id];
    // A push its own statements did (noteOwnWrite) is what it did, even if another context has
    // popped the object by the time the caller's lines after the put return (migrated, or
    // preempted after put_cpu()); else where the object is now.
    if (g & G_OTHER) kind = 'other';
    else if (g & G_PUSHED) kind = 'push-task';
    else if (g & G_PUSHED_IRQ) kind = 'push-irq';
    else if (caches!.some((c) => c.freeList.includes(id))) kind = 'push-task';
    else if (caches!.some((c) => c.freeListIrq.includes(id))) kind = 'push-irq';
    else if (!o || o.freed) kind = 'free';
  }
  out.kind = kind;
  return out;
}

export function emptySaw(): OpOutcome['saw'] {
  return { spliced: false, popped: false, poppedObj: 0 };
}

/** Whether a task's operation holds a section: get_cpu()/preempt_disable() or local_irq_save() not yet given back. */
export function sectionHeld(f: Frame): boolean {
  return f.preempt > 0 || f.irqSaved > 0;
}

/**
 * The step of frame `f` as the statechart sees it, in context `ctx` (System.machineCtx). A
 * handler's section is the whole handler (an irq thread's too); a task's is get_cpu() (or
 * local_irq_save()) to put_cpu(). `done`: what the operation returned,
 * if it returned in this step.
 */
export function specStepOf(f: Frame, ctx: CtxKind, cpu: number, busyBefore: boolean, returned: boolean, handler: boolean): SpecStep {
  const busyAfter = !returned && (handler || sectionHeld(f));
  return { ctx, handler, cpu, op: f.op, busyBefore, busyAfter, callerPut: (f.ghost & G_CALLER) !== 0, obj: f.op === 'free' && f.args[0] !== undefined && isPtr(f.args[0]) ? ptrId(f.args[0]) : -1, saw: f.ghost & GHOST.SAW };
}

/** What a returning operation did, for the statechart's OP_RETURN. */
export function returnOf(d: OpOutcome): SpecStep['returned'] {
  if (d.op === 'alloc') {
    const result = d.result ?? 0;
    return { op: 'alloc', result, popped: d.saw.popped ? d.saw.poppedObj : 0, errorPath: d.errorPut !== undefined, errorPut: d.errorPut ?? null, outcome: null };
  }
  const outcome = d.kind === 'push-task' || d.kind === 'push-irq' || d.kind === 'free' ? d.kind : 'kept';
  return { op: 'put', result: 0, popped: 0, errorPath: false, errorPut: null, outcome };
}

/** The object a put gives back (-1: not a pointer). */
function putObject(f: Frame): number {
  const a = f.args[0];
  return a !== undefined && isPtr(a) ? ptrId(a) : -1;
}

/** Whether the object an alloc's error path pushes is the one the alloc popped (any new one after a miss). */
function ownObject(g: number, id: number): boolean {
  return !(g & G_POPPED) || g >>> POP_SHIFT === id;
}
