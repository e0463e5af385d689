/**
 * The whole simulated system as plain data: memory, CPUs, the context stacks, tasks, objects in
 * flight, and every operation that is half-way through. The explorer copies, hashes and resumes
 * it. Nothing here is state that holds a closure or a live generator: a frame may carry one as a
 * cache (Frame[LIVE]), which nothing hashes or sends.
 *
 * An operation in progress is (op, args, reads, steps): resuming it means re-running the
 * implementation's generator and feeding it the recorded reads (see runtime.ts). Locals are never
 * stored, because they are a function of the arguments and the values read.
 */
import type { Value } from './values.js';

export type CtxKind = 'task' | 'softirq' | 'hardirq';

export interface Frame {
  /** Implementation operation: 'alloc' | 'free' | 'cpu_dead'. */
  op: string;
  args: Value[];
  /** Every value a primitive returned to this operation so far, in order (the replay log). */
  reads: Value[];
  /** Statements executed so far. */
  steps: number;
  /**
   * Access level (runtime.ts `Env.atomicity`): shared-memory accesses of statement `steps` that
   * earlier steps ran, the statement being stopped before the next one; 0 (or absent) at a
   * statement boundary. Part of the state: it is hashed with `steps`.
   */
  sub?: number;
  /** get_cpu()/preempt_disable() depth taken by this operation and not yet released. */
  preempt: number;
  /** local_irq_save() depth not yet restored. */
  irqSaved: number;
  /** Whether irqs were off when the operation started (context-balance compares at the end). */
  irqsOffAtStart: boolean;
  /**
   * Checker-owned bits (refinement ghost state). Opaque to implementations. The bits below
   * GHOST_ID_SHIFT are flags; `ghost >>> GHOST_ID_SHIFT` is an object id, renamed with the objects.
   */
  ghost: number;
  /** `function: statement` about to execute. Derived; for reports only, not hashed. */
  next: string;
  /**
   * Positions in `reads` of the CPU numbers read (get_cpu(), smp_processor_id()...), ascending:
   * CPU symmetry renames them with the CPUs. Derived from the replay like `next`, so not hashed;
   * replaced, never changed in place (copies share it).
   */
  cpuReads?: number[] | undefined;
  /**
   * The first data race this operation's current section made (a plain load a hardirq may write
   * under: marked-access), reported when the section ends (conformance/system.ts). Its presence
   * is the ghost bit GHOST.RACY, which is hashed; the text is for the report.
   */
  racy?: string | undefined;
  /**
   * Compiled C stopped at a statement boundary (Kernel.frameKey()): its activations' places,
   * locals and pending operands. Where present, the fingerprint hashes it and the set of objects
   * read instead of the read log, which keeps values no statement will use again. Derived from
   * the replay like `next`; replaced, never changed in place (copies share it).
   */
  key?: readonly (number | undefined)[] | undefined;
  /** The key holds no CPU number (Kernel.keyCpuFree): it may stand for the frame under CPU symmetry too. */
  keyCpuFree?: boolean;
  // Frame[LIVE]?: Resumable, the generator that ran this frame's last statement, is declared in
  // runtime.ts (which adds it to this interface), because a Resumable holds a Kernel and
  // primitives.ts imports this file: the dependency goes one way, runtime.ts -> world.ts.
}

/** Where the object id starts in Frame.ghost (conformance/system.ts's flags are the bits below). */
export const GHOST_ID_SHIFT = 12;

/** Frame's key for its resumable generator. */
export const LIVE: unique symbol = Symbol('live generator');

export interface HeapObj {
  /** Struct type name, or '__percpu' for an alloc_percpu() area map, or 'kmalloc'. */
  type: string;
  freed: boolean;
  /** Where it came from: 'kmalloc' | 'kzalloc' | 'percpu' | 'prefill' | 'kmem_cache'. */
  origin: string;
  /** Byte offset -> value. Absent means uninitialised. */
  cells: Record<number, Value>;
  /**
   * Bytes allocated, where known (a declared struct's size, or the size a kmalloc() computed): an
   * access at or past it is slab-out-of-bounds, as KASAN reports. Undefined: not checked.
   */
  size?: number;
  /**
   * Ghost state: kmemleak's view of the object once the implementation has annotated it
   * (kmemleak_alloc() / kmemleak_free(), primitives.ts). 'allocated': registered, scanned and
   * reportable; 'freed': unregistered. Undefined: never annotated, so registered by the slab
   * allocator's own hook as every slab object is; the kmemleak-balance invariant judges a world
   * only once some object in it has been annotated.
   */
  kmemleak?: KmemleakState | undefined;
}

/** kmemleak's view of an annotated object (HeapObj.kmemleak). */
export type KmemleakState = 'allocated' | 'freed';

export interface Cpu {
  online: boolean;
  irqsOff: boolean;
  /** Task currently running on this CPU, or -1. */
  current: number;
  softirq: Frame | null;
  hardirq: Frame | null;
  /**
   * Checker-owned: this CPU's statechart state as the seam encodes it (conformance/abstraction.ts,
   * `Spec`), hashed with the world. Opaque to implementations; 0 before the checker sets it.
   */
  spec?: number;
}

export interface Task {
  /** CPU the task runs on, or last ran on. */
  cpu: number;
  /** Operations started so far (the workload bounds it). */
  opsDone: number;
  /** Objects this task owns: allocated and not yet freed or submitted. A set, in ascending order. */
  held: Value[];
  frame: Frame | null;
}

export interface World {
  /** Heap objects by id; index 0 is unused so that a pointer is never NULL. */
  heap: (HeapObj | undefined)[];
  globals: Record<string, Value>;
  cpus: Cpu[];
  tasks: Task[];
  /** Objects submitted for I/O and not yet completed: a multiset, in ascending order. */
  inflight: Value[];
  /** Preemptions (task switches) taken so far; bounded by the workload. */
  preemptions: number;
  /** Interrupts entered so far (for counterexample minimisation and stats). */
  interrupts: number;
  /** Allocations made to fail so far; bounded by the workload (Scope.allocFailures). */
  allocFails: number;
}

// Field-by-field copies rather than spreads: the explorer clones a world on every transition, and
// literal shapes keep these objects monomorphic for V8.
export function cloneFrame(f: Frame): Frame {
  return {
    op: f.op,
    args: f.args.slice(),
    reads: f.reads.slice(),
    steps: f.steps,
    sub: f.sub,
    preempt: f.preempt,
    irqSaved: f.irqSaved,
    irqsOffAtStart: f.irqsOffAtStart,
    ghost: f.ghost,
    next: f.next,
    cpuReads: f.cpuReads,
    racy: f.racy,
    key: f.key,
    keyCpuFree: f.keyCpuFree,
    // Shared by the copies: the first of them to run its next statement continues it (runtime.ts).
    [LIVE]: f[LIVE],
  };
}

/** A copy that shares heap objects: runtime.ts copies an object before its first write. */
export function cloneWorld(w: World): World {
  const cpus: Cpu[] = new Array(w.cpus.length);
  for (let i = 0; i < cpus.length; i++) {
    const c = w.cpus[i]!;
    cpus[i] = {
      online: c.online,
      irqsOff: c.irqsOff,
      current: c.current,
      softirq: c.softirq && cloneFrame(c.softirq),
      hardirq: c.hardirq && cloneFrame(c.hardirq),
      spec: c.spec ?? 0,
    };
  }
  const tasks: Task[] = new Array(w.tasks.length);
  for (let i = 0; i < tasks.length; i++) {
    const t = w.tasks[i]!;
    tasks[i] = { cpu: t.cpu, opsDone: t.opsDone, held: t.held.slice(), frame: t.frame && cloneFrame(t.frame) };
  }
  return {
    heap: w.heap.slice(),
    // Shared: statics are written at boot, hardly ever after, and setGlobal() replaces the object.
    globals: w.globals,
    cpus,
    tasks,
    inflight: w.inflight.slice(),
    preemptions: w.preemptions,
    interrupts: w.interrupts,
    allocFails: w.allocFails,
  };
}

export function cloneObj(o: HeapObj): HeapObj {
  const copy = new KernelObj(o.type, o.freed, o.origin, { ...o.cells }, o.size, o.kmemleak);
  // The copy starts with the original's flattened form, kept current by cellWritten(): walking
  // the cells of every copied object with for-in was the largest single cost of fingerprinting.
  const c = KernelObj.validFlat(o);
  if (c !== undefined) copy.setFlat({ cells: copy.cells, freed: copy.freed, kmemleak: copy.kmemleak, f: c.f.slice(), digested: c.digested, digestHi: c.digestHi, digestLo: c.digestLo, cid: c.cid, cidGen: c.cidGen });
  return copy;
}

/** A fresh heap object (what the allocation primitives create), or one rebuilt with its kmemleak ghost. */
export function newHeapObj(type: string, freed: boolean, origin: string, cells: Record<number, Value>, size?: number, kmemleak?: KmemleakState): HeapObj {
  return new KernelObj(type, freed, origin, cells, size, kmemleak);
}

/** An object's flattened form, and a digest of it that the fingerprint computes once. */
export interface Flat {
  /** The cells object, freed flag and kmemleak ghost the flattened form describes. */
  cells: Record<number, Value>;
  freed: boolean;
  kmemleak: KmemleakState | undefined;
  f: number[];
  /** Whether digestHi/digestLo hold a digest of `f` (fingerprint.ts); a write clears it. */
  digested: boolean;
  digestHi: number;
  digestLo: number;
  /** contentId()'s number for `f`, valid while cidGen is the current generation; a write clears it. */
  cid: number;
  cidGen: number;
}

/**
 * The kernel's heap objects: plain data (the same enumerable fields as a HeapObj literal)
 * plus a private cache of the flattened form, which spreads, JSON and equality never see.
 */
class KernelObj implements HeapObj {
  #flat: Flat | undefined = undefined;
  constructor(
    public type: string,
    public freed: boolean,
    public origin: string,
    public cells: Record<number, Value>,
    public size?: number,
    public kmemleak?: KmemleakState,
  ) {}

  static validFlat(o: HeapObj): Flat | undefined {
    if (!(o instanceof KernelObj)) return undefined;
    const c = o.#flat;
    return c !== undefined && c.cells === o.cells && c.freed === o.freed && c.kmemleak === o.kmemleak ? c : undefined;
  }

  setFlat(f: Flat): void {
    this.#flat = f;
  }
}

/**
 * An object as numbers, `[type, origin, freed, offset, value, offset, value...]` with the
 * strings interned and the offsets ascending: what fingerprints, symmetry keys and pointer scans
 * read. Cached on kernel-made objects and valid while the object keeps the same `cells` object,
 * `freed` flag and kmemleak ghost; the one in-place cell write, Kernel.store, reports itself through
 * cellWritten(). Heap objects are copy-on-write, so after its step an object never changes and
 * the form is computed once (or inherited from the object it was copied from).
 */
export function flatObj(o: HeapObj): readonly number[] {
  return flatForm(o).f;
}

/** flatObj() with the digest slots (a form made for an object not made by the kernel is not cached). */
export function flatForm(o: HeapObj): Flat {
  const c = KernelObj.validFlat(o);
  if (c !== undefined) return c;
  // The size is state too (two objects of one type could in principle differ in it): it rides
  // with the origin, so that the form keeps its layout. So does the kmemleak ghost, which only
  // objects an implementation annotated have: every other form is as it was without it.
  const origin = o.size === undefined ? o.origin : `${o.origin}/${o.size}`;
  const f = [intern(o.type), intern(o.kmemleak === undefined ? origin : `${origin}/kmemleak:${o.kmemleak}`), o.freed ? 1 : 0];
  // Integer keys iterate in ascending order: no sort needed.
  for (const k in o.cells) f.push(+k, o.cells[k as unknown as number]!);
  const form: Flat = { cells: o.cells, freed: o.freed, kmemleak: o.kmemleak, f, digested: false, digestHi: 0, digestLo: 0, cid: 0, cidGen: 0 };
  if (o instanceof KernelObj) o.setFlat(form);
  return form;
}

/** `o.cells[off] = v` has just been done on an object being written in this step. */
export function cellWritten(o: HeapObj, off: number, v: Value): void {
  const c = KernelObj.validFlat(o);
  if (c === undefined) return;
  const f = c.f;
  c.digested = false;
  c.cid = 0;
  let i = 3;
  while (i < f.length && f[i]! < off) i += 2;
  if (i < f.length && f[i] === off) f[i + 1] = v;
  else f.splice(i, 0, off, v);
}

/** contentId()'s table: flattened forms by hash, each with its number. */
const CONTENTS = new Map<number, { f: readonly number[]; id: number }[]>();
let contents = 0;
/** Forms numbered past this start the table again, in a new generation (the numbers only save work). */
const MAX_CONTENTS = 1 << 18;
/** The generation of contentId()'s numbers: a number is comparable only with one of the same generation. */
export let contentGeneration = 1;

/**
 * A number for an object's content (its flattened form): equal numbers, equal contents, within
 * one contentGeneration. Cached with the form, so an object version is numbered once (heap
 * objects are copy-on-write: a world's objects are mostly its parent's, numbered already).
 */
export function contentId(o: HeapObj): number {
  const form = flatForm(o);
  if (form.cid !== 0 && form.cidGen === contentGeneration) return form.cid;
  const f = form.f;
  let h = 0x811c9dc5 ^ f.length;
  for (let i = 0; i < f.length; i++) h = Math.imul(h ^ (f[i]! | 0), 0x01000193);
  let bucket = CONTENTS.get(h);
  let id = 0;
  if (bucket !== undefined)
    for (const e of bucket)
      if (e.f.length === f.length && sameWords(e.f, f)) {
        id = e.id;
        break;
      }
  if (id === 0) {
    if (contents >= MAX_CONTENTS) {
      CONTENTS.clear();
      contents = 0;
      contentGeneration++;
      bucket = undefined;
    }
    id = ++contents;
    if (bucket === undefined) CONTENTS.set(h, [{ f: f.slice(), id }]);
    else bucket.push({ f: f.slice(), id });
  }
  form.cid = id;
  form.cidGen = contentGeneration;
  return id;
}

function sameWords(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const STRINGS = new Map<string, number>();
const BY_NUMBER = new Map<number, string>();
/**
 * A number per distinct string (struct types, origins, op and static names): a hash of its text,
 * not an order of first use, so that worker threads (parallel.ts), which meet strings in different
 * orders, fingerprint the same state the same way. Two of the few strings a run uses hashing alike
 * would conflate them, so that is checked, not assumed.
 */
export function intern(s: string): number {
  let id = STRINGS.get(s);
  if (id === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    // Small positive numbers, clear of the fingerprint's markers (near -2^31).
    id = (h >>> 2) + 1;
    const other = BY_NUMBER.get(id);
    if (other !== undefined) throw new Error(`intern(): '${s}' and '${other}' hash alike; rename one`);
    BY_NUMBER.set(id, s);
    STRINGS.set(s, id);
  }
  return id;
}

/** The context on top of a CPU's stack: the one that runs if this CPU takes a step. */
export function topContext(w: World, cpu: number): { ctx: CtxKind; frame: Frame | null; task: number } {
  const c = w.cpus[cpu]!;
  if (c.hardirq) return { ctx: 'hardirq', frame: c.hardirq, task: -1 };
  if (c.softirq) return { ctx: 'softirq', frame: c.softirq, task: -1 };
  const t = c.current;
  return { ctx: 'task', frame: t >= 0 ? w.tasks[t]!.frame : null, task: t };
}
