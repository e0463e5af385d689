/**
 * splice-keeps-nr-irq — the splice leaves nr_irq.
 *
 * Bug: dio_alloc_irq_cache_splice() moves the irq list and adds nr_irq to nr but never sets
 * `cache->nr_irq = 0`: nr_irq counts objects free_list_irq no longer holds, so the cap test
 * frees early and the threshold test splices an empty list.
 * Invariant: nr-accuracy.
 * Shortest scenario: hardirq puts bring nr_irq to THRESHOLD, the alloc splices; once the task's
 * put_cpu() makes the CPU quiescent, nr_irq is THRESHOLD with free_list_irq empty.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_irq_cache_splice() without `cache->nr_irq = 0;`. */
export const dio_alloc_irq_cache_splice = port('dio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
  let flags: Value;

  /* cache->free_list must be empty */
  yield 'if (WARN_ON_ONCE(cache->free_list)) return;';
  if (k.WARN_ON_ONCE(k.load(cache, 'free_list') !== NULL)) return;

  yield 'local_irq_save(flags);';
  flags = k.local_irq_save();
  yield 'cache->free_list = cache->free_list_irq;';
  k.store(cache, 'free_list', k.load(cache, 'free_list_irq'));
  yield 'cache->free_list_irq = NULL;';
  k.store(cache, 'free_list_irq', NULL);
  yield 'cache->nr += cache->nr_irq;';
  k.store(cache, 'nr', k.load(cache, 'nr') + k.load(cache, 'nr_irq'));
  yield 'local_irq_restore(flags);';
  k.local_irq_restore(flags);
});

export const spliceKeepsNrIrq = v1Variant(
  {
    name: 'splice-keeps-nr-irq',
    description: 'iomap-v1 whose splice leaves nr_irq unchanged',
    expectedViolation: 'nr-accuracy',
  },
  { splice: dio_alloc_irq_cache_splice },
);

export default spliceKeepsNrIrq;
