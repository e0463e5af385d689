/**
 * splice-nonempty — the alloc splices although free_list is not empty.
 *
 * Bug: dio_alloc_percpu_cache() tests only `READ_ONCE(cache->nr_irq) >= THRESHOLD` before
 * splicing, and dio_alloc_irq_cache_splice() has lost its `WARN_ON_ONCE(cache->free_list)` guard,
 * so `cache->free_list = cache->free_list_irq` overwrites a non-empty task list: its objects are
 * dropped and nr is wrong (the Promela model's BUG_NOEMPTY).
 * Invariant: splice-only-when-empty (the dropped objects also break object-safety in the same step).
 * Shortest scenario: the prefilled free_list is non-empty; hardirq puts bring nr_irq to THRESHOLD;
 * the next alloc splices over free_list.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_irq_cache_splice() without the WARN_ON_ONCE guard. */
export const dio_alloc_irq_cache_splice = port('dio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
  let flags: Value;

  yield 'local_irq_save(flags);';
  flags = k.local_irq_save();
  yield 'cache->free_list = cache->free_list_irq;';
  k.store(cache, 'free_list', k.load(cache, 'free_list_irq'));
  yield 'cache->free_list_irq = NULL;';
  k.store(cache, 'free_list_irq', NULL);
  yield 'cache->nr += cache->nr_irq;';
  k.store(cache, 'nr', k.load(cache, 'nr') + k.load(cache, 'nr_irq'));
  yield 'cache->nr_irq = 0;';
  k.store(cache, 'nr_irq', 0);
  yield 'local_irq_restore(flags);';
  k.local_irq_restore(flags);
});

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() with the splice test not nested under `!cache->free_list`. */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
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

export const spliceNonempty = v1Variant(
  {
    name: 'splice-nonempty',
    description: 'iomap-v1 whose alloc splices on nr_irq >= THRESHOLD alone, over a non-empty free_list, WARN guard removed (Promela BUG_NOEMPTY)',
    expectedViolation: 'splice-only-when-empty',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default spliceNonempty;
