/**
 * The invariant registry. Each entry is a named claim, like an axiom in LKMM's .cat files or an
 * invariant in a TLA+ spec: its id appears verbatim in every failure report and in the CLI's JSON.
 *
 * `check(prev, next)` returns null when the claim holds across the step prev -> next, or a message
 * saying what broke. Claims about a single state ignore `prev`.
 */
import type { AbsCache, AbsObject, AbstractState, Place } from './abstract.js';
import { capAllows, reachableCapBound } from './profiles.js';
import { interruptsPreemptOff, kernelConfig, RT_SLAB_RULE, RT_SLAB_SOURCE } from './config.js';

export type InvariantId =
  | 'nr-accuracy'
  | 'splice-only-when-empty'
  | 'irq-list-hardirq-only'
  | 'task-list-task-only'
  | 'object-safety'
  | 'cap'
  | 'refinement'
  | 'context-balance'
  | 'marked-access'
  | 'might-sleep'
  | 'crash'
  | 'init-result'
  | 'hotplug-stranding'
  | 'kmemleak-balance';

export interface Invariant {
  id: InvariantId;
  /** One line: what must hold. */
  claim: string;
  /** The kernel rule, quoted. */
  kernelRule: string;
  /** Where the rule lives: file:function (or the thread that states it). */
  source: string;
  severity: 'error' | 'warning';
  check(prev: AbstractState | undefined, next: AbstractState): string | null;
  /**
   * What is left to check when a search steps into a state it has judged already (the same state
   * up to renaming objects, which no claim looks at): `null` for a claim about the state alone,
   * which that state passed; else the part of the claim that reads the step. Absent: `check`.
   */
  revisit?: ((prev: AbstractState | undefined, next: AbstractState) => string | null) | null;
}

/** The message of the step's first fact of one of these kinds (invariants run on every explored step: no arrays). */
function firstFact(s: AbstractState, kinds: readonly string[]): string | null {
  const fs = s.step?.facts;
  if (!fs || fs.length === 0) return null;
  for (const f of fs) if (kinds.includes(f.kind)) return f.msg;
  return null;
}
function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const placeName = (p: Place) =>
  p.kind === 'task-list' ? `cpu${p.cpu} free_list` : p.kind === 'irq-list' ? `cpu${p.cpu} free_list_irq` : p.kind === 'held' ? `task${p.task}` : p.kind === 'in-op' ? `an operation of ${p.who}` : 'in flight';

type Change = { c: AbsCache; p: AbsCache; task: boolean; irq: boolean };
const NO_CHANGE: Change[] = [];
/** changed() of the last (prev, next) pair: three invariants ask for it on every step. */
let lastChange: { prev: AbstractState; next: AbstractState; out: Change[] } | null = null;

/** The cache whose lists changed between prev and next, with what changed. */
function changed(prev: AbstractState | undefined, next: AbstractState): Change[] {
  if (!prev) return NO_CHANGE;
  if (lastChange && lastChange.prev === prev && lastChange.next === next) return lastChange.out;
  let out = NO_CHANGE;
  for (const c of next.caches) {
    const p = prev.caches[c.cpu];
    if (!p) continue;
    const task = !sameIds(p.freeList, c.freeList) || p.nr !== c.nr;
    const irq = !sameIds(p.freeListIrq, c.freeListIrq) || p.nrIrq !== c.nrIrq;
    if (task || irq) {
      if (out === NO_CHANGE) out = [];
      out.push({ c, p, task, irq });
    }
  }
  lastChange = { prev, next, out };
  return out;
}

/** The step's oops that is about an object (the kernel's KASAN/slab reports), as object-safety words it. */
function objectFault(s: AbstractState): string | null {
  const f = s.step?.fault;
  return f && ['use-after-free', 'double-free', 'bad-free', 'uninit-read'].includes(f.kind) ? f.msg : null;
}

/** Where an object is stored (not counting operations that refer to it), for messages. */
const storedNames = (o: AbsObject) => o.places.filter((p) => p.kind !== 'in-op').map(placeName);

/** Hotplug callbacks legitimately empty a dead CPU's lists from another CPU. */
const isPrune = (next: AbstractState, c: AbsCache) => !c.online || next.step?.done?.op === 'cpu_dead' || (next.step?.label ?? '').includes('cpu_dead');

export const INVARIANTS: readonly Invariant[] = [
  {
    id: 'nr-accuracy',
    claim: 'on a quiescent CPU, nr equals the length of free_list and nr_irq the length of free_list_irq',
    kernelRule: '"cache->nr += cache->nr_irq; cache->nr_irq = 0;" — the counters move with the lists they count; the cap and threshold tests read them instead of walking the lists',
    source: 'fs/iomap/direct-io.c:dio_alloc_irq_cache_splice(), dio_alloc_percpu_cache(), dio_put_percpu_cache()',
    severity: 'error',
    revisit: null,
    check(_prev, s) {
      for (const c of s.caches) {
        if (!c.quiescent || c.listFault) continue;
        if (c.nr !== c.freeList.length) return `cpu${c.cpu}: nr = ${c.nr} but free_list holds ${c.freeList.length}`;
        if (c.nrIrq !== c.freeListIrq.length) return `cpu${c.cpu}: nr_irq = ${c.nrIrq} but free_list_irq holds ${c.freeListIrq.length}`;
      }
      return null;
    },
  },
  {
    id: 'splice-only-when-empty',
    claim: 'free_list_irq is spliced onto free_list only when free_list is empty',
    kernelRule: '"/* cache->free_list must be empty */ if (WARN_ON_ONCE(cache->free_list)) return;"',
    source: 'fs/iomap/direct-io.c:dio_alloc_irq_cache_splice() (block/bio.c:bio_alloc_irq_cache_splice())',
    severity: 'error',
    check(prev, s) {
      const warn = firstFact(s, ['warn']);
      if (warn !== null) return warn;
      for (const { c, p } of changed(prev, s)) {
        // free_list = free_list_irq over a non-empty free_list: the old task list is dropped.
        if (p.freeList.length > 0 && p.freeListIrq.length > 0 && c.freeList[0] === p.freeListIrq[0] && c.freeList[0] !== p.freeList[0])
          return `cpu${c.cpu}: free_list_irq (${p.freeListIrq.length}) spliced over a non-empty free_list (${p.freeList.length})`;
      }
      return null;
    },
  },
  {
    id: 'irq-list-hardirq-only',
    claim:
      'free_list_irq and nr_irq are written only on their own CPU with irqs off: by a hardirq put, or by the splice under local_irq_save (on a kernel config where no context can enter a preempt-disabled section, PREEMPT_RT, preemption off is enough: nothing else on the CPU can write them in between)',
    kernelRule: '"} else if (in_hardirq()) { lockdep_assert_irqs_disabled(); ... cache->free_list_irq = dio;" and "local_irq_save(flags); cache->free_list = cache->free_list_irq; cache->free_list_irq = NULL;"',
    source: 'fs/iomap/direct-io.c:dio_put_percpu_cache(), dio_alloc_irq_cache_splice()',
    severity: 'error',
    check(prev, s) {
      const lockdep = firstFact(s, ['lockdep-irqs-enabled']);
      if (lockdep !== null) return lockdep;
      const st = s.step;
      if (!st) return null;
      for (const { c, irq } of changed(prev, s)) {
        if (!irq || isPrune(s, c) || c.listFault) continue;
        const k = kernelConfig(s.profile.config);
        const ctx = k.contexts[st.ctx];
        if (st.cpu !== c.cpu) return `cpu${st.cpu} ${ctx.what} wrote cpu${c.cpu}'s free_list_irq/nr_irq (${st.label})`;
        if (!st.irqsOff && !ctx.irqsOff && (st.preemptible || interruptsPreemptOff(k)))
          return `${ctx.what} context wrote free_list_irq/nr_irq with irqs enabled${interruptsPreemptOff(k) ? '' : ' and preemption enabled'} (${st.label})`;
      }
      return null;
    },
  },
  {
    id: 'task-list-task-only',
    claim:
      'free_list and nr are written only by task context on their own CPU with preemption disabled (by a context that cannot interrupt a preempt-disabled section: on PREEMPT_RT an irq thread or a softirq, both tasks, qualify)',
    kernelRule: '"cache = per_cpu_ptr(dio_cache, get_cpu()); ... if (in_task()) { dio->dio_next = cache->free_list; cache->free_list = dio; cache->nr++;"',
    source: 'fs/iomap/direct-io.c:dio_put_percpu_cache(), dio_alloc_percpu_cache()',
    severity: 'error',
    check(prev, s) {
      const st = s.step;
      if (!st) return null;
      for (const { c, task } of changed(prev, s)) {
        // A list that cannot be walked any more (an element freed in place) is object-safety's.
        if (!task || isPrune(s, c) || c.listFault) continue;
        const ctx = kernelConfig(s.profile.config).contexts[st.ctx];
        if (ctx.entersPreemptOff) return `${ctx.what} context wrote cpu${c.cpu}'s free_list/nr (${st.label})`;
        if (st.cpu !== c.cpu) return `a task on cpu${st.cpu} wrote cpu${c.cpu}'s free_list/nr (${st.label})`;
        if (st.preemptible) return `free_list/nr written with preemption enabled (${st.label})`;
      }
      return null;
    },
  },
  {
    id: 'object-safety',
    claim: 'every live object is in exactly one place (a list, a task, in flight, or an operation); none is lost, duplicated, handed out twice, used after free or freed twice',
    kernelRule: 'slab API contract: "kfree - free previously allocated memory" once; an object on a free list belongs to the cache until popped',
    source: 'mm/slub.c:kfree(); fs/iomap/direct-io.c:dio_alloc_percpu_cache(), dio_put_percpu_cache()',
    severity: 'error',
    revisit: (_prev, s) => objectFault(s),
    check(_prev, s) {
      const f = objectFault(s);
      if (f !== null) return f;
      for (const c of s.caches) if (c.listFault && c.quiescent) return `cpu${c.cpu}: ${c.listFault}`;
      // Inside a critical section the lists are mid-update (the splice has the irq list's
      // objects on both lists for two statements): judge placement once the CPU is quiescent.
      for (const o of s.objects) {
        // Counted without building arrays: this runs for every object on every explored step.
        let stored = 0;
        let busy = false;
        for (const p of o.places) {
          if ((p.kind === 'task-list' || p.kind === 'irq-list') && s.caches[p.cpu]?.quiescent === false) busy = true;
          if (p.kind !== 'in-op') stored++;
        }
        if (busy) continue;
        if (o.freed && stored) return `freed object #${o.id} is still reachable: ${storedNames(o).join(', ')}`;
        if (o.freed) continue;
        if (stored > 1) return `object #${o.id} is in two places at once: ${storedNames(o).join(' and ')}`;
        if (o.places.length === 0) return `object #${o.id} was lost: live, but on no list, held by no task, not in flight and referenced by no operation`;
      }
      return null;
    },
  },
  {
    id: 'cap',
    claim: 'a quiescent CPU caches at most the profile\'s reachable bound: MAX+2 with `nr_irq + nr > MAX`, MAX+1 with `>= MAX`; on PREEMPT_RT (--config rt), where no context enters a get_cpu() section, the sequential MAX+1 and MAX',
    kernelRule: '"if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX) goto out_free;" — a soft cap: the test and the push are not atomic against a hardirq put',
    source: 'fs/iomap/direct-io.c:dio_put_percpu_cache() (docs/kernel-rules.md §5)',
    severity: 'error',
    revisit: null,
    check(_prev, s) {
      const bound = reachableCapBound(s.profile);
      for (const c of s.caches) {
        if (!c.quiescent) continue;
        const total = c.freeList.length + c.freeListIrq.length;
        if (total > bound) return `cpu${c.cpu} caches ${total} objects; the ${s.profile.name} profile bounds it at ${bound} (MAX ${s.profile.max})`;
      }
      return null;
    },
  },
  {
    id: 'refinement',
    claim: 'every step is one the statechart (model/machine.ts) can take: each write to a CPU\'s lists, each section of a context and each alloc\'s result maps to a machine event, the machine has a transition for it whose guards hold, and its cache then equals the implementation\'s',
    kernelRule: 'alloc: "if (!cache->free_list) { if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD) splice; if (!cache->free_list) return NULL; } dio = cache->free_list;" put: "in_task() -> free_list, in_hardirq() -> free_list_irq, else free"',
    source: 'fs/iomap/direct-io.c:dio_alloc_percpu_cache(), dio_put_percpu_cache(); the statechart model/machine.ts',
    severity: 'error',
    // The machine judged the step itself (AbsStep.refused): a claim about the step, checked on every visit.
    check(_prev, s) {
      return s.step?.refused ?? null;
    },
  },
  {
    id: 'context-balance',
    claim: 'an operation gives back the preemption and irq state it took, and touches per-CPU data only with preemption disabled',
    kernelRule: '"get_cpu() ... put_cpu()" pair; CONFIG_DEBUG_PREEMPT: "BUG: using smp_processor_id() in preemptible code"; local_irq_save/local_irq_restore pair',
    source: 'include/linux/smp.h:get_cpu(); lib/smp_processor_id.c:check_preemption_disabled()',
    severity: 'error',
    check(_prev, s) {
      return firstFact(s, ['preemptible-percpu', 'preempt-underflow', 'irq-restore-mismatch', 'unbalanced-exit']);
    },
  },
  {
    id: 'marked-access',
    claim:
      'a context that a hardirq put can interrupt reads free_list_irq and nr_irq only with READ_ONCE() (or with irqs disabled): a plain load of a cell another context writes concurrently is a data race',
    kernelRule:
      '"if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)" and "if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)"; LKMM: "a data race ... one of the accesses is plain ... the compiler may tear, fuse or re-load it" (KCSAN reports it)',
    source: 'fs/iomap/direct-io.c:dio_alloc_percpu_cache(), dio_put_percpu_cache() (block/bio.c alike); tools/memory-model/Documentation/explanation.txt "PLAIN ACCESSES AND DATA RACES"',
    severity: 'error',
    check(_prev, s) {
      return firstFact(s, ['data-race']);
    },
  },
  {
    id: 'might-sleep',
    claim:
      'no allocation that may sleep (GFP_KERNEL) runs with preemption or irqs disabled, or in interrupt context; on PREEMPT_RT no slab call at all (kmalloc() with any gfp, kfree(), kmem_cache_*()) runs with preemption or irqs disabled',
    kernelRule: `"BUG: sleeping function called from invalid context" (__might_sleep); syzbot on iomap v2: "Preemption disabled at: pcpu_cache_list_alloc". ${RT_SLAB_RULE}`,
    source: `kernel/sched/core.c:__might_sleep(); iomap v2 thread (2026-01-14); ${RT_SLAB_SOURCE}`,
    severity: 'error',
    check(_prev, s) {
      return firstFact(s, ['might-sleep']);
    },
  },
  {
    id: 'crash',
    claim: 'the implementation does not oops or hang: no NULL dereference, wild pointer, exception or endless loop',
    kernelRule: '"BUG: kernel NULL pointer dereference" (bug B1, 13a184e26965: pop from an empty free_list)',
    source: 'block/bio.c:bio_alloc_percpu_cache() history; any',
    severity: 'error',
    check(_prev, s) {
      const f = s.step?.fault;
      if (f && ['null-deref', 'wild-pointer', 'exception', 'no-return', 'replay-divergence'].includes(f.kind)) return f.msg;
      return null;
    },
  },
  {
    id: 'init-result',
    claim: 'the initcall returns 0 when the allocations it made succeeded, and an error when one failed, having freed what it had allocated: never an error for a cache it set up, never 0 for one it did not',
    kernelRule: '"dio_cache = alloc_percpu(struct dio_alloc_cache); if (!dio_cache) return -ENOMEM; ... return 0;" — do_one_initcall() logs "initcall %pS returned %d" and carries on; a module whose init returns an error is not loaded',
    source: 'fs/iomap/direct-io.c:iomap_dio_init(); init/main.c:do_one_initcall()',
    severity: 'error',
    check(_prev, s) {
      return firstFact(s, ['init-result']);
    },
  },
  {
    id: 'hotplug-stranding',
    claim: 'when a CPU goes offline, its cached objects are pruned by a surviving CPU, not stranded until it returns',
    kernelRule: '"cpuhp_setup_state_multi(CPUHP_BIO_DEAD, ...)": bio_cpu_dead() prunes the dead CPU\'s free_list and free_list_irq',
    source: 'block/bio.c:bio_cpu_dead(); absent from the iomap patch v1-v3',
    severity: 'warning',
    check(_prev, s) {
      const o = s.step?.offlined;
      if (o && o.stranded > 0)
        return o.pruned
          ? `cpu${o.cpu} went offline and its hotplug callback ran, yet ${o.stranded} object(s) are left on its lists: the prune misses them, and they are stranded until it comes back`
          : `cpu${o.cpu} went offline with ${o.stranded} object(s) left on its lists: stranded until it comes back`;
      return null;
    },
  },
  {
    id: 'kmemleak-balance',
    claim:
      'once the implementation annotates objects for kmemleak: on a quiescent CPU every object on a cache list is unregistered (kmemleak_free), every object handed out (held by a task or in flight) is registered, and no object is registered twice or unregistered twice in a row (the slab allocator\'s own hooks count: it registers what it hands out and unregisters what it frees)',
    kernelRule:
      'Documentation/dev-tools/kmemleak.rst: "kmemleak_alloc - notify of a memory block allocation", "kmemleak_free - notify of a memory block freeing"; mm/kmemleak.c: a second registration is kmemleak_stop("Cannot insert 0x%lx into the object search tree (overlaps existing)"), which disables kmemleak, and a second unregistration is "Freeing unknown object at 0x%08lx" (with DEBUG); the bio cache proposal (<aZ74UbGA261L4mxQ@laps>) kmemleak_free()s a bio as it is cached and kmemleak_alloc()s it as it is handed out or pruned, "so that cached bios are not reported as leaks"',
    source: 'mm/kmemleak.c:kmemleak_alloc(), kmemleak_free(), __link_object(), delete_object_full(); block/bio.c:bio_put_percpu_cache(), bio_alloc_percpu_cache(), __bio_alloc_cache_prune() with <aZ74UbGA261L4mxQ@laps>',
    severity: 'error',
    // The placement claims are about the state, which a revisited state passed already.
    revisit: (_prev, s) => firstFact(s, ['kmemleak']),
    check(_prev, s) {
      const f = firstFact(s, ['kmemleak']);
      if (f !== null) return f;
      // An implementation that never annotates is not judged: the slab's own hooks keep it balanced.
      if (!s.kmemleak) return null;
      for (const o of s.objects) {
        if (o.freed) continue;
        for (const p of o.places) {
          if (p.kind === 'task-list' || p.kind === 'irq-list') {
            const c = s.caches[p.cpu];
            if (!c || !c.quiescent || c.listFault) continue;
            if (o.kmemleak !== 'freed')
              return `${placeName(p)} holds #${o.id}, which kmemleak still tracks (${o.kmemleak === 'allocated' ? 'kmemleak_alloc() registered it' : 'registered by the slab allocator, never kmemleak_free()d'}): a cached object reported as a leak, the false positive the annotations are there to prevent`;
          } else if ((p.kind === 'held' || p.kind === 'in-flight') && o.kmemleak === 'freed')
            return `#${o.id}, ${p.kind === 'held' ? `held by task${p.task}` : 'in flight'}, is unregistered from kmemleak (kmemleak_free() and no kmemleak_alloc() since): a leak of it would never be reported`;
        }
      }
      return null;
    },
  },
];

export const INVARIANT_IDS: readonly InvariantId[] = INVARIANTS.map((i) => i.id);

export function invariant(id: InvariantId): Invariant {
  const inv = INVARIANTS.find((i) => i.id === id);
  if (!inv) throw new Error(`unknown invariant ${id}`);
  return inv;
}

/** Every invariant that fails across prev -> next, in registry order. */
/** `revisited`: `next` is a state the search judged already (Invariant.revisit). */
export function violations(prev: AbstractState | undefined, next: AbstractState, revisited = false): { id: InvariantId; severity: 'error' | 'warning'; message: string }[] {
  const out = [];
  for (const inv of INVARIANTS) {
    let m: string | null;
    if (!revisited || inv.revisit === undefined) m = inv.check(prev, next);
    else if (inv.revisit === null) continue;
    else m = inv.revisit(prev, next);
    if (m !== null) out.push({ id: inv.id, severity: inv.severity, message: m });
  }
  return out;
}

/** The cap test as the model states it, for the statechart and fast-check models. */
export { capAllows };
