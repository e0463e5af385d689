/**
 * The abstract state the invariants are claims about: what a kernel developer means by "the
 * cache" once pointers and locals are forgotten. conformance/abstraction.ts computes it from an
 * implementation's memory (the one place that reads implementation internals); the statechart's
 * context (machine.ts) is the same shape for one CPU.
 */
import type { Profile } from './profiles.js';

import type { CtxKind } from './config.js';
export type { CtxKind };

export interface AbsCache {
  cpu: number;
  online: boolean;
  /** Object ids on free_list, head first. */
  freeList: number[];
  /** Object ids on free_list_irq, head first. */
  freeListIrq: number[];
  nr: number;
  nrIrq: number;
  /** Set when a list cannot be walked: a cycle, a freed element, a wild pointer. */
  listFault?: string;
  /** No context on this CPU is inside a critical section or an interrupt handler. */
  quiescent: boolean;
}

export type Place =
  | { kind: 'task-list'; cpu: number }
  | { kind: 'irq-list'; cpu: number }
  | { kind: 'held'; task: number }
  | { kind: 'in-flight' }
  /** Referenced by an operation in progress (a local: popped, kmalloc'd, or being freed). */
  | { kind: 'in-op'; who: string };

export interface AbsObject {
  id: number;
  freed: boolean;
  places: Place[];
  /**
   * kmemleak's view of it where the implementation annotated it (kmemleak_alloc/kmemleak_free):
   * 'freed' is unregistered; absent is registered, as the slab allocator registers every object.
   */
  kmemleak?: 'allocated' | 'freed';
}

/** An operation that returned in this step, as the refinement check classifies it. */
export interface OpOutcome {
  op: 'alloc' | 'free' | 'cpu_dead' | string;
  ctx: CtxKind;
  cpu: number;
  /** alloc: object id returned, 0 for NULL. */
  result?: number;
  /** What the operation did to the cache (see refinement ghost bits in the checker). */
  kind: 'hit' | 'splice-hit' | 'miss' | 'push-task' | 'push-irq' | 'free' | 'other';
  /**
   * alloc: the caller branched on a value the model does not compute and returned no object (its
   * error path, __iomap_dio_rw's out_free_dio): how it gave back the object the alloc got, a task
   * put's outcome ('unknown' when the object is not known: after a miss).
   */
  errorPut?: 'push-task' | 'push-irq' | 'free' | 'unknown';
  /** What the operation's own statements did to the lists (what it could read is the statechart's). */
  saw: {
    spliced: boolean;
    popped: boolean;
    poppedObj: number;
  };
}

/** The step that led to this state. */
export interface AbsStep {
  /** `cpu0/task0`, `cpu1/hardirq`... */
  who: string;
  cpu: number;
  ctx: CtxKind;
  task: number;
  /** Before the step: preemption possible (task, preempt depth 0, irqs on). */
  preemptible: boolean;
  /** Before the step: irqs off on this CPU. */
  irqsOff: boolean;
  /** The CPU whose cache an in-progress operation of this context is using, if known. */
  label: string;
  facts: { kind: string; msg: string }[];
  fault?: { kind: string; msg: string };
  done?: OpOutcome;
  /** A CPU that went offline in this step, with the objects left on its lists. */
  /** `pruned`: the implementation's hotplug callback ran (and left `stranded` objects behind). */
  offlined?: { cpu: number; stranded: number; pruned?: boolean };
  /**
   * The statechart could not take the events this step maps to (conformance/abstraction.ts): the
   * state, the event and the guards that refused it. `refinement` reports it.
   */
  refused?: string;
}

export interface AbstractState {
  profile: Profile;
  caches: AbsCache[];
  objects: AbsObject[];
  step?: AbsStep;
  /** Set when the implementation has annotated some object for kmemleak: kmemleak-balance applies. */
  kmemleak?: true;
}
