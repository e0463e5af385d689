/**
 * kmalloc-unchecked — the slab fallback's result is used without a NULL check.
 *
 * Bug: the patch moves `dio = kmalloc(...)` and its `return ERR_PTR(-ENOMEM)` into the new
 * `if (!dio)` block of __iomap_dio_rw(); here the check is lost in the move, and a failed
 * allocation is dereferenced by `dio->iocb = iocb`.
 * Invariant: crash ("BUG: kernel NULL pointer dereference").
 * Shortest scenario: an allocation that misses the cache (empty free_list, nr_irq below
 * THRESHOLD) while its kmalloc() fails: only a scope with allocation failures
 * (Scope.allocFailures, `--alloc-failures 1`) shows it; with a slab that never fails the variant
 * behaves exactly as iomap-v1.
 * explorerOnly: the statechart paths and the fast-check runs drive a slab that never fails; only
 * the explorer's allocation-failure choice makes kmalloc() return NULL.
 */
import type { Kernel } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { dio_alloc_percpu_cache, iomapV1 } from '../ports/iomap-v1.js';

const IOCB = 1;

/** fs/iomap/direct-io.c:__iomap_dio_rw() of iomap-v1.ts without `if (!dio) return ERR_PTR(-ENOMEM);`. */
export const __iomap_dio_rw = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  dio = yield* dio_alloc_percpu_cache(k);
  yield 'if (!dio) {';
  if (dio === NULL) {
    yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
    dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
  }
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

export const kmallocUnchecked: Implementation = {
  ...iomapV1,
  name: 'kmalloc-unchecked',
  description: 'iomap-v1 whose cache-miss fallback uses kmalloc()\'s result without the NULL check (caught with allocation failures)',
  expectedViolation: 'crash',
  explorerOnly: 'needs kmalloc() to fail on a cache miss (Scope.allocFailures); the statechart paths and fast-check model a slab that never fails',
  alloc: __iomap_dio_rw,
};

export default kmallocUnchecked;
