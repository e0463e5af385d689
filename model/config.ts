/**
 * Kernel configurations as data: what each execution context is, when it may start, what
 * `in_task()`, `in_hardirq()` and `in_serving_softirq()` return inside it, and which calls are
 * invalid in which state. The simulated kernel (impl/kernel/primitives.ts), the explorer's
 * scheduling rules (conformance/system.ts: enabled()) and the invariants read these tables; no
 * layer forks on the configuration's name.
 *
 * The three contexts are the ones a completion can run in (docs/kernel-rules.md §4.9): the task,
 * the completion of a device interrupt ("hardirq": its handler), and a softirq. On PREEMPT_RT the
 * device interrupt's handler runs in its irq thread and softirqs run in task context, so the same
 * three slots stand for different things (docs/kernel-rules.md §4.10).
 */
/** The three contexts that touch a per-CPU cache (model/abstract.ts re-exports it). */
export type CtxKind = 'task' | 'softirq' | 'hardirq';

export type KernelConfigName = 'default' | 'rt';

export interface ContextModel {
  /** What the context is on this configuration, for reports. */
  what: string;
  /** `in_task()` inside it (include/linux/preempt.h: !(in_nmi() | in_hardirq() | in_serving_softirq())). */
  inTask: boolean;
  /** `in_hardirq()` inside it (hardirq_count() != 0). */
  inHardirq: boolean;
  /** `in_serving_softirq()` inside it, before anything it sits on is counted. */
  inServingSoftirq: boolean;
  /**
   * `in_serving_softirq()` is also true when it runs on top of a softirq: the hardirq sees the
   * SOFTIRQ_OFFSET of the preempt count it interrupted (default). An irq thread is another task
   * with a preempt count of its own (RT).
   */
  seesSoftirqBelow: boolean;
  /** It runs with hardirqs masked on its CPU (the CPU's irq flag is set on entry). */
  irqsOff: boolean;
  /** It may be preempted wherever its own preempt depth is 0 and irqs are on. */
  preemptible: boolean;
  /**
   * It may start on a CPU whose running context has preemption disabled (between get_cpu() and
   * put_cpu()): an interrupt does; a thread is scheduled, and waits for preempt_enable().
   */
  entersPreemptOff: boolean;
  /** It may start on top of a softirq in progress on the CPU. */
  entersOverSoftirq: boolean;
  /** An allocation that may sleep (GFP_KERNEL) is valid in it, outside preempt- and irq-off sections. */
  maySleep: boolean;
}

export interface KernelConfig {
  name: KernelConfigName;
  /** One line for reports: `!PREEMPT_RT`, `PREEMPT_RT`. */
  title: string;
  description: string;
  contexts: Readonly<Record<CtxKind, ContextModel>>;
  /**
   * Where the slab allocator itself takes sleeping locks: then every kmalloc()/kfree() family call
   * (whatever its gfp) is invalid with preemption or irqs disabled. Null where spinlock_t spins.
   */
  slabSleeps: { rule: string; source: string } | null;
  /** What the checker does not judge on this configuration, printed with every verdict on it. */
  notJudged: string[];
}

const TASK: ContextModel = {
  what: 'task',
  inTask: true,
  inHardirq: false,
  inServingSoftirq: false,
  seesSoftirqBelow: false,
  irqsOff: false,
  preemptible: true,
  entersPreemptOff: false,
  entersOverSoftirq: false,
  maySleep: true,
};

/** The rule the rt config's might-sleep facts quote (checked 2026-12 against mainline). */
export const RT_SLAB_RULE =
  'On PREEMPT_RT: "The memory allocator in PREEMPT_RT uses sleeping locks internally, which cannot be acquired when preemption is disabled. ... What remains problematic is code that explicitly disables preemption or interrupts. In such cases, memory allocation must be performed outside the critical section. This restriction also applies to memory deallocation routines such as kfree() and free_pages(), which may also involve internal locking and must not be called from non-preemptible contexts."';
export const RT_SLAB_SOURCE = 'Documentation/core-api/real-time/differences.rst, "Memory allocation"; Documentation/locking/locktypes.rst, "raw_spinlock_t" (kmalloc(GFP_ATOMIC) under raw_spin_lock() "fails on PREEMPT_RT kernels")';

export const KERNEL_CONFIGS: Readonly<Record<KernelConfigName, KernelConfig>> = {
  default: {
    name: 'default',
    title: '!PREEMPT_RT',
    description: 'a kernel without PREEMPT_RT: device interrupts complete I/O in hardirq context (irqs off, not preemptible, entering anywhere irqs are on, get_cpu() sections included); softirqs run at hardirq exit on top of whatever was interrupted',
    contexts: {
      task: TASK,
      hardirq: {
        what: 'hardirq',
        inTask: false,
        inHardirq: true,
        inServingSoftirq: false,
        seesSoftirqBelow: true,
        irqsOff: true,
        preemptible: false,
        entersPreemptOff: true,
        entersOverSoftirq: true,
        maySleep: false,
      },
      softirq: {
        what: 'softirq',
        inTask: false,
        inHardirq: false,
        inServingSoftirq: true,
        seesSoftirqBelow: false,
        irqsOff: false,
        preemptible: false,
        entersPreemptOff: true,
        entersOverSoftirq: false,
        maySleep: false,
      },
    },
    slabSleeps: null,
    notJudged: [],
  },
  rt: {
    name: 'rt',
    title: 'PREEMPT_RT',
    description:
      'PREEMPT_RT: a device interrupt completes I/O in its irq thread (a task: in_task() true, irqs on, preemptible outside get_cpu(), scheduled only where the CPU\'s running context may be preempted); softirqs run in task context (ksoftirqd or local_bh_enable(), in_serving_softirq() true, preemptible), never inside a get_cpu() section; the slab allocator takes sleeping locks, so kmalloc()/kfree() with preemption or irqs disabled is invalid whatever the gfp',
    contexts: {
      task: TASK,
      hardirq: {
        what: 'irq thread',
        inTask: true,
        inHardirq: false,
        inServingSoftirq: false,
        seesSoftirqBelow: false,
        irqsOff: false,
        preemptible: true,
        entersPreemptOff: false,
        // A handler registered with a thread_fn runs without local_bh_disable() and so may preempt
        // ksoftirqd at a preemptible point; a forced-threaded one would wait for the softirq's BH
        // lock instead, a subset of these interleavings.
        entersOverSoftirq: true,
        maySleep: true,
      },
      softirq: {
        what: 'softirq (task context)',
        inTask: false,
        inHardirq: false,
        inServingSoftirq: true,
        seesSoftirqBelow: false,
        irqsOff: false,
        preemptible: true,
        entersPreemptOff: false,
        entersOverSoftirq: false,
        // __might_sleep() would not splat here on RT, but a softirq that blocks for memory stalls
        // every softirq and BH-disabled section of the CPU: kept invalid, as on !PREEMPT_RT.
        maySleep: false,
      },
    },
    slabSleeps: { rule: RT_SLAB_RULE, source: RT_SLAB_SOURCE },
    notJudged: [
      'local_lock*() and local_trylock() keep their !PREEMPT_RT meaning here (preemption or irqs off); on PREEMPT_RT they are per-CPU spinlock_t, which this model does not have',
    ],
  },
};

export const KERNEL_CONFIG_NAMES = Object.keys(KERNEL_CONFIGS) as KernelConfigName[];

export function kernelConfig(name: string | undefined): KernelConfig {
  const c = KERNEL_CONFIGS[(name ?? 'default') as KernelConfigName];
  if (!c) throw new Error(`unknown kernel config '${name}' (known: ${KERNEL_CONFIG_NAMES.join(', ')})`);
  return c;
}

/**
 * Whether a context may interrupt another's section with preemption disabled on this
 * configuration: where none may, a section under get_cpu() excludes every other writer on its CPU.
 */
export function interruptsPreemptOff(c: KernelConfig): boolean {
  return Object.values(c.contexts).some((x) => x.entersPreemptOff);
}
