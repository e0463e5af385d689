/**
 * alloc-no-nr-dec — the pop forgets `cache->nr--`.
 *
 * Bug: dio_alloc_percpu_cache() unlinks the head of free_list but leaves nr. nr then overcounts
 * the list, the cap test sees a fuller cache than there is, and a later splice adds to a wrong base.
 * Invariant: nr-accuracy.
 * Shortest scenario: one alloc that hits the prefilled free_list; at put_cpu() the CPU is
 * quiescent with nr one more than the list's length.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() without `cache->nr--;`. */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
      yield* dio_alloc_irq_cache_splice(k, cache);
    }
    yield 'if (!cache->free_list) {';
    if (k.load(cache, 'free_list') === NULL) {
      yield 'put_cpu();';
      k.put_cpu();
      return NULL;
    }
  }
  yield 'dio = cache->free_list;';
  dio = k.load(cache, 'free_list');
  yield 'cache->free_list = dio->dio_next;';
  k.store(cache, 'free_list', k.load(dio, 'dio_next'));
  yield 'put_cpu();';
  k.put_cpu();
  return dio;
});

export const allocNoNrDec = v1Variant(
  {
    name: 'alloc-no-nr-dec',
    description: 'iomap-v1 whose alloc pops free_list without cache->nr--',
    expectedViolation: 'nr-accuracy',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default allocNoNrDec;
