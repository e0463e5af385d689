/**
 * kmalloc-under-get-cpu — the miss allocates with kmalloc(GFP_KERNEL) inside get_cpu()...put_cpu().
 *
 * Bug: iomap patch v2 (2026-01-14): the generic helper allocated on a miss before put_cpu(), so a
 * GFP_KERNEL allocation that may sleep ran with preemption disabled. syzbot: "BUG: sleeping function
 * called from invalid context ... Preemption disabled at: pcpu_cache_list_alloc". v3's only change
 * was to move the kmalloc after put_cpu(). Shown here as the same edit of the v1 functions.
 * Invariant: might-sleep.
 * Shortest scenario: an allocation that misses (empty free_list, nr_irq below THRESHOLD).
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() allocating on a miss before put_cpu() (v2). */
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
      yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
      dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
      yield 'put_cpu();';
      k.put_cpu();
      return dio;
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

export const kmallocUnderGetCpu = v1Variant(
  {
    name: 'kmalloc-under-get-cpu',
    description: 'iomap v2\'s bug on the v1 code: kmalloc(GFP_KERNEL) on a miss between get_cpu() and put_cpu()',
    expectedViolation: 'might-sleep',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default kmallocUnderGetCpu;
