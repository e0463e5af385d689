/**
 * Named workloads. `spin-ref` is exactly the semantics of ../shared/reference/spin/pcpu_cache.pml:
 * one CPU, one task doing K operations (alloc / put / submit), 4 objects in flight and 2 prefilled,
 * MAX 4, THRESHOLD 2, hardirq and softirq completions as atomic handlers wherever irqs are on.
 */
import type { Scope } from './system.js';

export const SCOPES: Readonly<Record<string, Scope>> = {
  'spin-ref': {
    name: 'spin-ref',
    description: 'the Promela reference (spin/pcpu_cache.pml): 1 CPU, 1 task, K=5 ops, NINIT 4 in flight, PREFILL 2, MAX 4, THRESHOLD 2, atomic irq completions',
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
    profile: 'iomap-v1',
    max: 4,
    threshold: 2,
  },
  smp: {
    name: 'smp',
    description: '2 CPUs, a task on each plus one that migrates, 1 preemption, cross-CPU frees, interruptible softirqs, task completions',
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
};
