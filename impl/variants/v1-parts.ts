/**
 * The callers of the seed patch's cache functions, re-bound to a variant's broken callee.
 *
 * A variant overrides one function of impl/ports/iomap-v1.ts. The v1 callers are bound to the v1
 * callees at module scope, so the unchanged callers are rebuilt here, once, with the callee as a
 * parameter: the statements are those of iomap-v1.ts verbatim. test/variants.test.ts checks that
 * `v1Variant()` with no override explores exactly the states iomap-v1 does, so a difference between
 * a variant and the port is the variant's own edit.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import type { InvariantId } from '../../model/invariants.js';
import { port, type Implementation, type Op } from '../interface.js';
import { dio_alloc_irq_cache_splice, dio_alloc_percpu_cache, dio_put_percpu_cache, iomapV1, OUT_FREE_DIO_BRANCH } from '../ports/iomap-v1.js';

export type SpliceFn = (k: Kernel, cache: Value) => Op;
export type AllocPercpuFn = (k: Kernel) => Op<Value>;
export type PutPercpuFn = (k: Kernel, dio: Value) => Op;
/** The statements at __iomap_dio_rw()'s `out_free_dio:` label; returns what the caller returns. */
export type OutFreeDioFn = (k: Kernel, dio: Value) => Op<Value>;

/** An iocb stands for the caller's request (as in iomap-v1.ts). */
const IOCB = 1;

/** fs/iomap/direct-io.c:dio_alloc_percpu_cache() of iomap-v1.ts, calling `splice`. */
export function allocPercpuWith(splice: SpliceFn): AllocPercpuFn {
  return port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
    let cache: Value;
    let dio: Value;

    yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
    cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
    yield 'if (!cache->free_list) {';
    if (k.load(cache, 'free_list') === NULL) {
      yield 'if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)';
      if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) {
        yield* splice(k, cache);
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
}

/** The `out_free_dio:` label of __iomap_dio_rw() (iomap-v1.ts), calling `putPercpu`. */
export function outFreeDioWith(putPercpu: PutPercpuFn): OutFreeDioFn {
  return function* (k: Kernel, dio: Value): Op<Value> {
    yield* putPercpu(k, dio);
    return NULL;
  };
}

/** fs/iomap/direct-io.c:__iomap_dio_rw() of iomap-v1.ts, calling `allocPercpu`, and `outFreeDio` on its error path. */
export function iomapDioRwWith(allocPercpu: AllocPercpuFn, outFreeDio: OutFreeDioFn = outFreeDioWith(dio_put_percpu_cache)): (k: Kernel) => Op<Value> {
  return port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
    let dio: Value;

    dio = yield* allocPercpu(k);
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
    if (k.nondet()) return yield* outFreeDio(k, dio);
    return dio;
  });
}

/** fs/iomap/direct-io.c:iomap_dio_complete() of iomap-v1.ts, calling `putPercpu`. */
export function iomapDioCompleteWith(putPercpu: PutPercpuFn): (k: Kernel, dio: Value) => Op {
  return port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
    yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
    k.load(dio, 'iocb');
    yield* putPercpu(k, dio);
  });
}

/** The `out_free:` label of dio_put_percpu_cache() (iomap-v1.ts), for variants of the put. */
export function* out_free(k: Kernel, dio: Value): Op {
  yield 'out_free: put_cpu();';
  k.put_cpu();
  yield 'kfree(dio);';
  k.kfree(dio);
}

export interface V1Override {
  splice?: SpliceFn;
  allocPercpu?: AllocPercpuFn;
  putPercpu?: PutPercpuFn;
  /** The caller's error path; by default the v1 one calling `putPercpu`. */
  outFreeDio?: OutFreeDioFn;
}

export interface VariantInfo {
  name: string;
  description: string;
  expectedViolation: InvariantId;
  explorerOnly?: string;
  /** Caught only with interrupts between a statement's memory accesses (Implementation.atomicity). */
  atomicity?: 'access';
}

/** The v1 port with some of its cache functions replaced. */
export function v1Variant(info: VariantInfo, o: V1Override): Implementation {
  const allocPercpu = o.allocPercpu ?? (o.splice ? allocPercpuWith(o.splice) : dio_alloc_percpu_cache);
  const putPercpu = o.putPercpu ?? dio_put_percpu_cache;
  // The error path puts through the variant's put too: a broken put is broken on both paths.
  const same = allocPercpu === dio_alloc_percpu_cache && putPercpu === dio_put_percpu_cache && !o.outFreeDio;
  const impl: Implementation = {
    ...iomapV1,
    name: info.name,
    description: info.description,
    expectedViolation: info.expectedViolation,
    alloc: same ? iomapV1.alloc : iomapDioRwWith(allocPercpu, o.outFreeDio ?? outFreeDioWith(putPercpu)),
    free: putPercpu === dio_put_percpu_cache ? iomapV1.free : iomapDioCompleteWith(putPercpu),
  };
  if (info.explorerOnly !== undefined) impl.explorerOnly = info.explorerOnly;
  if (info.atomicity !== undefined) impl.atomicity = info.atomicity;
  return impl;
}

/** v1 rebuilt entirely from the copies above: must explore exactly like iomap-v1 (a test checks). */
export const v1Rebuilt: Implementation = {
  ...iomapV1,
  name: 'iomap-v1-rebuilt',
  alloc: iomapDioRwWith(allocPercpuWith(dio_alloc_irq_cache_splice)),
  free: iomapDioCompleteWith(dio_put_percpu_cache),
};
