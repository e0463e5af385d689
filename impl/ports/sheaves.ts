/**
 * SLUB's per-CPU sheaves, the alternative Dave Chinner pointed to on the iomap thread (2026-01-15):
 * a dedicated kmem_cache for iomap_dio created with `kmem_cache_args.sheaf_capacity`, so that
 * kmem_cache_alloc()/kmem_cache_free() are served from per-CPU arrays of objects ("sheaves")
 * guarded by a per-CPU local_trylock_t, instead of a hand-made per-CPU list.
 *
 * Source: mm/slub.c at linux-next commit 00e7a3e9143c5ec42ab94a43d471e3abf5dd5053 (as stored in
 * the code search index, github.com/ColinIanKing/linux-next; excerpt shipped as
 * test/fixtures/kernel/mm_slub_sheaves_fastpath_linux-next_00e7a3e9.c): alloc_from_pcs(),
 * __pcs_replace_empty_main(), the slab_alloc_node() lines that call it, free_to_pcs(),
 * __pcs_replace_full_main(), slab_free(). Not in that excerpt, and ported from the mm/slub.c of
 * the same series as the index has it (the barn taken with get_barn(s), before the
 * `allow_spin` argument): __pcs_install_empty_sheaf(), sheaf_flush_main(), sheaf_flush_unused(),
 * __pcs_flush_all_cpu() and the sheaves part of slub_cpu_dead(); refill_sheaf() and
 * alloc_full_sheaf() as in v6.18 (__kmem_cache_alloc_bulk()).
 *
 * What is abstract (the brief of issue 16 §4: the barn and the slab slow path):
 * - The barn (struct node_barn, one node) keeps its sheaves on two lists linked through
 *   `barn_list`; each barn_*() helper is one step, as it runs under barn->lock with irqs saved.
 *   MAX_FULL_SHEAVES is 1 (the kernel's 10, at the model's scale).
 * - The slab slow path: __slab_alloc_node() is kmem_cache_alloc() of one fresh object;
 *   do_slab_free() and __kmem_cache_free_bulk() give poisoned objects back to their slabs, which
 *   the model does not keep (no effect); refill_sheaf() takes poisoned objects off the slabs
 *   (the __kmem_cache_alloc_bulk primitive). KASAN's view is the object's state: slab_free_hook()
 *   poisons the object before it goes to a sheaf, slab_post_alloc_hook() unpoisons it when a
 *   sheaf hands it out, so an object waiting in a sheaf reads as freed, as it does under KASAN.
 * - kmem_cache_create() is one step of the initcall, whose allocations do not fail (the
 *   allocator's setup, not the code under check), as the slab port's handle stands for it.
 * - Left out, no effect on the sheaves: stat(), lockdep_assert_held(), the memcg and
 *   alloc-tagging hooks, CONFIG_NUMA's node checks (one node, NUMA_NO_NODE: `node_requested` is
 *   false), the kfree_rcu sheaf (rcu_free). The lock is !PREEMPT_RT's local_trylock_t: taking it
 *   disables preemption, not irqs, so an interrupt can land on the holder and find it taken.
 *
 * The profile is `slab`: the checker sees the allocator contract (object-safety, might-sleep,
 * context-balance, crash), not the sheaves (`cache: null`); their structs are the allocator's
 * own memory (`allocatorStructs`).
 */
import type { Kernel, StructDecl } from '../kernel/primitives.js';
import { NULL, type Value } from '../kernel/values.js';
import { port, type Implementation, type Op } from '../interface.js';
import { IOMAP_DIO_SLAB } from './slab.js';

/** struct kmem_cache: the fields the sheaves use; `barn` is get_barn(s), s->node[0]->barn. */
export const KMEM_CACHE: StructDecl = { name: 'kmem_cache', size: 24, fields: { cpu_sheaves: 0, sheaf_capacity: 8, barn: 16 } };
/** struct slub_percpu_sheaves (lock is the local_trylock_t's acquired word). */
export const SLUB_PERCPU_SHEAVES: StructDecl = { name: 'slub_percpu_sheaves', size: 24, fields: { lock: 0, main: 8, spare: 16 } };
/** struct slab_sheaf: `objects[]` is a flexible array; kzalloc() gives it struct_size(sheaf, objects, capacity) bytes. */
export const SLAB_SHEAF: StructDecl = { name: 'slab_sheaf', size: 16, fields: { barn_list: 0, size: 8, objects: 16 } };
/** struct node_barn (its spinlock is each helper's atomicity). */
export const NODE_BARN: StructDecl = { name: 'node_barn', size: 32, fields: { sheaves_full: 0, sheaves_empty: 8, nr_full: 16, nr_empty: 20 } };

const OBJECTS = SLAB_SHEAF.fields.objects!;
const E2BIG = -7;
const ENOMEM = -12;
/** An iocb stands for the caller's request; its value is irrelevant. */
const IOCB = 1;

/** &sheaf->objects[i] */
export const objectAt = (sheaf: Value, i: number): Value => sheaf + OBJECTS + 8 * i;
const IS_ERR = (p: Value): boolean => p < 0;

// ---- the barn: one step each, under barn->lock (spin_lock_irqsave) ------------------------------

/**
 * A barn call under barn->lock, taken with spin_lock_irqsave(): no interrupt on this CPU and no
 * other CPU's barn call comes between its accesses, so at access level (`--atomicity access`)
 * they are one interleaving point.
 */
function underBarnLock<T>(k: Kernel, body: () => T): T {
  k.beginOneAccess();
  try {
    return body();
  } finally {
    k.endOneAccess();
  }
}

/** list_del() of the first sheaf on a barn list: the link is poisoned (here: NULL). */
function listPop(k: Kernel, barn: Value, list: 'sheaves_full' | 'sheaves_empty'): Value {
  const sheaf = k.load(barn, list);
  k.store(barn, list, k.load(sheaf, 'barn_list'));
  k.store(sheaf, 'barn_list', NULL);
  return sheaf;
}
function listAdd(k: Kernel, barn: Value, list: 'sheaves_full' | 'sheaves_empty', sheaf: Value): void {
  k.store(sheaf, 'barn_list', k.load(barn, list));
  k.store(barn, list, sheaf);
}

/** mm/slub.c:barn_replace_empty_sheaf(): a full sheaf for the supplied empty one, or NULL. */
function barn_replace_empty_sheaf(k: Kernel, barn: Value, empty: Value): Value {
  return underBarnLock(k, (): Value => {
    if (!k.load(barn, 'nr_full')) return NULL;
    const full = listPop(k, barn, 'sheaves_full');
    listAdd(k, barn, 'sheaves_empty', empty);
    k.store(barn, 'nr_full', k.load(barn, 'nr_full') - 1);
    k.store(barn, 'nr_empty', k.load(barn, 'nr_empty') + 1);
    return full;
  });
}
/** mm/slub.c:barn_get_empty_sheaf() */
function barn_get_empty_sheaf(k: Kernel, barn: Value): Value {
  return underBarnLock(k, (): Value => {
    if (!k.load(barn, 'nr_empty')) return NULL;
    const empty = listPop(k, barn, 'sheaves_empty');
    k.store(barn, 'nr_empty', k.load(barn, 'nr_empty') - 1);
    return empty;
  });
}
/** mm/slub.c:barn_put_empty_sheaf(): no limit checked ("used mainly ... to undo an intended action"). */
function barn_put_empty_sheaf(k: Kernel, barn: Value, sheaf: Value): void {
  return underBarnLock(k, (): void => {
    listAdd(k, barn, 'sheaves_empty', sheaf);
    k.store(barn, 'nr_empty', k.load(barn, 'nr_empty') + 1);
  });
}
/** mm/slub.c:barn_put_full_sheaf(): no limit checked either. */
function barn_put_full_sheaf(k: Kernel, barn: Value, sheaf: Value): void {
  return underBarnLock(k, (): void => {
    listAdd(k, barn, 'sheaves_full', sheaf);
    k.store(barn, 'nr_full', k.load(barn, 'nr_full') + 1);
  });
}
/** mm/slub.c:barn_replace_full_sheaf(): an empty sheaf for the supplied full one, ERR_PTR(-E2BIG) past MAX_FULL_SHEAVES, ERR_PTR(-ENOMEM) with no empty one. */
function barn_replace_full_sheaf(k: Kernel, barn: Value, full: Value): Value {
  return underBarnLock(k, (): Value => {
    if (k.load(barn, 'nr_full') >= k.macro('MAX_FULL_SHEAVES')) return E2BIG;
    if (!k.load(barn, 'nr_empty')) return ENOMEM;
    const empty = listPop(k, barn, 'sheaves_empty');
    listAdd(k, barn, 'sheaves_full', full);
    k.store(barn, 'nr_empty', k.load(barn, 'nr_empty') - 1);
    k.store(barn, 'nr_full', k.load(barn, 'nr_full') + 1);
    return empty;
  });
}

// ---- sheaves: allocation, refill, flush ----------------------------------------------------------

/** Port of mm/slub.c:alloc_empty_sheaf() (__alloc_empty_sheaf() with s->sheaf_capacity) */
export const alloc_empty_sheaf = port('alloc_empty_sheaf', function* (k: Kernel, s: Value, gfp: 'GFP_KERNEL' | 'GFP_NOWAIT'): Op<Value> {
  yield 'sheaf = kzalloc(struct_size(sheaf, objects, capacity), gfp);';
  const sheaf = k.kzalloc('slab_sheaf', gfp, k.sizeof('slab_sheaf') + 8 * k.load(s, 'sheaf_capacity'));
  // if (unlikely(!sheaf)) return NULL; sheaf->cache = s (not modelled): a local test.
  return sheaf;
});

/** Port of mm/slub.c:free_empty_sheaf() */
export const free_empty_sheaf = port('free_empty_sheaf', function* (k: Kernel, _s: Value, sheaf: Value): Op {
  yield 'kfree(sheaf);';
  k.kfree(sheaf);
});

/** Port of mm/slub.c:refill_sheaf() (v6.18); the sheaf is this caller's alone (taken off the pcs under the lock, or off the barn). */
export const refill_sheaf = port('refill_sheaf', function* (k: Kernel, s: Value, sheaf: Value, gfp: 'GFP_KERNEL'): Op<number> {
  yield 'to_fill = s->sheaf_capacity - sheaf->size;';
  const to_fill = k.load(s, 'sheaf_capacity') - k.load(sheaf, 'size');
  if (!to_fill) return 0;
  yield 'filled = __kmem_cache_alloc_bulk(s, gfp, to_fill, &sheaf->objects[sheaf->size]);';
  const filled = k.__kmem_cache_alloc_bulk('iomap_dio', gfp, to_fill, objectAt(sheaf, k.load(sheaf, 'size')), 'sheaf->objects[sheaf->size]');
  if (!filled) return ENOMEM;
  yield 'sheaf->size = s->sheaf_capacity;';
  k.store(sheaf, 'size', k.load(s, 'sheaf_capacity'));
  return 0;
});

/** Port of mm/slub.c:alloc_full_sheaf() */
export const alloc_full_sheaf = port('alloc_full_sheaf', function* (k: Kernel, s: Value, gfp: 'GFP_KERNEL'): Op<Value> {
  const sheaf = yield* alloc_empty_sheaf(k, s, gfp);
  if (!sheaf) return NULL;
  if (yield* refill_sheaf(k, s, sheaf, gfp)) {
    yield* free_empty_sheaf(k, s, sheaf);
    return NULL;
  }
  return sheaf;
});

/**
 * Port of mm/slub.c:sheaf_flush_unused(). A sheaf no pcs links, or a dead CPU's: no lock.
 * __kmem_cache_free_bulk() gives the (poisoned) objects back to their slabs: no modelled effect,
 * so it is folded into the statement that empties the sheaf.
 */
export const sheaf_flush_unused = port('sheaf_flush_unused', function* (k: Kernel, _s: Value, sheaf: Value): Op {
  yield 'if (!sheaf->size) return;';
  if (!k.load(sheaf, 'size')) return;
  yield '__kmem_cache_free_bulk(s, sheaf->size, &sheaf->objects[0]); sheaf->size = 0;';
  k.store(sheaf, 'size', 0);
});

/**
 * Port of mm/slub.c:sheaf_flush_main(): the main sheaf emptied in batches of PCS_BATCH_MAX (32,
 * more than any capacity explored: one batch) copied out under the lock and freed outside it.
 */
export const sheaf_flush_main = port('sheaf_flush_main', function* (k: Kernel, s: Value): Op<boolean> {
  let ret = false;
  for (;;) {
    yield 'next_batch: if (!local_trylock(&s->cpu_sheaves->lock)) return ret;';
    if (!k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock')) return ret;
    yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
    const pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));
    yield 'sheaf = pcs->main;';
    const sheaf = k.load(pcs, 'main');
    yield 'batch = min(PCS_BATCH_MAX, sheaf->size);';
    const batch = Math.min(32, k.load(sheaf, 'size'));
    yield 'sheaf->size -= batch;';
    k.store(sheaf, 'size', k.load(sheaf, 'size') - batch);
    yield 'memcpy(objects, sheaf->objects + sheaf->size, batch * sizeof(void *));';
    const from = k.load(sheaf, 'size');
    for (let i = 0; i < batch; i++) k.loadAt(objectAt(sheaf, from + i), 'sheaf->objects[...]');
    yield 'remaining = sheaf->size;';
    const remaining = k.load(sheaf, 'size');
    yield 'local_unlock(&s->cpu_sheaves->lock);';
    k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');
    // __kmem_cache_free_bulk(s, batch, &objects[0]): back to the slabs, no modelled effect.
    ret = true;
    if (!remaining) return ret;
  }
});

// ---- the allocation fast path ---------------------------------------------------------------------

/** Port of mm/slub.c:__pcs_replace_empty_main(): called with the local lock held; may drop it. */
export const __pcs_replace_empty_main = port('__pcs_replace_empty_main', function* (k: Kernel, s: Value, pcs: Value, gfp: 'GFP_KERNEL'): Op<Value> {
  let empty: Value = NULL;
  let full: Value;
  let barn: Value;

  yield 'if (pcs->spare && pcs->spare->size > 0) {';
  const spare = k.load(pcs, 'spare');
  if (spare !== NULL && k.load(spare, 'size') > 0) {
    yield 'swap(pcs->main, pcs->spare);';
    const main = k.load(pcs, 'main');
    k.store(pcs, 'main', k.load(pcs, 'spare'));
    k.store(pcs, 'spare', main);
    return pcs;
  }

  yield 'barn = get_barn(s);';
  barn = k.load(s, 'barn');
  yield 'full = barn_replace_empty_sheaf(barn, pcs->main);';
  full = barn_replace_empty_sheaf(k, barn, k.load(pcs, 'main'));
  if (full) {
    yield 'pcs->main = full;';
    k.store(pcs, 'main', full);
    return pcs;
  }

  // can_alloc = gfpflags_allow_blocking(gfp): a local.
  const can_alloc = gfp === 'GFP_KERNEL';
  if (can_alloc) {
    yield 'if (pcs->spare) {';
    if (k.load(pcs, 'spare') !== NULL) {
      yield 'empty = pcs->spare;';
      empty = k.load(pcs, 'spare');
      yield 'pcs->spare = NULL;';
      k.store(pcs, 'spare', NULL);
    } else {
      yield 'empty = barn_get_empty_sheaf(barn);';
      empty = barn_get_empty_sheaf(k, barn);
    }
  }

  yield 'local_unlock(&s->cpu_sheaves->lock);';
  k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');

  if (!can_alloc) return NULL;

  full = NULL;
  if (empty) {
    if (!(yield* refill_sheaf(k, s, empty, gfp))) {
      full = empty;
    } else {
      /* we must be very low on memory so don't bother with the barn */
      yield* free_empty_sheaf(k, s, empty);
    }
  } else {
    full = yield* alloc_full_sheaf(k, s, gfp);
  }

  if (!full) return NULL;

  /* we can reach here only when gfpflags_allow_blocking so this must not be an irq */
  yield 'local_lock(&s->cpu_sheaves->lock);';
  k.local_lock(k.load(s, 'cpu_sheaves'), 'lock');
  yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
  pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));

  yield 'if (pcs->main->size == 0) {';
  if (k.load(k.load(pcs, 'main'), 'size') === 0) {
    yield 'barn_put_empty_sheaf(barn, pcs->main);';
    barn_put_empty_sheaf(k, barn, k.load(pcs, 'main'));
    yield 'pcs->main = full;';
    k.store(pcs, 'main', full);
    return pcs;
  }

  yield 'if (!pcs->spare) {';
  if (k.load(pcs, 'spare') === NULL) {
    yield 'pcs->spare = full;';
    k.store(pcs, 'spare', full);
    return pcs;
  }

  yield 'if (pcs->spare->size == 0) {';
  if (k.load(k.load(pcs, 'spare'), 'size') === 0) {
    yield 'barn_put_empty_sheaf(barn, pcs->spare);';
    barn_put_empty_sheaf(k, barn, k.load(pcs, 'spare'));
    yield 'pcs->spare = full;';
    k.store(pcs, 'spare', full);
    return pcs;
  }

  yield 'barn_put_full_sheaf(barn, full);';
  barn_put_full_sheaf(k, barn, full);
  return pcs;
});

/** Port of mm/slub.c:alloc_from_pcs() (NUMA_NO_NODE: `node_requested` is false, its tests are folded) */
export const alloc_from_pcs = port('alloc_from_pcs', function* (k: Kernel, s: Value, gfp: 'GFP_KERNEL'): Op<Value> {
  let pcs: Value;
  let object: Value;

  yield 'if (!local_trylock(&s->cpu_sheaves->lock)) return NULL;';
  if (!k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock')) return NULL;

  yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
  pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));

  yield 'if (unlikely(pcs->main->size == 0)) {';
  if (k.load(k.load(pcs, 'main'), 'size') === 0) {
    pcs = yield* __pcs_replace_empty_main(k, s, pcs, gfp);
    if (!pcs) return NULL;
  }

  yield 'object = pcs->main->objects[pcs->main->size - 1];';
  {
    const main = k.load(pcs, 'main');
    object = k.loadAt(objectAt(main, k.load(main, 'size') - 1), 'pcs->main->objects[pcs->main->size - 1]');
  }

  yield 'pcs->main->size--;';
  {
    const main = k.load(pcs, 'main');
    k.store(main, 'size', k.load(main, 'size') - 1);
  }

  yield 'local_unlock(&s->cpu_sheaves->lock);';
  k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');
  return object;
});

/**
 * Port of mm/slub.c:slab_alloc_node() as far as the sheaves go: the pre-alloc hook's
 * might_alloc(), the sheaves, the slow path, the post-alloc hook.
 */
export const slab_alloc_node = port('slab_alloc_node', function* (k: Kernel, s: Value, gfpflags: 'GFP_KERNEL'): Op<Value> {
  let object: Value = NULL;

  yield 's = slab_pre_alloc_hook(s, gfpflags);';
  k.might_alloc(gfpflags);

  yield 'if (s->cpu_sheaves) object = alloc_from_pcs(s, gfpflags, node);';
  if (k.load(s, 'cpu_sheaves') !== NULL) object = yield* alloc_from_pcs(k, s, gfpflags);

  if (!object) {
    yield 'if (!object) object = __slab_alloc_node(s, gfpflags, node, addr, orig_size); /* the slab slow path, abstract: kmem_cache_alloc(s, gfpflags) of one object */';
    object = k.kmem_cache_alloc('iomap_dio', gfpflags);
  }

  yield 'slab_post_alloc_hook(s, lru, gfpflags, 1, &object, init, orig_size);';
  k.slab_post_alloc_hook(object);
  return object;
});

// ---- the free fast path ---------------------------------------------------------------------------

/** Port of mm/slub.c:__pcs_install_empty_sheaf(): the lock is held again; install the empty sheaf got without it. */
export const __pcs_install_empty_sheaf = port('__pcs_install_empty_sheaf', function* (k: Kernel, s: Value, pcs: Value, empty: Value): Op {
  /* This is what we expect to find if nobody interrupted us. */
  yield 'if (likely(!pcs->spare)) {';
  if (k.load(pcs, 'spare') === NULL) {
    yield 'pcs->spare = pcs->main;';
    k.store(pcs, 'spare', k.load(pcs, 'main'));
    yield 'pcs->main = empty;';
    k.store(pcs, 'main', empty);
    return;
  }

  yield 'barn = get_barn(s);';
  const barn = k.load(s, 'barn');

  /* Unlikely because if the main sheaf had space, we would have just freed to it. */
  yield 'if (pcs->main->size < s->sheaf_capacity) {';
  if (k.load(k.load(pcs, 'main'), 'size') < k.load(s, 'sheaf_capacity')) {
    yield 'barn_put_empty_sheaf(barn, empty);';
    barn_put_empty_sheaf(k, barn, empty);
    return;
  }

  /* Also unlikely for the same reason */
  yield 'if (pcs->spare->size < s->sheaf_capacity) {';
  if (k.load(k.load(pcs, 'spare'), 'size') < k.load(s, 'sheaf_capacity')) {
    yield 'swap(pcs->main, pcs->spare);';
    const main = k.load(pcs, 'main');
    k.store(pcs, 'main', k.load(pcs, 'spare'));
    k.store(pcs, 'spare', main);
    yield 'barn_put_empty_sheaf(barn, empty);';
    barn_put_empty_sheaf(k, barn, empty);
    return;
  }

  yield 'barn_put_full_sheaf(barn, pcs->main);';
  barn_put_full_sheaf(k, barn, k.load(pcs, 'main'));
  yield 'pcs->main = empty;';
  k.store(pcs, 'main', empty);
});

/** Port of mm/slub.c:__pcs_replace_full_main(): called with the local lock held; may drop it and trylock it again. */
export const __pcs_replace_full_main = port('__pcs_replace_full_main', function* (k: Kernel, s: Value, pcs: Value): Op<Value> {
  let empty: Value;
  let barn: Value;
  // put_fail only decides whether stat(s, BARN_PUT_FAIL) counts: not modelled.

  // `goto restart` is the loop.
  for (;;) {
    yield 'restart: barn = get_barn(s);';
    barn = k.load(s, 'barn');

    yield 'if (!pcs->spare) {';
    if (k.load(pcs, 'spare') === NULL) {
      yield 'empty = barn_get_empty_sheaf(barn);';
      empty = barn_get_empty_sheaf(k, barn);
      if (empty) {
        yield 'pcs->spare = pcs->main;';
        k.store(pcs, 'spare', k.load(pcs, 'main'));
        yield 'pcs->main = empty;';
        k.store(pcs, 'main', empty);
        return pcs;
      }
    } else {
      yield 'if (pcs->spare->size < s->sheaf_capacity) {';
      if (k.load(k.load(pcs, 'spare'), 'size') < k.load(s, 'sheaf_capacity')) {
        yield 'swap(pcs->main, pcs->spare);';
        const main = k.load(pcs, 'main');
        k.store(pcs, 'main', k.load(pcs, 'spare'));
        k.store(pcs, 'spare', main);
        return pcs;
      }

      yield 'empty = barn_replace_full_sheaf(barn, pcs->main);';
      empty = barn_replace_full_sheaf(k, barn, k.load(pcs, 'main'));

      if (!IS_ERR(empty)) {
        yield 'pcs->main = empty;';
        k.store(pcs, 'main', empty);
        return pcs;
      }

      if (empty === E2BIG) {
        /* Since we got here, spare exists and is full */
        yield 'to_flush = pcs->spare;';
        const to_flush = k.load(pcs, 'spare');
        yield 'pcs->spare = NULL;';
        k.store(pcs, 'spare', NULL);
        yield 'local_unlock(&s->cpu_sheaves->lock);';
        k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');
        yield* sheaf_flush_unused(k, s, to_flush);
        empty = to_flush;
        return yield* got_empty();
      }

      /* the barn had no empty sheaf: allocate one below (put_fail = true) */
    }

    // alloc_empty:
    yield 'alloc_empty: local_unlock(&s->cpu_sheaves->lock);';
    k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');

    empty = yield* alloc_empty_sheaf(k, s, 'GFP_NOWAIT');
    if (empty) return yield* got_empty();

    if (!(yield* sheaf_flush_main(k, s))) return NULL;

    yield 'if (!local_trylock(&s->cpu_sheaves->lock)) return NULL;';
    if (!k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock')) return NULL;

    yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
    pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));

    /* we flushed the main sheaf so it should be empty now, but in case we got preempted or migrated, we need to check again */
    yield 'if (pcs->main->size == s->sheaf_capacity) goto restart;';
    if (k.load(k.load(pcs, 'main'), 'size') !== k.load(s, 'sheaf_capacity')) return pcs;
  }

  /** The statements after `got_empty:` (a goto target; declarations are hoisted). */
  function* got_empty(): Op<Value> {
    yield 'got_empty: if (!local_trylock(&s->cpu_sheaves->lock)) {';
    if (!k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock')) {
      yield 'barn_put_empty_sheaf(barn, empty);';
      barn_put_empty_sheaf(k, barn, empty);
      return NULL;
    }
    yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
    pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));
    yield* __pcs_install_empty_sheaf(k, s, pcs, empty);
    return pcs;
  }
});

/** Port of mm/slub.c:free_to_pcs() */
export const free_to_pcs = port('free_to_pcs', function* (k: Kernel, s: Value, object: Value): Op<boolean> {
  let pcs: Value;

  yield 'if (!local_trylock(&s->cpu_sheaves->lock)) return false;';
  if (!k.local_trylock(k.load(s, 'cpu_sheaves'), 'lock')) return false;

  yield 'pcs = this_cpu_ptr(s->cpu_sheaves);';
  pcs = k.this_cpu_ptr(k.load(s, 'cpu_sheaves'));

  yield 'if (unlikely(pcs->main->size == s->sheaf_capacity)) {';
  if (k.load(k.load(pcs, 'main'), 'size') === k.load(s, 'sheaf_capacity')) {
    pcs = yield* __pcs_replace_full_main(k, s, pcs);
    if (!pcs) return false;
  }

  yield 'pcs->main->objects[pcs->main->size++] = object;';
  {
    const main = k.load(pcs, 'main');
    const size = k.load(main, 'size');
    k.storeAt(objectAt(main, size), object, 'pcs->main->objects[pcs->main->size++]');
    k.store(main, 'size', size + 1);
  }

  yield 'local_unlock(&s->cpu_sheaves->lock);';
  k.local_unlock(k.load(s, 'cpu_sheaves'), 'lock');
  return true;
});

/** A free_to_pcs() (the port's, or a variant's). */
export type FreeToPcs = (k: Kernel, s: Value, object: Value) => Op<boolean>;

/** mm/slub.c:slab_free() around a given free_to_pcs(): the variants swap that one function. */
export function slabFreeWith(freeToPcs: FreeToPcs): (k: Kernel, s: Value, object: Value) => Op {
  /** Port of mm/slub.c:slab_free() (one node: the slab_nid() test is true; the memcg and alloc-tagging hooks have no modelled effect) */
  return port('slab_free', function* (k: Kernel, s: Value, object: Value): Op {
    yield 'if (unlikely(!slab_free_hook(s, object, slab_want_init_on_free(s), false))) return;';
    if (!k.slab_free_hook(object)) return;

    yield 'if (s->cpu_sheaves && likely(!IS_ENABLED(CONFIG_NUMA) || slab_nid(slab) == numa_mem_id())) {';
    if (k.load(s, 'cpu_sheaves') !== NULL) {
      if (yield* freeToPcs(k, s, object)) return;
    }

    // The fallback a failed local_trylock() leads to, in an interrupt that landed on the holder.
    yield 'do_slab_free(s, slab, object, object, 1, addr); /* the slab slow path, abstract: the poisoned object goes back to its slab */';
  });
}

export const slab_free = slabFreeWith(free_to_pcs);

// ---- CPU hotplug ----------------------------------------------------------------------------------

/** Port of mm/slub.c:__pcs_flush_all_cpu() (no rcu_free sheaf: kfree_rcu() is not modelled) */
export const __pcs_flush_all_cpu = port('__pcs_flush_all_cpu', function* (k: Kernel, s: Value, cpu: number): Op {
  yield 'pcs = per_cpu_ptr(s->cpu_sheaves, cpu);';
  const pcs = k.per_cpu_ptr(k.load(s, 'cpu_sheaves'), cpu);

  /* The cpu is not executing anymore so we don't need pcs->lock */
  yield* sheaf_flush_unused(k, s, k.load(pcs, 'main'));
  yield 'if (pcs->spare) {';
  if (k.load(pcs, 'spare') !== NULL) {
    yield* sheaf_flush_unused(k, s, k.load(pcs, 'spare'));
    yield* free_empty_sheaf(k, s, k.load(pcs, 'spare'));
    yield 'pcs->spare = NULL;';
    k.store(pcs, 'spare', NULL);
  }
});

/** Port of the sheaves part of mm/slub.c:slub_cpu_dead(), for the one cache (dio_cachep) */
export const slub_cpu_dead = port('slub_cpu_dead', function* (k: Kernel, cpu: number): Op {
  yield 'list_for_each_entry(s, &slab_caches, list) { __flush_cpu_slab(s, cpu); /* the cpu slab: the slow path, abstract */';
  const s = k.global('dio_cachep');
  yield 'if (s->cpu_sheaves) __pcs_flush_all_cpu(s, cpu);';
  if (k.load(s, 'cpu_sheaves') !== NULL) yield* __pcs_flush_all_cpu(k, s, cpu);
});

// ---- iomap: the dedicated cache ---------------------------------------------------------------------

/**
 * kmem_cache_create() with `args.sheaf_capacity`, abstract: the cache, its barn, and
 * init_percpu_sheaves() (an empty main sheaf per CPU, no spare). Its allocations do not fail.
 */
function kmem_cache_create(k: Kernel): Value {
  const could = k.cannotFail;
  k.cannotFail = true;
  const s = k.kzalloc('kmem_cache', 'GFP_KERNEL');
  k.store(s, 'sheaf_capacity', k.macro('SHEAF_CAPACITY'));
  k.store(s, 'barn', k.kzalloc('node_barn', 'GFP_KERNEL'));
  k.store(s, 'cpu_sheaves', k.alloc_percpu('slub_percpu_sheaves'));
  for (let cpu = 0; cpu < k.num_possible_cpus(); cpu++) {
    const pcs = k.per_cpu_ptr(k.load(s, 'cpu_sheaves'), cpu);
    k.store(pcs, 'main', k.kzalloc('slab_sheaf', 'GFP_KERNEL', k.sizeof('slab_sheaf') + 8 * k.macro('SHEAF_CAPACITY')));
  }
  k.cannotFail = could;
  return s;
}

/** iomap_dio_init() creating the cache with sheaves */
export const iomap_dio_init = port('iomap_dio_init', function* (k: Kernel): Op<number> {
  yield 'dio_cachep = kmem_cache_create("iomap_dio", sizeof(struct iomap_dio), &(struct kmem_cache_args){ .sheaf_capacity = SHEAF_CAPACITY }, SLAB_ACCOUNT);';
  k.setGlobal('dio_cachep', kmem_cache_create(k));
  yield 'if (!dio_cachep) return -ENOMEM;';
  if (k.global('dio_cachep') === NULL) return -12;
  return 0;
});

/** __iomap_dio_rw(), the allocation, with `dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL);` */
export const __iomap_dio_rw = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio: Value;

  yield 'dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL);';
  dio = yield* slab_alloc_node(k, k.global('dio_cachep'), 'GFP_KERNEL');
  yield 'if (!dio) return ERR_PTR(-ENOMEM);';
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

/** Boot's objects: straight from the slab slow path, initialised as __iomap_dio_rw() does. */
export const iomap_dio_fresh = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  yield 'dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL); /* boot: from a new slab, not from a sheaf */';
  k.global('dio_cachep');
  const dio = k.kmem_cache_alloc('iomap_dio', 'GFP_KERNEL');
  if (dio === NULL) return NULL;
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', IOCB);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});

/** iomap_dio_complete() around a given slab_free(): `kmem_cache_free(dio_cachep, dio);`, any context. */
export function completeWith(slabFree: (k: Kernel, s: Value, object: Value) => Op): (k: Kernel, dio: Value) => Op {
  return port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
    yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
    k.load(dio, 'iocb');
    yield 'kmem_cache_free(dio_cachep, dio);';
    yield* slabFree(k, k.global('dio_cachep'), dio);
  });
}

/** The sheaves implementation around a given free_to_pcs() (the port's own, or a variant's). */
export function sheavesWith(o: { name: string; description: string; freeToPcs: FreeToPcs }): Implementation {
  return {
    name: o.name,
    description: o.description,
    profile: 'slab',
    structs: [IOMAP_DIO_SLAB, KMEM_CACHE, SLUB_PERCPU_SHEAVES, SLAB_SHEAF, NODE_BARN],
    macros: { SHEAF_CAPACITY: 'MAX', MAX_FULL_SHEAVES: 1 },
    objectType: 'iomap_dio',
    cache: null,
    allocatorStructs: ['kmem_cache', 'slab_sheaf', 'node_barn'],
    init: iomap_dio_init,
    alloc: __iomap_dio_rw,
    fresh: iomap_dio_fresh,
    free: completeWith(o.freeToPcs === free_to_pcs ? slab_free : slabFreeWith(o.freeToPcs)),
    cpuDead: slub_cpu_dead,
  };
}

export const sheaves: Implementation = sheavesWith({
  name: 'sheaves',
  description:
    'SLUB per-CPU sheaves (mm/slub.c, linux-next 00e7a3e9): a kmem_cache for iomap_dio with sheaf_capacity = MAX; alloc_from_pcs/free_to_pcs under local_trylock, main/spare exchange with a bounded barn, slab slow path abstract',
  freeToPcs: free_to_pcs,
});

export default sheaves;
