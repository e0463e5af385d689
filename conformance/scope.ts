/**
 * The vocabulary of an exploration: the workload that bounds it (Scope), the choices a step is
 * made of, and what a step reports. system.ts is what runs them.
 */
import type { AbstractState } from '../model/abstract.js';
import type { InvariantId } from '../model/invariants.js';
import type { KernelConfigName } from '../model/config.js';
import type { Atomicity } from '../impl/kernel/runtime.js';
import type { Value } from '../impl/kernel/values.js';
import type { World } from '../impl/kernel/world.js';

export type TaskOp = 'alloc' | 'free' | 'submit' | 'complete';
export type Completer = 'hardirq' | 'softirq' | 'task';

/** A workload: everything that bounds an exploration. */
export interface Scope {
  name: string;
  description: string;
  cpus: number;
  /** Initial CPU of each task. */
  taskCpus: number[];
  /** Operations each task performs. */
  ops: number;
  /** Operations a task may choose from. */
  taskOps: TaskOp[];
  /** Objects put on each CPU's free_list at boot (through the implementation's own put). */
  prefill: number;
  /** Objects in flight at boot, completed by `completers`. */
  inflight: number;
  /** Contexts that complete in-flight objects (a put in that context). */
  completers: Completer[];
  /** Interrupt handlers run as one step (sound on one CPU; the Promela reference does this). */
  atomicIrq: boolean;
  /**
   * Preemptions allowed in one run: each task taken off a CPU while it has work left counts one
   * (0: no task is ever preempted; a waiting task may still run on an idle CPU).
   */
  preemptions: number;
  /** A task may move to another CPU: a running one wherever it is preemptible, a waiting one to an idle CPU. */
  migration: boolean;
  /** CPUs other than 0 may go offline (runs the implementation's cpuDead, if any). */
  hotplug: boolean;
  /**
   * Allocations the explorer may make fail in one run (default 0: the slab never fails). Where a
   * statement calls kmalloc(), kzalloc(), kmem_cache_alloc() or alloc_percpu(), it is run both
   * ways: the allocation succeeds, or returns NULL, as under memory pressure.
   */
  allocFailures?: number;
  /**
   * Whether a statement that branches on a value of the caller the model does not compute
   * (NONDET_BRANCH: `if (ret) goto out_free_dio;` in __iomap_dio_rw()) is run both ways, so that
   * the caller's error path is explored (default true). Off, it takes the plain way only, as the
   * Promela model of `spin-ref`, which has no caller error path, does.
   */
  callerErrors?: boolean;
  profile: string;
  max: number;
  threshold: number;
  /**
   * The kernel configuration (model/config.ts): what the hardirq and softirq completers are, when
   * they may run and what in_task()/in_hardirq() return in them (default: !PREEMPT_RT; `rt`:
   * PREEMPT_RT, the completion of a device interrupt runs in its irq thread).
   */
  config?: KernelConfigName;
  /**
   * Where other contexts may come in (runtime.ts Env.atomicity): between C statements (default),
   * or `access`, between a statement's shared-memory loads and stores too.
   */
  atomicity?: Atomicity;
}

export type Choice =
  /**
   * `failAlloc`: the statement's allocations return NULL. `branch`: the statement branches on a
   * value the model does not compute (its label ends with NONDET_BRANCH) and takes the branch
   * (Kernel.nondet); the plain step takes the other way.
   */
  | { kind: 'step'; cpu: number; failAlloc?: boolean; branch?: boolean }
  /** `failAlloc`: the allocations of the operation's first statement return NULL. */
  | { kind: 'start'; task: number; op: TaskOp; obj: Value; failAlloc?: boolean }
  | { kind: 'hardirq'; cpu: number; obj: Value }
  | { kind: 'softirq'; cpu: number; obj: Value }
  | { kind: 'switch'; cpu: number; task: number }
  | { kind: 'offline'; cpu: number };

export interface Violation {
  id: InvariantId;
  severity: 'error' | 'warning';
  message: string;
}

export interface StepReport {
  world: World;
  /** `cpu0/task0`, `cpu0/hardirq` ... */
  who: string;
  /** The C statements executed, `function: statement` (several for an atomic handler). */
  labels: string[];
  /** A short description of the choice: `alloc`, `hardirq completes #3`, `preempt`. */
  event: string;
  abs: AbstractState;
  /** What the invariants say of the step (judged when first read). */
  readonly violations: Violation[];
  /**
   * The same, for a search that knows whether the step led to a state it judged already: then
   * only the claims about the step are checked (Invariant.revisit).
   */
  judge(revisited: boolean): Violation[];
}
