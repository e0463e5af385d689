/**
 * The specification: one CPU's per-CPU cache (fs/iomap/direct-io.c, seed patch v1) and the three
 * contexts that touch it, as an xstate v5 statechart.
 *
 * Read it against the C. Every guard and action below quotes the line of the seed patch it stands
 * for (post-image line numbers of fs/iomap/direct-io.c in the seed diff; docs/model.md has the full
 * mapping). The machine is parallel; its regions are
 *
 *   task       the task running on this CPU and its cache operation. Both operations run inside
 *              `get_cpu() ... put_cpu()`, so the task is never preempted mid-operation and one
 *              region stands for every task of the CPU. Inside `preemptOff` each state is a point
 *              between two writes to the cache where an interrupt may enter (alloc: pop | splice |
 *              splicing (irqs off) | miss; put: push | free).
 *   softirq    a softirq completing a dio (its put always frees: `} else { goto out_free; }`).
 *   hardirq    a hardirq completing a dio (pushes onto free_list_irq, or frees when over the cap).
 *   running    who is on top of this CPU's context stack: derived from the three above.
 *   irqs       local irq state: off inside the splice's local_irq_save and inside a hardirq.
 *   taskList   free_list empty / cached.
 *   irqList    free_list_irq below the splice threshold / spliceable.
 *   capacity   nr + nr_irq against the cap: room / at MAX / over MAX (sequentially reachable with
 *              `>`) / overshoot (reachable only by a hardirq put between a task put's cap check and
 *              its push: MAX+2 with `>`, MAX+1 with `>=`).
 *
 * Two event vocabularies. Whole operations (`ALLOC`, `PUT`) run one operation to completion in one
 * event: what a sequential caller sees, used by the fast-check layer. Phase events
 * (`TASK_ALLOC_BEGIN`, `TASK_PUT_BEGIN`, `TASK_STEP`, `SOFTIRQ_ENTER`/`EXIT`,
 * `HARDIRQ_ENTER`/`EXIT`) stop an operation between two of its writes to the cache, so that a
 * path can put an interrupt there: `TASK_PUT_BEGIN`, `PUT{ctx:'hardirq'}`, `TASK_STEP` is the
 * MAX+2 race.
 *
 * A third vocabulary, the observed one, is what the interleaving explorer sends: the seam
 * (conformance/abstraction.ts) maps every step of an implementation to it. A context's critical
 * section (`SECTION_BEGIN` at get_cpu()/local_irq_save() or a handler's entry, `SECTION_END` at
 * put_cpu() or its return), each write to the cache's lists (`CACHE_WRITE`: pop, splice, the
 * splice's clear, a push onto either list, or `other`), the counters as written (`COUNTERS`), the
 * task's irq state (`IRQS`), and an operation's return with what it did (`OP_RETURN`). The
 * machine takes an operation's decision when its write reveals it, not at its start: the C reads
 * `free_list`, `nr_irq` and `nr` at instants of its own, and a hardirq may push between that read
 * and the write. So each section records, in `taskSaw`/`hardirqSaw`, what its reads could have
 * returned at some instant of the section (an eventless `witness` transition after every event),
 * and the guards ask that: a pop needs the head, a splice an empty free_list over a spliceable
 * irq list, a push an instant where the cap test passed; at the return, a miss needs an instant
 * with free_list empty and nr_irq below THRESHOLD, a free one where the cap test failed. The
 * record belongs to the operation: an operation with two sections (preempted between them) starts
 * its second with what its first saw (`SECTION_BEGIN.saw`, carried by the seam in the frame). An
 * event the machine cannot take is a `refinement` violation naming the state, the event and the
 * guard that refused it.
 *
 * A profile without a cache (`slab`) keeps the three context regions and the whole operations only:
 * every alloc is a fresh object, every put a kfree.
 *
 * MAX, THRESHOLD and the cap comparison come from the profile (model/profiles.ts). Object ids are
 * plain numbers chosen by whoever sends the events (`fresh` for the object a miss hands out).
 */
import { and, assign, setup } from 'xstate';
import { capAllows, sequentialCapBound, type Profile } from './profiles.js';
import type { CtxKind } from './abstract.js';

export type Outcome = 'hit' | 'splice-hit' | 'miss' | 'push-task' | 'push-irq' | 'free';

export interface CacheContext {
  /** Object ids on free_list, head first. */
  freeList: number[];
  /** Object ids on free_list_irq, head first. */
  freeListIrq: number[];
  nr: number;
  nrIrq: number;
  /** Objects handed out and not yet given back (held by a caller or in flight). */
  inUse: number[];
  /** Objects kfree()d (and not handed out again by a later kmalloc). */
  freed: number[];
  /** Hardirqs masked on this CPU (local_irq_save in the splice, or a hardirq handler running). */
  irqsOff: boolean;
  /** The dio the task's put in progress gives back. */
  taskObj: number | null;
  /** The object kmalloc() returns if the task's alloc in progress misses. */
  taskFresh: number | null;
  /** The task's alloc in progress spliced free_list_irq (its pop is a splice-hit). */
  taskSpliced: boolean;
  /** The dio a softirq put in progress gives back, or null: no softirq running. */
  softirqObj: number | null;
  /** The dio a hardirq put in progress gives back, or null: no hardirq running. */
  hardirqObj: number | null;
  lastOutcome: Outcome | null;
  /** The object the last finished alloc returned. */
  lastAlloc: number | null;
  /** Observed vocabulary: what the task's section could have read at some instant (SAW_* bits). */
  taskSaw: number;
  /** Observed vocabulary: the same for the hardirq's put (SAW_ROOM, SAW_FULL). */
  hardirqSaw: number;
}

/** Writes to one CPU's lists, as the seam classifies a step's change to them. */
export type CacheWrite = 'pop' | 'splice' | 'splice-clear' | 'push-task' | 'push-irq' | 'other';

/** What a section's reads could have returned at some instant of it (the observed vocabulary's history). */
export const SAW_EMPTY = 1; // free_list empty
export const SAW_BELOW = 2; // free_list empty and nr_irq < THRESHOLD
export const SAW_SPLICED = 4; // this alloc spliced free_list_irq onto free_list
export const SAW_EMPTY_AFTER_SPLICE = 8; // free_list empty after the splice
export const SAW_ROOM = 16; // nr_irq + nr passes the cap test
export const SAW_FULL = 32; // nr_irq + nr fails it

export type CacheEvent =
  /** Task context: __iomap_dio_rw() allocates, run to completion. `fresh` is what kmalloc returns on a miss. */
  | { type: 'ALLOC'; fresh: number }
  /** dio_put_percpu_cache(obj) run to completion in `ctx` (iomap_dio_complete or the error path). */
  | { type: 'PUT'; ctx: CtxKind; obj: number }
  /** Task: get_cpu() and the checks of dio_alloc_percpu_cache(), up to its first write. */
  | { type: 'TASK_ALLOC_BEGIN'; fresh: number }
  /** Task: get_cpu() and the cap check of dio_put_percpu_cache(obj), up to the push or put_cpu. */
  | { type: 'TASK_PUT_BEGIN'; obj: number }
  /** Task: run its operation on to the next point where an interrupt may enter, or to its end. */
  | { type: 'TASK_STEP' }
  /** A softirq (at irq exit) starts dio_put_percpu_cache(obj): get_cpu(), the cap check. */
  | { type: 'SOFTIRQ_ENTER'; obj: number }
  /** The softirq's put finishes: put_cpu(); kfree(dio). */
  | { type: 'SOFTIRQ_EXIT' }
  /** A hardirq starts dio_put_percpu_cache(obj) with irqs off: get_cpu(), the cap check. */
  | { type: 'HARDIRQ_ENTER'; obj: number }
  /** The hardirq's put finishes (push onto free_list_irq, or put_cpu(); kfree()) and the handler returns. */
  | { type: 'HARDIRQ_EXIT' }
  // ---- the observed vocabulary (the explorer, through conformance/abstraction.ts) --------------
  /**
   * `ctx` enters a section on this CPU's cache: a task's get_cpu() (or local_irq_save()) with no
   * section open, a softirq or hardirq handler's entry. `op` is what the section does: an alloc,
   * or a put of `obj` (-1: the caller's own object on its error path, not named). `saw`: what the
   * operation's earlier sections recorded (0 for its first).
   */
  | { type: 'SECTION_BEGIN'; ctx: CtxKind; op: 'alloc' | 'put'; obj: number; saw: number }
  /**
   * `ctx` changed this CPU's lists in one step: `obj` is the object popped or pushed. `remote`:
   * the writer runs on another CPU (no region of this CPU's machine stands for it).
   */
  | { type: 'CACHE_WRITE'; ctx: CtxKind; write: CacheWrite; obj: number; remote?: boolean }
  /** `nr` and `nr_irq` as the implementation holds them after a step that wrote one of them. */
  | { type: 'COUNTERS'; nr: number; nrIrq: number }
  /** The task's local_irq_save() / local_irq_restore() changed this CPU's irq state. */
  | { type: 'IRQS'; off: boolean }
  /** `ctx` leaves its section: put_cpu() (or local_irq_restore()) back to depth 0, or the handler returns. */
  | { type: 'SECTION_END'; ctx: CtxKind }
  /**
   * `ctx`'s operation returned. An alloc: `result` (0: NULL) and the object its section popped
   * (0: none); `errorPath`: the caller took its error path, gave back what it got (`errorPut`: how,
   * as a put's outcome) and returns NULL. A put: `outcome`, where its object went. `saw`: what its
   * sections recorded (taskSaw/hardirqSaw at each SECTION_END, which resets them).
   */
  | {
      type: 'OP_RETURN';
      ctx: CtxKind;
      op: 'alloc' | 'put';
      result: number;
      popped: number;
      errorPath: boolean;
      errorPut: 'push-task' | 'push-irq' | 'free' | 'unknown' | null;
      outcome: 'push-task' | 'push-irq' | 'free' | 'kept' | null;
      saw: number;
    };

/** The events the explorer sends (the observed vocabulary); the others are the path and fast-check layers'. */
export const OBSERVED_EVENT_TYPES: readonly CacheEvent['type'][] = ['SECTION_BEGIN', 'CACHE_WRITE', 'COUNTERS', 'IRQS', 'SECTION_END', 'OP_RETURN'];

export const EVENT_TYPES: readonly CacheEvent['type'][] = [
  'ALLOC', 'PUT', 'TASK_ALLOC_BEGIN', 'TASK_PUT_BEGIN', 'TASK_STEP', 'SOFTIRQ_ENTER', 'SOFTIRQ_EXIT', 'HARDIRQ_ENTER', 'HARDIRQ_EXIT',
  ...OBSERVED_EVENT_TYPES,
];

/**
 * What a refusing guard of the observed vocabulary means, in the C's words, for the message of a
 * step the machine cannot take (conformance/abstraction.ts).
 */
export const GUARD_MEANING: Readonly<Record<string, string>> = {
  byTask: 'the event comes from this CPU\'s task context',
  bySoftirq: 'the event comes from this CPU\'s softirq',
  byHardirq: 'the event comes from this CPU\'s hardirq',
  popsHead: 'the write removes the head of free_list and nothing else (`cache->free_list = dio->dio_next;`)',
  splicesWhenSpliceable: 'free_list is empty and nr_irq >= THRESHOLD (`if (!cache->free_list) { if (READ_ONCE(cache->nr_irq) >= ...`)',
  clearsIrqList: 'the splice\'s second write (`cache->free_list_irq = NULL;`)',
  writesPushTask: 'a push onto free_list',
  writesPushIrq: 'a push onto free_list_irq',
  taskSawRoom: 'the cap test (`READ_ONCE(cache->nr_irq) + cache->nr > MAX` false) passed at some instant of the put',
  hardirqSawRoom: 'the cap test (`READ_ONCE(cache->nr_irq) + cache->nr > MAX` false) passed at some instant of the hardirq\'s put',
  returnsPopped: 'an alloc that popped returns what it popped (`return dio;`)',
  missAllowed: 'an alloc that popped nothing saw free_list empty with nr_irq < THRESHOLD, or a splice that left it empty',
  errorPathGivesBack: 'the caller\'s error path gives the object back as a task put does: freed only where the cap test failed',
  freesWhenFull: 'a task or hardirq put frees only where the cap test failed at some instant; a softirq put always frees',
  putCached: 'a put that cached its object',
  irqsOn: 'irqs are on (a hardirq enters only there)',
};

export function initialContext(): CacheContext {
  return {
    freeList: [], freeListIrq: [], nr: 0, nrIrq: 0, inUse: [], freed: [], irqsOff: false,
    taskObj: null, taskFresh: null, taskSpliced: false, softirqObj: null, hardirqObj: null, lastOutcome: null, lastAlloc: null,
    taskSaw: 0, hardirqSaw: 0,
  };
}

const without = (xs: number[], x: number) => xs.filter((y) => y !== x);
const total = (c: CacheContext) => c.nr + c.nrIrq;

/** The dio a task-context put gives back: the whole-op event's, or the one taken at TASK_PUT_BEGIN. */
function taskPutObj(c: CacheContext, e: CacheEvent): number {
  return e.type === 'PUT' ? e.obj : c.taskObj!;
}
function hardirqPutObj(c: CacheContext, e: CacheEvent): number {
  return e.type === 'PUT' ? e.obj : c.hardirqObj!;
}

/** What an alloc's reads could return at this instant (SAW_* bits), given what it saw before. */
function allocSees(c: CacheContext, saw: number, threshold: number): number {
  if (c.freeList.length !== 0) return saw;
  return saw | SAW_EMPTY | (c.nrIrq < threshold ? SAW_BELOW : 0) | (saw & SAW_SPLICED ? SAW_EMPTY_AFTER_SPLICE : 0);
}
/** What a put's cap test could return at this instant. */
function putSees(c: CacheContext, saw: number, profile: Profile): number {
  return saw | (capAllows(profile, total(c)) ? SAW_ROOM : SAW_FULL);
}
const pushed = (e: CacheEvent) => (e.type === 'CACHE_WRITE' ? e.obj : -1);
const both = (saw: number, bits: number) => (saw & bits) === bits;

export function cacheMachine(profile: Profile) {
  const MAX = profile.max;
  const THRESHOLD = profile.threshold;
  const SEQ = sequentialCapBound(profile);

  const m = setup({
    types: { context: {} as CacheContext, events: {} as CacheEvent },
    guards: {
      // ---- who may run ----------------------------------------------------------------------
      /** Contexts nest task < softirq < hardirq; only the top one runs. */
      taskOnTop: ({ context }) => context.softirqObj === null && context.hardirqObj === null,
      /** Hardirqs enter wherever irqs are on (a hardirq runs with irqs off, so they never nest). */
      irqsOn: ({ context }) => !context.irqsOff,
      /** Softirqs run at irq exit when irqs are on and no softirq/hardirq is running; get_cpu() does not stop them. */
      softirqMayRun: ({ context }) => !context.irqsOff && context.softirqObj === null && context.hardirqObj === null,
      softirqOnTop: ({ context }) => context.hardirqObj === null,
      /** `if (in_task()) {` (l.116), for a dio the caller owns. */
      putInTask: ({ context, event }) => event.type === 'PUT' && event.ctx === 'task' && context.inUse.includes(event.obj),
      /** `} else if (in_hardirq()) {` (l.120), for a dio the caller owns. */
      putInHardirq: ({ context, event }) => event.type === 'PUT' && event.ctx === 'hardirq' && context.inUse.includes(event.obj),
      /** `} else { goto out_free; }` (l.125-126): neither task nor hardirq, i.e. softirq. */
      putInSoftirq: ({ context, event }) => event.type === 'PUT' && event.ctx === 'softirq' && context.inUse.includes(event.obj),
      /** A phase event names a dio the caller owns. */
      ownsObject: ({ context, event }) => 'obj' in event && context.inUse.includes(event.obj),
      // ---- the cache's decisions --------------------------------------------------------------
      /** `if (!cache->free_list) {` (l.93) is false: there is a head to pop. */
      taskListCached: ({ context }) => context.freeList.length > 0,
      /** `if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)` (l.94), with free_list empty. */
      spliceable: ({ context }) => context.freeList.length === 0 && context.nrIrq >= THRESHOLD,
      /** `if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;` (l.113-114) is false (`>=` in v2/v3). */
      capAllows: ({ context }) => capAllows(profile, total(context)),
      // ---- derived regions (views of the context; no C statement of their own) ------------
      /** in_serving_softirq(): a softirq's put is in progress. */
      softirqRunning: ({ context }) => context.softirqObj !== null,
      /** in_hardirq(): a hardirq's put is in progress. */
      hardirqRunning: ({ context }) => context.hardirqObj !== null,
      noSoftirq: ({ context }) => context.softirqObj === null,
      noHardirq: ({ context }) => context.hardirqObj === null,
      /** irqs_disabled(): inside `local_irq_save(flags); ... local_irq_restore(flags);` (l.79-84) or a hardirq. */
      irqsDisabled: ({ context }) => context.irqsOff,
      irqsEnabled: ({ context }) => !context.irqsOff,
      /** `!cache->free_list` (l.93). */
      taskListEmpty: ({ context }) => context.freeList.length === 0,
      taskListNonEmpty: ({ context }) => context.freeList.length > 0,
      /** `READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD` (l.94), false / true. */
      nrIrqBelowThreshold: ({ context }) => context.nrIrq < THRESHOLD,
      nrIrqAtThreshold: ({ context }) => context.nrIrq >= THRESHOLD,
      /** `READ_ONCE(cache->nr_irq) + cache->nr` (l.113) against DIO_ALLOC_CACHE_MAX (l.61). */
      totalBelowMax: ({ context }) => total(context) < MAX,
      totalIsMax: ({ context }) => total(context) === MAX,
      /** MAX < total <= the sequential bound (MAX+1 with `>`; empty with `>=`). */
      totalOverMax: ({ context }) => total(context) > MAX && total(context) <= SEQ,
      /** Beyond what the cap test alone allows: only the hardirq race gets here. */
      totalOvershoot: ({ context }) => total(context) > SEQ,
      // ---- the observed vocabulary ------------------------------------------------------------
      /** The event comes from this CPU's task (softirq, hardirq): `remote` writes come from no context of this CPU. */
      byTask: ({ event }) => 'ctx' in event && event.ctx === 'task' && !(event.type === 'CACHE_WRITE' && event.remote),
      bySoftirq: ({ event }) => 'ctx' in event && event.ctx === 'softirq' && !(event.type === 'CACHE_WRITE' && event.remote),
      byHardirq: ({ event }) => 'ctx' in event && event.ctx === 'hardirq' && !(event.type === 'CACHE_WRITE' && event.remote),
      beginsAlloc: ({ event }) => event.type === 'SECTION_BEGIN' && event.op === 'alloc',
      beginsPut: ({ event }) => event.type === 'SECTION_BEGIN' && event.op === 'put',
      /** `dio = cache->free_list; cache->free_list = dio->dio_next;` (l.101-102): the head goes, and only it. */
      popsHead: ({ context, event }) => event.type === 'CACHE_WRITE' && event.write === 'pop' && context.freeList.length > 0 && context.freeList[0] === event.obj,
      /** `cache->free_list = cache->free_list_irq;` (l.80), reached with free_list empty and nr_irq >= THRESHOLD (l.93-94). */
      splicesWhenSpliceable: ({ context, event }) => event.type === 'CACHE_WRITE' && event.write === 'splice' && context.freeList.length === 0 && context.nrIrq >= THRESHOLD,
      /** `cache->free_list_irq = NULL;` (l.81), the splice's second write. */
      clearsIrqList: ({ event }) => event.type === 'CACHE_WRITE' && event.write === 'splice-clear',
      writesPushTask: ({ event }) => event.type === 'CACHE_WRITE' && event.write === 'push-task',
      writesPushIrq: ({ event }) => event.type === 'CACHE_WRITE' && event.write === 'push-irq',
      /** The cap test `READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX` (l.113) passed at some instant of the put. */
      taskSawRoom: ({ context }) => (context.taskSaw & SAW_ROOM) !== 0,
      hardirqSawRoom: ({ context }) => (context.hardirqSaw & SAW_ROOM) !== 0,
      /** `dio = cache->free_list; ... return dio;` (l.101-105): an alloc that popped hands out what it popped. */
      returnsPopped: ({ event }) => event.type === 'OP_RETURN' && event.op === 'alloc' && !event.errorPath && event.popped !== 0 && event.result === event.popped,
      /**
       * `if (!cache->free_list) { ... put_cpu(); return NULL; }` (l.93-98), then the caller's kmalloc: an
       * alloc that popped nothing saw, at some instant, free_list empty with nr_irq below THRESHOLD,
       * or a splice that left free_list empty.
       */
      missAllowed: ({ event }) => {
        if (event.type !== 'OP_RETURN' || event.op !== 'alloc' || event.errorPath || event.popped !== 0) return false;
        const saw = event.saw;
        return both(saw, SAW_EMPTY | SAW_BELOW) || both(saw, SAW_SPLICED | SAW_EMPTY_AFTER_SPLICE);
      },
      /**
       * `out_free_dio: ... kfree(dio)` via dio_put_percpu_cache() (__iomap_dio_rw's error path): the
       * caller gives the object back as a task put does: cached (its push was judged when written),
       * or freed where the cap test failed at some instant of that put.
       */
      errorPathGivesBack: ({ event }) =>
        event.type === 'OP_RETURN' && event.op === 'alloc' && event.errorPath && (event.errorPut !== 'free' || (event.saw & SAW_FULL) !== 0),
      /**
       * `out_free: put_cpu(); kfree(dio);` (l.130-132): a task or hardirq put frees only where its cap
       * test failed at some instant; a softirq put always frees (`} else { goto out_free; }`, l.125-126).
       */
      freesWhenFull: ({ event }) =>
        event.type === 'OP_RETURN' && event.op === 'put' && event.outcome === 'free' && (event.ctx === 'softirq' || (event.saw & SAW_FULL) !== 0),
      /** A put that cached its object: the push was judged when it was written. */
      putCached: ({ event }) => event.type === 'OP_RETURN' && event.op === 'put' && (event.outcome === 'push-task' || event.outcome === 'push-irq'),
      allocSeesMore: ({ context }) => allocSees(context, context.taskSaw, THRESHOLD) !== context.taskSaw,
      taskPutSeesMore: ({ context }) => putSees(context, context.taskSaw, profile) !== context.taskSaw,
      hardirqPutSeesMore: ({ context }) => putSees(context, context.hardirqSaw, profile) !== context.hardirqSaw,
    },
    actions: {
      /** `dio = cache->free_list; cache->free_list = dio->dio_next; cache->nr--; put_cpu(); return dio;` (l.101-105) */
      popHead: assign(({ context }) => {
        const head = context.freeList[0]!;
        return {
          freeList: context.freeList.slice(1),
          nr: context.nr - 1,
          inUse: [...context.inUse, head],
          lastOutcome: context.taskSpliced ? ('splice-hit' as const) : ('hit' as const),
          lastAlloc: head,
          taskFresh: null,
          taskSpliced: false,
        };
      }),
      /** Whole-op ALLOC on an empty free_list over a spliceable irq list: the splice, then the pop. */
      spliceThenPop: assign(({ context }) => {
        const head = context.freeListIrq[0]!;
        return {
          freeList: context.freeListIrq.slice(1),
          freeListIrq: [],
          nr: context.nr + context.nrIrq - 1,
          nrIrq: 0,
          inUse: [...context.inUse, head],
          lastOutcome: 'splice-hit' as const,
          lastAlloc: head,
        };
      }),
      /** `local_irq_save(flags);` (l.79) */
      localIrqSave: assign({ irqsOff: true }),
      /**
       * `cache->free_list = cache->free_list_irq; cache->free_list_irq = NULL; cache->nr += cache->nr_irq;
       * cache->nr_irq = 0; local_irq_restore(flags);` (l.80-84)
       */
      spliceAndRestore: assign(({ context }) => ({
        freeList: context.freeListIrq,
        freeListIrq: [],
        nr: context.nr + context.nrIrq,
        nrIrq: 0,
        irqsOff: false,
        taskSpliced: true,
      })),
      /**
       * `put_cpu(); return NULL;` (l.97-98), then in __iomap_dio_rw `dio = kmalloc(sizeof(*dio), GFP_KERNEL);`
       * (l.701; v3: the helper's kmalloc after put_cpu). kmalloc failure is left out.
       */
      missKmalloc: assign(({ context, event }) => {
        const fresh = event.type === 'ALLOC' ? event.fresh : context.taskFresh!;
        return {
          inUse: [...context.inUse, fresh],
          freed: without(context.freed, fresh),
          lastOutcome: 'miss' as const,
          lastAlloc: fresh,
          taskFresh: null,
          taskSpliced: false,
        };
      }),
      /** `cache = per_cpu_ptr(dio_cache, get_cpu());` (l.92) of an alloc; remembers what a miss would return. */
      beginAlloc: assign(({ event }) => ({ taskFresh: event.type === 'TASK_ALLOC_BEGIN' ? event.fresh : null, taskSpliced: false })),
      /** `cache = per_cpu_ptr(dio_cache, get_cpu());` (l.112) of a task put: the caller gives up the dio. */
      beginTaskPut: assign(({ context, event }) => {
        const obj = event.type === 'TASK_PUT_BEGIN' ? event.obj : -1;
        return { taskObj: obj, inUse: without(context.inUse, obj) };
      }),
      /** `dio->dio_next = cache->free_list; cache->free_list = dio; cache->nr++;` (l.117-119) */
      pushTaskList: assign(({ context, event }) => {
        const obj = taskPutObj(context, event);
        return { freeList: [obj, ...context.freeList], nr: context.nr + 1, inUse: without(context.inUse, obj), taskObj: null, lastOutcome: 'push-task' as const };
      }),
      /** `out_free: put_cpu(); kfree(dio);` (l.130-132), reached from the cap test (l.113-114) of a task put. */
      freeTaskObj: assign(({ context, event }) => {
        const obj = taskPutObj(context, event);
        return { inUse: without(context.inUse, obj), freed: [...context.freed, obj], taskObj: null, lastOutcome: 'free' as const };
      }),
      /** A softirq put: `} else { goto out_free; }` (l.125-126) then `put_cpu(); kfree(dio);` (l.131-132). */
      freeSoftirqObj: assign(({ context, event }) => {
        const obj = event.type === 'PUT' ? event.obj : context.softirqObj!;
        return { inUse: without(context.inUse, obj), freed: [...context.freed, obj], softirqObj: null, lastOutcome: 'free' as const };
      }),
      /** A softirq handler starts the put (get_cpu(), the cap test): the dio is no longer the caller's. */
      enterSoftirq: assign(({ context, event }) => {
        const obj = event.type === 'SOFTIRQ_ENTER' ? event.obj : -1;
        return { softirqObj: obj, inUse: without(context.inUse, obj) };
      }),
      /** A hardirq handler runs with irqs off and starts the put (get_cpu(), the cap test). */
      enterHardirq: assign(({ context, event }) => {
        const obj = event.type === 'HARDIRQ_ENTER' ? event.obj : -1;
        return { hardirqObj: obj, irqsOff: true, inUse: without(context.inUse, obj) };
      }),
      /**
       * `lockdep_assert_irqs_disabled(); dio->dio_next = cache->free_list_irq; cache->free_list_irq = dio;
       * cache->nr_irq++;` (l.121-124), then the handler returns and irqs are on again.
       */
      pushIrqList: assign(({ context, event }) => {
        const obj = hardirqPutObj(context, event);
        return { freeListIrq: [obj, ...context.freeListIrq], nrIrq: context.nrIrq + 1, inUse: without(context.inUse, obj), hardirqObj: null, irqsOff: false, lastOutcome: 'push-irq' as const };
      }),
      /** A hardirq put over the cap: `goto out_free;` (l.114) then `put_cpu(); kfree(dio);`; the handler returns. */
      freeHardirqObj: assign(({ context, event }) => {
        const obj = hardirqPutObj(context, event);
        return { inUse: without(context.inUse, obj), freed: [...context.freed, obj], hardirqObj: null, irqsOff: false, lastOutcome: 'free' as const };
      }),
      // ---- the observed vocabulary ------------------------------------------------------------
      obsBeginAlloc: assign(({ event }) => ({ taskSaw: event.type === 'SECTION_BEGIN' ? event.saw : 0, taskObj: null })),
      obsBeginTaskPut: assign(({ event }) => ({ taskSaw: event.type === 'SECTION_BEGIN' ? event.saw : 0, taskObj: event.type === 'SECTION_BEGIN' ? event.obj : -1 })),
      obsBeginSoftirq: assign(({ event }) => ({ softirqObj: event.type === 'SECTION_BEGIN' ? event.obj : -1 })),
      /** A hardirq handler runs with irqs off. */
      obsBeginHardirq: assign(({ event }) => ({ hardirqSaw: event.type === 'SECTION_BEGIN' ? event.saw : 0, hardirqObj: event.type === 'SECTION_BEGIN' ? event.obj : -1, irqsOff: true })),
      /** `cache->free_list = dio->dio_next;` (l.102); `cache->nr--` comes as COUNTERS. */
      obsPop: assign(({ context }) => ({ freeList: context.freeList.slice(1), lastAlloc: context.freeList[0]!, lastOutcome: context.taskSaw & SAW_SPLICED ? ('splice-hit' as const) : ('hit' as const) })),
      /** `cache->free_list = cache->free_list_irq;` (l.80). */
      obsSplice: assign(({ context }) => ({ freeList: context.freeListIrq, taskSaw: context.taskSaw | SAW_SPLICED })),
      /** `cache->free_list_irq = NULL;` (l.81). */
      obsSpliceClear: assign({ freeListIrq: [] }),
      /** put_cpu(): the section's record goes with the operation (the seam keeps it in the frame for OP_RETURN). */
      obsEndTask: assign({ taskObj: null, taskSaw: 0 }),
      /** `dio->dio_next = cache->free_list; cache->free_list = dio;` (l.117-118). */
      obsPushTask: assign(({ context, event }) => ({ freeList: [pushed(event), ...context.freeList], lastOutcome: 'push-task' as const })),
      /** `out_free: put_cpu(); kfree(dio);` (l.130-132): the section ends without a push. */
      obsEndSoftirq: assign({ softirqObj: null }),
      /** `dio->dio_next = cache->free_list_irq; cache->free_list_irq = dio;` (l.122-123). */
      obsPushIrq: assign(({ context, event }) => ({ freeListIrq: [pushed(event), ...context.freeListIrq], lastOutcome: 'push-irq' as const })),
      /** The handler returns: irqs are on again. */
      obsEndHardirq: assign({ hardirqObj: null, hardirqSaw: 0, irqsOff: false }),
      /** The operation returned: its record is spent. */
      /** The operation returned (its sections' record was reset at each SECTION_END). */
      obsReturn: assign(({ event }) => {
        if (event.type !== 'OP_RETURN') return {};
        if (event.op === 'alloc') return { lastAlloc: event.result, lastOutcome: event.errorPath ? null : event.popped ? ('hit' as const) : ('miss' as const) };
        return { lastOutcome: event.outcome === 'kept' ? null : event.outcome };
      }),
      obsCounters: assign(({ event }) => (event.type === 'COUNTERS' ? { nr: event.nr, nrIrq: event.nrIrq } : {})),
      obsIrqs: assign(({ event }) => (event.type === 'IRQS' ? { irqsOff: event.off } : {})),
      /** The history: what the section's reads could return now. */
      witnessAlloc: assign(({ context }) => ({ taskSaw: allocSees(context, context.taskSaw, THRESHOLD) })),
      witnessTaskPut: assign(({ context }) => ({ taskSaw: putSees(context, context.taskSaw, profile) })),
      witnessHardirqPut: assign(({ context }) => ({ hardirqSaw: putSees(context, context.hardirqSaw, profile) })),
    },
  });

  type StateConfig = NonNullable<NonNullable<Parameters<typeof m.createMachine>[0]['states']>[string]>;
  type States = Record<string, StateConfig>;

  const capacityStates: States =
    profile.capCompare === '>'
      ? {
          room: { always: { guard: 'totalIsMax' as const, target: 'atMax' } },
          atMax: { always: [{ guard: 'totalBelowMax' as const, target: 'room' }, { guard: 'totalOverMax' as const, target: 'overMax' }] },
          overMax: { always: [{ guard: 'totalIsMax' as const, target: 'atMax' }, { guard: 'totalOvershoot' as const, target: 'overshoot' }] },
          overshoot: { always: { guard: 'totalOverMax' as const, target: 'overMax' } },
        }
      : {
          room: { always: { guard: 'totalIsMax' as const, target: 'atMax' } },
          atMax: { always: [{ guard: 'totalBelowMax' as const, target: 'room' }, { guard: 'totalOvershoot' as const, target: 'overshoot' }] },
          overshoot: { always: { guard: 'totalIsMax' as const, target: 'atMax' } },
        };

  const taskIdle: StateConfig = profile.cached
    ? {
        on: {
          ALLOC: [
            { guard: and(['taskOnTop', 'taskListCached']), actions: 'popHead' as const },
            { guard: and(['taskOnTop', 'spliceable']), actions: 'spliceThenPop' as const },
            { guard: 'taskOnTop' as const, actions: 'missKmalloc' as const },
          ],
          PUT: [
            { guard: and(['putInTask', 'taskOnTop', 'capAllows']), actions: 'pushTaskList' as const },
            { guard: and(['putInTask', 'taskOnTop']), actions: 'freeTaskObj' as const },
          ],
          TASK_ALLOC_BEGIN: [
            { guard: and(['taskOnTop', 'taskListCached']), target: 'preemptOff.alloc.pop', actions: 'beginAlloc' as const },
            { guard: and(['taskOnTop', 'spliceable']), target: 'preemptOff.alloc.splice', actions: 'beginAlloc' as const },
            { guard: 'taskOnTop' as const, target: 'preemptOff.alloc.miss', actions: 'beginAlloc' as const },
          ],
          TASK_PUT_BEGIN: [
            { guard: and(['ownsObject', 'taskOnTop', 'capAllows']), target: 'preemptOff.put.push', actions: 'beginTaskPut' as const },
            { guard: and(['ownsObject', 'taskOnTop']), target: 'preemptOff.put.free', actions: 'beginTaskPut' as const },
          ],
          SECTION_BEGIN: [
            { guard: and(['byTask', 'beginsAlloc']), target: 'section.alloc', actions: 'obsBeginAlloc' as const },
            { guard: and(['byTask', 'beginsPut']), target: 'section.put', actions: 'obsBeginTaskPut' as const },
          ],
        },
      }
    : {
        // No per-CPU lists (the slab stand-in): every alloc is a fresh object, every put a kfree.
        on: {
          ALLOC: { guard: 'taskOnTop' as const, actions: 'missKmalloc' as const },
          PUT: { guard: and(['putInTask', 'taskOnTop']), actions: 'freeTaskObj' as const },
        },
      };

  const regions: States = {
    task: {
      initial: 'idle',
      states: {
        idle: taskIdle,
        ...(profile.cached
          ? {
              /** Between get_cpu() and put_cpu(): the task cannot be preempted or migrate; interrupts still enter. */
              preemptOff: {
                tags: ['phases'],
                // Always entered through an explicit target; `initial` only satisfies xstate.
                initial: 'alloc',
                states: {
                  alloc: {
                    initial: 'pop',
                    states: {
                      /** After `dio = cache->free_list;` (l.101), before `cache->free_list = dio->dio_next;`. */
                      pop: { on: { TASK_STEP: { guard: 'taskOnTop' as const, target: '#cpu.task.idle', actions: 'popHead' as const } } },
                      /** free_list empty and nr_irq >= THRESHOLD (l.93-94): before `local_irq_save(flags);` (l.79). */
                      splice: { on: { TASK_STEP: { guard: 'taskOnTop' as const, target: 'splicing', actions: 'localIrqSave' as const } } },
                      /**
                       * Irqs off, before `cache->free_list = cache->free_list_irq;` (l.80). THRESHOLD >= 1, so the splice
                       * brings at least one object and the second `if (!cache->free_list)` (l.96) is never taken after it.
                       */
                      splicing: { on: { TASK_STEP: { target: 'pop', actions: 'spliceAndRestore' as const } } },
                      /** free_list empty and nr_irq < THRESHOLD: before `put_cpu(); return NULL;` (l.97-98). */
                      miss: { on: { TASK_STEP: { guard: 'taskOnTop' as const, target: '#cpu.task.idle', actions: 'missKmalloc' as const } } },
                    },
                  },
                  put: {
                    initial: 'push',
                    states: {
                      /** The cap test passed (l.113) and in_task() (l.116): before `cache->free_list = dio;` (l.118). */
                      push: { on: { TASK_STEP: { guard: 'taskOnTop' as const, target: '#cpu.task.idle', actions: 'pushTaskList' as const } } },
                      /** The cap test failed: before `out_free: put_cpu();` (l.131). */
                      free: { on: { TASK_STEP: { guard: 'taskOnTop' as const, target: '#cpu.task.idle', actions: 'freeTaskObj' as const } } },
                    },
                  },
                },
              },
              /**
               * The observed vocabulary: a task's section between get_cpu() and put_cpu(), decided by
               * its writes. Interrupts enter it as they enter `preemptOff`.
               */
              section: {
                tags: ['observed'],
                initial: 'alloc',
                states: {
                  alloc: {
                    initial: 'check',
                    always: { guard: 'allocSeesMore' as const, actions: 'witnessAlloc' as const },
                    states: {
                      /** `if (!cache->free_list) { if (READ_ONCE(cache->nr_irq) >= ...` (l.93-96): nothing written yet. */
                      check: {
                        on: {
                          CACHE_WRITE: [
                            { guard: and(['byTask', 'popsHead']), target: 'popped', actions: 'obsPop' as const },
                            { guard: and(['byTask', 'splicesWhenSpliceable']), target: 'spliced', actions: 'obsSplice' as const },
                          ],
                          /** `put_cpu(); return NULL;` (l.97-98): judged when the alloc returns (OP_RETURN). */
                          SECTION_END: { guard: 'byTask' as const, target: '#cpu.task.idle', actions: 'obsEndTask' as const },
                        },
                      },
                      /** After `cache->free_list = cache->free_list_irq;` (l.80), before `cache->free_list_irq = NULL;`. */
                      spliced: { on: { CACHE_WRITE: { guard: and(['byTask', 'clearsIrqList']), target: 'check', actions: 'obsSpliceClear' as const } } },
                      /** After `cache->free_list = dio->dio_next;` (l.102), before `put_cpu();` (l.104). */
                      popped: { on: { SECTION_END: { guard: 'byTask' as const, target: '#cpu.task.idle', actions: 'obsEndTask' as const } } },
                    },
                  },
                  put: {
                    initial: 'check',
                    always: { guard: 'taskPutSeesMore' as const, actions: 'witnessTaskPut' as const },
                    states: {
                      /** `if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)` (l.113): nothing written yet. */
                      check: {
                        on: {
                          CACHE_WRITE: { guard: and(['byTask', 'writesPushTask', 'taskSawRoom']), target: 'pushed', actions: 'obsPushTask' as const },
                          /** `out_free: put_cpu();` (l.131), or a put that goes on in another section: judged when it returns. */
                          SECTION_END: { guard: 'byTask' as const, target: '#cpu.task.idle', actions: 'obsEndTask' as const },
                        },
                      },
                      /** After `cache->free_list = dio;` (l.118), before `put_cpu();` (l.120). */
                      pushed: { on: { SECTION_END: { guard: 'byTask' as const, target: '#cpu.task.idle', actions: 'obsEndTask' as const } } },
                    },
                  },
                },
              },
            }
          : {}),
      },
    },
    softirq: {
      initial: 'idle',
      states: {
        idle: {
          on: {
            PUT: { guard: and(['putInSoftirq', 'softirqMayRun']), actions: 'freeSoftirqObj' as const },
            ...(profile.cached
              ? {
                  SOFTIRQ_ENTER: { guard: and(['ownsObject', 'softirqMayRun']), target: 'put', actions: 'enterSoftirq' as const },
                  SECTION_BEGIN: { guard: and(['bySoftirq', 'beginsPut']), target: 'section', actions: 'obsBeginSoftirq' as const },
                }
              : {}),
          },
        },
        ...(profile.cached
          ? {
              /** The softirq's put, after the cap test, before `out_free: put_cpu();` (l.131): a hardirq may enter. */
              put: { tags: ['phases'], on: { SOFTIRQ_EXIT: { guard: 'softirqOnTop' as const, target: 'idle', actions: 'freeSoftirqObj' as const } } },
              /** Observed: the softirq's put, `} else { goto out_free; }` (l.125-126): it writes nothing to the cache. */
              section: { tags: ['observed'], on: { SECTION_END: { guard: 'bySoftirq' as const, target: 'idle', actions: 'obsEndSoftirq' as const } } },
            }
          : {}),
      },
    },
    hardirq: {
      initial: 'idle',
      states: {
        idle: {
          on: profile.cached
            ? {
                PUT: [
                  { guard: and(['putInHardirq', 'irqsOn', 'capAllows']), actions: 'pushIrqList' as const },
                  { guard: and(['putInHardirq', 'irqsOn']), actions: 'freeHardirqObj' as const },
                ],
                HARDIRQ_ENTER: [
                  { guard: and(['ownsObject', 'irqsOn', 'capAllows']), target: 'push', actions: 'enterHardirq' as const },
                  { guard: and(['ownsObject', 'irqsOn']), target: 'free', actions: 'enterHardirq' as const },
                ],
                SECTION_BEGIN: { guard: and(['byHardirq', 'beginsPut', 'irqsOn']), target: 'section', actions: 'obsBeginHardirq' as const },
              }
            : { PUT: { guard: and(['putInHardirq', 'irqsOn']), actions: 'freeHardirqObj' as const } },
        },
        ...(profile.cached
          ? {
              /** Cap test passed, in_hardirq(): before `cache->free_list_irq = dio;` (l.123). Irqs are off. */
              push: { tags: ['phases'], on: { HARDIRQ_EXIT: { target: 'idle', actions: 'pushIrqList' as const } } },
              /** Cap test failed: before `out_free: put_cpu();` (l.131). Irqs are off. */
              free: { tags: ['phases'], on: { HARDIRQ_EXIT: { target: 'idle', actions: 'freeHardirqObj' as const } } },
              /** Observed: the hardirq's put, decided by its write. Irqs are off. */
              section: {
                tags: ['observed'],
                initial: 'check',
                always: { guard: 'hardirqPutSeesMore' as const, actions: 'witnessHardirqPut' as const },
                states: {
                  /** `} else if (in_hardirq()) {` (l.120) after the cap test (l.113): nothing written yet. */
                  check: {
                    on: {
                      CACHE_WRITE: { guard: and(['byHardirq', 'writesPushIrq', 'hardirqSawRoom']), target: 'pushed', actions: 'obsPushIrq' as const },
                      /** `goto out_free;` (l.114): judged when the put returns. */
                      SECTION_END: { guard: 'byHardirq' as const, target: '#cpu.hardirq.idle', actions: 'obsEndHardirq' as const },
                    },
                  },
                  /** After `cache->free_list_irq = dio;` (l.123): the handler returns. */
                  pushed: { on: { SECTION_END: { guard: 'byHardirq' as const, target: '#cpu.hardirq.idle', actions: 'obsEndHardirq' as const } } },
                },
              },
            }
          : {}),
      },
    },
    ...(profile.cached
      ? {
          running: {
            initial: 'task',
            states: {
              task: { always: [{ guard: 'hardirqRunning' as const, target: 'hardirqOverTask' }, { guard: 'softirqRunning' as const, target: 'softirqOverTask' }] },
              softirqOverTask: { always: [{ guard: 'hardirqRunning' as const, target: 'hardirqOverSoftirq' }, { guard: 'noSoftirq' as const, target: 'task' }] },
              hardirqOverTask: { always: { guard: 'noHardirq' as const, target: 'task' } },
              hardirqOverSoftirq: { always: { guard: 'noHardirq' as const, target: 'softirqOverTask' } },
            },
          },
          irqs: {
            initial: 'on',
            states: {
              on: { always: { guard: 'irqsDisabled' as const, target: 'off' } },
              off: { always: { guard: 'irqsEnabled' as const, target: 'on' } },
            },
          },
          taskList: {
            initial: 'empty',
            states: {
              empty: { always: { guard: 'taskListNonEmpty' as const, target: 'cached' } },
              cached: { always: { guard: 'taskListEmpty' as const, target: 'empty' } },
            },
          },
          irqList: {
            initial: 'belowThreshold',
            states: {
              belowThreshold: { always: { guard: 'nrIrqAtThreshold' as const, target: 'spliceable' } },
              spliceable: { always: { guard: 'nrIrqBelowThreshold' as const, target: 'belowThreshold' } },
            },
          },
          capacity: { initial: 'room', states: capacityStates },
        }
      : {}),
  };

  return m.createMachine({
    id: 'cpu',
    type: 'parallel',
    context: initialContext(),
    // Observed events that any state takes: the implementation's counters and irq state as written
    // (the named invariants judge them: nr-accuracy, irq-list-hardirq-only), and an operation's return.
    ...(profile.cached
      ? {
          on: {
            COUNTERS: { actions: 'obsCounters' as const },
            IRQS: { actions: 'obsIrqs' as const },
            OP_RETURN: [
              { guard: 'returnsPopped' as const, actions: 'obsReturn' as const },
              { guard: 'missAllowed' as const, actions: 'obsReturn' as const },
              { guard: 'errorPathGivesBack' as const, actions: 'obsReturn' as const },
              { guard: 'freesWhenFull' as const, actions: 'obsReturn' as const },
              { guard: 'putCached' as const, actions: 'obsReturn' as const },
            ],
          },
        }
      : {}),
    states: regions,
  });
}

export type CacheMachine = ReturnType<typeof cacheMachine>;
