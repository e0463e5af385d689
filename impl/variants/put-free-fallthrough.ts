/**
 * put-free-fallthrough — the over-cap path frees the object and falls through into the push.
 *
 * Bug: the cap test of dio_put_percpu_cache() frees in place instead of jumping to `out_free` and
 * returning: `if (total > MAX) { put_cpu(); kfree(dio); }` with no `return`, so execution
 * continues into the in_task()/in_hardirq() branches and links the freed object into a list.
 * No real kernel bug is mirrored; it is the classic goto-to-inline mistake, and the variant that
 * exercises the heap checker (use after free) through the object-safety invariant.
 * Invariant: object-safety (the store to the freed dio is a use after free).
 * Shortest scenario: puts until nr_irq + nr exceeds MAX, then one more put.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() with the over-cap free inlined and no return. */
export const dio_put_percpu_cache = port('dio_put_percpu_cache', function* (k: Kernel, dio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) {';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') > k.macro('DIO_ALLOC_CACHE_MAX')) {
    yield 'put_cpu();';
    k.put_cpu();
    yield 'kfree(dio);';
    k.kfree(dio);
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

export const putFreeFallthrough = v1Variant(
  {
    name: 'put-free-fallthrough',
    description: 'iomap-v1 whose over-cap put frees the dio and falls through into the push (use after free)',
    expectedViolation: 'object-safety',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default putFreeFallthrough;
