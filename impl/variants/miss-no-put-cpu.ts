/**
 * miss-no-put-cpu — the miss path returns without put_cpu().
 *
 * Bug: dio_alloc_percpu_cache() returns NULL on a miss with preemption still disabled.
 * Invariant: might-sleep, honestly, not context-balance. The leaked preempt count is first
 * observed by the caller: __iomap_dio_rw() falls back to kmalloc(GFP_KERNEL), which now runs with
 * preemption disabled — exactly what the kernel would report first ("BUG: sleeping function called
 * from invalid context ... preempt_count: 1"). context-balance would fire when the operation
 * returns, a few statements later, but the path ends at the first error.
 * Shortest scenario: an allocation that misses (empty free_list, nr_irq below THRESHOLD).
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() without put_cpu() on the miss path. */
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

export const missNoPutCpu = v1Variant(
  {
    name: 'miss-no-put-cpu',
    description: 'iomap-v1 whose alloc returns NULL on a miss without put_cpu(): the caller\'s kmalloc runs with preemption off',
    expectedViolation: 'might-sleep',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default missNoPutCpu;
