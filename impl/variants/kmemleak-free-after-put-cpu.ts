/**
 * kmemleak-free-after-put-cpu — the put unregisters the dio from kmemleak after put_cpu(), once it
 * is already on the cache list.
 *
 * Bug: in iomap-v1-kmemleak's dio_put_percpu_cache(), `kmemleak_free(dio);` moved from the head
 * of each caching branch to after the final `put_cpu();`. The push is then visible before the
 * annotation: once preemption is back on, the dio sits on free_list still registered with
 * kmemleak (a scan can report it, the false positive the annotation is for), another task on
 * this CPU can pop it and kmemleak_alloc() it while kmemleak still tracks it (kmemleak_stop():
 * "Cannot insert ... (overlaps existing)", kmemleak disables itself), and the late
 * kmemleak_free() then unregisters a dio that task holds. The C edit of the bio proposal that
 * does the same (a `kmemleak_free()` after `put_cpu()` in bio_put_percpu_cache()) is caught the
 * same way (test/kmemleak.test.ts).
 * Invariant: kmemleak-balance — the object on a quiescent CPU's free_list is still registered.
 * Shortest scenario: one task put with room in the cache: after its `put_cpu();` the CPU is
 * quiescent and free_list holds the dio, registered.
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_percpu_cache } from '../ports/iomap-v1-kmemleak.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() of iomap-v1-kmemleak.ts, kmemleak_free() after put_cpu(). */
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
  yield 'kmemleak_free(dio);';
  k.kmemleak_free(dio);
});

export const kmemleakFreeAfterPutCpu = v1Variant(
  {
    name: 'kmemleak-free-after-put-cpu',
    description: 'iomap-v1-kmemleak with kmemleak_free() moved after the put\'s put_cpu(): a cached dio is still registered once preemption is back on',
    expectedViolation: 'kmemleak-balance',
  },
  { allocPercpu: dio_alloc_percpu_cache, putPercpu: dio_put_percpu_cache },
);

export default kmemleakFreeAfterPutCpu;
