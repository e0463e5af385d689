/**
 * The block layer's per-CPU bio cache, the code the iomap patch copies, ported function for
 * function from block/bio.c.
 *
 * Source read: mainline block/bio.c after v6.12 (it has bio_chain_and_submit() and the
 * ERR_PTR-returning bio_split()), from a stored copy that does not name its commit; the stored
 * torvalds/linux versions (f7639d36, 008f05a7) predate the irq list and were not used. The cache
 * functions ported here have been unchanged since v6.9, when Pavel Begunkov's "block: extend bio
 * caching to task context" and "block: optimise in irq bio put caching" (Feb 2024) gave
 * bio_put_percpu_cache() its in_task() / in_hardirq() / else-free shape, the one the iomap patch
 * copies. Names and statement order are the C's; each `yield` is the boundary before the
 * statement it names (the conventions of iomap-v1.ts).
 *
 * What is modelled and what is not:
 * - One bio_set, `fs_bio_set`, made with BIOSET_PERCPU_CACHE; every bio carries REQ_ALLOC_CACHE
 *   and is small enough for the cache (nr_vecs 0). `fs_bio_set` is a static, so its `cache` field
 *   is a static variable of the simulation, `fs_bio_set.cache`; `bio->bi_pool` holds a token for it.
 * - mempool_alloc()/mempool_free() on `bs->bio_pool` are the slab calls behind them
 *   (kmem_cache_alloc/kmem_cache_free): the pool's reserve is never touched in this model, so the
 *   `!mempool_is_saturated()` gating of bug B3 never fires and is left out.
 * - bio_uninit() touches cgroup, integrity and crypt state only: a statement with no modelled effect.
 * - CPU hotplug: bio_cpu_dead() is the implementation's cpuDead(), run on a surviving CPU.
 */
import type { Kernel, StructDecl } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';

/** struct bio: only the fields the cache and its callers touch. */
export const BIO: StructDecl = { name: 'bio', size: 136, fields: { bi_next: 0, bi_bdev: 8, bi_opf: 16, bi_pool: 104 } };
/** struct bio_alloc_cache */
export const BIO_ALLOC_CACHE: StructDecl = {
  name: 'bio_alloc_cache',
  size: 24,
  fields: { free_list: 0, free_list_irq: 8, nr: 16, nr_irq: 20 },
};

/** include/linux/blk_types.h: __REQ_ALLOC_CACHE; only its being set matters here. */
export const REQ_ALLOC_CACHE = 1 << 10;
/** What `bio->bi_pool` holds: &fs_bio_set (not a heap object of the simulation). */
const FS_BIO_SET = 2;
/** A block device for bio_init(); its value is irrelevant to the cache. */
const BDEV = 3;

/** Port of block/bio.c:bio_alloc_irq_cache_splice() */
export const bio_alloc_irq_cache_splice = port('bio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
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

/**
 * block/bio.c:bio_init(), the fields modelled, as ONE statement: it writes only the bio its caller
 * owns (after put_cpu(), or fresh from the slab), so a boundary inside it could not be observed.
 */
function bio_init(k: Kernel, bio: Value, opf: Value): void {
  k.store(bio, 'bi_next', NULL);
  k.store(bio, 'bi_bdev', BDEV);
  k.store(bio, 'bi_opf', opf);
  k.store(bio, 'bi_pool', NULL);
}

/** Port of block/bio.c:bio_alloc_percpu_cache() */
export const bio_alloc_percpu_cache = port('bio_alloc_percpu_cache', function* (k: Kernel, opf: Value): Op<Value> {
  let cache: Value;
  let bio: Value;

  yield 'cache = per_cpu_ptr(bs->cache, get_cpu());';
  cache = k.per_cpu_ptr(k.global('fs_bio_set.cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= ALLOC_CACHE_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('ALLOC_CACHE_THRESHOLD')) {
      yield* bio_alloc_irq_cache_splice(k, cache);
    }
    yield 'if (!cache->free_list) {';
    if (k.load(cache, 'free_list') === NULL) {
      yield 'put_cpu();';
      k.put_cpu();
      return NULL;
    }
  }
  yield 'bio = cache->free_list;';
  bio = k.load(cache, 'free_list');
  yield 'cache->free_list = bio->bi_next;';
  k.store(cache, 'free_list', k.load(bio, 'bi_next'));
  yield 'cache->nr--;';
  k.store(cache, 'nr', k.load(cache, 'nr') - 1);
  yield 'put_cpu();';
  k.put_cpu();

  yield 'bio_init(bio, bdev, nr_vecs ? bio->bi_inline_vecs : NULL, nr_vecs, opf);';
  bio_init(k, bio, opf);
  yield 'bio->bi_pool = bs;';
  k.store(bio, 'bi_pool', FS_BIO_SET);
  return bio;
});

/**
 * Port of block/bio.c:bio_alloc_bioset(bdev, 0, REQ_ALLOC_CACHE, GFP_KERNEL, &fs_bio_set): the
 * cache lookup and the slab fallback (nr_vecs 0, no bvec pool, no rescuer punting).
 */
export const bio_alloc_bioset = port('bio_alloc_bioset', function* (k: Kernel): Op<Value> {
  let opf: Value = REQ_ALLOC_CACHE;
  let bio: Value;
  let p: Value;

  yield 'if (opf & REQ_ALLOC_CACHE) { if (bs->cache && nr_vecs <= BIO_INLINE_VECS) {';
  if (opf & REQ_ALLOC_CACHE) {
    if (k.global('fs_bio_set.cache') !== NULL) {
      bio = yield* bio_alloc_percpu_cache(k, opf);
      /* `if (bio) return bio;` is local: a bare return, or folded into the next statement */
      if (bio !== NULL) return bio;
      /*
       * No cached bio available, bio returned below marked with
       * REQ_ALLOC_CACHE to particpate in per-cpu alloc cache.
       */
    } else {
      opf &= ~REQ_ALLOC_CACHE;
    }
  }

  yield 'p = mempool_alloc(&bs->bio_pool, gfp_mask);';
  p = k.kmem_cache_alloc('bio', 'GFP_KERNEL');
  yield 'if (unlikely(!p)) return NULL;';
  if (p === NULL) return NULL;

  bio = p; /* bio = p + bs->front_pad; front_pad is 0 for fs_bio_set */
  yield 'bio_init(bio, bdev, NULL, 0, opf);';
  bio_init(k, bio, opf);
  yield 'bio->bi_pool = bs;';
  k.store(bio, 'bi_pool', FS_BIO_SET);
  return bio;
});

/** The mempool half of block/bio.c:bio_alloc_bioset(): a bio from the slab, as on a cache miss. */
export const bio_alloc_fresh = port('bio_alloc_bioset', function* (k: Kernel): Op<Value> {
  let bio: Value;
  let p: Value;

  yield 'p = mempool_alloc(&bs->bio_pool, gfp_mask);';
  p = k.kmem_cache_alloc('bio', 'GFP_KERNEL');
  yield 'if (unlikely(!p)) return NULL;';
  if (p === NULL) return NULL;

  bio = p;
  yield 'bio_init(bio, bdev, NULL, 0, opf);';
  bio_init(k, bio, REQ_ALLOC_CACHE);
  yield 'bio->bi_pool = bs;';
  k.store(bio, 'bi_pool', FS_BIO_SET);
  return bio;
});

/** Port of block/bio.c:bio_free(). */
export const bio_free = port('bio_free', function* (k: Kernel, bio: Value): Op {
  yield 'struct bio_set *bs = bio->bi_pool;';
  k.load(bio, 'bi_pool');
  yield 'bio_uninit(bio);';
  yield 'mempool_free(p - bs->front_pad, &bs->bio_pool);';
  k.kmem_cache_free(bio);
});

/** Port of block/bio.c:__bio_alloc_cache_prune() */
export const __bio_alloc_cache_prune = port('__bio_alloc_cache_prune', function* (k: Kernel, cache: Value, nr: number): Op<number> {
  let i = 0;
  let bio: Value;

  for (;;) {
    yield 'while ((bio = cache->free_list) != NULL) {';
    bio = k.load(cache, 'free_list');
    if (bio === NULL) break;
    yield 'cache->free_list = bio->bi_next;';
    k.store(cache, 'free_list', k.load(bio, 'bi_next'));
    yield 'cache->nr--;';
    k.store(cache, 'nr', k.load(cache, 'nr') - 1);
    yield* bio_free(k, bio);
    yield 'if (++i == nr) break;';
    if (++i === nr) break;
  }
  return i;
});

/** Port of block/bio.c:bio_alloc_cache_prune(); `nr` is an unsigned int. */
export const bio_alloc_cache_prune = port('bio_alloc_cache_prune', function* (k: Kernel, cache: Value, nr: number): Op {
  nr = (nr - (yield* __bio_alloc_cache_prune(k, cache, nr))) >>> 0;
  yield 'if (!READ_ONCE(cache->free_list)) {';
  if (k.READ_ONCE(cache, 'free_list') === NULL) {
    yield* bio_alloc_irq_cache_splice(k, cache);
    yield* __bio_alloc_cache_prune(k, cache, nr);
  }
});

/** Port of block/bio.c:bio_cpu_dead(), the CPUHP_BIO_DEAD teardown callback. */
export const bio_cpu_dead = port('bio_cpu_dead', function* (k: Kernel, cpu: number): Op {
  /* bs = hlist_entry_safe(node, struct bio_set, cpuhp_dead): the one bio_set, fs_bio_set */
  yield 'if (bs->cache) {';
  if (k.global('fs_bio_set.cache') !== NULL) {
    yield 'struct bio_alloc_cache *cache = per_cpu_ptr(bs->cache, cpu);';
    const cache = k.per_cpu_ptr(k.global('fs_bio_set.cache'), cpu);
    yield* bio_alloc_cache_prune(k, cache, -1 >>> 0);
  }
});

/** Port of block/bio.c:bio_put_percpu_cache() */
export const bio_put_percpu_cache = port('bio_put_percpu_cache', function* (k: Kernel, bio: Value): Op {
  let cache: Value;

  yield 'cache = per_cpu_ptr(bio->bi_pool->cache, get_cpu());';
  k.load(bio, 'bi_pool');
  cache = k.per_cpu_ptr(k.global('fs_bio_set.cache'), k.get_cpu());
  yield 'if (READ_ONCE(cache->nr_irq) + cache->nr > ALLOC_CACHE_MAX) goto out_free;';
  if (k.READ_ONCE(cache, 'nr_irq') + k.load(cache, 'nr') > k.macro('ALLOC_CACHE_MAX')) {
    yield* out_free(k, bio);
    return;
  }

  yield 'if (in_task()) {';
  if (k.in_task()) {
    yield 'bio_uninit(bio);';
    yield 'bio->bi_next = cache->free_list;';
    k.store(bio, 'bi_next', k.load(cache, 'free_list'));
    /* Not necessary but helps not to iopoll already freed bios */
    yield 'bio->bi_bdev = NULL;';
    k.store(bio, 'bi_bdev', NULL);
    yield 'cache->free_list = bio;';
    k.store(cache, 'free_list', bio);
    yield 'cache->nr++;';
    k.store(cache, 'nr', k.load(cache, 'nr') + 1);
  } else {
    yield '} else if (in_hardirq()) {';
    if (k.in_hardirq()) {
      yield 'lockdep_assert_irqs_disabled();';
      k.lockdep_assert_irqs_disabled();

      yield 'bio_uninit(bio);';
      yield 'bio->bi_next = cache->free_list_irq;';
      k.store(bio, 'bi_next', k.load(cache, 'free_list_irq'));
      yield 'cache->free_list_irq = bio;';
      k.store(cache, 'free_list_irq', bio);
      yield 'cache->nr_irq++;';
      k.store(cache, 'nr_irq', k.load(cache, 'nr_irq') + 1);
    } else {
      yield* out_free(k, bio);
      return;
    }
  }
  yield 'put_cpu();';
  k.put_cpu();
});

/** The `out_free:` label of bio_put_percpu_cache(): the statements after it, reached by goto. */
function* out_free(k: Kernel, bio: Value): Op {
  yield 'out_free: put_cpu();';
  k.put_cpu();
  yield* bio_free(k, bio);
}

/** Port of block/bio.c:bio_put() (no BIO_REFFED bios: bio_get() is not modelled). */
export const bio_put = port('bio_put', function* (k: Kernel, bio: Value): Op {
  yield 'if (bio->bi_opf & REQ_ALLOC_CACHE) bio_put_percpu_cache(bio); else bio_free(bio);';
  if (k.load(bio, 'bi_opf') & REQ_ALLOC_CACHE) yield* bio_put_percpu_cache(k, bio);
  else yield* bio_free(k, bio);
});

/** Port of the BIOSET_PERCPU_CACHE part of block/bio.c:bioset_init() for fs_bio_set. */
export const bioset_init = port('bioset_init', function* (k: Kernel): Op<number> {
  yield 'bs->cache = alloc_percpu(struct bio_alloc_cache);';
  k.setGlobal('fs_bio_set.cache', k.alloc_percpu('bio_alloc_cache'));
  yield 'if (!bs->cache) goto bad;';
  if (k.global('fs_bio_set.cache') === NULL) return -12;
  /* The cpuhp instance is what makes bio_cpu_dead() run: here, the implementation's cpuDead. */
  yield 'cpuhp_state_add_instance_nocalls(CPUHP_BIO_DEAD, &bs->cpuhp_dead);';
  return 0;
});

export const bio: Implementation = {
  name: 'bio',
  description: 'block/bio.c per-CPU bio cache (mainline, v6.9+): bio_alloc_percpu_cache, bio_put_percpu_cache, bio_cpu_dead prunes a dead CPU',
  profile: 'bio',
  structs: [BIO, BIO_ALLOC_CACHE],
  macros: { ALLOC_CACHE_MAX: 'MAX', ALLOC_CACHE_THRESHOLD: 'THRESHOLD' },
  objectType: 'bio',
  cache: {
    percpu: 'fs_bio_set.cache',
    freeList: 'free_list',
    freeListIrq: 'free_list_irq',
    nr: 'nr',
    nrIrq: 'nr_irq',
    next: 'bi_next',
    maxMacro: 'ALLOC_CACHE_MAX',
    thresholdMacro: 'ALLOC_CACHE_THRESHOLD',
  },
  init: bioset_init,
  alloc: bio_alloc_bioset,
  fresh: bio_alloc_fresh,
  free: bio_put,
  cpuDead: bio_cpu_dead,
};

export default bio;
