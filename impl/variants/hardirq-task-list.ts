/**
 * hardirq-task-list — a hardirq put pushes onto free_list.
 *
 * Bug: the in_hardirq() branch of dio_put_percpu_cache() pushes onto the task list. It mirrors
 * bug B2 (the bio cache series, 2022: the put path pruned, and so spliced, from hardirq context,
 * writing the task-only free_list while a task on the same CPU was mid-update). free_list is
 * protected by get_cpu() only, which does not hold hardirqs back.
 * Invariant: task-list-task-only.
 * Shortest scenario: one hardirq completion of an in-flight object with the cap not reached.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() whose hardirq branch pushes onto free_list. */
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
      yield 'dio->dio_next = cache->free_list;';
      k.store(dio, 'dio_next', k.load(cache, 'free_list'));
      yield 'cache->free_list = dio;';
      k.store(cache, 'free_list', dio);
      yield 'cache->nr++;';
      k.store(cache, 'nr', k.load(cache, 'nr') + 1);
    } else {
      yield* out_free(k, dio);
      return;
    }
  }
  yield 'put_cpu();';
  k.put_cpu();
});

export const hardirqTaskList = v1Variant(
  {
    name: 'hardirq-task-list',
    description: 'iomap-v1 whose hardirq put pushes onto free_list (like bug B2 of the bio cache)',
    expectedViolation: 'task-list-task-only',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default hardirqTaskList;
