/**
 * Named workloads. `spin-ref` is exactly the semantics of the Promela model bench/spin/dio_cache.pml
 * (which SPIN explores to the published figures of the Promela reference it was written against):
 * one CPU, one task doing K operations (alloc / put / submit), 4 objects in flight and 2 prefilled,
 * MAX 4, THRESHOLD 2, hardirq and softirq completions as atomic handlers wherever irqs are on.
 *
 * The 2-CPU scopes add what one CPU cannot show: a task preempted between statements and resumed
 * on the other CPU (so a put may land on another CPU's cache), frees of objects allocated on the
 * other CPU, interrupt handlers that are themselves interleaved statement by statement (softirqs
 * interrupted by hardirqs), and completions run by tasks.
 */
import type { KernelConfigName } from '../model/config.js';
import type { Atomicity } from '../impl/kernel/runtime.js';
import type { Scope } from './system.js';

const SMP_SMALL: Scope = {
  name: 'smp-small',
  description:
    "2 CPUs, a task on each, 2 ops each, 1 preemption: once one CPU's task has finished, the other task may migrate there wherever it is preemptible, mid-operation too (cross-CPU puts); atomic hardirqs and softirqs, 1 in flight, MAX 2, THRESHOLD 1 (seconds; used by the tests)",
  cpus: 2,
  taskCpus: [0, 1],
  ops: 2,
  taskOps: ['alloc', 'free', 'submit'],
  prefill: 1,
  inflight: 1,
  completers: ['hardirq', 'softirq'],
  atomicIrq: true,
  preemptions: 1,
  migration: true,
  hotplug: false,
  profile: 'iomap-v1',
  max: 2,
  threshold: 1,
};

const SPIN_REF: Scope = {
  name: 'spin-ref',
  description: 'the Promela model (bench/spin/dio_cache.pml): 1 CPU, 1 task, K=5 ops (--ops), NINIT 4 in flight, PREFILL 2, MAX 4, THRESHOLD 2, atomic irq completions, no caller error path (as the Promela model)',
  cpus: 1,
  taskCpus: [0],
  ops: 5,
  taskOps: ['alloc', 'free', 'submit'],
  prefill: 2,
  inflight: 4,
  completers: ['hardirq', 'softirq'],
  atomicIrq: true,
  preemptions: 0,
  migration: false,
  hotplug: false,
  // The Promela model has no caller error path: __iomap_dio_rw()'s `goto out_free_dio` is not taken.
  callerErrors: false,
  profile: 'iomap-v1',
  max: 4,
  threshold: 2,
};

export const SCOPES: Readonly<Record<string, Scope>> = {
  'spin-ref': SPIN_REF,
  'smp-small': SMP_SMALL,
  preempt: {
    name: 'preempt',
    description:
      '1 CPU, 2 tasks that preempt each other (up to 3 preemptions; once one has finished the other runs without one), 2 ops each, 2 in flight, no prefill, MAX 1, THRESHOLD 1, atomic irqs: a put preempted inside its own window',
    cpus: 1,
    taskCpus: [0, 0],
    ops: 2,
    taskOps: ['alloc', 'free', 'submit'],
    prefill: 0,
    inflight: 2,
    completers: ['hardirq', 'softirq'],
    atomicIrq: true,
    preemptions: 3,
    migration: false,
    hotplug: false,
    profile: 'iomap-v1',
    max: 1,
    threshold: 1,
  },
  'smp-irq': {
    ...SMP_SMALL,
    name: 'smp-irq',
    description: 'as smp-small, but hardirq and softirq handlers are interleaved statement by statement (a hardirq can split a softirq put)',
    atomicIrq: false,
  },
  smp: {
    name: 'smp',
    description:
      "2 CPUs, a task on each plus one waiting on cpu0's runqueue, 1 preemption with migration (the waiting task may preempt either CPU's task; a task may move to a CPU whose task has finished), cross-CPU frees, interruptible softirqs, task completions (large: not exhausted by the tests; use --workers, --dfs or --max-states)",
    cpus: 2,
    taskCpus: [0, 1, 0],
    ops: 2,
    taskOps: ['alloc', 'free', 'submit', 'complete'],
    prefill: 1,
    inflight: 2,
    completers: ['hardirq', 'softirq', 'task'],
    atomicIrq: false,
    preemptions: 1,
    migration: true,
    hotplug: false,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
  },
  enomem: {
    // spin-ref with an empty cache, so that the first alloc misses into the slab fallback.
    ...SPIN_REF,
    name: 'enomem',
    description: '1 CPU, 1 task, 3 ops, 1 in flight, no prefill (the first alloc misses), MAX 2, THRESHOLD 1, atomic irqs, and one allocation that may fail (kmalloc() returning NULL)',
    ops: 3,
    prefill: 0,
    inflight: 1,
    max: 2,
    threshold: 1,
    allocFailures: 1,
  },
  'smp-hotplug': {
    name: 'smp-hotplug',
    description:
      "2 CPUs, a task on each, 2 ops each, no preemption: cpu1 may go offline between its task's operations (the task then waits on cpu0 and runs there once task0 has finished; hotplug-stranding warning for caches without a prune), atomic irqs",
    cpus: 2,
    taskCpus: [0, 1],
    ops: 2,
    taskOps: ['alloc', 'free', 'submit'],
    prefill: 1,
    inflight: 1,
    completers: ['hardirq', 'softirq'],
    atomicIrq: true,
    preemptions: 0,
    migration: false,
    hotplug: true,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
  },
};

export interface ScopeOverrides {
  cpus?: number;
  tasks?: number;
  ops?: number;
  profile?: string;
  max?: number;
  threshold?: number;
  preemptions?: number;
  allocFailures?: number;
  /** The kernel configuration (model/config.ts): `rt` for PREEMPT_RT, `default` for the scope's own. */
  config?: KernelConfigName;
  /** Where interleavings are taken (Scope.atomicity): `statement` (the default) or `access`. */
  atomicity?: Atomicity;
}

/**
 * A named scope with command-line overrides. `tasks` places tasks round-robin over the CPUs;
 * `cpus` alone keeps one task per CPU. The name records the overrides so reports say what ran.
 */
export function scopeWith(base: Scope, o: ScopeOverrides): Scope {
  const s: Scope = { ...base, taskCpus: [...base.taskCpus] };
  const tags: string[] = [];
  if (o.cpus !== undefined && o.cpus !== s.cpus) {
    s.cpus = o.cpus;
    if (o.tasks === undefined) s.taskCpus = Array.from({ length: o.cpus }, (_, i) => i);
    else s.taskCpus = s.taskCpus.map((c) => c % o.cpus!);
    tags.push(`cpus=${o.cpus}`);
  }
  if (o.tasks !== undefined && o.tasks !== s.taskCpus.length) {
    s.taskCpus = Array.from({ length: o.tasks }, (_, i) => i % s.cpus);
    tags.push(`tasks=${o.tasks}`);
  }
  for (const k of ['ops', 'max', 'threshold', 'preemptions', 'allocFailures'] as const) {
    if (o[k] !== undefined && o[k] !== (s[k] ?? 0)) {
      s[k] = o[k]!;
      tags.push(`${k}=${o[k]}`);
    }
  }
  if (o.profile !== undefined && o.profile !== s.profile) {
    s.profile = o.profile;
    tags.push(`profile=${o.profile}`);
  }
  if (tags.length) s.name = `${base.name}[${tags.join(',')}]`;
  // Not a tag of the name: reports say the configuration in the scope's description and verdict.
  if (o.config === 'default') delete s.config;
  else if (o.config !== undefined) s.config = o.config;
  // As the configuration: the description and the verdict say it (`interrupts between memory accesses`).
  if (o.atomicity === 'statement') delete s.atomicity;
  else if (o.atomicity !== undefined) s.atomicity = o.atomicity;
  return s;
}
