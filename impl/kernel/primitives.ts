/**
 * The simulated kernel: `Kernel`, the primitives an implementation may call, over a `World`.
 * Each primitive is declared once, with its C spelling, kernel source, interleaving point and
 * purity, in the table of ./primitive-table.ts (`PRIMITIVES`, rendered as docs/primitives.md),
 * which the C path reads too: a `guard(irqsave)()` is local_irq_save here and local_irq_restore (a
 * point) where its scope ends, `local_lock_irqsave()` is local_irq_save, `local_lock()`
 * preempt_disable, `__this_cpu_inc(p->f)` a load and a store on smp_processor_id()'s instance;
 * nothing there reaches state any other way. (That `local_lock()` is a local_lock_t's, which has
 * no lock word; the Kernel's `local_trylock`, `local_lock` and `local_unlock` are a
 * local_trylock_t's, with its `acquired` word, as SLUB's sheaves use it: impl/ports/sheaves.ts.)
 *
 * Interleaving discipline: an interrupt, a preemption or another CPU's step can happen between
 * any two C statements, i.e. at every `yield` of an implementation's generator. A primitive runs
 * inside one statement and is atomic with respect to this CPU. The table's `point` column says
 * whether the primitive is itself a place where the kernel may switch (sleep, or re-enable
 * preemption or irqs): such primitives are the last thing in their statement, so the boundary
 * that follows is the switch point.
 *
 * Replay: every value a primitive returns is appended to the operation's read log; when an
 * operation is resumed from a stored state, logged values are returned instead and effects are
 * suppressed (they are already in the stored memory).
 *
 * Access level (`--atomicity access`, runtime.ts `Env.atomicity`): a C statement is several
 * instructions, and an interrupt may land between its loads and stores. Then every shared-memory
 * access (a heap cell: load/store, READ_ONCE/WRITE_ONCE, the interpreter's loadAt/storeAt, per-CPU
 * data included; a byte-range function) is an interleaving point too (a static is not: see
 * global()): a step stops before the second access it would run live (Kernel.accessPoint) and the
 * next step of the frame resumes the statement there. Locals are not memory; `this_cpu_*()`
 * operations, which the kernel makes irq-safe, are one access (beginOneAccess).
 */
import { KERNEL_CONFIGS, type ContextModel, type KernelConfig } from '../../model/config.js';
import { isPtr, mkPtr, NULL, OBJ_SPAN, ptrId, ptrOff, showValue, type Value } from './values.js';
import { cellWritten, cloneObj, newHeapObj, type CtxKind, type Frame, type HeapObj, type World } from './world.js';

/**
 * The end of the label of a statement that branches on a value the model does not compute
 * (Kernel.nondet): the explorer offers it both ways, and traces show the mark.
 */
export const NONDET_BRANCH = '(nondeterministic branch)';

/** Something a primitive observed that an invariant judges (see model/invariants.ts). */
export interface Fact {
  kind: FactKind;
  msg: string;
}

export type FactKind =
  | 'might-sleep'
  | 'preemptible-percpu'
  | 'preempt-underflow'
  | 'irq-restore-mismatch'
  | 'warn'
  | 'lockdep-irqs-enabled'
  | 'unbalanced-exit'
  /** Boot: the initcall's return value disagrees with whether its allocations succeeded (System.initial). */
  | 'init-result'
  /** A kmemleak annotation out of turn: registered twice, unregistered twice, or on a freed or interior pointer. */
  | 'kmemleak'
  /** A plain (unmarked) load of a cell another context may write meanwhile (Env.racyLoad): a data race. */
  | 'data-race';

/**
 * Whether a plain load at `p` by the running context races with a writer it cannot exclude (the
 * checker's Env.racyLoad, System: a per-CPU instance's irq-list fields): a message naming the
 * cell and its writer, or null.
 */
export type RacyLoad = (w: World, p: Value, cpu: number, irqsOff: boolean) => string | null;

export type FaultKind =
  | 'null-deref'
  | 'use-after-free'
  | 'double-free'
  | 'bad-free'
  | 'uninit-read'
  | 'wild-pointer'
  | 'exception'
  /** The operation does not return: a statement or operation budget ran out (an endless loop). */
  | 'no-return'
  | 'replay-divergence';

/** A fault stops the operation, as the kernel would oops; the explorer reports it. */
export class KernelFault extends Error {
  constructor(readonly kind: FaultKind, message: string) {
    super(message);
  }
}

/** Kernel calls one statement may make before it is taken for an endless loop. */
export const LIVE_CALL_BUDGET = 100_000;

export type Gfp = 'GFP_KERNEL' | 'GFP_ATOMIC' | 'GFP_NOWAIT';

/** A struct the implementation declares: field name -> byte offset, and its size. */
export interface StructDecl {
  name: string;
  size: number;
  fields: Record<string, number>;
}

/** Everything a running statement sees of the world, plus the replay cursor. */
export interface ExecContext {
  world: World;
  cpu: number;
  ctx: CtxKind;
  /** Task index when ctx is 'task', else -1. */
  task: number;
  frame: Frame;
  /** A trial run the search does not keep (System's run-alone check): counters must not count it. */
  probe?: boolean;
  /** The outcome of this live statement's nondeterministic branch (Kernel.nondet): true for the branch the explorer chose to take. */
  branch?: boolean;
  /**
   * Allocations that return NULL: `true`, every allocation of this live statement (the explorer
   * chose to make it fail); a number n, only the n-th (from 0) of this run (boot's probe of an
   * initcall's error paths, one allocation at a time).
   */
  failAlloc?: boolean | number;
}

/**
 * Thrown by a primitive at access level to end the step before its second live shared-memory
 * access: runtime.ts catches it and records in the frame how far the statement got (Frame.sub).
 * One object, not an Error: it is control flow, and no stack is needed.
 */
export const ACCESS_STOP: { readonly accessStop: true } = Object.freeze({ accessStop: true });

/** The live thunk of a read that is being replayed: never called. */
const noLive = (): Value => {
  throw new KernelFault('replay-divergence', 'a replayed read asked for a live value');
};

/** `#3->free_list`, or the C text the interpreter named the access with. */
function accessText(base: Value | string, field: string | undefined): string {
  return typeof base === 'string' ? base : `${showValue(base)}->${field}`;
}

/**
 * The heap objects live statements touch, for the partial-order reduction
 * (conformance/explorer/por.ts), which needs each step's footprint: null (the default) records
 * nothing, and costs one comparison per access.
 */
export interface AccessLog {
  /** Object ids dereferenced (loads, stores, per_cpu_ptr(), range functions), in order, with repeats. */
  touched: number[];
  /** Object ids written, freed, or created. */
  written: number[];
  /** Objects allocated. */
  created: number;
  /** A static was assigned (setGlobal). */
  globalsWritten: boolean;
}
let ACCESS: AccessLog | null = null;
/** Starts (a log) or stops (null) recording what live statements touch. */
export function recordAccesses(log: AccessLog | null): void {
  ACCESS = log;
}
/** Whether live statements are being recorded (a reused run, runtime.ts RunMemo, would record nothing). */
export function recordingAccesses(): boolean {
  return ACCESS !== null;
}

/** Compiled C's program counters from here up are calls (the activation is in a callee), below are statements. */
export const CALL_PC = 1 << 20;

/** An activation of a compiled C function (Kernel.act()). */
export interface Act {
  fn: number;
  /** The statement it stopped before, or the call it is in (>= CALL_PC); -1 before its first. */
  pc: number;
  /** Read-log position at its last statement boundary. */
  mark: number;
  /** Read-log position where it began. */
  entry: number;
  locals: ((o: (number | undefined)[]) => void) | null;
  root: boolean;
  /** A local of its function may hold a CPU number (conformance/c/cpu-numbers.ts). */
  cpu: boolean;
}

const STRUCT_MAPS = new WeakMap<readonly StructDecl[], { fieldOffsets: Map<string, number>; structs: Map<string, StructDecl> }>();

/**
 * The `k` handed to every implementation function. One instance per resumed step.
 */
export class Kernel {
  facts: Fact[] = [];
  /** Function names entered (port() wrappers keep it), innermost last. */
  readonly fnStack: string[] = [];
  private cursor = 0;
  /** Objects this statement already copied (or created): written in place. A handful at most. */
  private copied: number[] = [];
  private readonly fieldOffsets: Map<string, number>;
  private readonly structs: Map<string, StructDecl>;

  constructor(
    private x: ExecContext,
    structs: readonly StructDecl[],
    private readonly macros: Readonly<Record<string, number>>,
    /** What each context is on the kernel configuration explored (model/config.ts). */
    private readonly config: KernelConfig = KERNEL_CONFIGS.default,
    /** Plain loads that race (RacyLoad); absent: no load is judged. */
    private readonly racyLoad?: RacyLoad,
  ) {
    // One Kernel is made per executed statement: build the lookup maps once per struct list.
    let maps = STRUCT_MAPS.get(structs);
    if (!maps) {
      const fieldOffsets = new Map<string, number>();
      const byName = new Map<string, StructDecl>();
      for (const s of structs) {
        byName.set(s.name, s);
        for (const [f, off] of Object.entries(s.fields)) fieldOffsets.set(f, off);
      }
      maps = { fieldOffsets, structs: byName };
      STRUCT_MAPS.set(structs, maps);
    }
    this.fieldOffsets = maps.fieldOffsets;
    this.structs = maps.structs;
  }

  /**
   * Binds this Kernel, whose generator stopped at a yield, to the context of the statement it is
   * continued into (runtime.ts: a new copy of the world, and of the frame) instead of replaying a
   * fresh generator; what it counts per statement starts again. fnStack is the generator's call
   * chain and stays.
   */
  resume(x: ExecContext): void {
    this.x = x;
    this.facts = [];
    this.cursor = x.frame.reads.length;
    this.copied = [];
    this.liveCalls = 0;
    this.allocFailed = false;
    this.allocations = 0;
    this.replaying = false;
    this.subLeft = -1;
    this.liveAccess = undefined;
    this.oneAccess = 0;
    this.marked = 0;
  }

  // ---- replay ---------------------------------------------------------------------------------

  /**
   * True while re-running statements that already executed (set by runtime.ts). The phase is
   * explicit, not inferred from the cursor: a statement's effects after its last logged read
   * must still be suppressed.
   */
  replaying = true;

  /** Kernel calls made by the one statement that runs live. */
  private liveCalls = 0;

  /** An allocation of the live statement returned NULL because ExecContext.failAlloc asked for it. */
  allocFailed = false;

  /**
   * Set by the C path around allocations that are not the code's own: the loader's static
   * storage, a DEFINE_PER_CPU area, an initcall line the checker wrote for a patch that shows none.
   */
  cannotFail = false;

  /** Allocations this Kernel has made (that could fail), for `failAlloc` as a number. */
  private allocations = 0;

  /** Access level: every shared-memory access is an interleaving point (set by runtime.ts). */
  accessLevel = false;
  /**
   * Access level, the statement being resumed: accesses still to replay before the statement goes
   * live (the first access past them runs live); -1 when not armed (replayAccesses()).
   */
  private subLeft = -1;
  /** Access level: the access this step ran live (`load #3->nr`, `store cache->nr`), if any. */
  liveAccess: string | undefined = undefined;
  /** Inside an operation the kernel makes one instruction (this_cpu_inc()): its accesses count once. */
  private oneAccess = 0;
  private oneAccessSeen = false;
  /**
   * Inside a marked access (READ_ONCE(), data_race(), atomic_read()): its loads are not plain.
   * The value semantics are the same; what differs is whether a concurrent write is a data race
   * (tools/memory-model/Documentation/explanation.txt, "PLAIN ACCESSES AND DATA RACES").
   */
  private marked = 0;
  /** Compiled C (compile.ts): `k.unmark(k.mark(), EXPR)` evaluates EXPR as a marked access. */
  mark(): 0 {
    this.marked++;
    return 0;
  }
  unmark<T>(_: 0, v: T): T {
    this.marked--;
    return v;
  }

  /** Whether this live allocation fails (and so that the step is one where an allocation failed). */
  private failing(): boolean {
    const f = this.x.failAlloc;
    if (f === undefined || f === false || this.cannotFail) return false;
    if (typeof f === 'number' && this.allocations++ !== f) return false;
    this.allocFailed = true;
    return true;
  }

  /**
   * A statement is a handful of kernel calls; a loop without a `yield` inside one statement would
   * hang the checker, so past the budget it is reported (runtime.ts turns it into a fault). A loop
   * that touches no kernel state at all cannot be seen from here (docs/checking-your-patch.md).
   */
  private live(): void {
    if (++this.liveCalls > LIVE_CALL_BUDGET)
      throw new KernelFault('no-return', `${this.fn}: one statement made more than ${LIVE_CALL_BUDGET} kernel calls without reaching a yield (an endless loop inside a statement?)`);
  }

  /** Every returned value goes through here: replayed from the log or recorded in it. */
  private ret<T extends Value>(live: () => T): T {
    const reads = this.x.frame.reads;
    if (this.replaying) {
      if (this.cursor >= reads.length)
        throw new KernelFault('replay-divergence', 'implementation is not deterministic: replay asked for more values than were logged');
      return reads[this.cursor++] as T;
    }
    this.live();
    const v = live();
    reads.push(v);
    this.cursor++;
    return v;
  }

  /**
   * The next logged value, for primitives that test `replaying` themselves before building the
   * closure `ret` takes: most kernel calls are replays, and each closure is garbage.
   */
  private replayed<T extends Value>(): T {
    return this.ret(noLive as () => T);
  }

  /** A live primitive's result, appended to the read log (ret() without the closure, for the hot primitives). */
  private record<T extends Value>(v: T): T {
    this.live();
    this.x.frame.reads.push(v);
    this.cursor++;
    return v;
  }

  private effect(fn: () => void): void {
    if (!this.replaying) {
      this.live();
      fn();
    }
  }

  /** Called by runtime.ts after replay; the log must be consumed exactly. */
  checkReplayConsumed(): void {
    if (this.cursor !== this.x.frame.reads.length)
      throw new KernelFault('replay-divergence', `implementation is not deterministic: replay consumed ${this.cursor} of ${this.x.frame.reads.length} logged values`);
  }

  /**
   * Access level, called by runtime.ts where the statement to run begins: `n` of its accesses ran
   * in earlier steps, so it is replayed up to its access n+1, where it goes live. n = 0: it is
   * live from here.
   */
  replayAccesses(n: number): void {
    if (n === 0) {
      this.checkReplayConsumed();
      this.replaying = false;
      this.subLeft = -1;
    } else {
      this.replaying = true;
      this.subLeft = n;
    }
  }

  /**
   * Access level: whether the statement reached its end (a yield or a return) still replaying: it
   * was stopped before an access that it did not make again.
   */
  get accessesPending(): boolean {
    return this.subLeft >= 0;
  }

  /**
   * Access level: a shared-memory access begins. Replaying the statement being resumed, the
   * access past the ones logged is where it goes live. Live, a second access ends the step
   * before it (ACCESS_STOP): the boundary between two accesses of one statement.
   */
  private accessPoint(kind: string, base: Value | string, field?: string): void {
    if (this.oneAccess > 0) {
      if (this.oneAccessSeen) return;
      this.oneAccessSeen = true;
    }
    if (this.replaying) {
      if (this.subLeft < 0) return;
      if (this.subLeft > 0) {
        this.subLeft--;
        return;
      }
      this.checkReplayConsumed();
      this.replaying = false;
      this.subLeft = -1;
    }
    if (this.liveAccess !== undefined) throw ACCESS_STOP;
    this.liveAccess = `${kind} ${accessText(base, field)}`;
  }

  /**
   * Brackets an operation the kernel makes one access with respect to interrupts on this CPU
   * (`this_cpu_inc()`, `this_cpu_cmpxchg()`: one instruction, or irqs off around it): its load and
   * store are one interleaving point at access level.
   */
  beginOneAccess(): void {
    if (this.oneAccess++ === 0) this.oneAccessSeen = false;
  }
  endOneAccess(): void {
    this.oneAccess--;
  }

  enter(fn: string): void {
    this.fnStack.push(fn);
  }

  // ---- where compiled C is (Frame.key) ------------------------------------------------------

  /** The activations of compiled C functions (conformance/c/compile.ts) this generator is in, innermost last. */
  private readonly acts: Act[] = [];

  /**
   * Compiled C: a function (or call site, `root`) begins. `locals` pushes every local that can
   * hold state across a statement boundary; null: the function hands nodes to the interpreter,
   * whose state the checker cannot see, so no frame inside it has a key.
   */
  act(fn: number, locals: ((o: (number | undefined)[]) => void) | null, root: boolean, cpu = false): Act {
    const a: Act = { fn, pc: -1, mark: this.cursor, entry: this.cursor, locals, root, cpu };
    this.acts.push(a);
    return a;
  }
  /** Compiled C: the function of the innermost activation returns. */
  unact(): void {
    this.acts.pop();
  }
  /** Compiled C: activation `a` stops before statement `pc` (the yield of `label`). */
  at(a: Act, pc: number, label: string): string {
    a.pc = pc;
    a.mark = this.cursor;
    return label;
  }

  /** Compiled C: activation `a` begins a statement that calls a function of the patch without a boundary. */
  from(a: Act): void {
    a.mark = this.cursor;
  }

  /**
   * Where the operation is and what it holds, when it is compiled C stopped at one of its own
   * statement boundaries: for each activation, outermost first, its function, its place (a
   * statement, or the call it is in), its locals, and, for a caller, the values read since its
   * last boundary, of which the rest of its statement may still use some (an operand computed
   * before the call). Two frames with equal keys, arguments, counters and objects read go on
   * alike: the fingerprint hashes the key instead of the whole read log, whose values that are no
   * longer used would otherwise tell apart states that differ in nothing else. Undefined where
   * the state is not all in view: no activations (a TypeScript port, the interpreter), a root
   * that is not compiled, a node handed to the interpreter, a yield not the innermost's own.
   */
  frameKey(): (number | undefined)[] | undefined {
    const acts = this.acts;
    const n = acts.length;
    if (n === 0 || !acts[0]!.root) return undefined;
    const top = acts[n - 1]!;
    if (top.pc < 0 || top.pc >= CALL_PC) return undefined;
    const f = this.x.frame;
    const reads = f.reads;
    const cpuReads = f.cpuReads;
    const out: (number | undefined)[] = [n];
    let cpuFree = true;
    for (let i = 0; i < n; i++) {
      const a = acts[i]!;
      if (a.locals === null || (i < n - 1 && a.pc < CALL_PC)) return undefined;
      if (a.cpu) cpuFree = false;
      out.push(a.fn, a.pc, 0);
      const at = out.length - 1;
      a.locals(out);
      out[at] = out.length - at - 1;
      if (i === n - 1) break;
      const end = acts[i + 1]!.entry;
      out.push(end - a.mark);
      for (let j = a.mark; j < end; j++) out.push(reads[j]);
      if (cpuReads && cpuFree) for (const r of cpuReads) if (r >= a.mark && r < end) cpuFree = false;
    }
    this.keyCpuFree = cpuFree;
    return out;
  }
  /**
   * Whether the last frameKey() holds no CPU number: no activation's locals may hold one, and no
   * pending operand is a CPU read. Only such a key stands for its frame under CPU symmetry, whose
   * images rename the CPU numbers of the read log, not those of a key.
   */
  keyCpuFree = false;
  leave(): void {
    this.fnStack.pop();
  }
  get fn(): string {
    return this.fnStack[this.fnStack.length - 1] ?? '?';
  }

  private fact(kind: FactKind, msg: string): void {
    if (!this.replaying) this.facts.push({ kind, msg });
  }

  // ---- context --------------------------------------------------------------------------------

  get ctx(): CtxKind {
    return this.x.ctx;
  }
  /** True in a trial run whose effects are thrown away (coverage counters skip it). */
  get probing(): boolean {
    return this.x.probe === true;
  }
  get cpu(): number {
    return this.x.cpu;
  }
  /** The task running the statement, -1 in an interrupt and at boot (coverage tells boot's runs apart by it). */
  get task(): number {
    return this.x.task;
  }
  private get cpuState() {
    return this.x.world.cpus[this.x.cpu]!;
  }
  /** The running context as the kernel config defines it. */
  private get context(): ContextModel {
    return this.config.contexts[this.x.ctx];
  }
  /** Preemptible: a preemptible context (a task; on PREEMPT_RT also a thread), no preempt depth, irqs on. */
  private preemptible(): boolean {
    return this.context.preemptible && this.x.frame.preempt === 0 && !this.cpuState.irqsOff;
  }
  private atomicContext(): string | null {
    if (!this.context.maySleep) return `in ${this.context.what} context`;
    return this.nonPreemptible();
  }
  /** Why the running code may not be preempted here, or null. */
  private nonPreemptible(): string | null {
    if (this.x.frame.preempt > 0) return `with preemption disabled (preempt depth ${this.x.frame.preempt})`;
    if (this.cpuState.irqsOff) return 'with irqs disabled';
    if (!this.context.preemptible) return `in ${this.context.what} context`;
    return null;
  }

  /** A compile-time constant of the implementation, scaled by the scope (MAX, THRESHOLD). */
  macro(name: string): number {
    const v = this.macros[name];
    if (v === undefined) throw new KernelFault('exception', `macro ${name} is not defined for this implementation`);
    return v;
  }

  sizeof(struct: string): number {
    const s = this.structs.get(struct);
    if (!s) throw new KernelFault('exception', `sizeof(struct ${struct}): struct not declared`);
    return s.size;
  }

  /** sizeof(struct type) when the struct is declared with a size, else undefined (no fault). */
  sizeofOr(struct: string): number | undefined {
    const s = this.structs.get(struct)?.size;
    return s !== undefined && s > 0 ? s : undefined;
  }

  // ---- memory ---------------------------------------------------------------------------------

  /**
   * The live object `p` points into, or the fault the kernel would take. `base` and `field` name
   * the access for the message (`#3->free_list`, or the C text the interpreter passes as `base`):
   * the text is built only when there is a fault, because every live load and store comes here.
   */
  private objAt(p: Value, base: Value | string, field?: string): HeapObj {
    if (p === NULL) throw new KernelFault('null-deref', `NULL pointer dereference: ${accessText(base, field)}`);
    if (!isPtr(p)) throw new KernelFault('wild-pointer', `dereference of non-pointer ${p}: ${accessText(base, field)}`);
    const obj = this.x.world.heap[ptrId(p)];
    if (ACCESS !== null) ACCESS.touched.push(ptrId(p));
    if (!obj) throw new KernelFault('wild-pointer', `dereference of unknown object ${showValue(p)}: ${accessText(base, field)}`);
    if (obj.freed) throw new KernelFault('use-after-free', `use after free of ${showValue(p)}: ${accessText(base, field)}`);
    if (obj.size !== undefined && ptrOff(p) >= obj.size)
      throw new KernelFault(
        'wild-pointer',
        `slab-out-of-bounds (KASAN): ${accessText(base, field)} is at byte ${ptrOff(p)} of ${showValue(p - ptrOff(p))}, ${obj.type === 'kmalloc' ? 'an allocation' : `a struct ${obj.type}`} of ${obj.size} bytes`,
      );
    return obj;
  }

  private offsetOf(field: string): number {
    const off = this.fieldOffsets.get(field);
    if (off === undefined) throw new KernelFault('exception', `field ${field} is not in any declared struct`);
    return off;
  }

  /** Raw load at a byte address (used by the C interpreter and by load()). */
  loadAt(p: Value, what: string): Value {
    if (this.accessLevel) this.accessPoint('load', what);
    if (this.replaying) return this.replayed();
    return this.loadLive(p, what);
  }

  /** Raw store at a byte address. */
  storeAt(p: Value, v: Value, what: string): void {
    if (this.accessLevel) this.accessPoint('store', what);
    if (this.replaying) return;
    this.storeLive(p, v, what);
  }

  private loadLive(p: Value, base: Value | string, field?: string): Value {
    const obj = this.objAt(p, base, field);
    // A plain load: is another context free to write the cell meanwhile? (this_cpu_*() operations
    // are irq-safe, marked accesses are not plain; a hardirq handler is what the rule protects
    // against, not what it judges.)
    if (this.racyLoad !== undefined && this.marked === 0 && this.oneAccess === 0 && !this.context.inHardirq) {
      const race = this.racyLoad(this.x.world, p, this.x.cpu, this.cpuState.irqsOff);
      if (race !== null) this.fact('data-race', `${this.fn}: plain load of ${accessText(base, field)}: ${race}`);
    }
    const v = obj.cells[ptrOff(p)];
    if (v !== undefined) return this.record(v);
    // kzalloc() and alloc_percpu() zero every byte, not only the declared fields' cells.
    if (obj.origin === 'kzalloc' || obj.origin === 'percpu') return this.record(0);
    throw new KernelFault('uninit-read', `read of uninitialised memory: ${accessText(base, field)}`);
  }

  private storeLive(p: Value, v: Value, base: Value | string, field?: string): void {
    this.live();
    this.objAt(p, base, field);
    const o = this.writable(ptrId(p));
    const off = ptrOff(p);
    o.cells[off] = v;
    cellWritten(o, off, v);
  }

  // ---- byte ranges: memset, memcpy, memmove, kmemdup ------------------------------------------
  //
  // Cells hold whole values at the byte offset where a field starts. A range function gives every
  // byte of its range a cell of its own: a later read of any field that starts in the range sees
  // the byte written there. A field that starts before the range and reaches into it keeps its old
  // value; one that starts inside and reaches past the end is zeroed or copied whole.

  /**
   * The object under [p, p+n), checked as KASAN's kasan_check_range() checks what a memset() or a
   * memcpy() touches: the whole range, before the first byte is written. `n` is a size_t: a
   * negative size is a huge one.
   */
  private rangeAt(p: Value, n: number, what: string, access: 'reads' | 'writes'): HeapObj {
    if (!Number.isInteger(n) || n < 0) throw new KernelFault('wild-pointer', `${what}: a size of ${n} (as a size_t, ${n < 0 ? `2^64${n}` : n} bytes) is past the end of any object`);
    const obj = this.objAt(p, what);
    const off = ptrOff(p);
    const base = showValue(p - off);
    if (obj.size !== undefined && off + n > obj.size)
      throw new KernelFault(
        'wild-pointer',
        `slab-out-of-bounds (KASAN): ${what} ${access} bytes ${off}..${off + n - 1} of ${base}, ${obj.type === 'kmalloc' ? 'an allocation' : `a struct ${obj.type}`} of ${obj.size} bytes`,
      );
    if (off + n > OBJ_SPAN) throw new KernelFault('wild-pointer', `${what} ${access} bytes ${off}..${off + n - 1} of ${base}: past the ${OBJ_SPAN} bytes an object may span`);
    return obj;
  }

  /** `memset(p, c, n)`; `what` is the call as written (for the fault). Only c = 0 (mod 256) is modelled. */
  memset(p: Value, c: number, n: number, what: string): void {
    if (this.accessLevel) this.accessPoint('write', what);
    if (this.replaying) return;
    this.live();
    if (n === 0) return;
    if ((c & 0xff) !== 0) throw new KernelFault('exception', `${what}: a non-zero fill is not modelled (memory cells hold whole field values, not bytes)`);
    this.rangeAt(p, n, what, 'writes');
    const o = this.writable(ptrId(p));
    const off = ptrOff(p);
    // A new cells object: the flattened form cached for the old one is then no longer taken as valid.
    const cells: Record<number, Value> = { ...o.cells };
    for (let b = off; b < off + n; b++) cells[b] = 0;
    o.cells = cells;
  }

  /** `memcpy(dst, src, n)`. */
  memcpy(dst: Value, src: Value, n: number, what: string): void {
    if (this.accessLevel) this.accessPoint('copy', what);
    if (this.replaying) return;
    this.copyBytes(dst, src, n, what);
  }

  /** `memmove(dst, src, n)`: the source is read whole before anything is written. */
  memmove(dst: Value, src: Value, n: number, what: string): void {
    if (this.accessLevel) this.accessPoint('copy', what);
    if (this.replaying) return;
    this.copyBytes(dst, src, n, what);
  }

  private copyBytes(dst: Value, src: Value, n: number, what: string): void {
    this.live();
    if (n === 0) return;
    const s = this.rangeAt(src, n, what, 'reads');
    this.rangeAt(dst, n, what, 'writes');
    const soff = ptrOff(src);
    const zeroed = s.origin === 'kzalloc' || s.origin === 'percpu';
    const bytes: (Value | undefined)[] = new Array<Value | undefined>(n);
    for (let b = 0; b < n; b++) bytes[b] = s.cells[soff + b] ?? (zeroed ? 0 : undefined);
    const o = this.writable(ptrId(dst));
    const doff = ptrOff(dst);
    const cells: Record<number, Value> = { ...o.cells };
    for (let b = 0; b < n; b++) {
      const v = bytes[b];
      if (v === undefined) delete cells[doff + b];
      else cells[doff + b] = v;
    }
    o.cells = cells;
  }

  /**
   * `kmemdup(src, len, gfp)`: kmalloc()'s object of `len` bytes, typed `type` for reports, then the
   * memcpy(). A failed allocation reads nothing.
   */
  kmemdup(type: string, src: Value, len: number, gfp: Gfp, what: string): Value {
    this.checkMightSleep('kmemdup', gfp);
    const p = this.ret(() => (this.failing() ? NULL : this.newObject(type, 'kmalloc', Number.isInteger(len) && len >= 0 ? len : 0, false)));
    // The copy is the access (a failed allocation reads nothing, in a replay as live).
    if (p !== NULL && this.accessLevel) this.accessPoint('copy', what);
    if (p !== NULL && !this.replaying) this.copyBytes(p, src, len, what);
    return p;
  }

  private writable(id: number): HeapObj {
    const heap = this.x.world.heap;
    if (ACCESS !== null) ACCESS.written.push(id);
    if (!this.copied.includes(id)) {
      heap[id] = cloneObj(heap[id]!);
      this.copied.push(id);
    }
    return heap[id]!;
  }

  /** `p->field` */
  load(p: Value, field: string): Value {
    if (this.accessLevel) this.accessPoint('load', p, field);
    if (this.replaying) return this.replayed();
    return this.loadLive(p === NULL || !isPtr(p) ? p : p + this.offsetOf(field), p, field);
  }
  /** `p->field = v` */
  store(p: Value, field: string, v: Value): void {
    if (this.accessLevel) this.accessPoint('store', p, field);
    if (this.replaying) return;
    this.storeLive(p === NULL || !isPtr(p) ? p : p + this.offsetOf(field), v, p, field);
  }
  READ_ONCE(p: Value, field: string): Value {
    this.marked++;
    try {
      return this.load(p, field);
    } finally {
      this.marked--;
    }
  }
  WRITE_ONCE(p: Value, field: string, v: Value): void {
    this.store(p, field, v);
  }

  /**
   * A file-scope static variable. Not an interleaving point at access level: the cache's statics
   * (the __percpu pointer, the descriptor) are set by the initcall and only read after it, and the
   * interpreter also keeps here the addresses of static storage (an array, a struct, a
   * DEFINE_PER_CPU variable), which no instruction loads.
   */
  global(name: string): Value {
    if (this.replaying) return this.replayed();
    const v = this.x.world.globals[name];
    if (v === undefined) {
      this.live();
      throw new KernelFault('uninit-read', `static ${name} read before it was set`);
    }
    return this.record(v);
  }
  setGlobal(name: string, v: Value): void {
    if (this.replaying) return;
    this.effect(() => {
      // A new object, not a write into it: copies of the world share their statics (cloneWorld).
      const w = this.x.world;
      if (ACCESS !== null) ACCESS.globalsWritten = true;
      w.globals = { ...w.globals, [name]: v };
    });
  }

  // ---- preemption and per-CPU -----------------------------------------------------------------

  get_cpu(): number {
    if (this.replaying) return this.replayed();
    this.live();
    this.x.frame.preempt++;
    return this.cpuRead(this.record(this.x.cpu));
  }
  put_cpu(): void {
    this.preempt_enable();
  }
  preempt_disable(): void {
    if (this.replaying) return;
    this.effect(() => {
      this.x.frame.preempt++;
    });
  }
  preempt_enable(): void {
    if (this.replaying) return;
    this.live();
    if (this.x.frame.preempt === 0) this.fact('preempt-underflow', `${this.fn}: put_cpu()/preempt_enable() without a matching get_cpu()`);
    else this.x.frame.preempt--;
  }
  /**
   * `user`: the accessor whose CONFIG_DEBUG_PREEMPT check this is (`__this_cpu_inc(p->nr)`):
   * the splat names it, as the kernel's check_preemption_disabled() does; `where` says where it is.
   */
  smp_processor_id(user?: string, where?: string): number {
    if (this.preemptible())
      this.fact(
        'preemptible-percpu',
        user
          ? `${this.fn}: BUG: using ${user} in preemptible code (CONFIG_DEBUG_PREEMPT)${where ? `: ${where}` : ''}`
          : `${this.fn}: smp_processor_id() in preemptible code (the task may migrate right after)`,
      );
    if (this.replaying) return this.replayed();
    return this.cpuRead(this.ret(() => this.x.cpu));
  }
  /** This CPU without the preemption check (raw_cpu_ptr(), raw_cpu_*(), this_cpu_*() ops). */
  raw_smp_processor_id(): number {
    if (this.replaying) return this.replayed();
    return this.cpuRead(this.ret(() => this.x.cpu));
  }
  /**
   * Marks the read just logged as a CPU number (Frame.cpuReads), so that CPU symmetry
   * (conformance/explorer/cpu-symmetry.ts) can rename it with the CPUs. A new array, not a push:
   * copies of a frame share it.
   */
  private cpuRead(cpu: number): number {
    const f = this.x.frame;
    const at = f.reads.length - 1;
    f.cpuReads = f.cpuReads ? [...f.cpuReads, at] : [at];
    return cpu;
  }
  per_cpu_ptr(pp: Value, cpu: number): Value {
    if (this.replaying) return this.replayed();
    this.live();
    const obj = this.objAt(pp, 'per_cpu_ptr()');
    if (obj.type !== '__percpu') throw new KernelFault('wild-pointer', `per_cpu_ptr() on ${showValue(pp)}, which is not a __percpu pointer`);
    const v = obj.cells[cpu * 8];
    if (v === undefined) throw new KernelFault('wild-pointer', `per_cpu_ptr(): CPU ${cpu} is not possible`);
    return this.record(v);
  }
  this_cpu_ptr(pp: Value): Value {
    if (this.preemptible()) this.fact('preemptible-percpu', `${this.fn}: this_cpu_ptr() in preemptible code (the task may migrate right after)`);
    const cpu = this.replaying ? this.replayed() : this.cpuRead(this.ret(() => this.x.cpu));
    return this.per_cpu_ptr(pp, cpu);
  }
  cpu_online(cpu: number): boolean {
    if (this.replaying) return this.replayed() === 1;
    return this.ret(() => (this.x.world.cpus[cpu]?.online ? 1 : 0)) === 1;
  }
  num_possible_cpus(): number {
    return this.x.world.cpus.length;
  }

  // ---- irqs and contexts ----------------------------------------------------------------------

  local_irq_save(): Value {
    if (this.replaying) return this.replayed();
    const cs = this.cpuState;
    const flags = this.record(cs.irqsOff ? 1 : 0);
    this.live();
    cs.irqsOff = true;
    this.x.frame.irqSaved++;
    return flags;
  }
  local_irq_restore(flags: Value): void {
    if (this.replaying) return;
    this.live();
    if (this.x.frame.irqSaved === 0) this.fact('irq-restore-mismatch', `${this.fn}: local_irq_restore() without local_irq_save()`);
    else this.x.frame.irqSaved--;
    this.cpuState.irqsOff = flags !== 0;
  }
  local_irq_disable(): void {
    if (this.replaying) return;
    this.effect(() => {
      this.cpuState.irqsOff = true;
    });
  }
  local_irq_enable(): void {
    if (this.replaying) return;
    this.effect(() => {
      this.cpuState.irqsOff = false;
    });
  }
  irqs_disabled(): boolean {
    if (this.replaying) return this.replayed() === 1;
    return this.record(this.cpuState.irqsOff ? 1 : 0) === 1;
  }
  in_task(): boolean {
    if (this.replaying) return this.replayed() === 1;
    return this.record(this.context.inTask ? 1 : 0) === 1;
  }
  in_hardirq(): boolean {
    if (this.replaying) return this.replayed() === 1;
    return this.record(this.context.inHardirq ? 1 : 0) === 1;
  }
  in_serving_softirq(): boolean {
    if (this.replaying) return this.replayed() === 1;
    const c = this.context;
    return this.record(c.inServingSoftirq || (c.seesSoftirqBelow && this.cpuState.softirq !== null) ? 1 : 0) === 1;
  }
  WARN_ON_ONCE(cond: boolean): boolean {
    if (cond) this.fact('warn', `${this.fn}: WARN_ON_ONCE fired`);
    return cond;
  }
  /**
   * A branch on a value the model does not compute (the caller's `ret`): taken when the explorer
   * chose it for this statement (ExecContext.branch), recorded in the read log like any read.
   * Only a statement whose label ends with NONDET_BRANCH is offered both ways.
   */
  nondet(): boolean {
    if (this.replaying) return this.replayed() === 1;
    return this.record(this.x.branch === true ? 1 : 0) === 1;
  }
  lockdep_assert_irqs_disabled(): void {
    if (!this.cpuState.irqsOff) this.fact('lockdep-irqs-enabled', `${this.fn}: lockdep_assert_irqs_disabled() with irqs enabled`);
  }

  /** Whether interruptedAt() was asked (what it reads is not state: runtime.ts RunMemo keys a run by it only then). */
  askedBelow = false;

  /**
   * For coverage reports (the C path): the statement the context this interrupt landed on will
   * run next, or '' when it was between operations. Read-only; not part of the replay log.
   */
  interruptedAt(): string {
    this.askedBelow = true;
    if (this.x.ctx === 'task') return '';
    const c = this.cpuState;
    const below = this.x.ctx === 'hardirq' && c.softirq ? c.softirq : c.current >= 0 ? this.x.world.tasks[c.current]?.frame ?? null : null;
    return below?.next ?? '';
  }

  // ---- allocation -----------------------------------------------------------------------------

  /** `size`: bytes allocated, or undefined where unknown (not bounds-checked). */
  private newObject(type: string, origin: string, size: number | undefined, zero: boolean): Value {
    const heap = this.x.world.heap;
    let id = 1;
    while (heap[id] !== undefined) id++;
    const cells: Record<number, Value> = {};
    if (zero) {
      const s = this.structs.get(type);
      for (const off of s ? Object.values(s.fields) : []) cells[off] = 0;
    }
    heap[id] = newHeapObj(type, false, origin, cells, size);
    if (ACCESS !== null) ACCESS.created++;
    this.copied.push(id);
    return mkPtr(id);
  }

  /** An explicit byte size, else the declared struct's (when it has one), else unknown. */
  private sizeFor(type: string, size: number | null | undefined): number | undefined {
    if (size === null) return undefined;
    return size !== undefined ? Math.max(0, size) : this.sizeofOr(type);
  }

  private checkMightSleep(call: string, gfp: Gfp): void {
    if (gfp === 'GFP_KERNEL') {
      const why = this.atomicContext();
      if (why) return this.fact('might-sleep', `${this.fn}: BUG: sleeping function called from invalid context: ${call}(GFP_KERNEL) ${why}`);
    }
    this.checkSlabLocks(`${call}(${gfp})`);
  }

  /**
   * A slab call (allocation with any gfp, or a free) where the configuration's allocator takes
   * sleeping locks (PREEMPT_RT: spinlock_t is an rt_mutex) and the caller may not be preempted.
   */
  private checkSlabLocks(call: string): void {
    if (!this.config.slabSleeps || this.replaying) return;
    const why = this.nonPreemptible();
    if (why)
      this.fact(
        'might-sleep',
        `${this.fn}: BUG: sleeping function called from invalid context: ${call} ${why}: on ${this.config.title} the slab allocator takes sleeping locks (spinlock_t is an rt_mutex), whatever the gfp, so it must be called outside the section`,
      );
  }

  /**
   * kmalloc(sizeof(struct type), gfp). The object is typed for reports; its memory is uninitialised.
   * `size`: the bytes asked for when the call computes them (`sizeof(struct h) + n`); null when
   * they are not known (an array); by default the struct's size.
   */
  kmalloc(type: string, gfp: Gfp, size?: number | null): Value {
    this.checkMightSleep('kmalloc', gfp);
    return this.ret(() => (this.failing() ? NULL : this.newObject(type, 'kmalloc', this.sizeFor(type, size), false)));
  }
  kzalloc(type: string, gfp: Gfp, size?: number | null): Value {
    this.checkMightSleep('kzalloc', gfp);
    return this.ret(() => (this.failing() ? NULL : this.newObject(type, 'kzalloc', this.sizeFor(type, size), true)));
  }
  /** The slab cache's object size is not known here: not bounds-checked. */
  kmem_cache_alloc(type: string, gfp: Gfp): Value {
    this.checkMightSleep('kmem_cache_alloc', gfp);
    return this.ret(() => (this.failing() ? NULL : this.newObject(type, 'kmem_cache', undefined, false)));
  }
  /**
   * mempool_alloc(): a slab object, or one from the pool's reserve when the slab has none. With a
   * gfp that may sleep it waits for an element and never returns NULL, so it does not fail here.
   */
  mempool_alloc(gfp: Gfp): Value {
    this.checkMightSleep('mempool_alloc', gfp);
    return this.ret(() => this.newObject('kmalloc', 'kmalloc', undefined, false));
  }
  /** `call`: the name the caller used (kmem_cache_free), for the might-sleep message. */
  kfree(p: Value, call = 'kfree'): void {
    if (this.replaying) return;
    // kfree(NULL) returns before the allocator takes any lock.
    if (p !== NULL) this.checkSlabLocks(`${call}()`);
    this.effect(() => {
      if (p === NULL) return;
      if (!isPtr(p)) throw new KernelFault('bad-free', `kfree() of non-pointer ${p}`);
      const id = ptrId(p);
      const obj = this.x.world.heap[id];
      if (!obj) throw new KernelFault('bad-free', `kfree() of unknown object ${showValue(p)}`);
      if (obj.freed) throw new KernelFault('double-free', `double free of ${showValue(p)}`);
      if (ptrOff(p) !== 0) throw new KernelFault('bad-free', `kfree() of interior pointer ${showValue(p)}`);
      // The slab's free hook is a kmemleak_free() of its own (mm/slub.c:slab_free_hook()).
      if (obj.kmemleak === 'freed')
        this.fact(
          'kmemleak',
          `${this.fn}: kmemleak: Freeing unknown object at ${showValue(p)}: freed to the slab while kmemleak_free() had unregistered it and no kmemleak_alloc() had registered it again (the slab hook's kmemleak_free() finds nothing; mm/kmemleak.c:delete_object_full() says so only when built with DEBUG)`,
        );
      const o = this.writable(id);
      o.freed = true;
      o.cells = {};
    });
  }
  kmem_cache_free(p: Value): void {
    this.kfree(p, 'kmem_cache_free');
  }
  // ---- kmemleak annotations: ghost state, no memory is touched -------------------------------

  /**
   * The object a kmemleak annotation names, or null (after a fact) when kmemleak would not find it
   * where the annotation says: kmemleak looks addresses up in its own tree and never dereferences.
   */
  private kmemleakObj(call: string, p: Value): number | null {
    const id = ptrId(p);
    const obj = this.x.world.heap[id];
    if (ACCESS !== null) ACCESS.touched.push(id);
    if (!obj) {
      this.fact('kmemleak', `${this.fn}: ${call}(${showValue(p)}): no object the slab handed out is at this address`);
      return null;
    }
    if (obj.freed) {
      this.fact('kmemleak', `${this.fn}: ${call}(${showValue(p)}) of an object already freed to the slab: kmemleak annotates memory nobody owns any more`);
      return null;
    }
    if (ptrOff(p) !== 0) {
      this.fact(
        'kmemleak',
        call === 'kmemleak_free'
          ? `${this.fn}: kmemleak: Found object by alias at ${showValue(p)}: kmemleak_free() of an interior pointer unregisters nothing (mm/kmemleak.c:lookup_object())`
          : `${this.fn}: kmemleak_alloc(${showValue(p)}) of an interior pointer: the block overlaps the object's own`,
      );
      return null;
    }
    return id;
  }

  /**
   * `kmemleak_alloc(ptr, size, min_count, gfp)`: registers the object with kmemleak again (a
   * cached object handed out). Its metadata is a slab allocation with `gfp`.
   */
  kmemleak_alloc(p: Value, _size: number, _minCount: number, gfp: Gfp): void {
    this.checkMightSleep('kmemleak_alloc', gfp);
    if (this.replaying) return;
    this.effect(() => {
      if (p === NULL || !isPtr(p)) return;
      const id = this.kmemleakObj('kmemleak_alloc', p);
      if (id === null) return;
      if (this.x.world.heap[id]!.kmemleak !== 'freed')
        this.fact(
          'kmemleak',
          `${this.fn}: kmemleak: Cannot insert ${showValue(p)} into the object search tree (overlaps existing): kmemleak_alloc() of an object kmemleak still tracks (${this.x.world.heap[id]!.kmemleak === 'allocated' ? 'kmemleak_alloc() registered it already' : 'the slab allocator registered it and no kmemleak_free() unregistered it'}); kmemleak_stop() disables kmemleak (mm/kmemleak.c:__link_object())`,
        );
      this.writable(id).kmemleak = 'allocated';
    });
  }

  /** `kmemleak_free(ptr)`: unregisters the object (an object going onto a cache list). */
  kmemleak_free(p: Value): void {
    if (this.replaying) return;
    this.effect(() => {
      if (p === NULL || !isPtr(p)) return;
      const id = this.kmemleakObj('kmemleak_free', p);
      if (id === null) return;
      if (this.x.world.heap[id]!.kmemleak === 'freed')
        this.fact(
          'kmemleak',
          `${this.fn}: kmemleak: Freeing unknown object at ${showValue(p)}: kmemleak_free() of an object kmemleak_free() already unregistered and no kmemleak_alloc() registered again (mm/kmemleak.c:delete_object_full() says so only when built with DEBUG)`,
        );
      this.writable(id).kmemleak = 'freed';
    });
  }

  /** `kmem_cache_size(s)`: the model has no kmem_cache objects (PRIMITIVES). */
  kmem_cache_size(): number {
    return 0;
  }

  // ---- SLUB's per-CPU sheaves: the local lock, KASAN's poisoning, the bulk refill -------------

  /** This CPU's instance of `field` in the __percpu area `pp` (the address the lock word is at). */
  private thisCpuField(pp: Value, field: string, what: string): Value {
    const map = this.objAt(pp, what);
    if (map.type !== '__percpu') throw new KernelFault('wild-pointer', `${what} on ${showValue(pp)}, which is not a __percpu pointer`);
    const inst = map.cells[this.x.cpu * 8];
    if (inst === undefined) throw new KernelFault('wild-pointer', `${what}: CPU ${this.x.cpu} is not possible`);
    return inst + this.offsetOf(field);
  }
  private lockWordSet(tl: Value, what: string): boolean {
    return (this.objAt(tl, what).cells[ptrOff(tl)] ?? 0) !== 0;
  }
  private setLockWord(tl: Value, v: number): void {
    const o = this.writable(ptrId(tl));
    o.cells[ptrOff(tl)] = v;
    cellWritten(o, ptrOff(tl), v);
  }

  /**
   * `local_trylock(&pcpu->field)` (!PREEMPT_RT): only the outcome is logged, so a replay takes the
   * same branch. Fails in any context while the word is set on this CPU, which is where an
   * interrupt that landed on the holder finds it.
   */
  local_trylock(pp: Value, field: string): boolean {
    if (this.replaying) return this.replayed() === 1;
    this.live();
    const what = `local_trylock(&${field})`;
    const tl = this.thisCpuField(pp, field, what);
    if (this.lockWordSet(tl, what)) {
      this.record(0);
      return false;
    }
    this.x.frame.preempt++;
    this.setLockWord(tl, 1);
    this.record(1);
    return true;
  }
  /** `local_lock(&pcpu->field)` on a local_trylock_t (!PREEMPT_RT). */
  local_lock(pp: Value, field: string): void {
    if (this.replaying) return;
    this.live();
    const what = `local_lock(&${field})`;
    const tl = this.thisCpuField(pp, field, what);
    if (this.lockWordSet(tl, what))
      throw new KernelFault('exception', `${this.fn}: ${what} on cpu${this.x.cpu}, which holds it already: lockdep_assert(tl->acquired == 0) fails in __local_lock_acquire() (a self-deadlock on PREEMPT_RT)`);
    this.x.frame.preempt++;
    this.setLockWord(tl, 1);
  }
  /** `local_unlock(&pcpu->field)` (!PREEMPT_RT): release, then preempt_enable(). */
  local_unlock(pp: Value, field: string): void {
    if (this.replaying) return;
    this.live();
    const what = `local_unlock(&${field})`;
    const tl = this.thisCpuField(pp, field, what);
    if (!this.lockWordSet(tl, what)) this.fact('unbalanced-exit', `${this.fn}: ${what} on cpu${this.x.cpu}, which does not hold it: lockdep's "bad unlock balance" (__local_lock_release())`);
    else this.setLockWord(tl, 0);
    if (this.x.frame.preempt === 0) this.fact('preempt-underflow', `${this.fn}: ${what}: its preempt_enable() has no matching preempt_disable()`);
    else this.x.frame.preempt--;
  }
  /** `might_alloc(gfp)`: might_sleep_if(gfpflags_allow_blocking(gfp)). */
  might_alloc(gfp: Gfp): void {
    if (this.replaying || gfp !== 'GFP_KERNEL') return;
    const why = this.atomicContext();
    if (why) this.fact('might-sleep', `${this.fn}: BUG: sleeping function called from invalid context: might_alloc(GFP_KERNEL) ${why}`);
  }
  /** `slab_free_hook()`: KASAN poisons the object (kfree's checks and effect); the object stays where the caller puts it. */
  slab_free_hook(p: Value): boolean {
    this.kfree(p);
    return true;
  }
  /** `slab_post_alloc_hook()`: KASAN unpoisons the object handed out. */
  slab_post_alloc_hook(p: Value): void {
    if (this.replaying) return;
    this.effect(() => {
      if (p === NULL || !isPtr(p)) return;
      const id = ptrId(p);
      const obj = this.x.world.heap[id];
      if (ACCESS !== null) ACCESS.touched.push(id);
      if (!obj) throw new KernelFault('wild-pointer', `slab_post_alloc_hook(): ${showValue(p)} is not an object of the cache`);
      if (ptrOff(p) !== 0) throw new KernelFault('wild-pointer', `slab_post_alloc_hook(): interior pointer ${showValue(p)}`);
      if (!obj.freed) return;
      const o = this.writable(id);
      o.freed = false;
      o.cells = {};
    });
  }
  /**
   * `__kmem_cache_alloc_bulk(s, gfp, n, p)`: n objects off the slabs, still poisoned, stored at
   * p, p+8...; returns how many (0 when the explorer makes the statement's allocation fail).
   */
  __kmem_cache_alloc_bulk(type: string, gfp: Gfp, n: number, dst: Value, what: string): number {
    this.checkMightSleep('__kmem_cache_alloc_bulk', gfp);
    const filled = this.ret(() => (this.failing() ? 0 : Math.max(0, n)));
    if (this.replaying) return filled;
    for (let i = 0; i < filled; i++) {
      const p = this.newObject(type, 'kmem_cache', undefined, false);
      // Free memory on a slab freelist: poisoned until slab_post_alloc_hook() hands it out.
      this.x.world.heap[ptrId(p)]!.freed = true;
      this.storeLive(dst + 8 * i, p, what);
    }
    return filled;
  }

  /** alloc_percpu(struct type): a zeroed instance per CPU, reached through a __percpu map object. */
  alloc_percpu(type: string): Value {
    return this.ret(() => {
      if (this.failing()) return NULL;
      const map = this.newObject('__percpu', 'percpu', undefined, false);
      const cells: Record<number, Value> = {};
      for (let c = 0; c < this.x.world.cpus.length; c++) cells[c * 8] = this.newObject(type, 'percpu', this.sizeFor(type, undefined), true);
      this.x.world.heap[ptrId(map)]!.cells = cells;
      return map;
    });
  }
  free_percpu(pp: Value): void {
    this.effect(() => {
      if (pp === NULL) return;
      const obj = this.objAt(pp, 'free_percpu()');
      const id = ptrId(pp);
      for (const v of Object.values(obj.cells)) {
        const o = this.writable(ptrId(v));
        o.freed = true;
        o.cells = {};
      }
      const m = this.writable(id);
      m.freed = true;
      m.cells = {};
    });
  }
}
