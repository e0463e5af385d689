/**
 * "a dedicated slab cache that should also do per-cpu allocations" (Christoph Hellwig's review of
 * the seed patch): fs/iomap/direct-io.c as it would read with a kmem_cache for iomap_dio instead of
 * the per-CPU lists. SLUB's own per-CPU fast path (and the sheaves Dave Chinner pointed to) are
 * the allocator's business, behind kmem_cache_alloc/kmem_cache_free: the checker sees only the
 * allocator contract, so this satisfies object-safety and might-sleep and nothing cache-specific
 * (profile 'slab': no lists, a put always frees).
 *
 * Not a posted patch: the lines below are the minimal edit of the pre-patch code
 * (`kmalloc(sizeof(*dio), GFP_KERNEL)` / `kfree(dio)`) that the review suggests.
 */
import type { Kernel, StructDecl } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';

/** struct iomap_dio without the patch's dio_next. */
export const IOMAP_DIO_SLAB: StructDecl = { name: 'iomap_dio', size: 120, fields: { iocb: 0, ref: 8 } };

/** An iocb stands for the caller's request; its value is irrelevant. */
const IOCB = 1;
/** What KMEM_CACHE() returns: a cache handle, not an object the checker tracks. */
const DIO_CACHEP = 4;

/** __iomap_dio_rw(), the allocation, with `dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL);` */
export const __iomap_dio_rw = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  yield 'dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL);';
  k.global('dio_cachep');
  dio = k.kmem_cache_alloc('iomap_dio', 'GFP_KERNEL');
  yield 'if (!dio) return ERR_PTR(-ENOMEM);';
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

/** iomap_dio_complete(), the release, with `kmem_cache_free(dio_cachep, dio);`: any context. */
export const iomap_dio_complete = port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
  yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
  k.load(dio, 'iocb');
  yield 'kmem_cache_free(dio_cachep, dio);';
  k.global('dio_cachep');
  k.kmem_cache_free(dio);
});

/** iomap_dio_init() creating the cache (kmem_cache_create is not simulated: a handle stands for it). */
export const iomap_dio_init = port('iomap_dio_init', function* (k: Kernel): Op<number> {
  yield 'dio_cachep = KMEM_CACHE(iomap_dio, SLAB_ACCOUNT);';
  k.setGlobal('dio_cachep', DIO_CACHEP);
  yield 'if (!dio_cachep) return -ENOMEM;';
  if (k.global('dio_cachep') === NULL) return -12;
  return 0;
});

export const slab: Implementation = {
  name: 'slab',
  description: 'the reviewer\'s alternative: a dedicated kmem_cache for iomap_dio (kmem_cache_alloc in task context, kmem_cache_free in any context), no per-CPU lists',
  profile: 'slab',
  structs: [IOMAP_DIO_SLAB],
  macros: {},
  objectType: 'iomap_dio',
  cache: null,
  init: iomap_dio_init,
  alloc: __iomap_dio_rw,
  free: iomap_dio_complete,
};

export default slab;
