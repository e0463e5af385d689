/**
 * What every command checks after an operation: the operation is run to its return, its outcome
 * must be the model's, the CPU's lists and counters (mapped to model ids) must equal the model's
 * context, and the id maps and run statistics follow what the model says the operation did.
 */
import type { CacheContext, Outcome } from '../../model/machine.js';
import type { OpOutcome } from '../../model/abstract.js';
import type { StepReport, System } from '../system.js';
import type { FcModel, PutCtx } from './model.js';
import type { FcReal } from './real.js';
import { FcViolation } from './violation.js';

/** Steps the context that `first` started on `cpu` until its operation returns. */
export function finishOp(real: FcReal, first: StepReport, cpu: number, sys: System = real.sys): OpOutcome {
  let r = first;
  for (let guard = 0; !r.abs.step?.done; guard++) {
    if (guard > 10_000) throw new FcViolation('crash', `operation on cpu${cpu} did not return within 10000 statements`);
    r = real.step({ kind: 'step', cpu }, sys);
  }
  return r.abs.step!.done!;
}

/** Compare one CPU's implementation cache with the model's context. */
export function compareCache(real: FcReal, m: FcModel, cpu: number, where: string): void {
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

export function sameList(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function outcomeMismatch(where: string, got: OpOutcome['kind'], want: Outcome | null): FcViolation {
  return new FcViolation('refinement', `${where}: the implementation's outcome is ${got}, the model's is ${want ?? 'none'}`);
}

/** Records what the model said an operation did; keeps the id maps in step with the implementation. */
export function noteModelPut(real: FcReal, m: FcModel, cpu: number, ctx: PutCtx, obj: number, got: OpOutcome, want: CacheContext): void {
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

export function noteModelAlloc(real: FcReal, m: FcModel, cpu: number, task: number, fresh: number, got: OpOutcome, want: CacheContext, nrIrqBefore: number): number {
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
