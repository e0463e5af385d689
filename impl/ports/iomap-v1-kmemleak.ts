/**
 * The seed patch (v1, 2025-11-21) with kmemleak annotations added the way the bio cache proposal
 * <aZ74UbGA261L4mxQ@laps> (Sasha Levin, 25 Feb 2026; test/fixtures/kernel/bio-kmemleak-aZ74UbGA261L4mxQ.diff)
 * adds them to block/bio.c: a dio going onto a cache list is kmemleak_free()d, and one popped
 * from it is kmemleak_alloc()ed again, so that cached dios are not reported as leaks. Not posted
 * to any list: written for this repository, to check that the annotations fit v1's cache.
 *
 * Placement, as in the proposal: kmemleak_alloc() after the pop's put_cpu() (with the gfp of the
 * allocation it stands for: __iomap_dio_rw()'s GFP_KERNEL, which may sleep, so not under
 * get_cpu()), and kmemleak_free() as the first statement of each branch that caches (task and
 * hardirq), before the push. The over-cap and softirq puts kfree() the dio, whose slab hook
 * unregisters it. v1 has no hotplug prune, so no third annotation. Everything else is
 * iomap-v1.ts; the callers are iomap-v1's, rebuilt around these two functions by
 * ../variants/v1-parts.ts (which a test checks explores exactly like the port).
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice, iomapV1 } from './iomap-v1.js';
import { iomapDioCompleteWith, iomapDioRwWith, out_free, outFreeDioWith } from '../variants/v1-parts.js';

/** Port of fs/iomap/direct-io.c:dio_alloc_percpu_cache(), with kmemleak_alloc() */
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
  yield 'cache->nr--;';
  k.store(cache, 'nr', k.load(cache, 'nr') - 1);
  yield 'put_cpu();';
  k.put_cpu();

  yield 'kmemleak_alloc(dio, sizeof(*dio), 1, GFP_KERNEL);';
  k.kmemleak_alloc(dio, k.sizeof('iomap_dio'), 1, 'GFP_KERNEL');
  return dio;
});

/** Port of fs/iomap/direct-io.c:dio_put_percpu_cache(), with kmemleak_free() */
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
    yield 'kmemleak_free(dio);';
    k.kmemleak_free(dio);
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
      yield 'kmemleak_free(dio);';
      k.kmemleak_free(dio);
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

export const iomapV1Kmemleak: Implementation = {
  ...iomapV1,
  name: 'iomap-v1-kmemleak',
  description: 'the seed patch (v1) with kmemleak annotations placed as <aZ74UbGA261L4mxQ@laps> places them in block/bio.c: kmemleak_free() before each push, kmemleak_alloc() after the pop',
  alloc: iomapDioRwWith(dio_alloc_percpu_cache, outFreeDioWith(dio_put_percpu_cache)),
  free: iomapDioCompleteWith(dio_put_percpu_cache),
};

export default iomapV1Kmemleak;
