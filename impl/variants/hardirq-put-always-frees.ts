/**
 * hardirq-put-always-frees — a hardirq put frees the object although the cache has room.
 *
 * Bug: the in_hardirq() branch of dio_put_percpu_cache() jumps to `out_free`. Nothing is unsafe: no object is lost or reused, the counters stay exact, the cap holds. The cache just
 * never refills from interrupt completions — the common case for async direct I/O — and the splice
 * never runs. Only refinement sees it: the model caches a hardirq put that finds room.
 * Invariant: refinement (and nothing else: a safety-only checker passes this variant).
 * Shortest scenario: one hardirq completion of an in-flight object with the cap not reached.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() whose hardirq branch frees. */
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
    yield* out_free(k, dio);
    return;
  }
  yield 'put_cpu();';
  k.put_cpu();
});

export const hardirqPutAlwaysFrees = v1Variant(
  {
    name: 'hardirq-put-always-frees',
    description: 'iomap-v1 whose hardirq put always frees: safe, but not the cache the model specifies',
    expectedViolation: 'refinement',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default hardirqPutAlwaysFrees;
