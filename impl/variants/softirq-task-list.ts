/**
 * softirq-task-list — a softirq put pushes onto free_list.
 *
 * Bug: dio_put_percpu_cache() tests `!in_hardirq()` where it should test `in_task()`, so a put from
 * softirq context (a bio end_io run from the block softirq, or at irq exit) takes the task branch
 * and writes free_list. A softirq runs on top of a task that is inside get_cpu()...put_cpu()
 * (preemption off does not hold softirqs back), so it can land between that task's
 * `dio = cache->free_list` and `cache->free_list = dio->dio_next`: lost or doubly handed-out objects.
 * It has the shape of bug B4 (d4347d50407d): a cached put from irq context where the code assumed
 * task context.
 * Invariant: task-list-task-only — the write itself is the violation, whatever it interrupted.
 * Shortest scenario: one softirq completion of an in-flight object with the cap not reached.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() with `if (in_task())` written `if (!in_hardirq())`. */
export const dio_put_percpu_cache = port('dio_put_percpu_cache', function* (k: Kernel, dio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') > k.macro('DIO_ALLOC_CACHE_MAX')) {
    yield* out_free(k, dio);
    return;
  }

  yield 'if (!in_hardirq()) {';
  if (!k.in_hardirq()) {
    yield 'dio->dio_next = cache->free_list;';
    k.store(dio, 'dio_next', k.load(cache, 'free_list'));
    yield 'cache->free_list = dio;';
    k.store(cache, 'free_list', dio);
    yield 'cache->nr++;';
    k.store(cache, 'nr', k.load(cache, 'nr') + 1);
  } else {
    yield '} else if (in_hardirq()) {';
    if (k.in_hardirq()) {
      yield 'lockdep_assert_irqs_disabled();';
      k.lockdep_assert_irqs_disabled();
      yield 'dio->dio_next = cache->free_list_irq;';
      k.store(dio, 'dio_next', k.load(cache, 'free_list_irq'));
      yield 'cache->free_list_irq = dio;';
      k.store(cache, 'free_list_irq', dio);
      yield 'cache->nr_irq++;';
      k.store(cache, 'nr_irq', k.load(cache, 'nr_irq') + 1);
    } else {
      yield* out_free(k, dio);
      return;
    }
  }
  yield 'put_cpu();';
  k.put_cpu();
});

export const softirqTaskList = v1Variant(
  {
    name: 'softirq-task-list',
    description: 'iomap-v1 whose put tests !in_hardirq() instead of in_task(): a softirq put pushes onto free_list',
    expectedViolation: 'task-list-task-only',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default softirqTaskList;
