/*
 * dio_cache.pml -- the `spin-ref` scope of conformance/scopes.ts as a Promela model, so that SPIN
 * can be run on the same workload as the explorer (bench/run.ts).
 *
 * What is modelled: the per-CPU cache of the seed patch (fs/iomap/direct-io.c, "iomap: add
 * allocation cache for iomap_dio", v1), which is block/bio.c's bio_alloc_cache with other names:
 * per CPU a task-context list `free_list` with its count `nr`, a hardirq-context list
 * `free_list_irq` with `nr_irq`, a soft cap MAX and a splice THRESHOLD.
 *
 * The workload (spin-ref): one CPU; one task doing K operations, each an alloc, a put, or a
 * submit (an object it holds goes in flight); NINIT objects in flight at boot and PREFILL cached on
 * free_list. Wherever irqs are on, a completion of an in-flight object may run on top of the task:
 * in hardirq (the put pushes onto free_list_irq) or in softirq (neither in_task() nor in_hardirq():
 * the put frees). A handler runs as one step, which is sound on one CPU because hardirqs do not
 * nest and nothing else runs on the CPU while one runs (docs/kernel-rules.md §4).
 *
 * Granularity: every task statement that reads or writes the cache is a step of its own, so an
 * interrupt can arrive between any two of them. What a step does only to ghost state (where each
 * object is, how many the task holds) is folded into the step it belongs to with d_step; the
 * choice of the object a put gives back is an atomic step of its own, and a submit (which touches
 * no cache field) is one atomic step. The published state counts (README.md) depend on exactly
 * this granularity: merging two task steps, or making the choice part of the next step, changes
 * them.
 *
 * Knobs (spin -DNAME=VALUE -a dio_cache.pml):
 *   K        operations of the task (5)
 *   NINIT    objects in flight at boot (4)
 *   PREFILL  objects cached on free_list at boot (2)
 *   MAXC     DIO_ALLOC_CACHE_MAX (4)
 *   THRESH   DIO_ALLOC_CACHE_THRESHOLD (2)
 *   SLACK    the cap claim checked is nr + nr_irq <= MAXC + SLACK (2: the `>` test allows MAX+1
 *            sequentially and MAX+2 when a hardirq put lands inside a task put; 0 and 1 are
 *            claims that faithful code refutes)
 *   CANON    1: a put or a submit always takes the lowest-numbered candidate object (objects
 *            are interchangeable, so this is a symmetry reduction); 0: any candidate (0)
 * Seeded bugs, each a known-bad variant of impl/variants (bench/run.ts pairs them):
 *   BUG_NOIRQOFF  the splice without local_irq_save/restore          (splice-no-irqsave)
 *   BUG_NOEMPTY   the splice whenever nr_irq >= THRESHOLD, even into a non-empty free_list
 *                                                                   (splice-nonempty)
 *   BUG_NULLPOP   bug B1: the pop after a flat `!free_list && nr_irq >= THRESHOLD` test, so an
 *                 empty free_list with nr_irq < THRESHOLD is popped  (flat-threshold-b1)
 *   BUG_TASKIRQ   the task's put pushes onto free_list_irq           (task-put-irq-list)
 */

#ifndef K
#define K 5
#endif
#ifndef NINIT
#define NINIT 4
#endif
#ifndef PREFILL
#define PREFILL 2
#endif
#ifndef MAXC
#define MAXC 4
#endif
#ifndef THRESH
#define THRESH 2
#endif
#ifndef SLACK
#define SLACK 2
#endif
#ifndef CANON
#define CANON 0
#endif

/* Objects 1..NOBJ: every object the run can ever use (each alloc may need a fresh one). 0 is NULL. */
#define NOBJ (K + NINIT + PREFILL)
#define NULL 0

/* Where an object is: the abstract state the concrete lists must agree with. */
#define AT_SLAB  0   /* never allocated, or freed back to the slab */
#define AT_TASK  1   /* held by the task */
#define AT_LIST  2   /* cached on free_list */
#define AT_IRQ   3   /* cached on free_list_irq */
#define AT_FLY   4   /* in flight: an interrupt will complete it */

/* Which context the CPU runs (outside a handler's step it is always IN_TASK). */
#define IN_TASK    0
#define IN_HARDIRQ 1
#define IN_SOFTIRQ 2

/* ---- struct dio_alloc_cache of the one CPU, and each object's dio_next ---- */
byte free_list = NULL;
byte free_list_irq = NULL;
byte nr = 0;
byte nr_irq = 0;
byte dio_next[NOBJ+1];
bit  irqs_off = 0;           /* local_irq_save() in force */

/* ---- ghost state ---- */
byte at[NOBJ+1];             /* AT_* of each object */
byte held = 0;               /* objects the task holds */
byte flying = NINIT;         /* objects in flight */
byte context = IN_TASK;
bit  in_op = 0;              /* the task is between get_cpu() and put_cpu() */

/*
 * Scratch for the checks and the object choice. Every step that uses them leaves them 0, so they
 * never tell two states apart.
 */
byte i, n, m, r;

/*
 * One list against the ghost: acyclic, every node is where the ghost says (AT), its length is its
 * counter, and no object the ghost puts on it is missing from it.
 */
inline check_list(head, count, AT) {
  n = 0; i = head;
  do
  :: i == NULL -> break
  :: else ->
     assert(n < NOBJ);                /* a cycle would walk forever */
     assert(at[i] == AT);             /* a node of this list is cached on this list */
     n++; i = dio_next[i]
  od;
  assert(n == count);                 /* the counter is the length */
  m = 0;
  for (i : 1 .. NOBJ) {
    if :: at[i] == AT -> m++ :: else fi
  };
  assert(m == n);                     /* nothing the ghost caches here is lost from the list */
  i = 0; n = 0; m = 0
}

/* What must hold whenever the task is outside the cache (and after every hardirq then). */
inline check_quiescent() {
  d_step {
    check_list(free_list, nr, AT_LIST);
    check_list(free_list_irq, nr_irq, AT_IRQ);
    assert(nr + nr_irq <= MAXC + SLACK)   /* the soft cap: MAX+2 with `>` */
  }
}

/* o := one of the `count` objects with at[] == AT; any of them, or the lowest with CANON. */
inline choose(o, AT, count) {
#if CANON
  r = 1;
#else
  /* The rank of the one taken, any of 1..count. Not `select (r : 1 .. count)`: SPIN expands that
   * with the `break` option first, which reaches the same states in another depth-first order
   * (same counts, a different "depth reached"). */
  r = 1;
  do :: r < count -> r++ :: break od;
#endif
  o = 0;
  do
  :: o < NOBJ ->
     o++;
     if :: at[o] == AT -> r-- :: else fi;
     if :: r == 0 -> break :: else fi
  :: else -> assert(false)            /* count disagrees with the ghost */
  od;
  r = 0
}

/*
 * dio_alloc_irq_cache_splice(): called with free_list empty and nr_irq at the threshold. Its
 * WARN_ON_ONCE is an assertion here (BUG_NOEMPTY reaches it); the four stores are steps of their
 * own, between local_irq_save and local_irq_restore (BUG_NOIRQOFF leaves irqs on across them).
 */
inline dio_alloc_irq_cache_splice() {
  assert(free_list == NULL);          /* WARN_ON_ONCE(cache->free_list) */
#ifndef BUG_NOIRQOFF
  irqs_off = 1;                       /* local_irq_save(flags) */
#endif
  d_step {                            /* cache->free_list = cache->free_list_irq */
    free_list = free_list_irq;
    i = free_list; n = 0;             /* the ghost moves the spliced objects to free_list */
    do
    :: i == NULL -> break
    :: else -> assert(n < NOBJ); assert(at[i] == AT_IRQ);
               at[i] = AT_LIST; n++; i = dio_next[i]
    od;
    i = 0; n = 0
  };
  free_list_irq = NULL;               /* cache->free_list_irq = NULL */
  nr = nr + nr_irq;                   /* cache->nr += cache->nr_irq */
  nr_irq = 0;                         /* cache->nr_irq = 0 */
#ifndef BUG_NOIRQOFF
  irqs_off = 0                        /* local_irq_restore(flags) */
#endif
}

/*
 * dio_alloc_percpu_cache() and, on a miss, the caller's kmalloc() after put_cpu(). `dio` is the
 * task's local that receives the object.
 */
inline dio_alloc_percpu_cache(dio) {
  in_op = 1;                          /* cache = per_cpu_ptr(dio_cache, get_cpu()) */
#ifdef BUG_NOEMPTY
  if
  :: nr_irq >= THRESH ->              /* no `!cache->free_list` test around the splice */
     dio_alloc_irq_cache_splice()
  :: else -> skip
  fi;
#else
  if
  :: free_list == NULL ->             /* if (!cache->free_list) { */
     if
     :: nr_irq >= THRESH ->           /* if (READ_ONCE(cache->nr_irq) >= THRESHOLD) */
        dio_alloc_irq_cache_splice()
     :: else -> skip
     fi
  :: else -> skip
  fi;
#endif
#ifndef BUG_NULLPOP
  if
  :: free_list == NULL ->             /* miss: put_cpu(); return NULL; the caller kmallocs */
     d_step {
       dio = 1;
       do :: at[dio] == AT_SLAB -> break :: else -> dio++ od;
       at[dio] = AT_TASK; dio_next[dio] = NULL; held++
     }
  :: else ->
#endif
     assert(free_list != NULL);       /* dio = cache->free_list dereferences it next */
     dio = free_list;                 /* dio = cache->free_list */
     d_step {                         /* cache->free_list = dio->dio_next: the hit takes effect */
       free_list = dio_next[dio];
       assert(at[dio] == AT_LIST);    /* only a cached object is handed out, and only once */
       at[dio] = AT_TASK; dio_next[dio] = NULL; held++
     };
     nr--                             /* cache->nr-- */
#ifndef BUG_NULLPOP
  fi
#endif
  ;
  in_op = 0                           /* put_cpu() */
}

/*
 * dio_put_percpu_cache() from the task (iomap_dio_complete() of a synchronous dio): the cap test,
 * then in_task() pushes onto free_list. Over the cap, out_free: put_cpu(); kfree(dio).
 */
inline dio_put_percpu_cache_task(dio) {
  in_op = 1;                          /* cache = per_cpu_ptr(dio_cache, get_cpu()) */
  atomic { choose(dio, AT_TASK, held) };
  if
  :: nr_irq + nr > MAXC ->            /* if (READ_ONCE(cache->nr_irq) + cache->nr > MAX) goto out_free */
     d_step { at[dio] = AT_SLAB; dio_next[dio] = NULL; held-- }
  :: else ->
#ifdef BUG_TASKIRQ
     dio_next[dio] = free_list_irq;   /* the hardirq branch taken in task context */
     d_step { assert(context == IN_HARDIRQ);   /* free_list_irq is written in hardirq only */
              free_list_irq = dio; at[dio] = AT_IRQ; held-- };
     nr_irq++
#else
     dio_next[dio] = free_list;       /* dio->dio_next = cache->free_list */
     d_step {                         /* cache->free_list = dio: the put takes effect */
       assert(context == IN_TASK);
       free_list = dio;
       assert(at[dio] == AT_TASK);
       at[dio] = AT_LIST; held--
     };
     nr++                             /* cache->nr++ */
#endif
  fi;
  in_op = 0                           /* put_cpu() */
}

/* The task submits the I/O of an object it holds: the object is in flight until an interrupt. */
inline submit(dio) {
  atomic { choose(dio, AT_TASK, held); at[dio] = AT_FLY; held--; flying++; dio = 0 }
}

proctype Task() {
  byte ops = 0;
  byte dio = 0;

  do
  :: ops == K -> break
  :: ops < K ->
     ops++;
     if
     :: true -> dio_alloc_percpu_cache(dio); dio = 0
     :: held > 0 -> dio_put_percpu_cache_task(dio); dio = 0
     :: held > 0 -> submit(dio)
     fi;
     check_quiescent()
  od
}

/*
 * Completions, each one step. A hardirq runs dio_put_percpu_cache() with in_hardirq(): the cap
 * test, then lockdep_assert_irqs_disabled() and the push onto free_list_irq. A softirq (an
 * irq-exit softirq, which runs wherever a hardirq could) runs it with neither in_task() nor
 * in_hardirq(): out_free whatever the cap says. Neither can run while the task has irqs off.
 */
proctype Interrupts() {
  byte dio = 0;
end:
  do
  :: atomic {
       !irqs_off && flying > 0 ->
       context = IN_HARDIRQ;
       choose(dio, AT_FLY, flying); flying--;
       if
       :: nr_irq + nr > MAXC ->       /* goto out_free */
          at[dio] = AT_SLAB; dio_next[dio] = NULL
       :: else ->
          assert(context == IN_HARDIRQ);
          dio_next[dio] = free_list_irq;
          free_list_irq = dio;
          nr_irq++;
          at[dio] = AT_IRQ
       fi;
       dio = 0;
       context = IN_TASK;
       /* the lists are only whole when the task is not inside get_cpu() ... put_cpu() */
       if :: !in_op -> check_quiescent() :: else -> skip fi
     }
  :: atomic {
       !irqs_off && flying > 0 ->
       context = IN_SOFTIRQ;
       choose(dio, AT_FLY, flying); flying--;
       /* over the cap: goto out_free; under it: neither in_task() nor in_hardirq(), so out_free
        * too. The cap test decides nothing here, and is left out so that a softirq is as many
        * atomic steps as in the reference (the depth SPIN reports counts them). */
       at[dio] = AT_SLAB; dio_next[dio] = NULL;
       dio = 0;
       context = IN_TASK
     }
  od
}

init {
  /* boot: objects 1..NINIT in flight, the next PREFILL put onto free_list (the last one on top) */
  d_step {
    for (i : 1 .. NINIT) { at[i] = AT_FLY };
    for (i : NINIT + 1 .. NINIT + PREFILL) {
      at[i] = AT_LIST; dio_next[i] = free_list; free_list = i; nr++
    };
    i = 0
  };
  atomic { run Task(); run Interrupts() }
}
