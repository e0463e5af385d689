/**
 * The fast-check commands, one class each: `check` is the precondition on the model, `run` drives
 * the implementation, steps the model and compares them (check.ts), `toString` is what a
 * counterexample prints. The interrupted task operation, and the cap race built on it, are in
 * interrupted.ts.
 */
import type fc from 'fast-check';
import type { OpOutcome } from '../../model/abstract.js';
import { NULL } from '../../impl/kernel/values.js';
import { compareCache, finishOp, noteModelAlloc, noteModelPut } from './check.js';
import type { FcModel, PutCtx } from './model.js';
import type { FcReal } from './real.js';

export type Cmd = fc.Command<FcModel, FcReal>;

/** The running task of `cpu` allocates `n` times. */
export class AllocBurst implements Cmd {
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
export class TaskRelease implements Cmd {
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
export class CompleteBurst implements Cmd {
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
export class FillTo implements Cmd {
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

/** A task that is not running is scheduled on `cpu` (a migration when it last ran elsewhere). */
export class Schedule implements Cmd {
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
