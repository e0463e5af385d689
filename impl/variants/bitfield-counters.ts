/**
 * bitfield-counters — nr and nr_irq packed as bitfields of one word.
 *
 * Bug: struct dio_alloc_cache declares `unsigned int nr:16; unsigned int nr_irq:16;` to save four
 * bytes. The C statements are unchanged, but a bitfield has no address of its own: the compiler
 * turns the task's `cache->nr--` and `cache->nr++` into a load of the word, a change of nr's bits
 * and a store of the word, which writes nr_irq back as it was loaded. Those run with irqs on; a
 * hardirq put landing between the load and the store has its `cache->nr_irq++` overwritten, and
 * nr_irq no longer counts free_list_irq. The statements and their order are the port's.
 * Invariant: marked-access — the word's load reads nr_irq, which a hardirq put writes, with a
 * plain load and irqs on: a data race, at statement level already. What the race does takes
 * `--atomicity access`, with an interleaving point between a statement's memory accesses: with
 * `--all` the explorer also finds irq-list-hardirq-only, the store of the word changing nr_irq
 * from task context with irqs enabled (`dio_alloc_percpu_cache: cache->nr--; [store #2->nr_irq]`);
 * at statement level that store writes back the value nr_irq already holds.
 * Shortest scenario: one alloc hits the prefilled free_list, its `cache->nr--` loads the word,
 * and its put_cpu() ends the section (marked-access). At access level, the lost update: between
 * the load of the word and its store, a hardirq put completes the object in flight onto
 * free_list_irq (nr_irq 0 -> 1); the store writes nr_irq = 0 back.
 *
 * The word is two cells here, as the model keeps one cell per field: its load is two loads and its
 * store two stores, so access level also interleaves between the two halves (states the hardware
 * has not, and none of them breaks anything the real word's RMW would not).
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice } from '../ports/iomap-v1.js';
import { out_free, v1Variant } from './v1-parts.js';

/**
 * `cache->field += d` on a bitfield of the word that holds nr and nr_irq: load the word, change
 * the field, store the word (the other counter as loaded).
 */
function wordAdd(k: Kernel, cache: Value, field: 'nr' | 'nr_irq', d: number): void {
  const nr = k.load(cache, 'nr');
  const nr_irq = k.load(cache, 'nr_irq');
  k.store(cache, 'nr', field === 'nr' ? nr + d : nr);
  k.store(cache, 'nr_irq', field === 'nr_irq' ? nr_irq + d : nr_irq);
}

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() with `cache->nr--` on the bitfield word. */
export const dio_alloc_percpu_cache = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  let cache: Value;
  let dio: Value;

  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
      // Under local_irq_save(): its word stores cannot be interrupted on this CPU.
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
  wordAdd(k, cache, 'nr', -1);
  yield 'put_cpu();';
  k.put_cpu();
  return dio;
});

/** fs/iomap/direct-io.c:dio_put_percpu_cache() with both counters on the bitfield word. */
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
    wordAdd(k, cache, 'nr', 1);
  } else {
    yield '} else if (in_hardirq()) {';
    if (k.in_hardirq()) {
      yield 'lockdep_assert_irqs_disabled();';
      k.lockdep_assert_irqs_disabled();
      yield 'dio->dio_next = cache->free_list_irq;';
      k.store(dio, 'dio_next', k.load(cache, 'free_list_irq'));
      yield 'cache->free_list_irq = dio;';
      k.store(cache, 'free_list_irq', dio);
      // Irqs are off here: this word store writes nr back as nothing can have changed it.
      yield 'cache->nr_irq++;';
      wordAdd(k, cache, 'nr_irq', 1);
    } else {
      yield* out_free(k, dio);
      return;
    }
  }
  yield 'put_cpu();';
  k.put_cpu();
});

export const bitfieldCounters = v1Variant(
  {
    name: 'bitfield-counters',
    description: 'iomap-v1 with nr and nr_irq as bitfields of one word: the task\'s nr++/nr-- loads and rewrites nr_irq, a data race (its lost update shows at --atomicity access)',
    expectedViolation: 'marked-access',
    atomicity: 'access',
  },
  { allocPercpu: dio_alloc_percpu_cache, putPercpu: dio_put_percpu_cache },
);

export default bitfieldCounters;
