/**
 * The real system of the fast-check layer: the implementation under test, booted and stepped
 * through System (conformance/system.ts), whose invariant checks after every statement end the run
 * with their id; and the impl-id <-> model-id map that lets the commands compare it with the model.
 */
import type { AbstractState } from '../../model/abstract.js';
import type { InvariantId } from '../../model/invariants.js';
import type { Implementation } from '../../impl/interface.js';
import { ptrId, type Value } from '../../impl/kernel/values.js';
import type { World } from '../../impl/kernel/world.js';
import { BootError, System, type Choice, type Scope, type StepReport } from '../system.js';
import { FcViolation } from './violation.js';

/** The implementation under test: the simulated world, stepped through System. */
export class FcReal {
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
    // The statechart judges a run here as fast-check's model (model.ts, its actors, check.ts), at
    // the level of whole operations and their linearisation (interrupted.ts). The explorer's
    // statement-level oracle (System's Spec) is not run as well: at the kernel's constants, where
    // the lists hold hundreds of objects, its memo never hits and every step would be macrosteps
    // of the same machine again.
    this.sys = new System(impl, scope, { oracle: false });
    this.atomic = new System(impl, { ...scope, atomicIrq: true }, { oracle: false });
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

  /** One System step; any invariant violation ends the run with its id (the step described only then). */
  step(c: Choice, sys: System = this.sys): StepReport {
    const r = sys.step(this.world, this.abs, c);
    this.steps++;
    this.world = r.world;
    this.abs = r.abs;
    if (r.violations.length) failOn(r.violations, `${r.who}: ${r.event} [${r.labels.length > 3 ? '... | ' : ''}${r.labels.slice(-3).join(' | ')}]`);
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

function failOn(vs: { id: InvariantId; message: string }[], where: string): void {
  const v = vs[0];
  if (v) throw new FcViolation(v.id, `${v.message} (at ${where})`);
}
