/**
 * The commands that judge a task operation against its linearisations: the one place where the
 * implementation's statement-level interleaving meets the statechart's phases. `RaceAtCap` aims
 * one at the soft cap.
 */
import type { CacheContext, CacheEvent } from '../../model/machine.js';
import { NULL } from '../../impl/kernel/values.js';
import { compareCache, finishOp, noteModelAlloc, noteModelPut, sameList } from './check.js';
import { FillTo, type Cmd } from './commands.js';
import type { CpuModel, FcModel } from './model.js';
import type { FcReal } from './real.js';
import { FcViolation } from './violation.js';

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
export class Interrupted implements Cmd {
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

/**
 * The soft-cap race of docs/kernel-rules.md §5, aimed at: fill `cpu` to the largest total the cap
 * test lets through, then a task put there is interrupted after `k` statements by a hardirq put.
 * With k inside the window between the task's cap test and its push, both cache: MAX+2 with `>`,
 * MAX+1 with `>=`.
 */
export class RaceAtCap implements Cmd {
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
