/**
 * plain-nr-irq-read — the alloc's threshold test reads nr_irq without READ_ONCE().
 *
 * Bug: dio_alloc_percpu_cache() tests `cache->nr_irq >= DIO_ALLOC_CACHE_THRESHOLD` with a plain
 * load. The task holds get_cpu() but irqs are on: a hardirq put on this CPU may write nr_irq
 * (`cache->nr_irq++`) at any moment of the load, a data race the compiler is free to tear, fuse
 * or re-load (KCSAN reports it). The values the explorer computes are the seed's, state for
 * state: only the marked-access rule tells the two apart (the mutation survey's unwrap-alloc-1,
 * docs/findings.md §12).
 * Invariant: marked-access.
 * Shortest scenario: the first alloc that finds free_list empty, with irqs on.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() with `cache->nr_irq` for `READ_ONCE(cache->nr_irq)`. */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (cache->nr_irq >= DIO_ALLOC_CACHE_THRESHOLD)';
    if (k.load(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
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
  return dio;
});

export const plainNrIrqRead = v1Variant(
  {
    name: 'plain-nr-irq-read',
    description: 'iomap-v1 whose alloc reads nr_irq with a plain load, irqs on',
    expectedViolation: 'marked-access',
  },
  { allocPercpu: dio_alloc_percpu_cache },
);

export default plainNrIrqRead;
