/**
 * The cap and the splice threshold at the kernel's own constants (MAX 256, THRESHOLD 16). Every
 * state is built by real operations through System (boot, allocs, hardirq completions, task puts),
 * never by writing memory, and every step is checked against the invariant registry.
 */
import { describe, expect, it } from 'vitest';
import type { Implementation } from '../impl/interface.js';
import { NULL, ptrId, type Value } from '../impl/kernel/values.js';
import type { World } from '../impl/kernel/world.js';
import type { AbstractState, AbsCache, OpOutcome } from '../model/abstract.js';
import { getProfile, KERNEL_MAX, KERNEL_THRESHOLD } from '../model/profiles.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { iomapCommon } from '../impl/ports/common.js';
import { System, type Choice, type Scope, type StepReport } from '../conformance/system.js';

/** One CPU, one task, `inflight` objects in flight at boot; hardirq handlers run as one step. */
class Bench {
  readonly sys: System;
  private readonly atomic: System;
  world: World;
  abs: AbstractState;

  constructor(impl: Implementation, profile: string, inflight: number) {
    const scope: Scope = {
      name: 'boundaries',
      description: 'one CPU, one task, objects in flight at boot',
      cpus: 1,
      taskCpus: [0],
      ops: Number.MAX_SAFE_INTEGER,
      taskOps: ['alloc', 'free', 'submit', 'complete'],
      prefill: 0,
      inflight,
      completers: ['hardirq', 'softirq', 'task'],
      atomicIrq: false,
      preemptions: 0,
      migration: false,
      hotplug: false,
      profile,
      max: KERNEL_MAX,
      threshold: KERNEL_THRESHOLD,
    };
    this.sys = new System(impl, scope);
    this.atomic = new System(impl, { ...scope, atomicIrq: true });
    const init = this.sys.initial();
    expect(init.violations).toEqual([]);
    this.world = init.world;
    this.abs = init.abs;
  }

  get cache(): AbsCache {
    return this.abs.caches[0]!;
  }
  /** What the cap test reads: READ_ONCE(cache->nr_irq) + cache->nr. */
  get total(): number {
    return this.cache.nrIrq + this.cache.nr;
  }
  get held(): Value[] {
    return this.world.tasks[0]!.held;
  }

  private step(c: Choice, sys: System = this.sys): StepReport {
    const r = sys.step(this.world, this.abs, c);
    expect(r.violations, `${r.who}: ${r.event}`).toEqual([]);
    expect(r.abs.step?.fault).toBeUndefined();
    this.world = r.world;
    this.abs = r.abs;
    return r;
  }

  private finish(first: StepReport, sys: System = this.sys): OpOutcome {
    let r = first;
    while (!r.abs.step?.done) r = this.step({ kind: 'step', cpu: 0 }, sys);
    return r.abs.step.done;
  }

  alloc(): OpOutcome {
    return this.finish(this.step({ kind: 'start', task: 0, op: 'alloc', obj: NULL }));
  }
  taskPut(obj: Value = this.held[0]!): OpOutcome {
    return this.finish(this.step({ kind: 'start', task: 0, op: 'free', obj }));
  }
  hardirqPut(): OpOutcome {
    return this.finish(this.step({ kind: 'hardirq', cpu: 0, obj: this.world.inflight[0]! }, this.atomic), this.atomic);
  }
  /** Hardirq completions until the cache holds `total` objects (all pushes: below the cap). */
  fillTo(total: number): void {
    while (this.total < total) expect(this.hardirqPut().kind).toBe('push-irq');
    expect(this.total).toBe(total);
  }
}

describe.each([
  { impl: iomapV1, cap: '>' as const, lastCached: 256 },
  { impl: iomapCommon, cap: '>=' as const, lastCached: 255 },
])('the cap at MAX $impl.name ($cap MAX)', ({ impl, cap, lastCached }) => {
  const profile = getProfile(impl.profile);

  it(`uses the ${cap} cap test at MAX ${KERNEL_MAX}`, () => {
    expect(profile.capCompare).toBe(cap);
    expect(profile.max).toBe(KERNEL_MAX);
  });

  it(`a task put at total ${lastCached} caches, at ${lastCached + 1} frees (free_list_irq only)`, () => {
    const b = new Bench(impl, profile.name, lastCached + 8);
    // Hold two objects before filling: an alloc with a full irq list would splice.
    expect(b.alloc().kind).toBe('miss');
    expect(b.alloc().kind).toBe('miss');
    b.fillTo(lastCached);
    expect(b.cache.nr).toBe(0);

    const first = b.held[0]!;
    const put1 = b.taskPut(first);
    expect(put1.kind).toBe('push-task');
    expect(b.cache.freeList[0]).toBe(ptrId(first));
    expect(b.total).toBe(lastCached + 1);

    const second = b.held[0]!;
    const put2 = b.taskPut(second);
    expect(put2.kind).toBe('free');
    expect(b.world.heap[ptrId(second)]?.freed ?? true).toBe(true);
    expect(b.total).toBe(lastCached + 1);
    // A hardirq put at the same total frees too.
    expect(b.hardirqPut().kind).toBe('free');
    expect(b.total).toBe(lastCached + 1);
  });

  it(`the cap test reads nr_irq + nr: both lists count toward ${lastCached}`, () => {
    const b = new Bench(impl, profile.name, lastCached + 24);
    b.fillTo(100);
    // free_list empty, nr_irq 100 >= 16: the alloc splices all 100 and pops one.
    expect(b.alloc().kind).toBe('splice-hit');
    expect([b.cache.nr, b.cache.nrIrq]).toEqual([99, 0]);
    b.fillTo(lastCached - 1);
    expect(b.cache.nr).toBe(99);
    expect(b.cache.nrIrq).toBe(lastCached - 100);
    // At lastCached - 1 the hardirq put caches; at lastCached the task put still caches; then the cap.
    expect(b.hardirqPut().kind).toBe('push-irq');
    expect(b.total).toBe(lastCached);
    expect(b.taskPut().kind).toBe('push-task');
    expect(b.total).toBe(lastCached + 1);
    expect(b.hardirqPut().kind).toBe('free');
    expect(b.total).toBe(lastCached + 1);
  });
});

describe.each([{ impl: iomapV1 }, { impl: iomapCommon }])('the splice threshold at 16: $impl.name', ({ impl }) => {
  it('an alloc with free_list empty misses at nr_irq 15 and splices at nr_irq 16', () => {
    const b = new Bench(impl, impl.profile, 24);
    b.fillTo(KERNEL_THRESHOLD - 1);
    const irqBefore = b.cache.freeListIrq.slice();
    const miss = b.alloc();
    expect(miss.kind).toBe('miss');
    // The miss hands out a fresh kmalloc object and leaves the irq list alone.
    expect(irqBefore).not.toContain(miss.result);
    expect(b.cache.freeListIrq).toEqual(irqBefore);
    expect([b.cache.nr, b.cache.nrIrq]).toEqual([0, KERNEL_THRESHOLD - 1]);

    expect(b.hardirqPut().kind).toBe('push-irq');
    const irq = b.cache.freeListIrq.slice();
    expect(irq.length).toBe(KERNEL_THRESHOLD);
    const hit = b.alloc();
    expect(hit.kind).toBe('splice-hit');
    // The whole irq list moved to free_list, and the alloc returned its head.
    expect(hit.result).toBe(irq[0]);
    expect(b.cache.freeList).toEqual(irq.slice(1));
    expect([b.cache.nr, b.cache.nrIrq]).toEqual([KERNEL_THRESHOLD - 1, 0]);
  });
});
