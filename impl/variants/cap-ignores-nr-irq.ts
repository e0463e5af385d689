/**
 * cap-ignores-nr-irq — the cap test reads only `cache->nr`.
 *
 * Bug: dio_put_percpu_cache() tests `cache->nr > MAX`, forgetting the irq list: hardirq puts then
 * cache without bound while free_list is short, and the per-CPU cache grows past MAX+2.
 * Invariant: refinement, honestly. The total would pass the reachable bound MAX+2 a few puts
 * later, but the first put that caches with nr_irq + nr over MAX is already an outcome the model
 * does not allow — a hardirq put that never saw room under the model's cap test pushed anyway —
 * and the path ends there. Refinement judges each decision, cap only the
 * accumulated total, so refinement always fires first for a wrong cap test. The cap invariant has
 * its own variant, cap-check-split-section, where every decision looks right.
 * Shortest scenario: hardirq puts onto free_list_irq until nr_irq + nr = MAX+1, then one more.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() with the cap test on `cache->nr` alone. */
export const dio_put_percpu_cache = port('dio_put_percpu_cache', function* (k: Kernel, dio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;';
  if (k.load(cache, 'nr') > k.macro('DIO_ALLOC_CACHE_MAX')) {
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

export const capIgnoresNrIrq = v1Variant(
  {
    name: 'cap-ignores-nr-irq',
    description: 'iomap-v1 whose cap test reads only cache->nr: hardirq puts cache without bound',
    expectedViolation: 'refinement',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default capIgnoresNrIrq;
