/**
 * The property-based layer: fast-check command sequences at the kernel's own constants
 * (THRESHOLD 16, MAX 256) on two or more CPUs, run against the statechart as the model and the
 * implementation through `System` (every statement a step, every step checked against the invariant
 * registry).
 *
 * What this layer adds to the statechart paths: long sequences that actually cross the threshold
 * and the cap (bursts of up to a few hundred operations), objects completed on a different CPU than
 * the one that allocated them, tasks that migrate with the objects they hold, and task operations
 * interrupted between two statements by a hardirq or softirq completion on the same CPU. The
 * explorer (conformance/explorer) is exhaustive at small MAX; this layer is random at the real MAX.
 *
 * The model is one `cacheMachine(profile)` actor per CPU (model/machine.ts). After every command the
 * implementation's abstract state (each CPU's lists, through an impl-id <-> model-id map, nr, nr_irq)
 * and each operation's outcome must equal the model's. An interrupted task operation is judged
 * against its linearisations (see `Interrupted`).
 */
import fc from 'fast-check';
import { createActor, type Actor } from 'xstate';
import { cacheMachine, type CacheContext, type CacheEvent, type CacheMachine, type Outcome } from '../model/machine.js';
import type { AbstractState, OpOutcome } from '../model/abstract.js';
import type { InvariantId } from '../model/invariants.js';
import { getProfile, type Profile } from '../model/profiles.js';
import type { Implementation } from '../impl/interface.js';
import { NULL, ptrId, type Value } from '../impl/kernel/values.js';
import type { World } from '../impl/kernel/world.js';
import { BootError, System, type Choice, type Scope, type StepReport } from './system.js';

// ---- the model side ---------------------------------------------------------------------------

type PutCtx = 'task' | 'softirq' | 'hardirq';

/** One CPU's cache as the statechart: an xstate actor, copied through its persisted snapshot. */
class CpuModel {
  constructor(
    private readonly machine: CacheMachine,
    private actor: Actor<CacheMachine> = createActor(machine).start(),
  ) {}

  get ctx(): CacheContext {
    return this.actor.getSnapshot().context;
  }

  get taskIdle(): boolean {
    return (this.actor.getSnapshot().value as Record<string, unknown>).task === 'idle';
  }

  /** Sends `e` if some transition takes it; false when the machine refuses it (e.g. irqs off). */
  send(e: CacheEvent): boolean {
    const before = this.actor.getSnapshot();
    this.actor.send(e);
    // xstate keeps the snapshot object when no transition takes the event.
    return this.actor.getSnapshot() !== before;
  }

  alloc(fresh: number): CacheContext {
    if (!this.send({ type: 'ALLOC', fresh })) throw new Error(`harness: the model refused ALLOC on a CPU whose task is not on top`);
    return this.ctx;
  }

  put(ctx: PutCtx, obj: number): CacheContext {
    this.adopt(obj);
    if (!this.send({ type: 'PUT', ctx, obj })) throw new Error(`harness: the model refused a ${ctx} PUT of m${obj}`);
    return this.ctx;
  }

  /**
   * The machine of one CPU knows only the objects handed out on that CPU (`inUse`). An object
   * allocated on another CPU, or in flight since boot, is added before this CPU's put takes it:
   * ownership moves between CPUs outside the per-CPU statechart. Only `inUse` and `freed` change,
   * so the derived regions (lists, capacity, irqs) stay true to the context.
   */
  adopt(...objs: number[]): void {
    const snap = this.actor.getSnapshot();
    const fresh = objs.filter((o) => !snap.context.inUse.includes(o));
    if (fresh.length === 0) return;
    const context = { ...snap.context, inUse: [...snap.context.inUse, ...fresh], freed: snap.context.freed.filter((x) => !fresh.includes(x)) };
    const moved = createActor(this.machine, { snapshot: this.machine.resolveState({ value: snap.value, context }) }).start();
    // This CpuModel is the one the caller holds: swap the actor in place.
    this.actor.stop();
    this.actor = moved;
  }

  clone(): CpuModel {
    return new CpuModel(this.machine, createActor(this.machine, { snapshot: this.actor.getPersistedSnapshot() }).start());
  }
}

interface TaskModel {
  cpu: number;
  /** Model ids of the objects this task holds, oldest first. */
  held: number[];
}

/** The fast-check model: the statechart per CPU, plus where every object the run knows of is. */
interface FcModel {
  profile: Profile;
  cpus: CpuModel[];
  /** Task running on each CPU. */
  current: number[];
  tasks: TaskModel[];
  /** Model ids of objects submitted for I/O, oldest first. */
  inflight: number[];
  /** CPU each live object was last allocated on (-1: booted in flight). */
  allocCpu: Map<number, number>;
  nextId: number;
  stats: RunStats;
}

interface RunStats {
  /** A task or hardirq put found the cap test failing and freed the object. */
  capRefused: boolean;
  /** An alloc spliced free_list_irq (nr_irq reached THRESHOLD with free_list empty). */
  spliced: boolean;
  /** An alloc missed with 0 < nr_irq < THRESHOLD: the threshold held the splice back. */
  belowThresholdMiss: boolean;
  /** Largest nr + nr_irq on any CPU. */
  maxTotal: number;
  /** Puts on a CPU other than the one that allocated the object. */
  crossCpuPuts: number;
  /** Interrupted task operations, and those only a concurrent linearisation explains. */
  interrupted: number;
  concurrentOnly: number;
  commands: number;
}

// ---- the implementation side ------------------------------------------------------------------

/** The implementation under test: the simulated world, stepped through System. */
class FcReal {
  /** Statement by statement: task operations and injected interrupts. */
  readonly sys: System;
  /** Interrupt handlers as one step each, for bursts of completions (sound: a handler runs atomically on its CPU). */
  readonly atomic: System;
  world: World;
  abs: AbstractState;
  /** impl object id -> model id, and back. */
  readonly i2m = new Map<number, number>();
  readonly m2i = new Map<number, Value>();
  /** Statements executed, for the report. */
  steps = 0;

  constructor(impl: Implementation, scope: Scope) {
    this.sys = new System(impl, scope);
    this.atomic = new System(impl, { ...scope, atomicIrq: true });
    let init: ReturnType<System['initial']>;
    try {
      init = this.sys.initial();
    } catch (e) {
      // Boot runs the implementation's own init, allocs and puts: a fault there is a finding.
      if (!(e instanceof BootError)) throw e;
      const objectFault = /: (use-after-free|double-free|bad-free|uninit-read):/.test(e.message);
      throw new FcViolation(objectFault ? 'object-safety' : 'crash', `boot: ${e.message}`);
    }
    this.world = init.world;
    this.abs = init.abs;
    failOn(init.violations.map((v) => ({ ...v })), 'boot');
  }

  /** One System step; any invariant violation ends the run with its id. */
  step(c: Choice, sys: System = this.sys): StepReport {
    const r = sys.step(this.world, this.abs, c);
    this.steps++;
    this.world = r.world;
    this.abs = r.abs;
    failOn(r.violations, `${r.who}: ${r.event} [${r.labels.length > 3 ? '... | ' : ''}${r.labels.slice(-3).join(' | ')}]`);
    const f = r.abs.step?.fault;
    if (f) throw new FcViolation('crash', `${r.who}: ${f.kind}: ${f.msg}`);
    return r;
  }

  link(implId: number, modelId: number): void {
    const old = this.m2i.get(modelId);
    if (old !== undefined) this.i2m.delete(ptrId(old));
    this.i2m.set(implId, modelId);
    this.m2i.set(modelId, mkRef(this.world, implId));
  }

  unlink(modelId: number): void {
    const p = this.m2i.get(modelId);
    if (p !== undefined) this.i2m.delete(ptrId(p));
    this.m2i.delete(modelId);
  }

  ptr(modelId: number): Value {
    const p = this.m2i.get(modelId);
    if (p === undefined) throw new Error(`harness: model object m${modelId} has no implementation object`);
    return p;
  }
}

/** The pointer the world uses for object `id` (the implementation may hand out interior pointers). */
function mkRef(w: World, id: number): Value {
  for (const t of w.tasks) for (const p of t.held) if (ptrId(p) === id) return p;
  for (const p of w.inflight) if (ptrId(p) === id) return p;
  throw new Error(`harness: object #${id} is neither held nor in flight`);
}

/** A failure of this layer, tagged with the invariant id it breaks. */
export class FcViolation extends Error {
  constructor(
    readonly invariant: InvariantId,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
    this.name = 'FcViolation';
  }
}

function failOn(vs: { id: InvariantId; message: string }[], where: string): void {
  const v = vs[0];
  if (v) throw new FcViolation(v.id, `${v.message} (at ${where})`);
}

// ---- running whole operations ---------------------------------------------------------------

/** Steps the context that `first` started on `cpu` until its operation returns. */
function finishOp(real: FcReal, first: StepReport, cpu: number, sys: System = real.sys): OpOutcome {
  let r = first;
  for (let guard = 0; !r.abs.step?.done; guard++) {
    if (guard > 10_000) throw new FcViolation('crash', `operation on cpu${cpu} did not return within 10000 statements`);
    r = real.step({ kind: 'step', cpu }, sys);
  }
  return r.abs.step!.done!;
}

/** Compare one CPU's implementation cache with the model's context. */
function compareCache(real: FcReal, m: FcModel, cpu: number, where: string): void {
  const c = real.abs.caches[cpu]!;
  const want = m.cpus[cpu]!.ctx;
  const mapList = (ids: number[]) => ids.map((id) => real.i2m.get(id) ?? -id);
  const show = (ids: number[]) => `[${ids.map((x) => (x < 0 ? `unknown #${-x}` : `m${x}`)).join(', ')}]`;
  const got = { freeList: mapList(c.freeList), freeListIrq: mapList(c.freeListIrq) };
  if (!sameList(got.freeList, want.freeList))
    throw new FcViolation('refinement', `${where}: cpu${cpu} free_list is ${show(got.freeList)}, the model has ${show(want.freeList)}`);
  if (!sameList(got.freeListIrq, want.freeListIrq))
    throw new FcViolation('refinement', `${where}: cpu${cpu} free_list_irq is ${show(got.freeListIrq)}, the model has ${show(want.freeListIrq)}`);
  if (c.nr !== want.nr) throw new FcViolation('nr-accuracy', `${where}: cpu${cpu} nr = ${c.nr}, the model has ${want.nr}`);
  if (c.nrIrq !== want.nrIrq) throw new FcViolation('nr-accuracy', `${where}: cpu${cpu} nr_irq = ${c.nrIrq}, the model has ${want.nrIrq}`);
  const total = want.nr + want.nrIrq;
  if (total > m.stats.maxTotal) m.stats.maxTotal = total;
}

function sameList(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function outcomeMismatch(where: string, got: OpOutcome['kind'], want: Outcome | null): FcViolation {
  return new FcViolation('refinement', `${where}: the implementation's outcome is ${got}, the model's is ${want ?? 'none'}`);
}

/** Records what the model said an operation did; keeps the id maps in step with the implementation. */
function noteModelPut(real: FcReal, m: FcModel, cpu: number, ctx: PutCtx, obj: number, got: OpOutcome, want: CacheContext): void {
  const where = `${ctx} put of m${obj} on cpu${cpu}`;
  if (got.kind !== want.lastOutcome) throw outcomeMismatch(where, got.kind, want.lastOutcome);
  const from = m.allocCpu.get(obj);
  if (from !== undefined && from >= 0 && from !== cpu) m.stats.crossCpuPuts++;
  if (want.lastOutcome === 'free') {
    real.unlink(obj);
    m.allocCpu.delete(obj);
    if (ctx !== 'softirq' && m.profile.cached) m.stats.capRefused = true;
  }
}

function noteModelAlloc(real: FcReal, m: FcModel, cpu: number, task: number, fresh: number, got: OpOutcome, want: CacheContext, nrIrqBefore: number): number {
  const where = `alloc on cpu${cpu}`;
  const implId = got.result ?? 0;
  if (got.kind !== want.lastOutcome) throw outcomeMismatch(where, got.kind, want.lastOutcome);
  if (implId === 0) throw new FcViolation('refinement', `${where} returned NULL (-ENOMEM); the model's slab never fails`);
  let modelId: number;
  if (want.lastOutcome === 'miss') {
    modelId = fresh;
    m.nextId++;
    if (real.i2m.has(implId)) throw new FcViolation('object-safety', `${where} missed but returned #${implId}, which the run already knows as m${real.i2m.get(implId)}`);
    if (nrIrqBefore > 0 && nrIrqBefore < m.profile.threshold) m.stats.belowThresholdMiss = true;
  } else {
    modelId = want.lastAlloc ?? -1;
    if (real.i2m.get(implId) !== modelId)
      throw new FcViolation('refinement', `${where} returned #${implId} (m${real.i2m.get(implId) ?? '?'}); the model pops the head m${modelId}`);
    if (want.lastOutcome === 'splice-hit') m.stats.spliced = true;
  }
  // The world now lists the object as held by the task; re-link so the pointer is the held one.
  m.tasks[task]!.held.push(modelId);
  real.link(implId, modelId);
  m.allocCpu.set(modelId, cpu);
  return modelId;
}

// ---- commands -------------------------------------------------------------------------------

type Cmd = fc.Command<FcModel, FcReal>;

/** The running task of `cpu` allocates `n` times. */
class AllocBurst implements Cmd {
  constructor(
    readonly cpu: number,
    readonly n: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length;
  }
  run(m: FcModel, real: FcReal): void {
    m.stats.commands++;
    const task = m.current[this.cpu]!;
    for (let i = 0; i < this.n; i++) {
      const fresh = m.nextId;
      const nrIrqBefore = m.cpus[this.cpu]!.ctx.nrIrq;
      const r = real.step({ kind: 'start', task, op: 'alloc', obj: NULL });
      const got = finishOp(real, r, this.cpu);
      const want = m.cpus[this.cpu]!.alloc(fresh);
      noteModelAlloc(real, m, this.cpu, task, fresh, got, want, nrIrqBefore);
      compareCache(real, m, this.cpu, `alloc ${i + 1}/${this.n} on cpu${this.cpu}`);
    }
  }
  toString(): string {
    return `alloc(cpu${this.cpu}, x${this.n})`;
  }
}

/** The running task of `cpu` frees (error path) or submits `n` of the objects it holds. */
class TaskRelease implements Cmd {
  constructor(
    readonly cpu: number,
    readonly op: 'free' | 'submit',
    readonly n: number,
    readonly at: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length && m.tasks[m.current[this.cpu]!]!.held.length > 0;
  }
  run(m: FcModel, real: FcReal): void {
    m.stats.commands++;
    const task = m.current[this.cpu]!;
    const held = m.tasks[task]!.held;
    for (let i = 0; i < this.n && held.length; i++) {
      const k = this.at % held.length;
      const obj = held[k]!;
      held.splice(k, 1);
      const r = real.step({ kind: 'start', task, op: this.op, obj: real.ptr(obj) });
      if (this.op === 'submit') {
        m.inflight.push(obj);
        continue;
      }
      const got = finishOp(real, r, this.cpu);
      const want = m.cpus[this.cpu]!.put('task', obj);
      noteModelPut(real, m, this.cpu, 'task', obj, got, want);
      compareCache(real, m, this.cpu, `task put ${i + 1}/${this.n} on cpu${this.cpu}`);
    }
  }
  toString(): string {
    return `${this.op}(cpu${this.cpu}, x${this.n}, @${this.at})`;
  }
}

/**
 * `n` objects in flight complete on `cpu` in `ctx`: a hardirq or softirq end_io (one atomic step
 * each), or the CPU's running task (polled I/O, a kworker). Objects are taken oldest first, so
 * they were mostly allocated elsewhere.
 */
class CompleteBurst implements Cmd {
  constructor(
    readonly cpu: number,
    readonly ctx: PutCtx,
    readonly n: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length && m.inflight.length > 0;
  }
  run(m: FcModel, real: FcReal): void {
    m.stats.commands++;
    const task = m.current[this.cpu]!;
    for (let i = 0; i < this.n && m.inflight.length; i++) {
      const obj = m.inflight.shift()!;
      const p = real.ptr(obj);
      let got: OpOutcome;
      if (this.ctx === 'task') got = finishOp(real, real.step({ kind: 'start', task, op: 'complete', obj: p }), this.cpu);
      else got = finishOp(real, real.step({ kind: this.ctx, cpu: this.cpu, obj: p }, real.atomic), this.cpu, real.atomic);
      const want = m.cpus[this.cpu]!.put(this.ctx, obj);
      noteModelPut(real, m, this.cpu, this.ctx, obj, got, want);
      compareCache(real, m, this.cpu, `${this.ctx} completion ${i + 1}/${this.n} on cpu${this.cpu}`);
    }
  }
  toString(): string {
    return `complete(cpu${this.cpu}, ${this.ctx}, x${this.n})`;
  }
}

/**
 * Hardirq completions on `cpu` until its cache holds MAX + `offset` objects: puts the boundary of
 * the cap test within reach of the next few operations (and of an interrupted task put).
 */
class FillTo implements Cmd {
  constructor(
    readonly cpu: number,
    readonly offset: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length && m.inflight.length > 0;
  }
  run(m: FcModel, real: FcReal): void {
    const target = m.profile.max + this.offset;
    const total = () => m.cpus[this.cpu]!.ctx.nr + m.cpus[this.cpu]!.ctx.nrIrq;
    const n = Math.max(0, target - total());
    // A put at a full cache frees; stop at the target or when in-flight objects run out.
    new CompleteBurst(this.cpu, 'hardirq', n).run(m, real);
  }
  toString(): string {
    return `fillTo(cpu${this.cpu}, MAX${this.offset >= 0 ? '+' : ''}${this.offset})`;
  }
}

/**
 * The soft-cap race of docs/kernel-rules.md §5, aimed at: fill `cpu` to the largest total the cap
 * test lets through, then a task put there is interrupted after `k` statements by a hardirq put.
 * With k inside the window between the task's cap test and its push, both cache: MAX+2 with `>`,
 * MAX+1 with `>=`.
 */
class RaceAtCap implements Cmd {
  constructor(
    readonly cpu: number,
    readonly k: number,
    readonly at: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length && m.inflight.length > 1 && m.tasks[m.current[this.cpu]!]!.held.length > 0;
  }
  run(m: FcModel, real: FcReal): void {
    // The largest total the cap test lets through: MAX with `>`, MAX-1 with `>=`.
    new FillTo(this.cpu, m.profile.capCompare === '>' ? 0 : -1).run(m, real);
    const inter = new Interrupted(this.cpu, 'free', this.k, 'hardirq', this.at);
    if (inter.check(m)) inter.run(m, real);
  }
  toString(): string {
    return `raceAtCap(cpu${this.cpu}, task put interrupted after ${this.k} stmt by hardirq, @${this.at})`;
  }
}

/** A task that is not running is scheduled on `cpu` (a migration when it last ran elsewhere). */
class Schedule implements Cmd {
  constructor(
    readonly cpu: number,
    readonly task: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    return this.cpu < m.cpus.length && this.task < m.tasks.length && !m.current.includes(this.task);
  }
  run(m: FcModel, real: FcReal): void {
    m.stats.commands++;
    real.step({ kind: 'switch', cpu: this.cpu, task: this.task });
    m.current[this.cpu] = this.task;
    m.tasks[this.task]!.cpu = this.cpu;
  }
  toString(): string {
    return `schedule(task${this.task} on cpu${this.cpu})`;
  }
}

/**
 * A task operation on `cpu` is interrupted after `k` of its statements by an in-flight object's
 * completion in `irq` context on the same CPU, then finishes.
 *
 * The outcome is judged against the machine's own phases (model/machine.ts: TASK_ALLOC_BEGIN /
 * TASK_PUT_BEGIN, then TASK_STEP to each point where an interrupt may enter): the interrupt's PUT
 * is placed before the operation, at each of those points, or after it, each on a copy of the
 * CPU's machine, and the implementation must match one of them in both outcomes and in the lists
 * and counters left behind. Which statement `k` lands on is the implementation's business (ports
 * differ), so every point is admitted while the task operation is still running; once it has
 * returned, only "after" is. A point inside the operation is what explains the soft cap of
 * docs/kernel-rules.md §5: a task put that read total = MAX and a hardirq put that read the same
 * total both cache, MAX+2 — no sequential order of the two gives that (`concurrentOnly` counts it).
 */
class Interrupted implements Cmd {
  constructor(
    readonly cpu: number,
    readonly op: 'alloc' | 'free',
    readonly k: number,
    readonly irq: 'hardirq' | 'softirq',
    readonly at: number,
  ) {}
  check(m: Readonly<FcModel>): boolean {
    if (this.cpu >= m.cpus.length || m.inflight.length === 0) return false;
    return this.op === 'alloc' || m.tasks[m.current[this.cpu]!]!.held.length > 0;
  }
  run(m: FcModel, real: FcReal): void {
    m.stats.commands++;
    m.stats.interrupted++;
    const cpu = this.cpu;
    const task = m.current[cpu]!;
    const held = m.tasks[task]!.held;
    const taskObj = this.op === 'free' ? held.splice(this.at % held.length, 1)[0]! : -1;
    const irqObj = m.inflight.shift()!;
    const fresh = m.nextId;
    const before = m.cpus[cpu]!;
    const nrIrqBefore = before.ctx.nrIrq;

    // The implementation: k statements of the task op, the whole handler, the rest of the task op.
    let r = real.step({ kind: 'start', task, op: this.op, obj: this.op === 'free' ? real.ptr(taskObj) : NULL });
    let taskDone = r.abs.step?.done;
    for (let i = 1; i < this.k && !taskDone; i++) {
      r = real.step({ kind: 'step', cpu });
      taskDone = r.abs.step?.done;
    }
    // No interrupt enters while the task has irqs off: it is delivered at local_irq_restore().
    while (!taskDone && real.world.cpus[cpu]!.irqsOff) {
      r = real.step({ kind: 'step', cpu });
      taskDone = r.abs.step?.done;
    }
    const returnedFirst = taskDone !== undefined;
    const irqDone = finishOp(real, real.step({ kind: this.irq, cpu, obj: real.ptr(irqObj) }), cpu);
    if (!taskDone) taskDone = finishOp(real, real.step({ kind: 'step', cpu }), cpu);

    // The model: the interrupt at each point of the task operation where the statechart lets one
    // enter (before it, between its phases, after it), each on a copy of the CPU's machine.
    const begin: CacheEvent = this.op === 'alloc' ? { type: 'TASK_ALLOC_BEGIN', fresh } : { type: 'TASK_PUT_BEGIN', obj: taskObj };
    const irqPut: CacheEvent = { type: 'PUT', ctx: this.irq, obj: irqObj };
    type Cand = { order: string; cm: CpuModel; t: CacheContext; i: CacheContext };
    const cands: Cand[] = [];
    const base = before.clone();
    base.adopt(irqObj, ...(this.op === 'free' ? [taskObj] : []));
    for (let point = 0; ; point++) {
      const cm = base.clone();
      let i = null as CacheContext | null;
      let phases = 0;
      let refused = false;
      const interrupt = () => {
        if (phases !== point) return;
        if (cm.send(irqPut)) i = { ...cm.ctx };
        else refused = true;
      };
      interrupt();
      if (!cm.send(begin)) {
        // A machine without phases (the slab profile has no per-CPU lists): whole operations only.
        if (this.op === 'alloc') cm.alloc(fresh);
        else cm.put('task', taskObj);
      }
      phases++;
      while (!cm.taskIdle) {
        interrupt();
        if (!cm.send({ type: 'TASK_STEP' })) throw new Error('harness: the model refused TASK_STEP');
        phases++;
      }
      // The task's outcome and result are the context's when its last phase ran.
      const t = { ...cm.ctx };
      const last = point >= phases;
      if (last && cm.send(irqPut)) i = { ...cm.ctx };
      if (i !== null && !refused && (!returnedFirst || last))
        cands.push({ order: point === 0 ? 'interrupt first' : last ? 'task first' : `interrupt after task phase ${point}`, cm, t, i });
      if (last) break;
    }
    const c = real.abs.caches[cpu]!;
    const ids = (xs: number[]) => xs.map((id) => real.i2m.get(id) ?? -id);
    const gotAlloc = this.op === 'alloc' ? real.i2m.get(taskDone.result ?? 0) : undefined;
    const explains = (x: Cand) => {
      if (x.t.lastOutcome !== taskDone!.kind || x.i.lastOutcome !== irqDone.kind) return false;
      if (this.op === 'alloc' && x.t.lastOutcome !== 'miss' && gotAlloc !== x.t.lastAlloc) return false;
      const mc = x.cm.ctx;
      return sameList(ids(c.freeList), mc.freeList) && sameList(ids(c.freeListIrq), mc.freeListIrq) && c.nr === mc.nr && c.nrIrq === mc.nrIrq;
    };
    const match = cands.find(explains);
    const where = `${this.op} on cpu${cpu} interrupted after ${this.k} statement(s) by a ${this.irq} completion of m${irqObj}`;
    if (!match) {
      const admitted = cands.map((x) => `${x.order}: task ${x.t.lastOutcome} + ${this.irq} ${x.i.lastOutcome}, nr ${x.cm.ctx.nr} nr_irq ${x.cm.ctx.nrIrq}`).join('; ');
      throw new FcViolation(
        'refinement',
        `${where}: the implementation did task ${taskDone.kind} + ${this.irq} ${irqDone.kind}, leaving nr ${c.nr} nr_irq ${c.nrIrq}; no linearisation of the model explains it (${admitted})`,
      );
    }
    const sequential = cands.filter((x) => x.order === 'interrupt first' || x.order === 'task first');
    if (!sequential.some(explains)) m.stats.concurrentOnly++;
    m.cpus[cpu] = match.cm;
    // The interrupt's bookkeeping first: an object it freed may already be the alloc's kmalloc.
    noteModelPut(real, m, cpu, this.irq, irqObj, irqDone, match.i);
    if (this.op === 'alloc') noteModelAlloc(real, m, cpu, task, fresh, taskDone, match.t, nrIrqBefore);
    else noteModelPut(real, m, cpu, 'task', taskObj, taskDone, match.t);
    compareCache(real, m, cpu, where);
  }
  toString(): string {
    return `interrupt(cpu${this.cpu} ${this.op}${this.op === 'free' ? ` @${this.at}` : ''} after ${this.k} stmt by ${this.irq})`;
  }
}

// ---- the property ---------------------------------------------------------------------------

export interface FastCheckOptions {
  /** Profile name (model/profiles.ts); default: the implementation's own. MAX/THRESHOLD stay the kernel's. */
  profile?: string;
  numRuns?: number;
  seed?: number;
  cpus?: number;
  /** Replay one counterexample: the `path` and `replayPath` a failure printed (with its seed). */
  path?: string;
  replayPath?: string;
  /** Shrink a failure to a short counterexample (default true). */
  shrink?: boolean;
  /** Stop generating (and shrinking) after this long; the runs done so far are reported. */
  timeLimitMs?: number;
  /** Where to print the seed and failures; default: nothing. */
  log?: (line: string) => void;
}

export interface FastCheckFailure {
  invariant: InvariantId;
  message: string;
  /** The command sequence, as fast-check prints it (with its replayPath comment). */
  counterexample: string;
  seed: number;
  /** fast-check's run path: `fc.assert(..., { seed, path })`. */
  path: string;
  /** The commands' replay path: `fc.commands(..., { replayPath })`. */
  replayPath: string;
}

export interface FastCheckResult {
  /** Runs asked for, and runs done (fewer when a run failed or a time limit stopped it). */
  requested: number;
  runs: number;
  seed: number;
  failures: FastCheckFailure[];
  /** Runs in which a task or hardirq put found the cap test failing (total past MAX). */
  reachedCap: number;
  /** Runs in which an alloc spliced free_list_irq (nr_irq reached THRESHOLD). */
  reachedThreshold: number;
  /** Runs in which an alloc missed although 0 < nr_irq < THRESHOLD. */
  heldBelowThreshold: number;
  /** Largest nr + nr_irq seen on a CPU, over all runs. */
  maxTotal: number;
  /** Interrupted task operations; of those, how many only the concurrent linearisation explains. */
  interrupted: number;
  concurrentOnly: number;
  crossCpuPuts: number;
  commands: number;
  statements: number;
  seconds: number;
  profile: string;
  max: number;
  threshold: number;
  cpus: number;
}

/** Boot-time objects in flight (allocated without interleaving, as System.initial does). */
const SMALL_BOOT = { min: 8, max: 48 };
/** Enough in flight to fill one CPU past MAX from completions alone. */
const capBoot = (max: number) => ({ min: max + 12, max: max + 48 });

function commandArbs(cpus: number, tasks: number, cap: boolean): fc.Arbitrary<Cmd>[] {
  const cpu = fc.nat({ max: cpus - 1 });
  const burst = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 2, arbitrary: fc.integer({ min: 5, max: 24 }) });
  const ctx = fc.constantFrom<PutCtx>('hardirq', 'softirq', 'task');
  const arbs: fc.Arbitrary<Cmd>[] = [
    fc.tuple(cpu, burst).map(([c, n]) => new AllocBurst(c, n)),
    fc.tuple(cpu, fc.constantFrom<'free' | 'submit'>('free', 'submit', 'submit'), burst, fc.nat()).map(([c, op, n, at]) => new TaskRelease(c, op, n, at)),
    fc.tuple(cpu, ctx, burst).map(([c, x, n]) => new CompleteBurst(c, x, n)),
    fc.tuple(cpu, fc.constantFrom<PutCtx>('hardirq'), fc.integer({ min: 10, max: 40 })).map(([c, x, n]) => new CompleteBurst(c, x, n)),
    fc.tuple(cpu, fc.nat({ max: tasks - 1 })).map(([c, t]) => new Schedule(c, t)),
    fc
      .tuple(cpu, fc.constantFrom<'alloc' | 'free'>('alloc', 'free'), fc.integer({ min: 1, max: 16 }), fc.constantFrom<'hardirq' | 'softirq'>('hardirq', 'hardirq', 'softirq'), fc.nat())
      .map(([c, op, k, irq, at]) => new Interrupted(c, op, k, irq, at)),
  ];
  // Cap runs: one hardirq burst brings a CPU within a few objects of MAX; the other commands then
  // cross it one operation at a time, interrupted or not.
  if (cap) {
    const fill = fc.tuple(cpu, fc.integer({ min: -2, max: 3 })).map(([c, off]) => new FillTo(c, off));
    // A task put interrupted by a hardirq put near its cap check: at total = MAX both cache (MAX+2).
    const race = fc.tuple(cpu, fc.integer({ min: 1, max: 8 }), fc.nat()).map(([c, k, at]) => new RaceAtCap(c, k, at));
    arbs.push(fill, fill, race);
  }
  return arbs;
}

interface RunInput {
  boot: number;
  cmds: Iterable<Cmd>;
}

/**
 * Runs the layer: `numRuns` command sequences (default 1000), one in six sized to cross the cap.
 */
export function runFastCheck(impl: Implementation, o: FastCheckOptions = {}): FastCheckResult {
  const profile = getProfile(o.profile ?? impl.profile);
  const cpus = o.cpus ?? 2;
  const tasks = cpus + 1;
  const machine = cacheMachine(profile);
  const seed = o.seed ?? fc.readConfigureGlobal().seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const numRuns = o.numRuns ?? 1000;
  const log = o.log ?? (() => {});
  const scope = (boot: number): Scope => ({
    name: 'fast-check',
    description: `fast-check: ${cpus} CPUs, ${tasks} tasks, ${boot} objects in flight at boot, MAX ${profile.max}, THRESHOLD ${profile.threshold}`,
    cpus,
    taskCpus: Array.from({ length: tasks }, (_, i) => i % cpus),
    ops: Number.MAX_SAFE_INTEGER,
    taskOps: ['alloc', 'free', 'submit', 'complete'],
    prefill: 0,
    inflight: boot,
    completers: ['hardirq', 'softirq', 'task'],
    atomicIrq: false,
    preemptions: Number.MAX_SAFE_INTEGER,
    migration: true,
    hotplug: false,
    profile: profile.name,
    max: profile.max,
    threshold: profile.threshold,
  });
  const cmdOpts = { maxCommands: 40, size: 'medium' as const, ...(o.replayPath ? { replayPath: o.replayPath } : {}) };
  const arb: fc.Arbitrary<RunInput> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ boot: fc.integer(SMALL_BOOT), cmds: fc.commands(commandArbs(cpus, tasks, false), cmdOpts) }) },
    { weight: 1, arbitrary: fc.record({ boot: fc.integer(capBoot(profile.max)), cmds: fc.commands(commandArbs(cpus, tasks, true), cmdOpts) }) },
  );

  const totals = { runs: 0, cap: 0, threshold: 0, below: 0, maxTotal: 0, interrupted: 0, concurrentOnly: 0, crossCpuPuts: 0, commands: 0, statements: 0 };
  const t0 = performance.now();
  const prop = fc.property(arb, ({ boot, cmds }) => {
    const stats: RunStats = { capRefused: false, spliced: false, belowThresholdMiss: false, maxTotal: 0, crossCpuPuts: 0, interrupted: 0, concurrentOnly: 0, commands: 0 };
    let real: FcReal | undefined;
    try {
      fc.modelRun(() => {
        real = new FcReal(impl, scope(boot));
        const model: FcModel = {
          profile,
          cpus: Array.from({ length: cpus }, () => new CpuModel(machine)),
          current: real.world.cpus.map((c) => c.current),
          tasks: real.world.tasks.map((t) => ({ cpu: t.cpu, held: [] })),
          inflight: [],
          allocCpu: new Map(),
          nextId: 1,
          stats,
        };
        for (const p of real.world.inflight) {
          const id = model.nextId++;
          model.inflight.push(id);
          model.allocCpu.set(id, -1);
          real.link(ptrId(p), id);
        }
        // Booted in flight: any CPU may complete them.
        for (const cm of model.cpus) cm.adopt(...model.inflight);
        return { model, real };
      }, cmds);
    } finally {
      totals.runs++;
      if (stats.capRefused) totals.cap++;
      if (stats.spliced) totals.threshold++;
      if (stats.belowThresholdMiss) totals.below++;
      totals.maxTotal = Math.max(totals.maxTotal, stats.maxTotal);
      totals.interrupted += stats.interrupted;
      totals.concurrentOnly += stats.concurrentOnly;
      totals.crossCpuPuts += stats.crossCpuPuts;
      totals.commands += stats.commands;
      totals.statements += (real as FcReal | undefined)?.steps ?? 0;
    }
  });
  const params = {
    numRuns,
    seed,
    ...(o.path ? { path: o.path } : {}),
    ...(o.shrink === false ? { endOnFailure: true } : {}),
    ...(o.timeLimitMs ? { plugins: [fc.interruptAfterTimeLimit(o.timeLimitMs)] } : {}),
  };
  log(`fast-check: seed ${seed}, ${numRuns} runs (${profile.name}, MAX ${profile.max}, THRESHOLD ${profile.threshold}, ${cpus} CPUs)`);
  const out = fc.check(prop, params as fc.Parameters<[RunInput]>);
  const seconds = (performance.now() - t0) / 1000;

  const failures: FastCheckFailure[] = [];
  if (out.failed) {
    const err = out.errorInstance;
    const ce = out.counterexample ? fc.stringify(out.counterexample[0]) : '';
    const replayPath = /replayPath="([^"]*)"/.exec(ce)?.[1] ?? '';
    // Anything but an FcViolation is a fault of this harness, not a finding about the implementation.
    if (!(err instanceof FcViolation))
      throw new Error(`fast-check harness error (seed ${out.seed}, path "${out.counterexamplePath}"): ${err instanceof Error ? err.message : String(err)}\n  ${ce}`);
    const invariant = err.invariant;
    const message = err.message.slice(invariant.length + 2);
    failures.push({ invariant, message, counterexample: ce, seed: out.seed, path: out.counterexamplePath ?? '', replayPath });
    log(`fast-check FAILED [${invariant}] ${message}`);
    log(`  counterexample: ${ce}`);
    log(`  replay: seed ${out.seed}, path "${out.counterexamplePath}", replayPath "${replayPath}"`);
  }
  return {
    requested: numRuns,
    runs: out.numRuns,
    seed,
    failures,
    reachedCap: totals.cap,
    reachedThreshold: totals.threshold,
    heldBelowThreshold: totals.below,
    maxTotal: totals.maxTotal,
    interrupted: totals.interrupted,
    concurrentOnly: totals.concurrentOnly,
    crossCpuPuts: totals.crossCpuPuts,
    commands: totals.commands,
    statements: totals.statements,
    seconds,
    profile: profile.name,
    max: profile.max,
    threshold: profile.threshold,
    cpus,
  };
}
