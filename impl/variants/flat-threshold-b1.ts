/**
 * flat-threshold-b1 — bug B1: the threshold test flattened into the empty-list test.
 *
 * Bug: block/bio.c as first posted with the irq cache (fixed before release by 13a184e26965,
 * "block: fix bio-allocation from per-cpu cache", 2022; found by KASAN and Smatch):
 *     if (!cache->free_list && READ_ONCE(cache->nr_irq) >= THRESHOLD) {
 *             splice; if (!cache->free_list) { put_cpu(); return NULL; }
 *     }
 *     dio = cache->free_list;          <- NULL when free_list is empty and nr_irq < THRESHOLD
 *     cache->free_list = dio->dio_next; <- NULL pointer dereference
 * Invariant: crash.
 * Shortest scenario: the first allocation from an empty cache. Boot allocates through the
 * implementation (prefill and in-flight objects), so the scope must have neither: a scope with
 * prefill or in-flight objects fails at boot with the same NULL dereference.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() with bug B1's flat condition. */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (!cache->free_list && READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD) {';
  if (k.load(cache, 'free_list') === NULL && k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
    yield* dio_alloc_irq_cache_splice(k, cache);
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
  yield 'cache->nr--;';
  k.store(cache, 'nr', k.load(cache, 'nr') - 1);
  yield 'put_cpu();';
  k.put_cpu();
  return dio;
});

export const flatThresholdB1 = v1Variant(
  {
    name: 'flat-threshold-b1',
    description: 'bug B1 (13a184e26965): `if (!free_list && nr_irq >= THRESHOLD)` then an unconditional pop: NULL dereference on an empty cache',
    expectedViolation: 'crash',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default flatThresholdB1;
