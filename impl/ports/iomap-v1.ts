/**
 * The seed patch, "[PATCH] iomap: add allocation cache for iomap_dio" (v1, 2025-11-21), ported
 * function for function from fs/iomap/direct-io.c. Statement order and names are the C's; each
 * `yield` is the boundary before the statement it names. A call is not a boundary of its own (the
 * callee's first statement is), and a bare `return` after the last side effect is not either:
 * neither touches shared state, so a boundary there would only add states.
 */
import { NONDET_BRANCH, type Kernel, type StructDecl } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';

/** struct iomap_dio: only the fields the cache and its callers touch. */
export const IOMAP_DIO: StructDecl = { name: 'iomap_dio', size: 128, fields: { iocb: 0, ref: 8, dio_next: 120 } };
/** struct dio_alloc_cache */
export const DIO_ALLOC_CACHE: StructDecl = {
  name: 'dio_alloc_cache',
  size: 24,
  fields: { free_list: 0, free_list_irq: 8, nr: 16, nr_irq: 20 },
};

/** An iocb stands for the caller's request; its value is irrelevant to the cache. */
const IOCB = 1;

/** Port of fs/iomap/direct-io.c:dio_alloc_irq_cache_splice() */
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
  yield 'cache->nr_irq = 0;';
  k.store(cache, 'nr_irq', 0);
  yield 'local_irq_restore(flags);';
  k.local_irq_restore(flags);
});

/** Port of fs/iomap/direct-io.c:dio_alloc_percpu_cache() */
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
  return dio;
});

/** Port of fs/iomap/direct-io.c:dio_put_percpu_cache() */
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
});

/** The `out_free:` label of dio_put_percpu_cache(): the statements after it, reached by goto. */
function* out_free(k: Kernel, dio: Value): Op {
  yield 'out_free: put_cpu();';
  k.put_cpu();
  yield 'kfree(dio);';
  k.kfree(dio);
}

/**
 * The last statement of __iomap_dio_rw()'s set-up and the branch to its error path: `ret` is what
 * the flush, the invalidation or iomap_iter() returned, which the model does not compute, so the
 * explorer takes the branch both ways. The branch touches nothing shared, so it is folded into
 * the statement before it rather than given a boundary of its own.
 */
export const OUT_FREE_DIO_BRANCH = `atomic_set(&dio->ref, 1); then if (ret) goto out_free_dio; /* iomap_iter() or a check before it ended with an error */ ${NONDET_BRANCH}`;

/**
 * Port of fs/iomap/direct-io.c:__iomap_dio_rw(): the allocation, then either the return of the
 * dio to the caller or the `out_free_dio:` error path. What runs between them (the flush, the
 * invalidation, the iomap_iter() loop) touches nothing of the cache and is one branch here.
 */
export const __iomap_dio_rw = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  dio = yield* dio_alloc_percpu_cache(k);
  yield 'if (!dio) {';
  if (dio === NULL) {
    yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
    dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
    yield 'if (!dio) return ERR_PTR(-ENOMEM);';
    if (dio === NULL) return NULL;
  }
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield OUT_FREE_DIO_BRANCH;
  k.store(dio, 'ref', 1);
  if (k.nondet()) return yield* out_free_dio(k, dio);
  return dio;
});

/**
 * The `out_free_dio:` label of __iomap_dio_rw(): the dio was never submitted and goes back
 * through the cache's put in task context. `if (ret) return ERR_PTR(ret); return NULL;` follows;
 * the caller gets no dio either way (NULL here stands for both).
 */
function* out_free_dio(k: Kernel, dio: Value): Op<Value> {
  yield* dio_put_percpu_cache(k, dio);
  return NULL;
}

/** The fallback half of fs/iomap/direct-io.c:__iomap_dio_rw(): a dio from the slab, as on a miss. */
export const iomap_dio_fresh = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
  dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
  yield 'if (!dio) return ERR_PTR(-ENOMEM);';
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

/** Port of fs/iomap/direct-io.c:iomap_dio_complete(), the part that releases the dio. */
export const iomap_dio_complete = port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
  yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
  k.load(dio, 'iocb');
  yield* dio_put_percpu_cache(k, dio);
});

/** Port of fs/iomap/direct-io.c:iomap_dio_init(), the lines the patch adds. */
export const iomap_dio_init = port('iomap_dio_init', function* (k: Kernel): Op<number> {
  yield 'dio_cache = alloc_percpu(struct dio_alloc_cache);';
  k.setGlobal('dio_cache', k.alloc_percpu('dio_alloc_cache'));
  yield 'if (!dio_cache) return -ENOMEM;';
  if (k.global('dio_cache') === NULL) return -12;
  return 0;
});

export const iomapV1: Implementation = {
  name: 'iomap-v1',
  description: 'the seed patch (v1): fs/iomap/direct-io.c per-CPU iomap_dio cache, miss returns NULL to __iomap_dio_rw',
  profile: 'iomap-v1',
  structs: [IOMAP_DIO, DIO_ALLOC_CACHE],
  macros: { DIO_ALLOC_CACHE_MAX: 'MAX', DIO_ALLOC_CACHE_THRESHOLD: 'THRESHOLD' },
  objectType: 'iomap_dio',
  cache: {
    percpu: 'dio_cache',
    freeList: 'free_list',
    freeListIrq: 'free_list_irq',
    nr: 'nr',
    nrIrq: 'nr_irq',
    next: 'dio_next',
    maxMacro: 'DIO_ALLOC_CACHE_MAX',
    thresholdMacro: 'DIO_ALLOC_CACHE_THRESHOLD',
  },
  init: iomap_dio_init,
  alloc: __iomap_dio_rw,
  fresh: iomap_dio_fresh,
  free: iomap_dio_complete,
};

export default iomapV1;
