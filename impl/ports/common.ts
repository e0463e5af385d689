/**
 * The "common code" the reviewer asked for, as the patch's v3 did it ("[PATCH v3] iomap: add
 * allocation cache for iomap_dio", 2026-01-15, 20260115021108.1913695-1-guzebing1612@gmail.com):
 * file-local generic helpers in fs/iomap/direct-io.c, ported function for function, with two
 * instances of the same helpers — iomap_dio (as v3 uses them) and bio (what "factor this into
 * common code" would give the block layer).
 *
 * The shape v3 chose, kept here:
 * - an element header `struct pcpu_cache_element { next; char payload[]; }` in front of the
 *   payload, one kmalloc'd object of `sizeof(header) + element_size`; the lists link headers and
 *   callers see payload pointers, converted with PCPU_CACHE_ELEMENT_GET_{PAYLOAD_FROM_HEAD,
 *   HEAD_FROM_PAYLOAD} (pointer arithmetic on the number, see impl/kernel/values.ts);
 * - a kmalloc'd descriptor `struct pcpu_cache_list { cache; element_size; max_nr; }` made by
 *   pcpu_cache_list_create(); MAX is its `max_nr`, THRESHOLD the macro PCPU_CACHE_IRQ_THRESHOLD;
 * - cap test `nr_irq + nr >= max_nr`; on a miss the helper itself calls kmalloc(GFP_KERNEL),
 *   after put_cpu() (the v3 fix of v2's sleeping allocation under get_cpu()).
 * The checker finds the lists through the descriptor (CacheBinding.percpuField = 'cache').
 */
import { NONDET_BRANCH, type Kernel, type StructDecl } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type CacheBinding, type Implementation, type Op } from '../interface.js';
import { BIO, REQ_ALLOC_CACHE } from './bio.js';

/** struct pcpu_cache_element: the header; `char payload[]` starts at its size. */
export const PCPU_CACHE_ELEMENT: StructDecl = { name: 'pcpu_cache_element', size: 8, fields: { next: 0 } };
/** struct pcpu_cache */
export const PCPU_CACHE: StructDecl = { name: 'pcpu_cache', size: 24, fields: { free_list: 0, free_list_irq: 8, nr: 16, nr_irq: 20 } };
/** struct pcpu_cache_list */
export const PCPU_CACHE_LIST: StructDecl = { name: 'pcpu_cache_list', size: 24, fields: { cache: 0, element_size: 8, max_nr: 16 } };
/** struct iomap_dio in v3: no dio_next any more, the header carries the link. */
export const IOMAP_DIO_V3: StructDecl = { name: 'iomap_dio', size: 120, fields: { iocb: 0, ref: 8 } };

/** An iocb stands for the caller's request; its value is irrelevant to the cache. */
const IOCB = 1;
/** What `bio->bi_pool` holds: &fs_bio_set. */
const FS_BIO_SET = 2;
/** A block device for bio_init(); its value is irrelevant to the cache. */
const BDEV = 3;

/** PCPU_CACHE_ELEMENT_GET_PAYLOAD_FROM_HEAD(head): `(void *)((unsigned long)(head) + sizeof(struct pcpu_cache_element))` */
function payloadFromHead(k: Kernel, head: Value): Value {
  return head + k.sizeof('pcpu_cache_element');
}
/** PCPU_CACHE_ELEMENT_SIZE(pcpu_cache_list): `(sizeof(struct pcpu_cache_element) + pcpu_cache_list->element_size)`, the bytes kmalloc() is asked for */
function elementSize(k: Kernel, pcpu_cache_list: Value): number {
  return k.sizeof('pcpu_cache_element') + k.load(pcpu_cache_list, 'element_size');
}

/** PCPU_CACHE_ELEMENT_GET_HEAD_FROM_PAYLOAD(payload): `(struct pcpu_cache_element *)((unsigned long)(payload) - sizeof(struct pcpu_cache_element))` */
function headFromPayload(k: Kernel, payload: Value): Value {
  return payload - k.sizeof('pcpu_cache_element');
}

/** Port of v3 fs/iomap/direct-io.c:pcpu_cache_list_create() */
export const pcpu_cache_list_create = port('pcpu_cache_list_create', function* (k: Kernel, max_nr: number, size: number): Op<Value> {
  let pcpu_cache_list: Value;

  yield 'pcpu_cache_list = kmalloc(sizeof(struct pcpu_cache_list), GFP_KERNEL);';
  pcpu_cache_list = k.kmalloc('pcpu_cache_list', 'GFP_KERNEL');
  yield 'if (!pcpu_cache_list) return NULL;';
  if (pcpu_cache_list === NULL) return NULL;

  yield 'pcpu_cache_list->element_size = size;';
  k.store(pcpu_cache_list, 'element_size', size);
  yield 'pcpu_cache_list->max_nr = max_nr;';
  k.store(pcpu_cache_list, 'max_nr', max_nr);
  yield 'pcpu_cache_list->cache = alloc_percpu(struct pcpu_cache);';
  k.store(pcpu_cache_list, 'cache', k.alloc_percpu('pcpu_cache'));
  yield 'if (!pcpu_cache_list->cache) {';
  if (k.load(pcpu_cache_list, 'cache') === NULL) {
    yield 'kfree(pcpu_cache_list);';
    k.kfree(pcpu_cache_list);
    return NULL;
  }
  return pcpu_cache_list;
});

/** Port of v3 fs/iomap/direct-io.c:irq_cache_splice() */
export const irq_cache_splice = port('irq_cache_splice', function* (k: Kernel, cache: Value): Op {
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

/** Port of v3 fs/iomap/direct-io.c:pcpu_cache_list_alloc() */
export const pcpu_cache_list_alloc = port('pcpu_cache_list_alloc', function* (k: Kernel, pcpu_cache_list: Value): Op<Value> {
  let cache: Value;
  let cache_element: Value;

  yield 'cache = per_cpu_ptr(pcpu_cache_list->cache, get_cpu());';
  cache = k.per_cpu_ptr(k.load(pcpu_cache_list, 'cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= PCPU_CACHE_IRQ_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('PCPU_CACHE_IRQ_THRESHOLD')) {
      yield* irq_cache_splice(k, cache);
    }
    yield 'if (!cache->free_list) {';
    if (k.load(cache, 'free_list') === NULL) {
      yield 'put_cpu();';
      k.put_cpu();
      yield 'cache_element = kmalloc(PCPU_CACHE_ELEMENT_SIZE(pcpu_cache_list), GFP_KERNEL);';
      cache_element = k.kmalloc('pcpu_cache_element', 'GFP_KERNEL', elementSize(k, pcpu_cache_list));
      yield 'if (!cache_element) return NULL;';
      if (cache_element === NULL) return NULL;
      return payloadFromHead(k, cache_element);
    }
  }

  yield 'cache_element = cache->free_list;';
  cache_element = k.load(cache, 'free_list');
  yield 'cache->free_list = cache_element->next;';
  k.store(cache, 'free_list', k.load(cache_element, 'next'));
  yield 'cache->nr--;';
  k.store(cache, 'nr', k.load(cache, 'nr') - 1);
  yield 'put_cpu();';
  k.put_cpu();
  return payloadFromHead(k, cache_element);
});

/** Port of v3 fs/iomap/direct-io.c:pcpu_cache_list_free() */
export const pcpu_cache_list_free = port('pcpu_cache_list_free', function* (k: Kernel, payload: Value, pcpu_cache_list: Value): Op {
  let cache: Value;
  let cache_element: Value;

  cache_element = headFromPayload(k, payload);

  yield 'cache = per_cpu_ptr(pcpu_cache_list->cache, get_cpu());';
  cache = k.per_cpu_ptr(k.load(pcpu_cache_list, 'cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr >= pcpu_cache_list->max_nr) goto out_free;';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') >= k.load(pcpu_cache_list, 'max_nr')) {
    yield* out_free(k, cache_element);
    return;
  }

  yield 'if (in_task()) {';
  if (k.in_task()) {
    yield 'cache_element->next = cache->free_list;';
    k.store(cache_element, 'next', k.load(cache, 'free_list'));
    yield 'cache->free_list = cache_element;';
    k.store(cache, 'free_list', cache_element);
    yield 'cache->nr++;';
    k.store(cache, 'nr', k.load(cache, 'nr') + 1);
  } else {
    yield '} else if (in_hardirq()) {';
    if (k.in_hardirq()) {
      yield 'lockdep_assert_irqs_disabled();';
      k.lockdep_assert_irqs_disabled();
      yield 'cache_element->next = cache->free_list_irq;';
      k.store(cache_element, 'next', k.load(cache, 'free_list_irq'));
      yield 'cache->free_list_irq = cache_element;';
      k.store(cache, 'free_list_irq', cache_element);
      yield 'cache->nr_irq++;';
      k.store(cache, 'nr_irq', k.load(cache, 'nr_irq') + 1);
    } else {
      yield* out_free(k, cache_element);
      return;
    }
  }
  yield 'put_cpu();';
  k.put_cpu();
});

/** The `out_free:` label of pcpu_cache_list_free(): the header is the start of the kmalloc'd object. */
function* out_free(k: Kernel, cache_element: Value): Op {
  yield 'out_free: put_cpu();';
  k.put_cpu();
  yield 'kfree(cache_element);';
  k.kfree(cache_element);
}

// ---- instance 1: iomap_dio, as v3 uses the helpers -----------------------------------------------

/**
 * Port of v3 fs/iomap/direct-io.c:__iomap_dio_rw(): the allocation, then the return of the dio or
 * the `out_free_dio:` error path, a branch on `ret` the model does not compute (as in iomap-v1.ts).
 */
export const __iomap_dio_rw = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  dio = yield* pcpu_cache_list_alloc(k, k.global('dio_pcpu_cache_list'));
  yield 'if (!dio) return ERR_PTR(-ENOMEM);';
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  /* The branch to out_free_dio touches nothing shared: folded into the statement before it. */
  yield `atomic_set(&dio->ref, 1); then if (ret) goto out_free_dio; /* iomap_iter() or a check before it ended with an error */ ${NONDET_BRANCH}`;
  k.store(dio, 'ref', 1);
  if (k.nondet()) {
    /* out_free_dio: the dio was never submitted; `if (ret) return ERR_PTR(ret); return NULL;` follows */
    yield* pcpu_cache_list_free(k, dio, k.global('dio_pcpu_cache_list'));
    return NULL;
  }
  return dio;
});

/** The miss half of pcpu_cache_list_alloc(): an element from the slab, its payload returned. */
const pcpu_cache_list_alloc_fresh = port('pcpu_cache_list_alloc', function* (k: Kernel, pcpu_cache_list: Value): Op<Value> {
  let cache_element: Value;

  yield 'cache_element = kmalloc(PCPU_CACHE_ELEMENT_SIZE(pcpu_cache_list), GFP_KERNEL);';
  cache_element = k.kmalloc('pcpu_cache_element', 'GFP_KERNEL', elementSize(k, pcpu_cache_list));
  yield 'if (!cache_element) return NULL;';
  if (cache_element === NULL) return NULL;
  return payloadFromHead(k, cache_element);
});

/** __iomap_dio_rw() on a cache miss: a fresh dio from the slab, initialised by the caller. */
export const iomap_dio_fresh = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  dio = yield* pcpu_cache_list_alloc_fresh(k, k.global('dio_pcpu_cache_list'));
  yield 'if (!dio) return ERR_PTR(-ENOMEM);';
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

/** Port of v3 fs/iomap/direct-io.c:iomap_dio_complete(), the part that releases the dio. */
export const iomap_dio_complete = port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
  yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
  k.load(dio, 'iocb');
  yield* pcpu_cache_list_free(k, dio, k.global('dio_pcpu_cache_list'));
});

/** Port of v3 fs/iomap/direct-io.c:iomap_dio_init(), the lines the patch adds. */
export const iomap_dio_init = port('iomap_dio_init', function* (k: Kernel): Op<number> {
  const list = yield* pcpu_cache_list_create(k, k.macro('DIO_ALLOC_CACHE_MAX'), k.sizeof('iomap_dio'));
  yield 'dio_pcpu_cache_list = pcpu_cache_list_create(DIO_ALLOC_CACHE_MAX, sizeof(struct iomap_dio));';
  k.setGlobal('dio_pcpu_cache_list', list);
  yield 'if (!dio_pcpu_cache_list) return -ENOMEM;';
  if (k.global('dio_pcpu_cache_list') === NULL) return -12;
  return 0;
});

/**
 * Where the checker finds an instance's lists: the static descriptor the instance made with
 * pcpu_cache_list_create(), its `cache` field the __percpu pointer; the helpers' field names.
 */
function pcpuCacheListBinding(percpu: string, maxMacro: string): CacheBinding {
  return {
    percpu,
    percpuField: 'cache',
    freeList: 'free_list',
    freeListIrq: 'free_list_irq',
    nr: 'nr',
    nrIrq: 'nr_irq',
    next: 'next',
    maxMacro,
    thresholdMacro: 'PCPU_CACHE_IRQ_THRESHOLD',
  };
}

export const iomapCommon: Implementation = {
  name: 'iomap-common',
  description: 'v3 (2026-01-15): generic pcpu_cache_list helpers (element header before the payload, cap >= max_nr, kmalloc after put_cpu), iomap_dio instance',
  profile: 'iomap-v3',
  structs: [PCPU_CACHE_ELEMENT, PCPU_CACHE, PCPU_CACHE_LIST, IOMAP_DIO_V3],
  macros: { DIO_ALLOC_CACHE_MAX: 'MAX', PCPU_CACHE_IRQ_THRESHOLD: 'THRESHOLD' },
  objectType: 'iomap_dio',
  cache: pcpuCacheListBinding('dio_pcpu_cache_list', 'DIO_ALLOC_CACHE_MAX'),
  init: iomap_dio_init,
  alloc: __iomap_dio_rw,
  fresh: iomap_dio_fresh,
  free: iomap_dio_complete,
};

// ---- instance 2: bio, the same helpers with a struct bio payload --------------------------------

/**
 * block/bio.c:bio_alloc_bioset() with the per-CPU cache replaced by the generic helper: the helper
 * returns a cached or a fresh element, and the caller initialises it (bio_init, bi_pool).
 */
export const bio_alloc_bioset = port('bio_alloc_bioset', function* (k: Kernel): Op<Value> {
  let bio: Value;

  bio = yield* pcpu_cache_list_alloc(k, k.global('bio_pcpu_cache_list'));
  yield 'if (!bio) return NULL;';
  if (bio === NULL) return NULL;
  yield 'bio_init(bio, bdev, NULL, 0, opf);';
  k.store(bio, 'bi_next', NULL);
  k.store(bio, 'bi_bdev', BDEV);
  k.store(bio, 'bi_opf', REQ_ALLOC_CACHE);
  k.store(bio, 'bi_pool', NULL);
  yield 'bio->bi_pool = bs;';
  k.store(bio, 'bi_pool', FS_BIO_SET);
  return bio;
});

/** bio_alloc_bioset() on a cache miss: a fresh bio from the slab, initialised by the caller. */
export const bio_alloc_fresh = port('bio_alloc_bioset', function* (k: Kernel): Op<Value> {
  let bio: Value;

  bio = yield* pcpu_cache_list_alloc_fresh(k, k.global('bio_pcpu_cache_list'));
  yield 'if (!bio) return NULL;';
  if (bio === NULL) return NULL;
  yield 'bio_init(bio, bdev, NULL, 0, opf);';
  k.store(bio, 'bi_next', NULL);
  k.store(bio, 'bi_bdev', BDEV);
  k.store(bio, 'bi_opf', REQ_ALLOC_CACHE);
  k.store(bio, 'bi_pool', NULL);
  yield 'bio->bi_pool = bs;';
  k.store(bio, 'bi_pool', FS_BIO_SET);
  return bio;
});

/** block/bio.c:bio_put() with the cached put replaced by the generic helper. */
export const bio_put = port('bio_put', function* (k: Kernel, bio: Value): Op {
  yield 'if (bio->bi_opf & REQ_ALLOC_CACHE) pcpu_cache_list_free(bio, bio_pcpu_cache_list);';
  if (k.load(bio, 'bi_opf') & REQ_ALLOC_CACHE) yield* pcpu_cache_list_free(k, bio, k.global('bio_pcpu_cache_list'));
});

/** The cache creation of block/bio.c:bioset_init(), through the generic helper. */
export const bioset_init = port('bioset_init', function* (k: Kernel): Op<number> {
  const list = yield* pcpu_cache_list_create(k, k.macro('ALLOC_CACHE_MAX'), k.sizeof('bio'));
  yield 'bio_pcpu_cache_list = pcpu_cache_list_create(ALLOC_CACHE_MAX, sizeof(struct bio));';
  k.setGlobal('bio_pcpu_cache_list', list);
  yield 'if (!bio_pcpu_cache_list) goto bad;';
  if (k.global('bio_pcpu_cache_list') === NULL) return -12;
  return 0;
});

export const bioCommon: Implementation = {
  name: 'bio-common',
  description: 'the same v3 generic pcpu_cache_list helpers with a struct bio payload (block/bio.c callers), no hotplug prune',
  profile: 'iomap-v3',
  structs: [PCPU_CACHE_ELEMENT, PCPU_CACHE, PCPU_CACHE_LIST, BIO],
  macros: { ALLOC_CACHE_MAX: 'MAX', PCPU_CACHE_IRQ_THRESHOLD: 'THRESHOLD' },
  objectType: 'bio',
  cache: pcpuCacheListBinding('bio_pcpu_cache_list', 'ALLOC_CACHE_MAX'),
  init: bioset_init,
  alloc: bio_alloc_bioset,
  fresh: bio_alloc_fresh,
  free: bio_put,
};
