/**
 * Profiles: the variants of the cache protocol the model admits, as data. A profile fixes what the
 * kernel code decides (cap comparison, who allocates on a miss, hotplug prune); MAX and THRESHOLD
 * are the kernel's 256/16 or small values for exploration.
 */
import { interruptsPreemptOff, kernelConfig, type KernelConfigName } from './config.js';

export type CapCompare = '>' | '>=';

export interface Profile {
  name: string;
  description: string;
  /** Cap test in the put path: `nr_irq + nr > MAX` (bio, iomap v1) or `>= MAX` (iomap v2/v3). */
  capCompare: CapCompare;
  /** On a cache miss: the caller allocates after put_cpu() (v1), or the helper does (v3). */
  missAllocation: 'caller' | 'helper';
  /** Whether a dead CPU's lists are pruned by a surviving CPU (bio_cpu_dead). */
  hotplugPrune: boolean;
  /** Whether the per-CPU cache exists at all (false: the slab-backed stand-in). */
  cached: boolean;
  max: number;
  threshold: number;
  /**
   * The kernel configuration the cache runs on (model/config.ts), absent for `default`: what each
   * context is, which the invariants read. An axis of its own, set from the scope (Scope.config).
   */
  config?: KernelConfigName;
}

export const KERNEL_MAX = 256;
export const KERNEL_THRESHOLD = 16;

const base = { max: KERNEL_MAX, threshold: KERNEL_THRESHOLD } as const;

export const PROFILES: Readonly<Record<string, Profile>> = {
  'iomap-v1': {
    name: 'iomap-v1',
    description: 'the seed patch: cap `nr_irq + nr > MAX`, a miss returns NULL and __iomap_dio_rw calls kmalloc after put_cpu, no hotplug prune',
    capCompare: '>',
    missAllocation: 'caller',
    hotplugPrune: false,
    cached: true,
    ...base,
  },
  'iomap-v3': {
    name: 'iomap-v3',
    description: 'v3 (2026-01-15): generic pcpu_cache helpers, cap `nr_irq + nr >= max_nr`, the helper calls kmalloc after put_cpu on a miss, no hotplug prune',
    capCompare: '>=',
    missAllocation: 'helper',
    hotplugPrune: false,
    cached: true,
    ...base,
  },
  bio: {
    name: 'bio',
    description: 'block/bio.c bio_alloc_cache: cap `nr_irq + nr > ALLOC_CACHE_MAX`, miss returns NULL, a dead CPU\'s lists are pruned (bio_cpu_dead)',
    capCompare: '>',
    missAllocation: 'caller',
    hotplugPrune: true,
    cached: true,
    ...base,
  },
  slab: {
    name: 'slab',
    description: 'a dedicated kmem_cache (the reviewer\'s alternative): no per-CPU lists; only the allocator contract applies',
    capCompare: '>',
    missAllocation: 'helper',
    hotplugPrune: true,
    cached: false,
    ...base,
  },
};

export function getProfile(name: string, overrides: { max?: number; threshold?: number } = {}): Profile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown profile '${name}' (known: ${Object.keys(PROFILES).join(', ')})`);
  return { ...p, ...(overrides.max !== undefined ? { max: overrides.max } : {}), ...(overrides.threshold !== undefined ? { threshold: overrides.threshold } : {}) };
}

/** A put may cache when the total it reads passes the cap test. */
export function capAllows(p: Profile, total: number): boolean {
  return p.capCompare === '>' ? !(total > p.max) : !(total >= p.max);
}

/**
 * The largest `nr + nr_irq` a CPU can reach. Sequentially the cap test admits one push past the
 * largest total it allows (MAX+1 with `>`, MAX with `>=`); a hardirq put that lands between a task
 * put's cap check and its push adds one more (docs/kernel-rules.md §5). Hardirqs do not nest, so
 * at most one such overshoot is in flight per CPU.
 */
export function reachableCapBound(p: Profile): number {
  const sequential = p.capCompare === '>' ? p.max + 1 : p.max;
  // On a config where no context enters a get_cpu() section (PREEMPT_RT: the completion is an irq
  // thread), nothing lands between a put's cap test and its push: the sequential bound is the bound.
  if (p.config && !interruptsPreemptOff(kernelConfig(p.config))) return sequential;
  return sequential + 1;
}

/** The bound a spec would state if it ignored the race: what the cap test alone allows. */
export function sequentialCapBound(p: Profile): number {
  return p.capCompare === '>' ? p.max + 1 : p.max;
}
