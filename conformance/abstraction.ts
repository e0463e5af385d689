/**
 * The seam between model and implementation: the only file that reads implementation internals.
 * It maps a simulated World (memory, frames, tasks) to the model's AbstractState, using the
 * implementation's CacheBinding to find the per-CPU lists.
 */
import type { AbsCache, AbsObject, AbstractState, AbsStep, Place } from '../model/abstract.js';
import type { Profile } from '../model/profiles.js';
import type { Implementation } from '../impl/interface.js';
import { isPtr, NULL, ptrId, ptrOff, type Value } from '../impl/kernel/values.js';
import type { Frame, World } from '../impl/kernel/world.js';

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
export function cacheObjects(impl: Implementation, w: World): (number | null)[] {
  const b = impl.cache;
  const out: (number | null)[] = new Array(w.cpus.length).fill(null);
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

/** Walks a list from `head`; returns the object ids up to the end, or up to a fault (walkFault). */
function walk(w: World, head: Value | undefined, nextOff: number): number[] {
  const ids: number[] = [];
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
    // Lists are a handful of elements long: a linear scan beats a Set here (walked on every step).
    if (ids.includes(id)) {
      walkFault = `list has a cycle through #${id}`;
      break;
    }
    if (o.freed) {
      walkFault = `list holds freed object #${id}`;
      break;
    }
    ids.push(id);
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

export function abstractCaches(impl: Implementation, w: World, layout: Layout | null): AbsCache[] {
  const objs = cacheObjects(impl, w);
  const out: AbsCache[] = new Array(w.cpus.length);
  // Plain loops: this runs several times per explored transition.
  for (let c = 0; c < w.cpus.length; c++) {
    const cpu = w.cpus[c]!;
    const quiescent = cpuQuiescent(w, c);
    const cp = objs[c];
    if (!layout || cp === null || cp === undefined) {
      out[c] = { cpu: c, online: cpu.online, freeList: [], freeListIrq: [], nr: 0, nrIrq: 0, quiescent };
      continue;
    }
    const fl = walk(w, cell(w, cp + layout.freeList), layout.next);
    const flFault = walkFault;
    const fi = walk(w, cell(w, cp + layout.freeListIrq), layout.next);
    const r: AbsCache = { cpu: c, online: cpu.online, freeList: fl, freeListIrq: fi, nr: cell(w, cp + layout.nr) ?? 0, nrIrq: cell(w, cp + layout.nrIrq) ?? 0, quiescent };
    const fault = flFault ? `free_list: ${flFault}` : walkFault ? `free_list_irq: ${walkFault}` : undefined;
    if (fault) r.listFault = fault;
    out[c] = r;
  }
  return out;
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
    return a;
  }
  const objects = objectsOf(impl, w, caches);
  return step ? { profile, caches, objects, step } : { profile, caches, objects };
}

/**
 * An abstract state whose `objects` are found on first read. A search that steps into a state it
 * has judged already checks only what the step did (Invariant.revisit), which reads no object's
 * places: about half of all steps, and the places were the largest single cost of the step.
 */
class LazyObjects implements AbstractState {
  declare step?: AbsStep;
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
  // Every allocation except the per-CPU areas (and a v3 descriptor) is an object the cache or its callers own.
  const objects: AbsObject[] = [];
  const descriptor = descriptorObject(impl, w);
  for (let id = 0; id < w.heap.length; id++) {
    const o = w.heap[id];
    if (!o || o.origin === 'percpu' || id === descriptor) continue;
    objects.push({ id, freed: o.freed, places: places[id] ?? [] });
  }
  return objects;
}
