/**
 * task-put-irq-list — a task put pushes onto free_list_irq.
 *
 * Bug: the in_task() branch of dio_put_percpu_cache() pushes onto the irq list with irqs enabled
 * (the Promela model's BUG_TASKIRQ). A hardirq put between `dio->dio_next = cache->free_list_irq`
 * and `cache->free_list_irq = dio` is overwritten and lost.
 * Invariant: irq-list-hardirq-only — the write with irqs on is the violation.
 * Shortest scenario: the task allocates (a hit on the prefilled list) and puts the object back.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() whose task branch pushes onto free_list_irq. */
export const dio_put_percpu_cache = port('dio_put_percpu_cache', function* (k: Kernel, dio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') > k.macro('DIO_ALLOC_CACHE_MAX')) {
    yield* out_free(k, dio);
    return;
  }

  yield 'if (in_task()) {';
  if (k.in_task()) {
    yield 'dio->dio_next = cache->free_list_irq;';
    k.store(dio, 'dio_next', k.load(cache, 'free_list_irq'));
    yield 'cache->free_list_irq = dio;';
    k.store(cache, 'free_list_irq', dio);
    yield 'cache->nr_irq++;';
    k.store(cache, 'nr_irq', k.load(cache, 'nr_irq') + 1);
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

export const taskPutIrqList = v1Variant(
  {
    name: 'task-put-irq-list',
    description: 'iomap-v1 whose task put pushes onto free_list_irq with irqs enabled (Promela BUG_TASKIRQ)',
    expectedViolation: 'irq-list-hardirq-only',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default taskPutIrqList;
