/**
 * this-cpu-ptr-preemptible — the alloc takes its CPU's cache with this_cpu_ptr() and no get_cpu().
 *
 * Bug: `cache = this_cpu_ptr(dio_cache);` replaces `per_cpu_ptr(dio_cache, get_cpu())` and the
 * put_cpu() calls go with it. The task stays preemptible: it can be preempted between reading the
 * head and unlinking it, another task on this CPU pops the same head, or it can migrate and
 * update the cache of a CPU it no longer runs on. CONFIG_DEBUG_PREEMPT reports the first use:
 * "BUG: using smp_processor_id() in preemptible code".
 * Invariant: context-balance (per-CPU access while preemptible), at the first statement.
 * Shortest scenario: any allocation.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() with this_cpu_ptr() and no get_cpu()/put_cpu(). */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = this_cpu_ptr(dio_cache);';
  cache = k.this_cpu_ptr(k.global('dio_cache'));
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
      yield* dio_alloc_irq_cache_splice(k, cache);
    }
    yield 'if (!cache->free_list)';
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
  return dio;
});

export const thisCpuPtrPreemptible = v1Variant(
  {
    name: 'this-cpu-ptr-preemptible',
    description: 'iomap-v1 whose alloc uses this_cpu_ptr(dio_cache) without get_cpu(): per-CPU access while preemptible',
    expectedViolation: 'context-balance',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default thisCpuPtrPreemptible;
