/**
 * Runs one C statement of one operation on a copy of the world.
 *
 * Resuming an operation from a stored state: create a fresh generator, feed it the operation's
 * read log until it reaches the statement it stopped before (effects are suppressed: they are in
 * the stored memory already), then execute one statement for real. Cost per step is the length of
 * one operation, never the length of the path. With Env.resume (a DFS), the generator the frame's
 * last statement ran in is continued instead, when no other copy of the frame has taken it
 * (Resumable, below): then the cost is the one statement.
 *
 * Access level (Env.atomicity 'access'): a step runs up to the next shared-memory access of the
 * statement instead, the statement stopped there by the Kernel (ACCESS_STOP); the frame keeps
 * its place (Frame.sub: the statement's accesses run so far), and the next step replays the
 * statement up to that access and goes on live from it. So an interrupt, a preemption or another
 * CPU can come between a load and the store that depends on it (`cache->nr++`), and the step's
 * label names the access it ran: `dio_put_percpu_cache: cache->nr++; [load #3->nr]`.
 */
import type { KernelConfig } from '../../model/config.js';
import type { Implementation, Op } from '../interface.js';
import { ACCESS_STOP, Kernel, KernelFault, recordingAccesses, type Fact, type RacyLoad } from './primitives.js';
import type { Value } from './values.js';
import { contentGeneration, contentId, LIVE, type CtxKind, type Frame, type HeapObj, type World } from './world.js';

/** Statements one operation may execute before the checker calls it non-terminating. */
export const STEP_BUDGET = 10_000;

export interface StepOutcome {
  /** `function: statement` that was executed. */
  label: string;
  facts: Fact[];
  /** The operation oopsed (NULL dereference, use after free, an exception...). */
  fault?: KernelFault;
  /** Set when the operation returned in this step. */
  done?: { result: Value };
  /** An allocation returned NULL because the step was run with `failAlloc`. */
  allocFailed?: boolean;
  /** Every statement run, for a run of several (runToCompletion). */
  labels?: string[];
}

export interface Env {
  impl: Implementation;
  /** Macro values after scaling (DIO_ALLOC_CACHE_MAX -> 4). */
  macros: Readonly<Record<string, number>>;
  /**
   * Keep each frame's generator for its next statement (Frame[LIVE]). Worth it where the next
   * state stepped is mostly the one just made (DFS); a BFS frontier would hold a generator chain
   * per stored world.
   */
  resume?: boolean;
  /** The kernel configuration the statements run on (model/config.ts); absent: !PREEMPT_RT. */
  kernel?: KernelConfig;
  /**
   * Where interrupts, preemptions and other CPUs may come in: between C statements (the default),
   * or also between the shared-memory accesses of one statement ('access').
   */
  atomicity?: Atomicity;
  /** Which plain loads race with a writer (System: the irq-list fields hardirq puts write). */
  racyLoad?: RacyLoad;
  /** Fresh runs to completion already made, reused (RunMemo; absent: every run runs). */
  memo?: RunMemo;
}

/** `statement`: a C statement is atomic with respect to interrupts; `access`: every shared-memory load and store is an interleaving point. */
export type Atomicity = 'statement' | 'access';

/** How a report says where interleavings are taken, for the atomicity a search used. */
export function atomicityText(a: Atomicity | undefined): string {
  return a === 'access' ? 'interrupts between memory accesses' : 'interrupts between statements';
}

export function resolveMacros(impl: Implementation, max: number, threshold: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(impl.macros)) out[name] = v === 'MAX' ? max : v === 'THRESHOLD' ? threshold : v;
  return out;
}

/**
 * A frame about to run its first statement. Its `next` label is known only once the generator
 * reaches its first yield, which the step that starts the operation does at once; until then it
 * names the function's entry, which is also what a fault before the first yield reports.
 */
export function newFrame(op: string, args: Value[], irqsOffAtStart: boolean): Frame {
  return { op, args, reads: [], steps: 0, sub: 0, preempt: 0, irqSaved: 0, irqsOffAtStart, ghost: 0, next: startLabel(op), cpuReads: undefined, racy: undefined, key: undefined, keyCpuFree: false, [LIVE]: undefined };
}

/** `op: (start)`, one string per operation (a frame starts on every interrupt the search takes). */
const START_LABELS = new Map<string, string>();
function startLabel(op: string): string {
  let l = START_LABELS.get(op);
  if (l === undefined) START_LABELS.set(op, (l = `${op}: (start)`));
  return l;
}

/**
 * A generator stopped at the yield before statement `steps` of the frame that last ran it, with
 * its Kernel. Its locals are a function of the frame's args and reads, so any frame with the same
 * lineage and step count may continue it instead of replaying: the copies of a world share it
 * (cloneFrame), the first copy to run the statement takes it, and `steps` moves on, so that the
 * other copies, still at the old count, replay as before. A frame's step always sets its own
 * Resumable, so a frame whose count equals its Resumable's has run nothing since that one did.
 */
export interface Resumable {
  gen: Op<Value>;
  k: Kernel;
  steps: number;
}

declare module './world.js' {
  interface Frame {
    /**
     * The generator that ran this frame's last statement, if it can go on from here without a
     * replay. A cache, not state: keyed by a symbol, so that the fingerprint, JSON and
     * postMessage never see it. Declared here rather than in world.ts, which cannot import the
     * Kernel a Resumable holds (primitives.ts imports world.ts).
     */
    [LIVE]?: Resumable;
  }
}

function generatorFor(env: Env, k: Kernel, f: Frame): Op<Value> {
  const impl = env.impl;
  switch (f.op) {
    case 'init':
      return impl.init(k) as Op<Value>;
    case 'alloc':
      return impl.alloc(k);
    case 'fresh':
      if (!impl.fresh) throw new KernelFault('exception', `${impl.name} has no fresh()`);
      return impl.fresh(k);
    case 'free':
      return impl.free(k, f.args[0]!) as Op<unknown> as Op<Value>;
    case 'cpu_dead':
      if (!impl.cpuDead) throw new KernelFault('exception', `${impl.name} has no cpuDead()`);
      return impl.cpuDead(k, f.args[0]!) as Op<unknown> as Op<Value>;
    default:
      throw new KernelFault('exception', `unknown operation ${f.op}`);
  }
}

function asFault(e: unknown): KernelFault {
  if (e instanceof KernelFault) return e;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new KernelFault('exception', `the implementation threw ${msg}`);
}

/**
 * Executes the next statement of `frame`, which belongs to `ctx` on `cpu`. `world` must already
 * be a private copy (cloneWorld); `frame` must be the copy inside it. `failAlloc`: every
 * allocation the statement makes returns NULL (replays then read the NULL from the log).
 * `branch`: the statement's nondeterministic branch (Kernel.nondet) is taken.
 */
export function runStatement(env: Env, world: World, cpu: number, ctx: CtxKind, task: number, frame: Frame, failAlloc = false, branch = false): StepOutcome {
  const x = failAlloc || branch ? { world, cpu, ctx, task, frame, failAlloc, branch } : { world, cpu, ctx, task, frame };
  const live = frame[LIVE];
  const sub = frame.sub ?? 0;
  const taken = env.resume && live !== undefined && live.steps === frame.steps && sub === 0 ? live : undefined;
  const k = taken ? taken.k : new Kernel(x, env.impl.structs, env.macros, env.kernel, env.racyLoad);
  if (env.atomicity === 'access') k.accessLevel = true;
  frame[LIVE] = undefined;
  let label = frame.next;
  try {
    let gen: Op<Value>;
    let r: IteratorResult<string, Value>;
    if (taken) {
      // No other copy of the frame may continue it from this count any more.
      taken.steps = -1;
      k.resume(x);
      gen = taken.gen;
    } else {
      gen = generatorFor(env, k, frame);
      // Code before the first yield belongs to the first statement: live on a fresh frame (up
      // to the access it stopped before, at access level).
      k.replaying = frame.steps > 0 || sub > 0;
      if (frame.steps === 0 && sub > 0) k.replayAccesses(sub);
      r = gen.next();
      for (let i = 0; i < frame.steps && !r.done; i++) r = gen.next();
      if (r.done) throw new KernelFault('replay-divergence', `operation ${frame.op} ended during replay at statement ${frame.steps}`);
      label = labelOf(k.fn, r.value);
      if (frame.steps > 0 || sub === 0) k.replayAccesses(sub);
    }
    r = gen.next();
    if (k.accessesPending) throw new KernelFault('replay-divergence', `implementation is not deterministic: statement ${frame.steps} of ${frame.op} made fewer than the ${sub} memory accesses logged`);
    const at = k.liveAccess === undefined ? label : `${label} [${k.liveAccess}]`;
    frame.sub = 0;
    if (r.done) return outcome(k, at, k.facts.concat(exitFacts(world, cpu, frame)), undefined, { result: r.value }, undefined);
    frame.steps++;
    frame.next = labelOf(k.fn, r.value);
    frame.key = k.frameKey();
    frame.keyCpuFree = frame.key !== undefined && k.keyCpuFree;
    if (frame.steps > STEP_BUDGET)
      throw new KernelFault('no-return', `operation ${frame.op} did not return within ${STEP_BUDGET} statements (an endless loop?)`);
    if (env.resume) {
      if (taken) {
        taken.steps = frame.steps;
        frame[LIVE] = taken;
      } else frame[LIVE] = { gen, k, steps: frame.steps };
    }
    return outcome(k, at, k.facts, undefined, undefined, undefined);
  } catch (e) {
    // Access level: the statement stopped before its next access; the next step resumes it there.
    if (e === ACCESS_STOP) {
      // Inside a statement: its operands so far are nowhere but in the read log.
      frame.key = undefined;
      frame.keyCpuFree = false;
      frame.sub = sub + 1;
      return outcome(k, `${label} [${k.liveAccess!}]`, k.facts, undefined, undefined, undefined);
    }
    return outcome(k, k.liveAccess === undefined ? label : `${label} [${k.liveAccess}]`, k.facts, asFault(e), undefined, undefined);
  }
}

/**
 * The label of the first statement of a fresh `frame` (the one its generator names at its first
 * yield) and how many values the code before that yield read; null if it returns or faults
 * before any statement. Runs on `world`, which must be a copy nobody keeps.
 */
export function firstStatement(env: Env, world: World, cpu: number, ctx: CtxKind, task: number, frame: Frame): { label: string; readsBefore: number } | null {
  const k = new Kernel({ world, cpu, ctx, task, frame, probe: true }, env.impl.structs, env.macros, env.kernel, env.racyLoad);
  k.replaying = false;
  try {
    const r = generatorFor(env, k, frame).next();
    return r.done ? null : { label: labelOf(k.fn, r.value), readsBefore: frame.reads.length };
  } catch {
    return null;
  }
}

/**
 * Every outcome in one shape, absent fields undefined: System reads them on every transition,
 * and five shapes of literal made those reads megamorphic.
 */
function outcome(k: Kernel, label: string, facts: Fact[], fault: KernelFault | undefined, done: { result: Value } | undefined, labels: string[]): StepOutcome & { labels: string[] };
function outcome(k: Kernel, label: string, facts: Fact[], fault: KernelFault | undefined, done: { result: Value } | undefined, labels: undefined): StepOutcome;
function outcome(k: Kernel, label: string, facts: Fact[], fault: KernelFault | undefined, done: { result: Value } | undefined, labels: string[] | undefined): StepOutcome {
  return { label, facts, fault, done, allocFailed: k.allocFailed ? true : undefined, labels };
}

/**
 * `function: statement`, one string per pair: a step stores the label of the next statement in
 * its frame, and building it anew each time left a fresh string in every stored state.
 */
const LABELS = new Map<string, Map<unknown, string>>();
// Consecutive statements are mostly of one function: its map is kept at hand.
let lastFn = '';
let lastMap: Map<unknown, string> | undefined;
function labelOf(fn: string, stmt: unknown): string {
  let m = fn === lastFn ? lastMap : LABELS.get(fn);
  if (!m) LABELS.set(fn, (m = new Map()));
  lastFn = fn;
  lastMap = m;
  let l = m.get(stmt);
  if (l === undefined) m.set(stmt, (l = `${fn}: ${String(stmt)}`));
  return l;
}

/** context-balance at the end of an operation: what it took it must give back. */
function exitFacts(world: World, cpu: number, frame: Frame): Fact[] {
  const facts: Fact[] = [];
  if (frame.preempt !== 0)
    facts.push({ kind: 'unbalanced-exit', msg: `${frame.op} returned with preemption still disabled (preempt depth ${frame.preempt}): a get_cpu() without put_cpu()` });
  const irqsOff = world.cpus[cpu]!.irqsOff;
  if (frame.irqSaved !== 0 || irqsOff !== frame.irqsOffAtStart)
    facts.push({ kind: 'unbalanced-exit', msg: `${frame.op} returned with irqs ${irqsOff ? 'disabled' : 'enabled'}, entered with them ${frame.irqsOffAtStart ? 'disabled' : 'enabled'}` });
  return facts;
}

/**
 * Runs a whole operation without interleaving (boot, prefill, atomic interrupt handlers).
 *
 * A fresh operation runs in one live pass of its generator: nothing needs replaying when no
 * other context can run between its statements (statement by statement it would replay the
 * whole prefix before each statement). Labels, facts, the read log and the frame's counters come
 * out the same as from runStatement() called until the operation returns.
 */
export function runToCompletion(env: Env, world: World, cpu: number, ctx: CtxKind, task: number, frame: Frame, probe = false, failAlloc: boolean | number = false): StepOutcome & { labels: string[] } {
  if (frame.steps === 0 && frame.reads.length === 0) {
    // A trial run (probe) differs from a kept one only in what Kernel.probing tells generators
    // that count runs, which are never memoised.
    if (env.memo !== undefined && failAlloc === false && !recordingAccesses()) return env.memo.run(env, world, cpu, ctx, task, frame, probe);
    return runFreshToCompletion(env, world, cpu, ctx, task, frame, probe, failAlloc);
  }
  const labels: string[] = [];
  const facts: Fact[] = [];
  for (;;) {
    const out = runStatement(env, world, cpu, ctx, task, frame);
    labels.push(out.label);
    facts.push(...out.facts);
    if (out.fault || out.done) return { ...out, facts, labels };
  }
}

/** The Kernel of the last runFreshToCompletion() (RunMemo reads what it was asked). */
let lastFresh: Kernel | null = null;

function runFreshToCompletion(env: Env, world: World, cpu: number, ctx: CtxKind, task: number, frame: Frame, probe: boolean, failAlloc: boolean | number): StepOutcome & { labels: string[] } {
  const labels: string[] = [];
  const x = probe ? { world, cpu, ctx, task, frame, probe } : { world, cpu, ctx, task, frame };
  const k = new Kernel(failAlloc !== false ? { ...x, failAlloc } : x, env.impl.structs, env.macros, env.kernel, env.racyLoad);
  lastFresh = k;
  k.replaying = false;
  let label = frame.next;
  let pushed = false;
  try {
    const gen = generatorFor(env, k, frame);
    let r = gen.next();
    if (r.done) throw new KernelFault('replay-divergence', `operation ${frame.op} ended during replay at statement 0`);
    label = labelOf(k.fn, r.value);
    for (;;) {
      pushed = false;
      r = gen.next();
      labels.push(label);
      pushed = true;
      if (r.done) return outcome(k, label, k.facts.concat(exitFacts(world, cpu, frame)), undefined, { result: r.value }, labels);
      frame.steps++;
      // The next statement's label, once: it is also the label the next pass pushes.
      label = frame.next = labelOf(k.fn, r.value);
      if (frame.steps > STEP_BUDGET)
        throw new KernelFault('no-return', `operation ${frame.op} did not return within ${STEP_BUDGET} statements (an endless loop?)`);
    }
  } catch (e) {
    if (!pushed) labels.push(label);
    return outcome(k, label, k.facts, asFault(e), undefined, labels);
  }
}

/** One fresh run to completion as RunMemo keeps it: what it saw, and what it did. */
interface MemoRun {
  /** RunMemo's key words for the world the run started in (everything it could read but the two below; heap objects by contentId()). */
  key: number[];
  /** The statics it started with (compared by content when not the same object). */
  globals: World['globals'];
  /** What Kernel.interruptedAt() said, if the run asked (null: it did not, and the label is not part of the key). */
  below: string | null;
  /** The heap slots it changed (written objects are copies, created ones new) and what they hold after. */
  slots: number[];
  objs: (HeapObj | undefined)[];
  heapLength: number;
  /** The statics after (setGlobal() replaces the object), or null when unchanged. */
  globalsAfter: World['globals'] | null;
  irqsOff: boolean;
  reads: Value[];
  steps: number;
  sub: number | undefined;
  preempt: number;
  irqSaved: number;
  next: string;
  cpuReads: number[] | undefined;
  label: string;
  labels: string[];
  facts: Fact[];
  done: { result: Value } | undefined;
  allocFailed: boolean | undefined;
}

/** Entries kept at most; past it the memo starts again (what it keeps only saves work). */
const MEMO_RUNS = 1 << 16;
const CTX_CODE = { task: 0, softirq: 1, hardirq: 2 } as const;

/**
 * Fresh runs of an operation to its end (an atomic interrupt handler's put, the run-alone check
 * before a task's operation), reused. Such a run is a function of what the Kernel lets it see,
 * for an implementation that does nothing but compute (Implementation.countsRuns): the
 * operation, its arguments, the CPU, context and task it runs as, the irq state it starts in,
 * the heap (each object's content, and which slots are empty), the statics, each CPU's online
 * and irq state, its context stack and current task, and the label of the statement an
 * interrupt lands before (Kernel.interruptedAt()). Those are the key, compared exactly; a hit
 * applies what the run did: the heap slots it changed (the objects it made, shared: a heap
 * object is copy-on-write, never written after its step), the statics, this CPU's irq state,
 * the frame's counters and read log, and the outcome. A run that faulted is not kept.
 * A Kernel primitive that reads more of the world than this must add it to the key.
 */
export class RunMemo {
  private readonly byHash = new Map<number, MemoRun[]>();
  private size = 0;
  /** The contentGeneration of the content numbers in the keys kept. */
  private generation = contentGeneration;
  /** The key being looked up (a plain array: kept keys are copies, and typed-array slices are slow to make). */
  private kw: number[] = [];
  private kn = 0;

  private word(x: number): void {
    this.kw[this.kn++] = x;
  }

  /** The key words of a fresh run of `frame` on `w` into kw; returns their hash. */
  private keyOf(w: World, cpu: number, ctx: CtxKind, task: number, frame: Frame): number {
    this.kn = 0;
    this.word(OP_CODE[frame.op] ?? -1);
    if (OP_CODE[frame.op] === undefined) this.word(opCode(frame.op));
    this.word(frame.args.length);
    for (const a of frame.args) this.word(a);
    this.word(cpu);
    this.word(CTX_CODE[ctx]);
    this.word(task);
    this.word(frame.irqsOffAtStart ? 1 : 0);
    const cpus = w.cpus;
    this.word(cpus.length);
    for (let c = 0; c < cpus.length; c++) {
      const cs = cpus[c]!;
      this.word((cs.online ? 1 : 0) | (cs.irqsOff ? 2 : 0) | (cs.softirq !== null ? 4 : 0) | (cs.hardirq !== null ? 8 : 0));
      this.word(cs.current);
    }
    const heap = w.heap;
    this.word(heap.length);
    for (let i = 1; i < heap.length; i++) {
      const o = heap[i];
      this.word(o === undefined ? 0 : contentId(o));
    }
    const kw = this.kw;
    let h = 0x811c9dc5;
    for (let i = 0; i < this.kn; i++) h = Math.imul(h ^ (kw[i]! | 0), 0x01000193);
    return h ^ (h >>> 16);
  }

  private matches(e: MemoRun, w: World, cpu: number, ctx: CtxKind): boolean {
    const k = e.key;
    if (k.length !== this.kn) return false;
    const kw = this.kw;
    for (let i = 0; i < k.length; i++) if (k[i] !== kw[i]) return false;
    if (e.below !== null && e.below !== belowLabel(w, cpu, ctx)) return false;
    return e.globals === w.globals || sameGlobals(e.globals, w.globals);
  }

  /** The kept run of fresh `frame` on `w`, or undefined; leaves its hash in `hash`. */
  private find(w: World, cpu: number, ctx: CtxKind, task: number, frame: Frame): MemoRun | undefined {
    let h = this.keyOf(w, cpu, ctx, task, frame);
    if (this.generation !== contentGeneration) {
      // Content numbers started again (perhaps within this key): what is kept names old ones.
      this.byHash.clear();
      this.size = 0;
      this.generation = contentGeneration;
      h = this.keyOf(w, cpu, ctx, task, frame);
    }
    this.hash = h;
    const bucket = this.byHash.get(h);
    if (bucket !== undefined) for (const e of bucket) if (this.matches(e, w, cpu, ctx)) return e;
    return undefined;
  }
  private hash = 0;

  /**
   * Whether a fresh run of `frame` on `w` is known to return (a kept run has its key: faults are
   * not kept), without running it: the run-alone check then needs no copy of the world.
   */
  returns(w: World, cpu: number, ctx: CtxKind, task: number, frame: Frame): boolean {
    if (recordingAccesses() || frame.steps !== 0 || frame.reads.length !== 0) return false;
    return this.find(w, cpu, ctx, task, frame) !== undefined;
  }

  run(env: Env, w: World, cpu: number, ctx: CtxKind, task: number, frame: Frame, probe: boolean): StepOutcome & { labels: string[] } {
    const hit = this.find(w, cpu, ctx, task, frame);
    if (hit !== undefined) return apply(hit, w, cpu, frame);
    const h = this.hash;
    const heapBefore = w.heap.slice();
    const globalsBefore = w.globals;
    const below = belowLabel(w, cpu, ctx);
    const out = runFreshToCompletion(env, w, cpu, ctx, task, frame, probe, false);
    if (out.fault !== undefined) return out;
    const askedBelow = lastFresh!.askedBelow;
    const slots: number[] = [];
    const objs: (HeapObj | undefined)[] = [];
    const heap = w.heap;
    const n = Math.max(heap.length, heapBefore.length);
    for (let i = 1; i < n; i++)
      if (heap[i] !== heapBefore[i]) {
        slots.push(i);
        objs.push(heap[i]);
      }
    const e: MemoRun = {
      key: this.kw.slice(0, this.kn),
      globals: globalsBefore,
      below: askedBelow ? below : null,
      slots,
      objs,
      heapLength: heap.length,
      globalsAfter: w.globals === globalsBefore ? null : w.globals,
      irqsOff: w.cpus[cpu]!.irqsOff,
      reads: frame.reads.slice(),
      steps: frame.steps,
      sub: frame.sub,
      preempt: frame.preempt,
      irqSaved: frame.irqSaved,
      next: frame.next,
      cpuReads: frame.cpuReads,
      label: out.label,
      labels: out.labels.slice(),
      facts: out.facts.slice(),
      done: out.done,
      allocFailed: out.allocFailed,
    };
    if (this.size >= MEMO_RUNS) {
      this.byHash.clear();
      this.size = 0;
    }
    const b = this.byHash.get(h);
    if (b === undefined) this.byHash.set(h, [e]);
    else b.push(e);
    this.size++;
    return out;
  }
}

/** Operation names as key words (the ones Env runs; another gets a code of its own). */
const OP_CODE: Record<string, number> = { init: 0, alloc: 1, fresh: 2, free: 3, cpu_dead: 4 };
const OTHER_OPS = new Map<string, number>();
function opCode(op: string): number {
  let c = OTHER_OPS.get(op);
  if (c === undefined) OTHER_OPS.set(op, (c = OTHER_OPS.size + 1));
  return c;
}

/** Kernel.interruptedAt()'s answer for a context about to run on `cpu`. */
function belowLabel(w: World, cpu: number, ctx: CtxKind): string {
  if (ctx === 'task') return '';
  const c = w.cpus[cpu]!;
  const below = ctx === 'hardirq' && c.softirq ? c.softirq : c.current >= 0 ? w.tasks[c.current]?.frame ?? null : null;
  return below?.next ?? '';
}

function sameGlobals(a: World['globals'], b: World['globals']): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

/** What a kept run did, done again on `w` (whose key is the run's). */
function apply(e: MemoRun, w: World, cpu: number, frame: Frame): StepOutcome & { labels: string[] } {
  const heap = w.heap;
  for (let i = 0; i < e.slots.length; i++) heap[e.slots[i]!] = e.objs[i];
  if (heap.length !== e.heapLength) heap.length = e.heapLength;
  if (e.globalsAfter !== null) w.globals = e.globalsAfter;
  w.cpus[cpu]!.irqsOff = e.irqsOff;
  frame.reads = e.reads.slice();
  frame.steps = e.steps;
  frame.sub = e.sub;
  frame.preempt = e.preempt;
  frame.irqSaved = e.irqSaved;
  frame.next = e.next;
  frame.cpuReads = e.cpuReads;
  // Labels and facts are read, never changed, by whoever gets them: shared.
  return { label: e.label, facts: e.facts, fault: undefined, done: e.done, allocFailed: e.allocFailed, labels: e.labels };
}
