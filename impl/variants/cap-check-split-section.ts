/**
 * cap-check-split-section — the cap test and the push in two get_cpu() sections.
 *
 * Bug: dio_put_percpu_cache() calls put_cpu() after the cap test and get_cpu() again before the
 * push ("keep the preempt-off section short"). Between the two the task can be preempted: another
 * task's put and a hardirq put both pass the cap test on the same total, and every one of them
 * pushes. Each decision was right when it was taken, so refinement is satisfied; only the total
 * shows it: with two tasks and a hardirq the CPU caches MAX+3, one past the soft cap's reachable
 * bound MAX+2 (docs/kernel-rules.md §5). The same shape with N preempted tasks caches MAX+N+1.
 * Invariant: cap.
 * explorerOnly: it needs a preemption between two specific statements of one put (after the first
 * put_cpu), another task's put and a hardirq inside that window.
 * Shortest scenario (MAX 1): a hardirq put (total 1); task A's cap test sees 1 and A is preempted;
 * task B's cap test sees 1; a hardirq put sees 1 and pushes (2); B pushes (3); A resumes and pushes
 * (4 > MAX+2 = 3).
 */
import type { Kernel } from '../kernel/primitives.js';
import type { Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { out_free, v1Variant } from './v1-parts.js';

/** fs/iomap/direct-io.c:dio_put_percpu_cache() with `put_cpu(); cache = per_cpu_ptr(dio_cache, get_cpu());` after the cap test. */
export const dio_put_percpu_cache = port('dio_put_percpu_cache', function* (k: Kernel, dio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') > k.macro('DIO_ALLOC_CACHE_MAX')) {
    yield* out_free(k, dio);
    return;
  }
  yield 'put_cpu();';
  k.put_cpu();

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
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
});

export const capCheckSplitSection = v1Variant(
  {
    name: 'cap-check-split-section',
    description: 'iomap-v1 whose put re-enables preemption between the cap test and the push: every decision is right, the total passes MAX+2',
    expectedViolation: 'cap',
    explorerOnly: 'needs a preemption between the put\'s cap test and its push, with another task\'s put and a hardirq put in that window',
  },
  { putPercpu: dio_put_percpu_cache },
);

export default capCheckSplitSection;
