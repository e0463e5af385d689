/**
 * splice-no-irqsave — the splice without local_irq_save()/local_irq_restore().
 *
 * Bug: dio_alloc_irq_cache_splice() moves free_list_irq onto free_list with hardirqs enabled.
 * A hardirq put landing between `cache->free_list = cache->free_list_irq` and
 * `cache->free_list_irq = NULL` pushes onto the old irq list and is then cut off: the object is
 * lost and nr counts it (the Promela model's BUG_NOIRQOFF).
 * Invariant: irq-list-hardirq-only — free_list_irq is written by task context with irqs on. The
 * invariant judges the discipline, so the very first splice breaks it, no interrupt needed (the
 * explorer does not extend a path past an error, so the loss that the interrupt would cause
 * afterwards is not reached).
 * Shortest scenario: two hardirq puts (nr_irq reaches THRESHOLD), the task allocates from an empty
 * free_list and splices: `cache->free_list_irq = NULL` runs with irqs enabled.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_alloc_irq_cache_splice() with the irq save/restore removed. */
export const dio_alloc_irq_cache_splice = port('dio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
  /* cache->free_list must be empty */
  yield 'if (WARN_ON_ONCE(cache->free_list)) return;';
  if (k.WARN_ON_ONCE(k.load(cache, 'free_list') !== NULL)) return;

  yield 'cache->free_list = cache->free_list_irq;';
  k.store(cache, 'free_list', k.load(cache, 'free_list_irq'));
  yield 'cache->free_list_irq = NULL;';
  k.store(cache, 'free_list_irq', NULL);
  yield 'cache->nr += cache->nr_irq;';
  k.store(cache, 'nr', k.load(cache, 'nr') + k.load(cache, 'nr_irq'));
  yield 'cache->nr_irq = 0;';
  k.store(cache, 'nr_irq', 0);
});

export const spliceNoIrqsave = v1Variant(
  {
    name: 'splice-no-irqsave',
    description: 'iomap-v1 with the splice run without local_irq_save/restore (Promela BUG_NOIRQOFF)',
    expectedViolation: 'irq-list-hardirq-only',
  },
  { splice: dio_alloc_irq_cache_splice },
);

export default spliceNoIrqsave;
