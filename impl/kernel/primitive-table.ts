/**
 * The kernel primitives, declared once (like LKMM's linux-kernel.def): one row per C spelling the
 * checker runs or a port calls. Every path reads this table and keeps no list of its own:
 * - the C interpreter (conformance/c/interp.ts) dispatches a call only through its row
 *   (`cPrimitive()`), and `pure` is its boundary decision: a statement whose calls are all pure
 *   primitives (or the patch's own functions) on locals and constants gets no boundary;
 * - the compiler (conformance/c/compile.ts) translates a call only by its row's name;
 * - build.ts's callee check refuses a call that is neither the patch's nor a row here (exit 2,
 *   naming the call and how to provide it), and reads `unevaluated`, `allocates` and `prints`;
 * - docs/primitives.md is generated from it (conformance/gen-docs.ts), and a test fails when stale;
 * - test/primitives.test.ts runs every C row's `example` through the interpreter and the compiler.
 *
 * Interleaving discipline: an interrupt, a preemption or another CPU's step can happen between
 * any two C statements (at every `yield` of an implementation's generator). A primitive runs
 * inside one statement, atomic with respect to this CPU. `point` says the kernel may switch at
 * (just after) it: it sleeps, or it re-enables preemption or irqs. A port makes such a call the
 * last thing in its statement, so the boundary that follows is the switch point; the C path
 * makes every statement that calls one a step of its own (a point is never `pure`), so the next
 * statement that touches shared state starts after a boundary where the switch can happen.
 *
 * Imports nothing but the Kernel's type, so that anything (the docs generator, the C path) can
 * read it without an import loop.
 */
import type { Kernel } from './primitives.js';

/** A public method of the Kernel (a primitive a port or the C path calls). */
export type KernelMethod = { [K in keyof Kernel]: Kernel[K] extends (...a: never[]) => unknown ? K : never }[keyof Kernel];

/**
 * Who calls it: `both`, a C spelling the C path runs and a Kernel method of the same name the
 * ports call; `c`, a C spelling only the C path knows (it runs the rows in `runs`, or computes the
 * value from its arguments); `port`, a Kernel method with no C spelling the C path recognises.
 */
export type PrimitivePaths = 'both' | 'c' | 'port';

export interface PrimitiveDecl {
  /** C spelling; a name ending in `*` is a prefix (`trace_*`: every tracepoint). */
  name: string;
  /** Kernel definition it stands for. */
  kernel: string;
  /** Whether the kernel may switch context at (just after) this primitive. */
  point: boolean;
  /**
   * The call itself reads and writes no state of the world (its arguments still may): a statement
   * or condition calling only pure primitives on locals and constants is no statement boundary.
   */
  pure: boolean;
  paths: PrimitivePaths;
  /**
   * The Kernel primitives (rows of this table) a C call of it runs, in order: `local_lock_irqsave`
   * runs local_irq_save. [] when the C path computes it from its arguments and memory alone.
   */
  runs: readonly KernelMethod[];
  /** A call as the C path reads it (a port's call for `port` rows). */
  example: string;
  /** What the simulation does and checks. */
  effect: string;
  /**
   * Arguments from this index on are not checked before exploring as names the code must define
   * (build.ts): names or types the C path never evaluates (container_of's type and member: 1).
   */
  unevaluated?: number;
  /**
   * Arguments at these positions name what the model has no object for (a `struct kmem_cache *`):
   * not read, so not checked as names either; the others are checked as any call's.
   */
  opaque?: readonly number[];
  /** Returns a new slab object: what a caller's allocation of the cached object looks like (build.ts). */
  allocates?: boolean;
  /** A print: its string arguments (the format, `__func__`) are text, not values (build.ts). */
  prints?: boolean;
  /**
   * CPU numbers (conformance/c/cpu-numbers.ts, which decides whether CPU symmetry can rename all
   * of a patch's): `returns`, it returns one (logged as a CPU read, Frame.cpuReads); a number, the
   * argument at that index is one.
   */
  cpu?: 'returns' | number;
}

const THIS_CPU_KINDS = ['this_cpu', '__this_cpu', 'raw_cpu'] as const;
const THIS_CPU_OPS = ['read', 'write', 'inc', 'dec', 'add', 'sub', 'inc_return', 'dec_return', 'add_return', 'sub_return', 'and', 'or', 'xchg', 'cmpxchg'] as const;
export type ThisCpuName = `${(typeof THIS_CPU_KINDS)[number]}_${(typeof THIS_CPU_OPS)[number]}`;

const THIS_CPU_OP_EFFECT: Record<(typeof THIS_CPU_OPS)[number], { example: string; effect: string }> = {
  read: { example: 'n = OP(pcp->nr)', effect: 'returns the value' },
  write: { example: 'OP(pcp->nr, 1)', effect: 'stores the value' },
  inc: { example: 'OP(pcp->nr)', effect: 'a load, then a store of the value + 1' },
  dec: { example: 'OP(pcp->nr)', effect: 'a load, then a store of the value - 1' },
  add: { example: 'OP(pcp->nr, 2)', effect: 'a load, then a store of the value + n' },
  sub: { example: 'OP(pcp->nr, 2)', effect: 'a load, then a store of the value - n' },
  inc_return: { example: 'n = OP(pcp->nr)', effect: 'as inc; returns the new value' },
  dec_return: { example: 'n = OP(pcp->nr)', effect: 'as dec; returns the new value' },
  add_return: { example: 'n = OP(pcp->nr, 2)', effect: 'as add; returns the new value' },
  sub_return: { example: 'n = OP(pcp->nr, 2)', effect: 'as sub; returns the new value' },
  and: { example: 'OP(pcp->nr, 6)', effect: 'a load, then a store of the value & n' },
  or: { example: 'OP(pcp->nr, 6)', effect: 'a load, then a store of the value | n' },
  xchg: { example: 'n = OP(pcp->nr, 1)', effect: 'a load, then a store of n; returns the old value' },
  cmpxchg: { example: 'n = OP(pcp->nr, 0, 1)', effect: 'a load, then a store of the new value when the old one is the expected one; returns the old value' },
};

const THIS_CPU_KIND_EFFECT: Record<(typeof THIS_CPU_KINDS)[number], { runs: readonly KernelMethod[]; effect: string }> = {
  this_cpu: {
    runs: ['raw_smp_processor_id', 'per_cpu_ptr'],
    effect: 'on the current CPU\'s instance of the per-CPU lvalue, in one statement; irq- and preempt-safe, so no preemption check, and one access at --atomicity access (Kernel.beginOneAccess)',
  },
  __this_cpu: {
    runs: ['smp_processor_id', 'per_cpu_ptr'],
    effect: 'on the current CPU\'s instance, with CONFIG_DEBUG_PREEMPT\'s __this_cpu_preempt_check(): called while preemptible it is the smp_processor_id() splat (context-balance); a plain load and store (two accesses at --atomicity access)',
  },
  raw_cpu: {
    runs: ['raw_smp_processor_id', 'per_cpu_ptr'],
    effect: 'on the current CPU\'s instance, no check; a plain load and store (two accesses at --atomicity access)',
  },
};

/** include/linux/percpu-defs.h: this_cpu_OP(), __this_cpu_OP(), raw_cpu_OP() on a per-CPU lvalue (`p->f` of a __percpu pointer, a DEFINE_PER_CPU variable). */
const THIS_CPU_ROWS: PrimitiveDecl[] = THIS_CPU_KINDS.flatMap((kind) =>
  THIS_CPU_OPS.map((op): PrimitiveDecl => {
    const name: ThisCpuName = `${kind}_${op}`;
    return {
      name,
      kernel: 'include/linux/percpu-defs.h',
      point: false,
      pure: false,
      paths: 'c',
      runs: THIS_CPU_KIND_EFFECT[kind].runs,
      example: THIS_CPU_OP_EFFECT[op].example.replace('OP', name),
      effect: `${THIS_CPU_OP_EFFECT[op].effect}, ${THIS_CPU_KIND_EFFECT[kind].effect}`,
    };
  }),
);

/** The cpuhp registration calls (include/linux/cpuhotplug.h). */
const CPUHP_SETUP = ['cpuhp_setup_state', 'cpuhp_setup_state_nocalls', 'cpuhp_setup_state_multi', 'cpuhp_state_add_instance', 'cpuhp_state_add_instance_nocalls'] as const;
const CPUHP_REMOVE = ['cpuhp_remove_state', 'cpuhp_remove_state_nocalls', 'cpuhp_remove_multi_state', 'cpuhp_state_remove_instance', 'cpuhp_state_remove_instance_nocalls'] as const;
const CPUHP_ROWS: PrimitiveDecl[] = [
  ...CPUHP_SETUP.map(
    (name): PrimitiveDecl => ({
      name,
      kernel: 'include/linux/cpuhotplug.h (kernel/cpu.c: __cpuhp_setup_state(), which takes cpus_read_lock() and may sleep)',
      point: true,
      pure: false,
      paths: 'c',
      runs: [],
      example: name.includes('instance') ? `${name}(CPUHP_BP_PREPARE_DYN, &p->next)` : `${name}(CPUHP_BP_PREPARE_DYN, "obj:dead", NULL, obj_dead)`,
      unevaluated: 0,
      effect:
        'registration only, returns 0: the checker runs the teardown callback itself as the prune when a scope takes a CPU down (roles.ts); a startup callback (third argument not NULL) is refused before exploring, as the kernel would run it on every CPU that comes online; the callback named is not a function pointer to follow',
    }),
  ),
  ...CPUHP_REMOVE.map(
    (name): PrimitiveDecl => ({
      name,
      kernel: 'include/linux/cpuhotplug.h (kernel/cpu.c: __cpuhp_remove_state(), which takes cpus_read_lock() and may sleep)',
      point: true,
      pure: false,
      paths: 'c',
      runs: [],
      example: name.includes('instance') ? `${name}(CPUHP_BP_PREPARE_DYN, &p->next)` : `${name}(CPUHP_BP_PREPARE_DYN)`,
      unevaluated: 0,
      effect:
        name === 'cpuhp_remove_state' || name === 'cpuhp_state_remove_instance'
          ? 'refused before exploring: it runs the teardown callback on every online CPU there and then, which the checker does not model (the _nocalls variant runs none)'
          : 'unregistration only, returns 0; no callback runs',
    }),
  ),
];

const PRINTS = ['pr_info', 'pr_warn', 'pr_err', 'pr_warn_once', 'pr_info_once', 'pr_warn_ratelimited'] as const;

export const PRIMITIVES: readonly PrimitiveDecl[] = [
  // ---- preemption and the current CPU --------------------------------------------------------
  { name: 'get_cpu', kernel: 'include/linux/smp.h: preempt_disable(); smp_processor_id()', point: false, pure: false, paths: 'both', runs: ['get_cpu'], example: 'cpu = get_cpu()', effect: 'preempt depth +1; returns this CPU id', cpu: 'returns' },
  { name: 'put_cpu', kernel: 'include/linux/smp.h: preempt_enable()', point: true, pure: false, paths: 'both', runs: ['put_cpu'], example: 'put_cpu()', effect: 'preempt depth -1 (underflow is a context-balance violation); preemption possible after it' },
  { name: 'preempt_disable', kernel: 'include/linux/preempt.h', point: false, pure: false, paths: 'both', runs: ['preempt_disable'], example: 'preempt_disable()', effect: 'preempt depth +1' },
  { name: 'preempt_enable', kernel: 'include/linux/preempt.h', point: true, pure: false, paths: 'both', runs: ['preempt_enable'], example: 'preempt_enable()', effect: 'preempt depth -1' },
  { name: 'smp_processor_id', kernel: 'include/linux/smp.h', point: false, pure: false, paths: 'both', runs: ['smp_processor_id'], example: 'cpu = smp_processor_id()', effect: 'returns this CPU id; called while preemptible it is a CONFIG_DEBUG_PREEMPT splat (context-balance)', cpu: 'returns' },
  { name: 'raw_smp_processor_id', kernel: 'include/linux/smp.h', point: false, pure: false, paths: 'both', runs: ['raw_smp_processor_id'], example: 'cpu = raw_smp_processor_id()', effect: 'returns this CPU id, no preemption check (raw_cpu_ptr, raw_cpu_*, this_cpu_* operations)', cpu: 'returns' },
  { name: 'per_cpu_ptr', kernel: 'include/linux/percpu-defs.h', point: false, pure: false, paths: 'both', runs: ['per_cpu_ptr'], example: 'per_cpu_ptr(pcp, cpu)->nr = 1', effect: 'returns CPU n\'s instance of a __percpu area', cpu: 1 },
  { name: 'this_cpu_ptr', kernel: 'include/linux/percpu-defs.h', point: false, pure: false, paths: 'both', runs: ['this_cpu_ptr'], example: 'this_cpu_ptr(pcp)->nr = 1', effect: 'per_cpu_ptr(p, smp_processor_id()); preemptible use is a context-balance violation' },
  { name: 'raw_cpu_ptr', kernel: 'include/linux/percpu-defs.h', point: false, pure: false, paths: 'c', runs: ['raw_smp_processor_id', 'per_cpu_ptr'], example: 'raw_cpu_ptr(pcp)->nr = 1', effect: 'per_cpu_ptr(p, raw_smp_processor_id()): no preemption check' },
  { name: 'get_cpu_ptr', kernel: 'include/linux/percpu-defs.h: preempt_disable(); this_cpu_ptr(ptr)', point: false, pure: false, paths: 'c', runs: ['preempt_disable', 'this_cpu_ptr'], example: 'get_cpu_ptr(pcp)->nr = 1', effect: 'preempt depth +1, then this CPU\'s instance' },
  { name: 'put_cpu_ptr', kernel: 'include/linux/percpu-defs.h: preempt_enable()', point: true, pure: false, paths: 'c', runs: ['preempt_enable'], example: 'put_cpu_ptr(pcp)', effect: 'preempt depth -1 (the pointer is not read); preemption possible after it' },
  { name: 'cpu_online', kernel: 'include/linux/cpumask.h', point: false, pure: false, paths: 'both', runs: ['cpu_online'], example: 'n = cpu_online(cpu)', effect: 'whether CPU n is online', cpu: 0 },
  { name: 'cpu_possible', kernel: 'include/linux/cpumask.h', point: false, pure: true, paths: 'c', runs: ['num_possible_cpus'], example: 'n = cpu_possible(cpu)', effect: 'whether 0 <= n < the scope\'s CPU count (possible CPUs do not change)', cpu: 0 },
  { name: 'cpu_present', kernel: 'include/linux/cpumask.h', point: false, pure: true, paths: 'c', runs: ['num_possible_cpus'], example: 'n = cpu_present(cpu)', effect: 'as cpu_possible: every possible CPU is present', cpu: 0 },
  { name: 'num_possible_cpus', kernel: 'include/linux/cpumask.h', point: false, pure: false, paths: 'both', runs: ['num_possible_cpus'], example: 'n = num_possible_cpus()', effect: 'the scope\'s CPU count (also nr_cpu_ids)' },
  { name: 'num_online_cpus', kernel: 'include/linux/cpumask.h', point: false, pure: false, paths: 'c', runs: ['num_possible_cpus', 'cpu_online'], example: 'n = num_online_cpus()', effect: 'how many CPUs are online now' },

  // ---- irqs and contexts -----------------------------------------------------------------------
  { name: 'local_irq_save', kernel: 'include/linux/irqflags.h', point: false, pure: false, paths: 'both', runs: ['local_irq_save'], example: 'local_irq_save(flags)', effect: 'returns the irq state and masks hardirqs (and irq-exit softirqs) on this CPU' },
  { name: 'local_irq_restore', kernel: 'include/linux/irqflags.h', point: true, pure: false, paths: 'both', runs: ['local_irq_restore'], example: 'local_irq_restore(flags)', effect: 'restores the saved irq state; interrupts may enter after it' },
  { name: 'local_irq_disable', kernel: 'include/linux/irqflags.h', point: false, pure: false, paths: 'both', runs: ['local_irq_disable'], example: 'local_irq_disable()', effect: 'masks hardirqs on this CPU' },
  { name: 'local_irq_enable', kernel: 'include/linux/irqflags.h', point: true, pure: false, paths: 'both', runs: ['local_irq_enable'], example: 'local_irq_enable()', effect: 'unmasks hardirqs on this CPU' },
  { name: 'irqs_disabled', kernel: 'include/linux/irqflags.h', point: false, pure: false, paths: 'both', runs: ['irqs_disabled'], example: 'n = irqs_disabled()', effect: 'returns whether hardirqs are masked on this CPU' },
  { name: 'in_task', kernel: 'include/linux/preempt.h: !(in_nmi() | in_hardirq() | in_serving_softirq())', point: false, pure: false, paths: 'both', runs: ['in_task'], example: 'n = in_task()', effect: 'the context\'s inTask in the kernel config (model/config.ts): true in task context, even with preemption or irqs off; on PREEMPT_RT also in an irq thread' },
  { name: 'in_hardirq', kernel: 'include/linux/preempt.h: hardirq_count()', point: false, pure: false, paths: 'both', runs: ['in_hardirq'], example: 'n = in_hardirq()', effect: 'true inside a hardirq handler (never on PREEMPT_RT, where the handler is an irq thread)' },
  { name: 'in_irq', kernel: 'include/linux/preempt.h: the old name of in_hardirq()', point: false, pure: false, paths: 'c', runs: ['in_hardirq'], example: 'n = in_irq()', effect: 'as in_hardirq' },
  { name: 'in_serving_softirq', kernel: 'include/linux/preempt.h: softirq_count() & SOFTIRQ_OFFSET', point: false, pure: false, paths: 'both', runs: ['in_serving_softirq'], example: 'n = in_serving_softirq()', effect: 'true while a softirq runs (also in a hardirq on top of it; not in an irq thread on top of it on PREEMPT_RT)' },
  { name: 'in_softirq', kernel: 'include/linux/preempt.h: softirq_count()', point: false, pure: false, paths: 'c', runs: ['in_serving_softirq'], example: 'n = in_softirq()', effect: 'as in_serving_softirq: the model has no local_bh_disable() sections' },
  { name: 'in_interrupt', kernel: 'include/linux/preempt.h: irq_count()', point: false, pure: false, paths: 'c', runs: ['in_task'], example: 'n = in_interrupt()', effect: '!in_task()' },
  { name: 'in_nmi', kernel: 'include/linux/preempt.h: nmi_count()', point: false, pure: true, paths: 'c', runs: [], example: 'n = in_nmi()', unevaluated: 0, effect: 'false: no NMI context is modelled' },
  { name: 'lockdep_assert_irqs_disabled', kernel: 'include/linux/lockdep.h', point: false, pure: false, paths: 'both', runs: ['lockdep_assert_irqs_disabled'], example: 'lockdep_assert_irqs_disabled()', effect: 'irqs on here is a lockdep splat (irq-list-hardirq-only)' },

  // ---- the local lock: local_lock_t in C, local_trylock_t in the sheaves port ------------------
  {
    name: 'local_lock',
    kernel:
      'include/linux/local_lock_internal.h (!PREEMPT_RT) __local_lock(): "preempt_disable(); __local_lock_acquire(this_cpu_ptr(lock))"; on a local_trylock_t the acquire does lockdep_assert(tl->acquired == 0) and WRITE_ONCE(tl->acquired, 1)',
    point: false,
    pure: false,
    paths: 'both',
    runs: ['preempt_disable'],
    example: 'local_lock(&pcp->lock)',
    effect:
      'preempt depth +1. The C path (a local_lock_t, which has no lock word): then the lock argument is evaluated and a NULL one is the oops lockdep\'s acquire would hit. The sheaves port (Kernel.local_lock, a local_trylock_t): also sets this CPU\'s acquired word; the word already set is lockdep\'s assertion failing (a self-deadlock on PREEMPT_RT): a crash (exception)',
  },
  {
    name: 'local_unlock',
    kernel: 'include/linux/local_lock_internal.h (!PREEMPT_RT) __local_unlock(): "__local_lock_release(this_cpu_ptr(lock)); preempt_enable();", the release on a local_trylock_t doing lockdep_assert(tl->acquired == 1) and WRITE_ONCE(tl->acquired, 0)',
    point: true,
    pure: false,
    paths: 'both',
    runs: ['preempt_enable'],
    example: 'local_unlock(&pcp->lock)',
    effect:
      'drops the preempt depth (a depth already 0 is context-balance). The C path: the lock argument is checked as local_lock\'s, then preempt_enable(). The sheaves port (Kernel.local_unlock): clears this CPU\'s acquired word first; a word not set is lockdep\'s "bad unlock balance" (context-balance)',
  },
  { name: 'local_lock_irq', kernel: 'include/linux/local_lock_internal.h (!PREEMPT_RT): local_irq_disable(); local_lock_acquire(this_cpu_ptr(lock))', point: false, pure: false, paths: 'c', runs: ['local_irq_disable'], example: 'local_lock_irq(&pcp->lock)', effect: 'masks hardirqs, then the lock argument is checked as local_lock\'s' },
  { name: 'local_unlock_irq', kernel: 'include/linux/local_lock_internal.h (!PREEMPT_RT): local_lock_release(this_cpu_ptr(lock)); local_irq_enable()', point: true, pure: false, paths: 'c', runs: ['local_irq_enable'], example: 'local_unlock_irq(&pcp->lock)', effect: 'the lock argument is checked as local_lock\'s, then hardirqs are unmasked' },
  { name: 'local_lock_irqsave', kernel: 'include/linux/local_lock_internal.h (!PREEMPT_RT): local_irq_save(flags); local_lock_acquire(this_cpu_ptr(lock))', point: false, pure: false, paths: 'c', runs: ['local_irq_save'], example: 'local_lock_irqsave(&pcp->lock, flags)', effect: 'local_irq_save into the flags argument, then the lock argument is checked as local_lock\'s' },
  { name: 'local_unlock_irqrestore', kernel: 'include/linux/local_lock_internal.h (!PREEMPT_RT): local_lock_release(this_cpu_ptr(lock)); local_irq_restore(flags)', point: true, pure: false, paths: 'c', runs: ['local_irq_restore'], example: 'local_unlock_irqrestore(&pcp->lock, flags)', effect: 'the lock argument is checked as local_lock\'s, then local_irq_restore(flags)' },
  { name: 'local_lock_init', kernel: 'include/linux/local_lock.h', point: false, pure: false, paths: 'c', runs: [], example: 'local_lock_init(&pcp->lock)', effect: 'the lock argument is checked as local_lock\'s; nothing else (a local_lock_t has no state here)' },
  {
    name: 'local_trylock',
    kernel:
      'include/linux/local_lock_internal.h (!PREEMPT_RT) __local_trylock() on a local_trylock_t: "preempt_disable(); tl = this_cpu_ptr(lock); if (READ_ONCE(tl->acquired)) { preempt_enable(); tl = NULL; } else { WRITE_ONCE(tl->acquired, 1); ... } !!tl;"',
    point: false,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'k.local_trylock(pcs, \'lock\')',
    effect:
      'on this CPU\'s instance of a __percpu struct\'s lock field: when its acquired word is set (held on this CPU: in an interrupt that landed on the holder, in any context) returns false and leaves preemption as it was; else sets the word, preempt depth +1, returns true; irqs are not touched',
  },

  // ---- scope-based guards (include/linux/cleanup.h); the classes are interp.ts GUARDS ----------
  {
    name: 'guard',
    kernel: 'include/linux/cleanup.h: guard(class)(args), released where the enclosing scope ends',
    point: false,
    pure: false,
    paths: 'c',
    runs: [],
    example: 'guard(irqsave)()',
    effect:
      'only as a statement of its own: the class\'s acquire (irqsave: local_irq_save, irq: local_irq_disable, preempt: preempt_disable, rcu: nothing, local_lock*: as the local_lock calls), and its release, a statement boundary of its own labelled "} (guard(cls) released: ...)", wherever control leaves the block; an unknown class is refused before exploring',
  },
  {
    name: '__scoped_guard',
    kernel: 'include/linux/cleanup.h: scoped_guard(class, args) { ... } (ast.ts rewrites it as `for (__scoped_guard(class, args);;)`)',
    point: false,
    pure: false,
    paths: 'c',
    runs: [],
    example: 'scoped_guard(irqsave) { counter++; }',
    effect: 'as guard, held for the body; break and continue inside end the guard, not an enclosing loop',
  },

  // ---- marked accesses, checks, annotations ----------------------------------------------------
  { name: 'READ_ONCE', kernel: 'include/asm-generic/rwonce.h', point: false, pure: false, paths: 'both', runs: [], example: 'n = READ_ONCE(p->x)', effect: 'a marked load; same value semantics as a plain load (no tearing modelled)' },
  { name: 'WRITE_ONCE', kernel: 'include/asm-generic/rwonce.h', point: false, pure: false, paths: 'both', runs: [], example: 'WRITE_ONCE(p->x, 1)', effect: 'a marked store' },
  { name: 'data_race', kernel: 'include/linux/compiler.h (KCSAN annotation)', point: false, pure: true, paths: 'c', runs: [], example: 'n = data_race(p->x)', effect: 'its argument\'s value (the read is the argument\'s)' },
  { name: 'atomic_read', kernel: 'include/linux/atomic/atomic-instrumented.h', point: false, pure: false, paths: 'c', runs: [], example: 'n = atomic_read(&p->x)', effect: 'a load at the address given' },
  { name: 'atomic_set', kernel: 'include/linux/atomic/atomic-instrumented.h', point: false, pure: false, paths: 'c', runs: [], example: 'atomic_set(&p->x, 1)', effect: 'a store at the address given' },
  { name: 'barrier', kernel: 'include/linux/compiler.h', point: false, pure: true, paths: 'c', runs: [], example: 'barrier()', unevaluated: 0, effect: 'nothing: the explorer\'s interleavings are sequentially consistent, so a barrier orders nothing that is not already ordered' },
  { name: 'smp_mb', kernel: 'include/asm-generic/barrier.h', point: false, pure: false, paths: 'c', runs: [], example: 'smp_mb()', unevaluated: 0, effect: 'as barrier (a statement of its own)' },
  { name: 'smp_rmb', kernel: 'include/asm-generic/barrier.h', point: false, pure: false, paths: 'c', runs: [], example: 'smp_rmb()', unevaluated: 0, effect: 'as barrier (a statement of its own)' },
  { name: 'smp_wmb', kernel: 'include/asm-generic/barrier.h', point: false, pure: false, paths: 'c', runs: [], example: 'smp_wmb()', unevaluated: 0, effect: 'as barrier (a statement of its own)' },
  { name: 'likely', kernel: 'include/linux/compiler.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = likely(cpu)', effect: 'its argument' },
  { name: 'unlikely', kernel: 'include/linux/compiler.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = unlikely(cpu)', effect: 'its argument' },
  { name: 'WARN_ON_ONCE', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'both', runs: ['WARN_ON_ONCE'], example: 'WARN_ON_ONCE(p->x > 1)', effect: 'returns its condition; a true condition is reported as a warning splat' },
  { name: 'WARN_ON', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'c', runs: ['WARN_ON_ONCE'], example: 'WARN_ON(p->x > 1)', effect: 'as WARN_ON_ONCE (a warning is a finding the first time)' },
  { name: 'WARN', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'c', runs: ['WARN_ON_ONCE'], example: 'WARN(p->x > 1, "x %d\\n", p->x)', prints: true, effect: 'as WARN_ON_ONCE; the message\'s arguments are read only when it fires' },
  { name: 'WARN_ONCE', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'c', runs: ['WARN_ON_ONCE'], example: 'WARN_ONCE(p->x > 1, "x %d\\n", p->x)', prints: true, effect: 'as WARN' },
  { name: 'BUG_ON', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'c', runs: [], example: 'BUG_ON(p->x > 1)', effect: 'a true condition is a kernel BUG: a crash (exception)' },
  { name: 'BUG', kernel: 'include/asm-generic/bug.h', point: false, pure: false, paths: 'c', runs: [], example: 'BUG()', effect: 'a kernel BUG: a crash (exception)' },
  { name: 'BUILD_BUG_ON', kernel: 'include/linux/build_bug.h', point: false, pure: true, paths: 'c', runs: [], example: 'BUILD_BUG_ON(sizeof(*p) > 64)', unevaluated: 0, effect: 'nothing: the patch builds, and the condition may name macros the scope scales, which it must not see' },
  {
    name: 'nondet',
    kernel: '(none: a value of the caller the model does not compute, e.g. what iomap_iter() returned, `ret` on __iomap_dio_rw()\'s out_free_dio path)',
    point: false,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'if (k.nondet()) ...',
    effect: `the outcome of a branch on such a value: the explorer runs the statement both ways (a step choice, as for a failing allocation) and the trace says "nondeterministic branch"; the outcome is logged in the read log, so replays take the same way; a statement run without the choice (boot, an atomic handler) takes the false branch; its label ends with NONDET_BRANCH so that the explorer knows to offer both. The C path calls it for an \`if\` of a caller's line on such a value (Interp.nondetIfs), never for a C call`,
  },

  // ---- error pointers and arithmetic -----------------------------------------------------------
  { name: 'ERR_PTR', kernel: 'include/linux/err.h', point: false, pure: true, paths: 'c', runs: [], example: 'v = ERR_PTR(-ENOMEM)', effect: 'the negative errno as a pointer' },
  { name: 'IS_ERR', kernel: 'include/linux/err.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = IS_ERR(v)', effect: 'whether the value is a negative errno' },
  { name: 'PTR_ERR', kernel: 'include/linux/err.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = PTR_ERR(v)', effect: 'the value as an errno' },
  { name: 'IS_ERR_OR_NULL', kernel: 'include/linux/err.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = IS_ERR_OR_NULL(q)', effect: 'NULL or a negative errno' },
  { name: 'min', kernel: 'include/linux/minmax.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = min(cpu, 4)', effect: 'the smaller, of the wider type' },
  { name: 'max', kernel: 'include/linux/minmax.h', point: false, pure: true, paths: 'c', runs: [], example: 'n = max(cpu, 4)', effect: 'the larger, of the wider type' },
  { name: 'container_of', kernel: 'include/linux/container_of.h', point: false, pure: true, paths: 'c', runs: [], example: 'q = container_of(&p->x, struct obj, x)', unevaluated: 1, effect: 'the enclosing struct\'s address: the pointer minus the member\'s offset (from the struct layout)' },
  { name: 'container_of_const', kernel: 'include/linux/container_of.h', point: false, pure: true, paths: 'c', runs: [], example: 'q = container_of_const(&p->x, struct obj, x)', unevaluated: 1, effect: 'as container_of' },
  { name: 'list_entry', kernel: 'include/linux/list.h', point: false, pure: true, paths: 'c', runs: [], example: 'q = list_entry(&p->x, struct obj, x)', unevaluated: 1, effect: 'as container_of' },
  { name: 'hlist_entry', kernel: 'include/linux/list.h', point: false, pure: true, paths: 'c', runs: [], example: 'q = hlist_entry(&p->x, struct obj, x)', unevaluated: 1, effect: 'as container_of' },
  { name: 'hlist_entry_safe', kernel: 'include/linux/list.h', point: false, pure: true, paths: 'c', runs: [], example: 'q = hlist_entry_safe(&p->x, struct obj, x)', unevaluated: 1, effect: 'as container_of; NULL stays NULL' },

  // ---- allocation ------------------------------------------------------------------------------
  { name: 'kmalloc', kernel: 'include/linux/slab.h', point: true, pure: false, paths: 'both', runs: ['kmalloc', 'kzalloc'], example: 'q = kmalloc(sizeof(*q), GFP_KERNEL)', allocates: true, effect: 'a fresh uninitialised object of the struct\'s size or the bytes asked for (zeroed with __GFP_ZERO): an access at or past the end is slab-out-of-bounds (crash), as KASAN reports; GFP_KERNEL may sleep, so with preemption or irqs off or in interrupt context it is might-sleep; on PREEMPT_RT any gfp with preemption or irqs off is might-sleep (model/config.ts: slabSleeps); returns NULL when the explorer makes the statement\'s allocation fail (Scope.allocFailures)' },
  { name: 'kzalloc', kernel: 'include/linux/slab.h', point: true, pure: false, paths: 'both', runs: ['kzalloc'], example: 'q = kzalloc(sizeof(*q), GFP_KERNEL)', allocates: true, effect: 'kmalloc, zeroed: every byte reads 0 until written' },
  { name: 'kcalloc', kernel: 'include/linux/slab.h', point: true, pure: false, paths: 'c', runs: ['kzalloc'], example: 'v = kcalloc(4, sizeof(*q), GFP_KERNEL)', allocates: true, effect: 'kzalloc of n elements: n times the element\'s size, when both are known' },
  { name: 'kmalloc_array', kernel: 'include/linux/slab.h', point: true, pure: false, paths: 'c', runs: ['kmalloc', 'kzalloc'], example: 'v = kmalloc_array(4, sizeof(*q), GFP_KERNEL)', allocates: true, effect: 'kmalloc of n elements, as kcalloc but not zeroed (unless __GFP_ZERO)' },
  { name: 'kmem_cache_alloc', kernel: 'mm/slub.c', point: true, pure: false, paths: 'both', runs: ['kmem_cache_alloc', 'kzalloc'], example: 'q = kmem_cache_alloc(cache, GFP_KERNEL)', opaque: [0], allocates: true, effect: 'as kmalloc, from a dedicated cache (the cache is not an object of the model: not read; the size is unknown, so not bounds-checked); the gfp is checked before exploring, as for kmalloc' },
  { name: 'kmem_cache_zalloc', kernel: 'include/linux/slab.h', point: true, pure: false, paths: 'c', runs: ['kzalloc'], example: 'q = kmem_cache_zalloc(cache, GFP_KERNEL)', opaque: [0], allocates: true, effect: 'as kmem_cache_alloc, zeroed' },
  { name: 'mempool_alloc', kernel: 'mm/mempool.c', point: true, pure: false, paths: 'both', runs: ['mempool_alloc'], example: 'q = mempool_alloc(pool, GFP_KERNEL)', allocates: true, effect: 'a slab object (the reserve is never drawn on); may sleep as kmalloc; never NULL with a gfp that may sleep, so it is not made to fail' },
  {
    name: 'kmemdup',
    kernel: 'mm/util.c: kmalloc_node_track_caller(len, gfp), then memcpy(p, src, len)',
    point: true,
    pure: false,
    paths: 'both',
    runs: ['kmemdup'],
    example: 'q = kmemdup(p, sizeof(*p), GFP_KERNEL)',
    allocates: true,
    effect: 'a fresh kmalloc object of len bytes (bounds-checked) holding a copy of [src, src+len); may sleep and may be made to fail as kmalloc (NULL, the source not read)',
  },
  { name: 'kfree', kernel: 'mm/slub.c', point: false, pure: false, paths: 'both', runs: ['kfree'], example: 'kfree(p)', effect: 'frees; NULL is a no-op; double free and freeing an interior pointer are object-safety violations; on PREEMPT_RT, with preemption or irqs disabled it is might-sleep (the slab takes sleeping locks)' },
  { name: 'kmem_cache_free', kernel: 'mm/slub.c', point: false, pure: false, paths: 'both', runs: ['kmem_cache_free'], example: 'kmem_cache_free(cache, p)', effect: 'as kfree' },
  { name: 'mempool_free', kernel: 'mm/mempool.c', point: false, pure: false, paths: 'c', runs: ['kfree'], example: 'mempool_free(p, pool)', effect: 'as kfree (the pool\'s reserve is never refilled here)' },
  { name: 'alloc_percpu', kernel: 'include/linux/percpu.h', point: true, pure: false, paths: 'both', runs: ['alloc_percpu'], example: 'pcp = alloc_percpu(struct pc)', effect: 'a zeroed instance per possible CPU; returns the __percpu pointer (NULL when made to fail, as kmalloc)' },
  { name: 'free_percpu', kernel: 'mm/percpu.c', point: false, pure: false, paths: 'both', runs: ['free_percpu'], example: 'free_percpu(pcp)', effect: 'frees every CPU\'s instance' },
  {
    name: 'memset',
    kernel: 'lib/string.c (the arch memset under KASAN\'s kasan_check_range(), mm/kasan/shadow.c)',
    point: false,
    pure: false,
    paths: 'both',
    runs: ['memset'],
    example: 'memset(p, 0, sizeof(*p))',
    effect: 'memset(p, 0, n): a cell of 0 at every byte of [p, p+n), so every field there reads 0 (initialised) until written; the whole range is checked before the first byte: NULL, a freed object or an end past the allocation (slab-out-of-bounds, crash) is the fault KASAN reports; n = 0 touches nothing; a non-zero fill is refused as input (cells hold whole field values, not bytes)',
  },
  {
    name: 'memcpy',
    kernel: 'lib/string.c (KASAN checks the source range, then the destination)',
    point: false,
    pure: false,
    paths: 'both',
    runs: ['memcpy'],
    example: 'memcpy(q, p, sizeof(*p))',
    effect: 'copies the cells of [src, src+n) to [dst, dst+n), pointers included; a byte never written stays uninitialised (reads 0 where the source is zeroed memory); ranges checked as memset; overlapping ranges, undefined in C, copy as memmove',
  },
  { name: 'memmove', kernel: 'lib/string.c', point: false, pure: false, paths: 'both', runs: ['memmove'], example: 'memmove(q, p, sizeof(*p))', effect: 'as memcpy; the source is read whole before the destination is written, so overlapping ranges copy correctly' },

  // ---- kmemleak annotations: ghost state ------------------------------------------------------
  {
    name: 'kmemleak_alloc',
    kernel:
      'mm/kmemleak.c: kmemleak_alloc(ptr, size, min_count, gfp) "register a newly allocated object" -> create_object() (include/linux/kmemleak.h); the slab allocator calls it for every object it hands out (mm/slub.c:slab_post_alloc_hook() -> kmemleak_alloc_recursive()); on an address kmemleak already tracks, __link_object() does kmemleak_stop("Cannot insert 0x%lx into the object search tree (overlaps existing)"), which disables kmemleak',
    point: true,
    pure: false,
    paths: 'both',
    runs: ['kmemleak_alloc'],
    example: 'kmemleak_alloc(p, sizeof(*p), 1, GFP_ATOMIC)',
    effect:
      'ghost state only: the object becomes kmemleak-allocated (HeapObj.kmemleak); NULL and ERR_PTR are no-ops, as in the kernel; an object kmemleak still tracks (a slab object never unregistered, or one kmemleak_alloc() registered already), one freed to the slab, or an interior pointer is a kmemleak fact (kmemleak-balance); its metadata comes from a slab allocation with gfp, so with a gfp that may sleep it is might-sleep as kmalloc; size and min_count are not checked',
  },
  {
    name: 'kmemleak_free',
    kernel:
      'mm/kmemleak.c: kmemleak_free(ptr) "unregister a previously registered object" -> delete_object_full(): the object is no longer scanned nor reported; an address it does not track is "Freeing unknown object at 0x%08lx", reported (kmemleak_warn()) only when mm/kmemleak.c is built with DEBUG, else silently ignored; the slab allocator calls it for every object freed (mm/slub.c:slab_free_hook() -> kmemleak_free_recursive())',
    point: false,
    pure: false,
    paths: 'both',
    runs: ['kmemleak_free'],
    example: 'kmemleak_free(p)',
    effect:
      'ghost state only: the object becomes kmemleak-freed (unregistered); NULL and ERR_PTR are no-ops; an object kmemleak_free() already unregistered (the kernel\'s DEBUG-only "Freeing unknown object"), one freed to the slab, or an interior pointer ("Found object by alias", warned always) is a kmemleak fact; kfree()/kmem_cache_free() of an object kmemleak_free() unregistered is the slab hook\'s kmemleak_free() of an unknown object: a kmemleak fact too',
  },
  {
    name: 'kmem_cache_size',
    kernel: 'mm/slab_common.c: kmem_cache_size(s) returns s->object_size',
    point: false,
    pure: true,
    paths: 'both',
    runs: ['kmem_cache_size'],
    example: 'n = kmem_cache_size(cache)',
    effect: 'the model has no kmem_cache objects: the argument is evaluated, not dereferenced, and the size is 0 (unknown); only kmemleak_alloc() takes it, which does not check it',
  },

  // ---- SLUB's per-CPU sheaves (impl/ports/sheaves.ts), !PREEMPT_RT ----------------------------
  {
    name: 'might_alloc',
    kernel: 'include/linux/sched/mm.h: might_alloc(gfp) "might_sleep_if(gfpflags_allow_blocking(gfp_mask))", first thing in mm/slub.c:slab_pre_alloc_hook()',
    point: false,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'k.might_alloc(gfp)',
    effect: 'GFP_KERNEL in an atomic context is might-sleep, as for kmalloc, even when the allocation is then served without sleeping (from a sheaf)',
  },
  {
    name: 'slab_free_hook',
    kernel: 'mm/slub.c:slab_free_hook() -> kasan_slab_free(): the object is poisoned before it goes to a sheaf or to its slab',
    point: false,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'k.slab_free_hook(object)',
    effect: 'as kfree: from here the object reads as freed (a later access is use-after-free, a second free double-free, as KASAN reports) while it waits in a sheaf; returns true (no init_on_free, no RCU delay)',
  },
  {
    name: 'slab_post_alloc_hook',
    kernel: 'mm/slub.c:slab_post_alloc_hook() -> kasan_slab_alloc(): the object handed out is unpoisoned',
    point: false,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'k.slab_post_alloc_hook(object)',
    effect: 'an object taken from a sheaf (poisoned) is live again, uninitialised; on a fresh object, or NULL, nothing; on an object already live nothing either (KASAN does not check: two holders of one object are object-safety\'s to see)',
  },
  {
    name: '__kmem_cache_alloc_bulk',
    kernel: 'mm/slub.c:__kmem_cache_alloc_bulk() (refill_sheaf()\'s source; the slab slow path, abstract): objects taken off slab freelists without the post-alloc hook',
    point: true,
    pure: false,
    paths: 'port',
    runs: [],
    example: 'k.__kmem_cache_alloc_bulk(type, gfp, n, dst, what)',
    effect: 'n fresh objects of the cache that are still poisoned (free memory, as on a slab freelist), stored into the array at the address given; may sleep with GFP_KERNEL (might-sleep as kmalloc); when the explorer makes the statement\'s allocation fail it returns 0 and stores nothing',
  },

  // ---- prints and tracepoints ------------------------------------------------------------------
  { name: 'pr_debug', kernel: 'include/linux/printk.h: no_printk() without DEBUG or dynamic debug', point: false, pure: true, paths: 'c', runs: [], example: 'pr_debug("x %d\\n", p->x)', unevaluated: 0, prints: true, effect: 'nothing: its arguments are not evaluated' },
  ...PRINTS.map(
    (name): PrimitiveDecl => ({
      name,
      kernel: 'include/linux/printk.h',
      point: false,
      pure: true,
      paths: 'c',
      runs: [],
      example: `${name}("x %d\\n", p->x)`,
      prints: true,
      effect: 'the text goes nowhere the model looks, but the arguments are read as the kernel reads them, so a NULL or freed pointer in one is the oops it is; returns 0',
    }),
  ),
  { name: 'trace_*', kernel: 'include/linux/tracepoint.h: a tracepoint', point: false, pure: false, paths: 'c', runs: [], example: 'trace_obj_alloc(p)', unevaluated: 0, effect: 'nothing: its arguments are evaluated only when it is enabled, and it is not' },

  // ---- CPU hotplug registration; this_cpu operations --------------------------------------------
  ...CPUHP_ROWS,
  ...THIS_CPU_ROWS,
];

const EXACT = new Map<string, PrimitiveDecl>();
const PREFIXES: PrimitiveDecl[] = [];
for (const row of PRIMITIVES) {
  if (row.name.endsWith('*')) PREFIXES.push(row);
  else if (EXACT.has(row.name)) throw new Error(`primitive ${row.name} is declared twice`);
  else EXACT.set(row.name, row);
}
const C_EXACT = new Map([...EXACT].filter(([, r]) => r.paths !== 'port'));
const C_PREFIXES = PREFIXES.filter((r) => r.paths !== 'port');

/** The row of a C call's name (the binding's aliases already applied), or undefined: not a kernel primitive the C path knows. */
export function cPrimitive(name: string): PrimitiveDecl | undefined {
  const row = C_EXACT.get(name);
  if (row) return row;
  for (const p of C_PREFIXES) if (name.startsWith(p.name.slice(0, -1))) return p;
  return undefined;
}

/** The row of a primitive by its exact name (a prefix row by its `trace_*` name), any path. */
export function primitiveRow(name: string): PrimitiveDecl | undefined {
  return EXACT.get(name) ?? PREFIXES.find((p) => p.name === name);
}

/** Every C spelling the C path recognises exactly (the prefix rows aside). */
export function cPrimitiveNames(): string[] {
  return [...C_EXACT.keys()];
}
