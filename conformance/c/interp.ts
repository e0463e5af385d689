/**
 * An interpreter for the C subset a per-CPU cache is written in, whose functions are generators:
 * it yields before every statement that touches shared state (the statement boundary where an
 * interrupt, a preemption or another CPU may step in), with the statement's text and post-image
 * line as the label. Locals live in the generator's own variables (the runtime re-runs the
 * operation from its start and replays the logged reads, so they are never stored); all memory
 * goes through k.loadAt/k.storeAt at byte addresses from the extracted struct layouts; statics
 * through k.global/setGlobal; kernel calls through the Kernel's primitives.
 *
 * A statement that only computes on locals and constants (`return NULL;`, `goto out;`, a
 * pointer-arithmetic return) gets no boundary of its own, as in the TypeScript ports: nothing
 * another context can observe changes there.
 */
import type { Kernel, Gfp } from '../../impl/kernel/primitives.js';
import { KernelFault, NONDET_BRANCH } from '../../impl/kernel/primitives.js';
import { cPrimitive } from '../../impl/kernel/primitive-table.js';
import { isPtr, NULL, type Value } from '../../impl/kernel/values.js';
import { oneLine, walk, type N } from './ast.js';
import { INT, LONG, showType, Types, VOIDP, type CFunction, type CType, type Program } from './extract.js';

export interface TV {
  v: number;
  t: CType;
}

interface Var {
  v: number;
  t: CType;
}

export interface Env {
  vars: Map<string, Var>;
  /** Function-like macro parameters: evaluated by name in the caller's environment. */
  margs: Map<string, { node: N; env: Env }> | null;
  parent: Env | null;
}

export type Completion = undefined | { k: 'ret'; v: TV } | { k: 'brk' } | { k: 'cont' } | { k: 'goto'; label: string };

type Gen<T> = Generator<string, T, void>;

/** Statement and branch counts, filled while exploring (live executions only, not replays). */
export interface Coverage {
  /** key -> statement; key is `fn|file:line|text`. */
  stmts: Map<string, { fn: string; at: string; text: string; hits: number }>;
  branches: Map<string, { fn: string; at: string; text: string; taken: number; notTaken: number }>;
  /** Statement boundaries (labels) at which an interrupt entered, with counts. */
  interrupts: Map<string, number>;
  /** Call sites (build.ts Site.at) by the live runs of their lines that reached the end (a return, or the last line shown). */
  sites: Map<string, number>;
}

export function newCoverage(): Coverage {
  return { stmts: new Map(), branches: new Map(), interrupts: new Map(), sites: new Map() };
}

/**
 * The guard classes (include/linux/cleanup.h DEFINE_LOCK_GUARD_0/DEFINE_GUARD users) the
 * interpreter runs, with their !PREEMPT_RT acquire and release: irqflags.h, preempt.h, rcupdate.h,
 * local_lock.h. `lock`: the class takes a `local_lock_t __percpu *` argument.
 */
export const GUARDS: Readonly<Record<string, { op: 'irqsave' | 'irq' | 'preempt' | 'none'; release: string; lock: boolean }>> = {
  irqsave: { op: 'irqsave', release: 'local_irq_restore', lock: false },
  irq: { op: 'irq', release: 'local_irq_enable', lock: false },
  preempt: { op: 'preempt', release: 'preempt_enable', lock: false },
  preempt_notrace: { op: 'preempt', release: 'preempt_enable_notrace', lock: false },
  // rcu_read_lock() under PREEMPT_RCU neither disables preemption nor touches the cache state.
  rcu: { op: 'none', release: 'rcu_read_unlock', lock: false },
  local_lock: { op: 'preempt', release: 'local_unlock', lock: true },
  local_lock_irq: { op: 'irq', release: 'local_unlock_irq', lock: true },
  local_lock_irqsave: { op: 'irqsave', release: 'local_unlock_irqrestore', lock: true },
};

/** One guard as written: `guard(cls)(args);` or `scoped_guard(cls, args)` (rewritten `for (__scoped_guard(cls, args);;)` by ast.ts). */
export interface GuardUse {
  cls: string;
  args: N[];
  /** The statement that acquires it. */
  node: N;
  scoped: boolean;
}

/** A guard that is held: what its release needs. */
interface Held {
  g: GuardUse;
  flags: number;
}

/** `guard(cls)(args);` as an expression statement, else null. */
export function guardStmt(n: N): GuardUse | null {
  if (n.t !== 'expression_statement') return null;
  const c = n.kids[0];
  const inner = c?.t === 'call_expression' ? c.f.function : undefined;
  if (inner?.t !== 'call_expression' || inner.f.function?.text !== 'guard') return null;
  return { cls: inner.f.arguments?.kids[0]?.text ?? '', args: c!.f.arguments?.kids ?? [], node: n, scoped: false };
}

/** `scoped_guard(cls, args) body` (a for statement after the per-line rewrite), else null. */
export function scopedGuard(n: N): GuardUse | null {
  if (n.t !== 'for_statement') return null;
  const c = n.f.initializer;
  if (c?.t !== 'call_expression' || c.f.function?.text !== '__scoped_guard') return null;
  const a = c.f.arguments?.kids ?? [];
  return { cls: a[0]?.text ?? '', args: a.slice(1), node: n, scoped: true };
}

const THIS_CPU_OP = /^(this_cpu|__this_cpu|raw_cpu)_(read|write|inc|dec|add|sub|inc_return|dec_return|add_return|sub_return|and|or|xchg|cmpxchg)$/;

/**
 * CPU-hotplug registration: a no-op here, as the checker runs the recognised prune (roles.ts)
 * itself when a scope takes a CPU down. The callback named in it is no function pointer to follow.
 */
const CPUHP = /^cpuhp_(setup_state|remove_state|remove_multi_state|state_add_instance|state_remove_instance)/;

/** Limits of include/linux/limits.h a cap or a loop bound may be written with. */
export const LIMITS: Record<string, number> = { INT_MAX: 2 ** 31 - 1, INT_MIN: -(2 ** 31), UINT_MAX: 2 ** 32 - 1, U32_MAX: 2 ** 32 - 1, S32_MAX: 2 ** 31 - 1, LONG_MAX: 2 ** 63 - 1, ULONG_MAX: 2 ** 64 - 1, U16_MAX: 65535, USHRT_MAX: 65535 };

/** Statement kinds the interpreter runs (anything else is refused up front, with its line). */
const STATEMENTS = new Set([
  'compound_statement', 'expression_statement', 'declaration', 'return_statement', 'if_statement', 'else_clause', 'while_statement', 'for_statement', 'do_statement',
  'labeled_statement', 'goto_statement', 'break_statement', 'continue_statement',
]);
/** Expression kinds it does not evaluate, with the name a kernel developer knows them by. */
const UNSUPPORTED_EXPR: Record<string, string> = {
  compound_literal_expression: 'a compound literal (a struct value)',
  initializer_list: 'an initializer list (a struct or array value)',
  gnu_asm_expression: 'inline assembly',
  generic_expression: '_Generic',
  alignof_expression: 'alignof',
  statement_expression: 'a statement expression ({ ... })',
};

/** Every constant ident() knows by name (errno values, GFP flags, limits). */
export const KNOWN_CONSTANTS: Readonly<Record<string, number>> = {};
const ERRNO: Record<string, number> = { ENOMEM: 12, EINVAL: 22, EIO: 5, EAGAIN: 11, EBUSY: 16, ENOSPC: 28, EOPNOTSUPP: 95, ENOTBLK: 15 };
// The low bits say whether the allocation may sleep (GFP_NAME); the modifiers a revision ORs in
// sit above them. Only __GFP_ZERO changes what the checker does (the object comes zeroed).
export const GFP_ZERO = 0x100;
const GFP: Record<string, number> = {
  GFP_KERNEL: 1, GFP_ATOMIC: 2, GFP_NOWAIT: 3, GFP_NOIO: 1, GFP_NOFS: 1, GFP_USER: 1, GFP_KERNEL_ACCOUNT: 1 | 0x1000,
  __GFP_ZERO: GFP_ZERO, __GFP_NOWARN: 0x200, __GFP_NORETRY: 0x400, __GFP_NOFAIL: 0x800, __GFP_ACCOUNT: 0x1000,
  __GFP_HIGH: 0x2000, __GFP_RETRY_MAYFAIL: 0x4000, __GFP_NOMEMALLOC: 0x8000,
};
export const GFP_NAME: Record<number, Gfp> = { 1: 'GFP_KERNEL', 2: 'GFP_ATOMIC', 3: 'GFP_NOWAIT' };
Object.assign(KNOWN_CONSTANTS, ERRNO, GFP, LIMITS);

/** Statements a C operation may execute before it is called non-terminating (a `crash`). */
export const C_STEP_BUDGET = 400;

/**
 * What one operation carries down its calls: the statements it has run (against C_STEP_BUDGET),
 * and, for the slab path at boot (build.ts `fresh`), a function of the patch whose calls answer
 * `miss.v` without running: the cache's alloc reporting a miss.
 */
export interface Budget {
  steps: number;
  miss?: { fn: string; v: number };
}

export class CRuntimeError extends Error {}

export class Interp {
  private readonly pureMemo = new WeakMap<N, boolean>();
  private readonly callsMemo = new WeakMap<N, boolean>();
  /**
   * `if` statements of a caller (a site's lines after its call) whose condition names a value the
   * model does not compute (the caller's `ret`): the explorer takes them both ways (Kernel.nondet),
   * their label ends with NONDET_BRANCH. Registered by build.ts.
   */
  readonly nondetIfs = new WeakSet<N>();

  constructor(
    readonly prog: Program,
    readonly types: Types,
    readonly cov: Coverage,
    /** Binding aliases: a name in the code -> a primitive or function it stands for. */
    readonly aliases: Readonly<Record<string, string>>,
    /** Macros the scope scales (Implementation.macros); the rest are evaluated from their text. */
    readonly scaled: ReadonlySet<string>,
  ) {}

  // ---- statements -----------------------------------------------------------------------------

  /** Calls an interpreted function. Arguments are already evaluated. */
  *call(k: Kernel, fn: CFunction, args: TV[], st: Budget): Gen<TV> {
    k.enter(fn.name);
    const env: Env = { vars: new Map(), margs: null, parent: null };
    fn.params.forEach((p, i) => env.vars.set(p.name, { v: args[i]?.v ?? 0, t: p.type }));
    const c = yield* this.block(k, fn.body.kids, env, st, fn.name);
    k.leave();
    if (c?.k === 'goto') throw new CRuntimeError(`${fn.at}: goto ${c.label} in ${fn.name}() has no label to go to (labels inside nested blocks are not supported)`);
    return c?.k === 'ret' ? c.v : { v: 0, t: fn.ret };
  }

  /**
   * Runs statements in order; resolves gotos to labels among them. Guards taken here are released,
   * last first, whenever control leaves the block (the end, return, break, continue, a goto out),
   * and a goto back above a guard leaves its scope too, as the cleanup attribute does.
   */
  *block(k: Kernel, stmts: readonly N[], env: Env, st: Budget, fn: string): Gen<Completion> {
    let held: { i: number; h: Held }[] | null = null;
    let c: Completion;
    let i = 0;
    while (i < stmts.length) {
      const s = stmts[i]!;
      const g = guardStmt(s);
      if (g) {
        if (this.needsBoundary(s)) yield* this.boundary(k, s, st, fn);
        (held ??= []).push({ i, h: this.acquire(k, g, env) });
        i++;
        continue;
      }
      c = yield* this.stmt(k, s, env, st, fn);
      if (c?.k === 'goto') {
        const label = c.label;
        const j = stmts.findIndex((x) => x.t === 'labeled_statement' && x.f.label?.text === label);
        if (j >= 0) {
          while (held?.length && held[held.length - 1]!.i >= j) yield* this.release(k, held.pop()!.h, st, fn);
          for (let x = i + 1; x < j; x++)
            if (guardStmt(stmts[x]!)) throw new CRuntimeError(`${s.at}: goto ${label} jumps into the scope of ${oneLine(stmts[x]!.text)} (${stmts[x]!.at}): the compiler refuses it`);
          c = undefined;
          i = j;
          continue;
        }
      }
      if (c) break;
      i++;
    }
    if (held) for (let x = held.length - 1; x >= 0; x--) yield* this.release(k, held[x]!.h, st, fn);
    return c;
  }

  /** Takes a guard: the class's acquire, then its lock argument evaluated (local_lock_acquire(this_cpu_ptr(lock)) under lockdep). */
  private acquire(k: Kernel, g: GuardUse, env: Env): Held {
    const cls = GUARDS[g.cls];
    if (!cls) throw new CRuntimeError(`${g.node.at}: guard class '${g.cls}' is not supported: ${oneLine(g.node.text)}`);
    let flags = 0;
    if (cls.op === 'irqsave') flags = k.local_irq_save();
    else if (cls.op === 'irq') k.local_irq_disable();
    else if (cls.op === 'preempt') k.preempt_disable();
    if (cls.lock) this.lockArg(k, g.args[0], env, `guard(${g.cls})`, g.node);
    return { g, flags };
  }

  /** Whether a guard's release is a statement boundary (every class but rcu). */
  guardReleases(g: GuardUse): boolean {
    return (GUARDS[g.cls]?.op ?? 'none') !== 'none';
  }

  /** The label of a guard's release: its own statement boundary, like the local_irq_restore() it stands for. */
  releaseLabel(g: GuardUse): string {
    return `} (${g.scoped ? 'scoped_guard' : 'guard'}(${g.cls}) released: ${GUARDS[g.cls]?.release ?? '?'}) (${g.node.at})`;
  }

  private *release(k: Kernel, h: Held, st: Budget, fn: string): Gen<void> {
    const cls = GUARDS[h.g.cls]!;
    if (cls.op === 'none') return;
    yield* this.boundaryLabel(k, this.releaseLabel(h.g), h.g.node.at, st, fn);
    if (cls.op === 'irqsave') k.local_irq_restore(h.flags);
    else if (cls.op === 'irq') k.local_irq_enable();
    else k.preempt_enable();
  }

  /**
   * A local_lock_t argument: on !PREEMPT_RT the lock is only the irq or preemption state, but
   * with lockdep the kernel writes to this_cpu_ptr(lock), so a NULL one is an oops.
   */
  lockArg(k: Kernel, arg: N | undefined, env: Env, what: string, at: N): void {
    if (!arg) throw new CRuntimeError(`${at.at}: ${what} needs the local_lock_t: ${oneLine(at.text)}`);
    // `&var.lock` of a DEFINE_PER_CPU variable is a __percpu address, which C cannot compute here: its base stands for it.
    let root = arg.t === 'pointer_expression' && arg.op === '&' ? arg.f.argument : undefined;
    while (root?.t === 'field_expression' && root.op === '.') root = root.f.argument;
    const pcv = root?.t === 'identifier' ? this.perCpuVar(k, root, env) : null;
    const v = pcv ? pcv.v : this.expr(k, arg, env).v;
    if (v === NULL) throw new KernelFault('null-deref', `${k.fn}: NULL pointer dereference: ${what} on ${oneLine(arg.text)} (lockdep's local_lock_acquire) at ${at.at}`);
    if (!isPtr(v)) throw new KernelFault('wild-pointer', `${k.fn}: ${what} on non-pointer ${oneLine(arg.text)} at ${at.at}`);
  }

  /** The label a statement boundary shows: `cache->nr--; (direct-io.c:131)`. */
  label(n: N): string {
    let text = n.text;
    const sg = scopedGuard(n);
    if (sg) text = `scoped_guard(${[sg.cls, ...sg.args.map((a) => a.text)].join(', ')})`;
    else if (n.t === 'if_statement') text = `if ${n.f.condition?.text ?? ''}`;
    else if (n.t === 'while_statement') text = `while ${n.f.condition?.text ?? ''}`;
    else if (n.t === 'for_statement') text = `for (...; ${n.f.condition?.text ?? ''}; ...)`;
    return `${oneLine(text)} (${n.at})${this.nondetIfs.has(n) ? ` ${NONDET_BRANCH}` : ''}`;
  }

  private readonly labelMemo = new WeakMap<N, string>();

  private *boundary(k: Kernel, n: N, st: Budget, fn: string): Gen<void> {
    let label = this.labelMemo.get(n);
    if (label === undefined) this.labelMemo.set(n, (label = this.label(n)));
    yield* this.boundaryLabel(k, label, n.at, st, fn);
  }

  private *boundaryLabel(k: Kernel, label: string, at: string, st: Budget, fn: string): Gen<void> {
    yield label;
    if (++st.steps > C_STEP_BUDGET)
      throw new KernelFault('no-return', `${fn}() did not return within ${C_STEP_BUDGET} statements: an endless loop at ${at}?`);
    if (!k.replaying && !k.probing) {
      const key = `${fn}|${label}`;
      const s = this.cov.stmts.get(key);
      if (s) s.hits++;
      else this.cov.stmts.set(key, { fn, at, text: label, hits: 1 });
    }
  }

  private branch(k: Kernel, n: N, fn: string, taken: boolean): void {
    if (k.replaying || k.probing) return;
    const key = `${fn}|${n.at}|${n.text.length}`;
    const b = this.cov.branches.get(key) ?? { fn, at: n.at, text: `if ${oneLine(n.f.condition?.text ?? '')}`, taken: 0, notTaken: 0 };
    if (taken) b.taken++;
    else b.notTaken++;
    this.cov.branches.set(key, b);
  }

  /** Whether a statement has a boundary before it (it touches shared state or calls a primitive). */
  needsBoundary(n: N): boolean {
    switch (n.t) {
      case 'if_statement':
        // A nondeterministic branch is an explorer choice, which is made at a boundary.
        return this.nondetIfs.has(n) || !this.pure(n.f.condition!);
      case 'for_statement': {
        const g = scopedGuard(n);
        return g ? GUARDS[g.cls]?.op !== 'none' || g.args.some((a) => !this.pure(a)) : true;
      }
      case 'while_statement':
      case 'do_statement':
        return true;
      case 'expression_statement': {
        const g = guardStmt(n);
        if (g) return GUARDS[g.cls]?.op !== 'none' || g.args.some((a) => !this.pure(a));
        return n.kids[0] ? !this.pure(n.kids[0]) : false;
      }
      case 'return_statement':
        return n.kids[0] ? !this.pure(n.kids[0]) : false;
      case 'declaration':
        return n.kids.some((d) => d.t === 'init_declarator' && d.f.value && !this.pure(d.f.value));
      default:
        return false;
    }
  }

  /** No memory access, no static, no primitive call: only locals, constants and interpreted calls. */
  pure(n: N): boolean {
    const m = this.pureMemo.get(n);
    if (m !== undefined) return m;
    let ok = true;
    walk(n, (x) => {
      if (!ok) return;
      if (x.t === 'field_expression' && x.op === '->') ok = false;
      else if (x.t === 'pointer_expression' && x.op === '*') ok = false;
      else if (x.t === 'subscript_expression') ok = false;
      else if (x.t === 'identifier' && this.prog.statics.has(x.text)) ok = false;
      else if (x.t === 'call_expression') {
        const name = x.f.function?.text ?? '';
        const mac = this.prog.macros.get(name);
        if (this.prog.functions.has(this.aliases[name] ?? name) || cPrimitive(this.aliases[name] ?? name)?.pure === true) return;
        if (mac?.params && mac.expr && this.pure(mac.expr)) return;
        ok = false;
      } else if (x.t === 'identifier') {
        const mac = this.prog.macros.get(x.text);
        if (mac && !mac.params && mac.expr && !this.pure(mac.expr)) ok = false;
      }
    });
    this.pureMemo.set(n, ok);
    return ok;
  }

  /** Whether evaluating n may call an interpreted function (and so must be a generator). */
  hasCall(n: N): boolean {
    const m = this.callsMemo.get(n);
    if (m !== undefined) return m;
    let found = false;
    walk(n, (x) => {
      if (found || x.t !== 'call_expression') return;
      const name = x.f.function?.text ?? '';
      if (this.prog.functions.has(this.aliases[name] ?? name)) found = true;
      const mac = this.prog.macros.get(name);
      if (mac?.params && ((mac.expr && this.hasCall(mac.expr)) || mac.stmt)) found = true;
    });
    this.callsMemo.set(n, found);
    return found;
  }

  *stmt(k: Kernel, n: N, env: Env, st: Budget, fn: string): Gen<Completion> {
    switch (n.t) {
      case 'compound_statement': {
        const inner: Env = { vars: new Map(), margs: env.margs, parent: env };
        return yield* this.block(k, n.kids, inner, st, fn);
      }
      case 'expression_statement': {
        if (!n.kids[0]) return undefined;
        const g = guardStmt(n);
        if (g) {
          // The body of an if or a loop without braces is a scope of its own: released at once.
          if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
          yield* this.release(k, this.acquire(k, g, env), st, fn);
          return undefined;
        }
        if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
        yield* this.gexpr(k, n.kids[0], env, st, fn);
        return undefined;
      }
      case 'declaration': {
        const base = this.types.base(n.f.type);
        if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
        for (const d of n.kids) {
          if (d === n.f.type || !/declarator|identifier/.test(d.t)) continue;
          const { name, type } = this.types.declare(base, d);
          if (type.k === 'struct')
            throw new CRuntimeError(`${d.at}: a local struct value ('${showType(type)} ${name}') is not supported: locals are not in simulated memory; use a pointer`);
          let v = 0;
          let init = false;
          if (d.t === 'init_declarator' && d.f.value) {
            v = (yield* this.gexpr(k, d.f.value, env, st, fn)).v;
            init = true;
          }
          // An uninitialised local holds garbage: NaN makes any use of it fail loudly.
          env.vars.set(name, { v: init ? v : Number.NaN, t: type });
        }
        return undefined;
      }
      case 'return_statement': {
        if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
        const v = n.kids[0] ? yield* this.gexpr(k, n.kids[0], env, st, fn) : { v: 0, t: { k: 'void' } as CType };
        return { k: 'ret', v };
      }
      case 'if_statement': {
        if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
        const c = this.nondetIfs.has(n) ? (k.nondet() ? 1 : 0) : (yield* this.gexpr(k, n.f.condition!, env, st, fn)).v;
        this.branch(k, n, fn, truthy(c));
        if (truthy(c)) return yield* this.stmt(k, n.f.consequence!, env, st, fn);
        const alt = n.f.alternative;
        if (alt) return yield* this.stmt(k, alt.t === 'else_clause' ? alt.kids[0]! : alt, env, st, fn);
        return undefined;
      }
      case 'else_clause':
        return yield* this.stmt(k, n.kids[0]!, env, st, fn);
      case 'while_statement':
      case 'for_statement':
      case 'do_statement': {
        const inner: Env = { vars: new Map(), margs: env.margs, parent: env };
        const sg = scopedGuard(n);
        if (sg) {
          if (this.needsBoundary(n)) yield* this.boundary(k, n, st, fn);
          const h = this.acquire(k, sg, env);
          let c = yield* this.stmt(k, n.f.body!, inner, st, fn);
          // scoped_guard is a for loop around the body: break and continue end the guard, not an enclosing loop.
          if (c?.k === 'brk' || c?.k === 'cont') c = undefined;
          yield* this.release(k, h, st, fn);
          return c;
        }
        if (n.t === 'for_statement') {
          const ini = n.f.initializer;
          if (ini) {
            if (ini.t === 'declaration') yield* this.stmt(k, ini, inner, st, fn);
            else yield* this.gexpr(k, ini, inner, st, fn);
          }
        }
        let first = n.t === 'do_statement';
        for (;;) {
          if (!first) {
            yield* this.boundary(k, n, st, fn);
            const cond = n.f.condition;
            const c = cond ? (yield* this.gexpr(k, cond, inner, st, fn)).v : 1;
            this.branch(k, n, fn, truthy(c));
            if (!truthy(c)) return undefined;
          }
          first = false;
          const r = yield* this.stmt(k, n.f.body!, inner, st, fn);
          if (r?.k === 'brk') return undefined;
          if (r && r.k !== 'cont') return r;
          if (n.t === 'for_statement' && n.f.update) yield* this.gexpr(k, n.f.update, inner, st, fn);
          if (n.t === 'do_statement') {
            yield* this.boundary(k, n, st, fn);
            const c = (yield* this.gexpr(k, n.f.condition!, inner, st, fn)).v;
            if (!truthy(c)) return undefined;
            first = true;
          }
        }
      }
      case 'labeled_statement': {
        const inner = n.kids.find((x) => x.t !== 'statement_identifier');
        return inner ? yield* this.stmt(k, inner, env, st, fn) : undefined;
      }
      case 'goto_statement':
        return { k: 'goto', label: n.f.label?.text ?? '' };
      case 'break_statement':
        return { k: 'brk' };
      case 'continue_statement':
        return { k: 'cont' };
      case ';':
      case 'comment':
        return undefined;
      default:
        throw new CRuntimeError(`${n.at}: unsupported C statement (${n.t}): ${oneLine(n.text)}`);
    }
  }

  // ---- expressions ----------------------------------------------------------------------------

  /** Evaluates an expression that may call interpreted functions (which yield). */
  *gexpr(k: Kernel, n: N, env: Env, st: Budget, fn: string): Gen<TV> {
    if (!this.hasCall(n)) return this.expr(k, n, env);
    switch (n.t) {
      case 'parenthesized_expression':
        return yield* this.gexpr(k, n.kids[0]!, env, st, fn);
      case 'call_expression': {
        const name = this.aliases[n.f.function?.text ?? ''] ?? n.f.function?.text ?? '';
        const f = this.prog.functions.get(name);
        const argNodes = n.f.arguments?.kids ?? [];
        const mac = this.prog.macros.get(n.f.function?.text ?? '');
        if (mac?.params) return yield* this.gmacro(k, mac.params, mac.expr, mac.stmt, argNodes, env, st, fn);
        if (!f) throw new CRuntimeError(`${n.at}: ${name} is not a function of the patch`);
        const args: TV[] = [];
        for (const a of argNodes) args.push(yield* this.gexpr(k, a, env, st, fn));
        if (st.miss?.fn === name) return { v: st.miss.v, t: f.ret };
        return yield* this.call(k, f, args, st);
      }
      case 'assignment_expression': {
        const r = yield* this.gexpr(k, n.f.right!, env, st, fn);
        return this.assign(k, n, env, r);
      }
      case 'unary_expression': {
        const a = yield* this.gexpr(k, n.f.argument!, env, st, fn);
        return this.unary(n.op, a);
      }
      case 'binary_expression': {
        const a = yield* this.gexpr(k, n.f.left!, env, st, fn);
        if (n.op === '&&' && !truthy(a.v)) return { v: 0, t: INT };
        if (n.op === '||' && truthy(a.v)) return { v: 1, t: INT };
        const b = yield* this.gexpr(k, n.f.right!, env, st, fn);
        return this.binary(n.op, a, b);
      }
      case 'cast_expression': {
        const a = yield* this.gexpr(k, n.f.value!, env, st, fn);
        return { v: a.v, t: this.types.descriptor(n.f.type!) };
      }
      default:
        throw new CRuntimeError(`${n.at}: a call to a patch function inside ${n.t} is not supported: ${oneLine(n.text)}`);
    }
  }

  private *gmacro(k: Kernel, params: string[], expr: N | null, stmt: N | null, args: N[], env: Env, st: Budget, fn: string): Gen<TV> {
    const margs = new Map<string, { node: N; env: Env }>();
    params.forEach((p, i) => args[i] && margs.set(p, { node: args[i]!, env }));
    const menv: Env = { vars: new Map(), margs, parent: null };
    if (stmt) {
      const c = yield* this.stmt(k, stmt, menv, st, fn);
      return c?.k === 'ret' ? c.v : { v: 0, t: INT };
    }
    return yield* this.gexpr(k, expr!, menv, st, fn);
  }

  /** Evaluates an expression without interpreted calls. */
  expr(k: Kernel, n: N, env: Env): TV {
    switch (n.t) {
      case 'number_literal': {
        const t = n.text.replace(/[uUlL]+$/, '');
        return { v: t.startsWith('0x') || t.startsWith('0X') ? parseInt(t, 16) : parseInt(t, /^0\d/.test(t) ? 8 : 10), t: /[lL]/.test(n.text) ? LONG : INT };
      }
      case 'char_literal':
        return { v: charValue(n.text), t: INT };
      case 'true':
        return { v: 1, t: INT };
      case 'false':
        return { v: 0, t: INT };
      case 'null':
        return { v: NULL, t: VOIDP };
      case 'parenthesized_expression':
        return this.expr(k, n.kids[0]!, env);
      case 'identifier':
        return this.ident(k, n, env);
      case 'field_expression':
      case 'subscript_expression': {
        const a = this.addr(k, n, env);
        return this.load(k, a, n);
      }
      case 'pointer_expression': {
        if (n.op === '&') return this.addrOf(k, n.f.argument!, env);
        const a = this.addr(k, n, env);
        return this.load(k, a, n);
      }
      case 'unary_expression':
        return this.unary(n.op, this.expr(k, n.f.argument!, env));
      case 'binary_expression': {
        const a = this.expr(k, n.f.left!, env);
        if (n.op === '&&' && !truthy(a.v)) return { v: 0, t: INT };
        if (n.op === '||' && truthy(a.v)) return { v: 1, t: INT };
        return this.binary(n.op, a, this.expr(k, n.f.right!, env));
      }
      case 'assignment_expression':
        return this.assign(k, n, env, this.expr(k, n.f.right!, env));
      case 'update_expression': {
        const target = n.f.argument!;
        const old = this.expr(k, target, env);
        const step = old.t.k === 'ptr' ? this.types.sizeOf(old.t.to) : 1;
        const nv = n.op.endsWith('++') ? old.v + step : old.v - step;
        this.store(k, target, env, { v: nv, t: old.t });
        return n.op.startsWith('pre') ? { v: nv, t: old.t } : old;
      }
      case 'cast_expression': {
        const a = this.expr(k, n.f.value!, env);
        return { v: a.v, t: this.types.descriptor(n.f.type!) };
      }
      case 'sizeof_expression': {
        if (n.f.type) return { v: this.types.sizeOf(this.types.descriptor(n.f.type)), t: LONG };
        const e = n.f.value ?? n.kids[0]!;
        return { v: this.types.sizeOf(this.typeOf(k, e, env)), t: LONG };
      }
      case 'offsetof_expression': {
        const t = this.types.descriptor(n.f.type!);
        return { v: this.memberOffset(k, t, n.kids[n.kids.length - 1]!, n), t: LONG };
      }
      case 'conditional_expression': {
        const c = this.expr(k, n.f.condition!, env);
        return this.expr(k, truthy(c.v) ? n.f.consequence! : n.f.alternative!, env);
      }
      case 'comma_expression': {
        this.expr(k, n.f.left!, env);
        return this.expr(k, n.f.right!, env);
      }
      case 'call_expression':
        return this.callPrim(k, n, env);
      default:
        throw new CRuntimeError(`${n.at}: unsupported C expression (${n.t}): ${oneLine(n.text)}`);
    }
  }

  private lookup(env: Env | null, name: string): Var | undefined {
    for (let e = env; e; e = e.parent) {
      const v = e.vars.get(name);
      if (v) return v;
    }
    return undefined;
  }

  private margOf(env: Env, name: string): { node: N; env: Env } | undefined {
    for (let e: Env | null = env; e; e = e.parent) {
      const m = e.margs?.get(name);
      if (m) return m;
      if (e.vars.has(name)) return undefined;
    }
    return undefined;
  }

  private ident(k: Kernel, n: N, env: Env): TV {
    const name = n.text;
    const m = this.margOf(env, name);
    if (m) return this.expr(k, m.node, m.env);
    const v = this.lookup(env, name);
    if (v) {
      if (Number.isNaN(v.v)) throw new KernelFault('uninit-read', `read of uninitialised local ${name} at ${n.at}`);
      return { v: v.v, t: v.t };
    }
    const s = this.prog.statics.get(name);
    if (s?.type.k === 'struct') throw new CRuntimeError(`${n.at}: the static struct ${name} used as a value is not supported (its fields and its address are)`);
    if (s) return { v: k.global(name), t: s.type.k === 'array' ? { k: 'ptr', to: s.type.of } : s.type };
    if (this.scaled.has(name)) return { v: k.macro(name), t: INT };
    const mac = this.prog.macros.get(name);
    if (mac && !mac.params) {
      if (!mac.expr) throw new CRuntimeError(`${n.at}: macro ${name} (${mac.at}) is not an expression the checker can evaluate: '${mac.text}'`);
      return this.expr(k, mac.expr, { vars: new Map(), margs: null, parent: null });
    }
    if (name === 'NULL') return { v: NULL, t: VOIDP };
    if (name === 'true') return { v: 1, t: INT };
    if (name === 'false') return { v: 0, t: INT };
    if (name in GFP) return { v: GFP[name]!, t: INT };
    if (name in ERRNO) return { v: ERRNO[name]!, t: INT };
    if (name in LIMITS) return { v: LIMITS[name]!, t: name.startsWith('U') ? LONG : INT };
    if (this.prog.functions.has(name)) throw new CRuntimeError(`${n.at}: function pointers are not supported: '${name}' is used as a value, not called`);
    if (name === 'nr_cpu_ids') return { v: k.num_possible_cpus(), t: INT };
    throw new CRuntimeError(`${n.at}: unknown identifier '${name}' (not a local, a static, a macro or a kernel constant the checker knows)`);
  }

  /** The static type of an expression, for sizeof(*p) and pointer arithmetic. */
  typeOf(k: Kernel, n: N, env: Env): CType {
    switch (n.t) {
      case 'parenthesized_expression':
        return this.typeOf(k, n.kids[0]!, env);
      case 'identifier': {
        const m = this.margOf(env, n.text);
        if (m) return this.typeOf(k, m.node, m.env);
        const v = this.lookup(env, n.text);
        if (v) return v.t;
        const s = this.prog.statics.get(n.text);
        if (s) return s.type;
        return INT;
      }
      case 'pointer_expression': {
        const t = this.typeOf(k, n.f.argument!, env);
        if (n.op === '&') return { k: 'ptr', to: t };
        return t.k === 'ptr' ? t.to : INT;
      }
      case 'field_expression': {
        const t = this.typeOf(k, n.f.argument!, env);
        const st = n.op === '->' ? (t.k === 'ptr' ? t.to : t) : t;
        if (st.k === 'struct') return this.prog.structs.get(st.name)?.fields.get(n.f.field?.text ?? '')?.type ?? INT;
        return INT;
      }
      case 'cast_expression':
        return this.types.descriptor(n.f.type!);
      default:
        return INT;
    }
  }

  /** Address of an lvalue that lives in memory (`p->f`, `*p`, `a[i]`, `s.f`). */
  private addr(k: Kernel, n: N, env: Env): TV {
    switch (n.t) {
      case 'parenthesized_expression':
        return this.addr(k, n.kids[0]!, env);
      case 'field_expression': {
        const field = n.f.field?.text ?? '';
        let base: TV;
        if (n.op === '->') base = this.expr(k, n.f.argument!, env);
        else base = this.addr(k, n.f.argument!, env);
        const st = n.op === '->' ? (base.t.k === 'ptr' ? base.t.to : base.t) : base.t;
        if (st.k !== 'struct') throw new CRuntimeError(`${n.at}: '${oneLine(n.f.argument!.text)}' is a ${showType(base.t)}, not a struct pointer (${oneLine(n.text)})`);
        const l = this.prog.structs.get(st.name);
        if (!l) throw new CRuntimeError(`${n.at}: struct ${st.name} is not defined in the patch (needed for ${oneLine(n.text)})`);
        const f = l.fields.get(field);
        if (!f)
          throw new CRuntimeError(`${n.at}: struct ${st.name} has no field '${field}'${l.partial ? ' in the lines the patch shows (its definition starts before the hunk)' : ''}`);
        return { v: base.v === NULL || !isPtr(base.v) ? base.v : base.v + f.off, t: f.type };
      }
      case 'pointer_expression': {
        const p = this.expr(k, n.f.argument!, env);
        return { v: p.v, t: p.t.k === 'ptr' ? p.t.to : INT };
      }
      case 'subscript_expression': {
        const a = this.expr(k, n.f.argument!, env);
        const i = this.expr(k, n.kids[1]!, env);
        const el = a.t.k === 'ptr' ? a.t.to : INT;
        return { v: a.v + i.v * this.types.sizeOf(el), t: el };
      }
      case 'identifier': {
        // A static struct (the descriptor of the generic helpers, `static struct pcpu_cache_list
        // dio_list;`) lives in simulated memory: its static holds the address (build.ts).
        const s = this.lookup(env, n.text) || this.margOf(env, n.text) ? undefined : this.prog.statics.get(n.text);
        if (s?.type.k === 'struct' && isPtr(k.global(n.text))) return { v: k.global(n.text), t: s.type };
        if (s?.type.k === 'struct') throw new CRuntimeError(`${n.at}: the static struct ${n.text} is not supported (only the cache's descriptor is kept in simulated memory)`);
        throw new CRuntimeError(`${n.at}: not an lvalue in memory: ${oneLine(n.text)}`);
      }
      default:
        throw new CRuntimeError(`${n.at}: not an lvalue in memory: ${oneLine(n.text)}`);
    }
  }

  private addrOf(k: Kernel, n: N, env: Env): TV {
    // `&name` of a DEFINE_PER_CPU variable is what per_cpu_ptr()/this_cpu_ptr() take: its __percpu pointer.
    const pcv = n.t === 'identifier' && !this.lookup(env, n.text) && !this.margOf(env, n.text) ? this.prog.statics.get(n.text) : undefined;
    if (pcv?.perCpuVar) return { v: k.global(n.text), t: pcv.type };
    if (n.t === 'identifier' && (this.lookup(env, n.text) || this.margOf(env, n.text)))
      throw new CRuntimeError(`${n.at}: taking the address of local '${n.text}' is not supported (locals are not in simulated memory)`);
    const a = this.addr(k, n, env);
    return { v: a.v, t: { k: 'ptr', to: a.t } };
  }

  private load(k: Kernel, a: TV, n: N): TV {
    if (a.t.k === 'array') return { v: a.v, t: { k: 'ptr', to: a.t.of } };
    if (a.t.k === 'struct') return { v: a.v, t: a.t };
    return { v: k.loadAt(a.v, oneLine(n.text)), t: a.t };
  }

  /** Stores to an lvalue: a local, a static, or memory. */
  private store(k: Kernel, n: N, env: Env, v: TV): void {
    if (n.t === 'parenthesized_expression') return this.store(k, n.kids[0]!, env, v);
    if (n.t === 'identifier') {
      const m = this.margOf(env, n.text);
      if (m) return this.store(k, m.node, m.env, v);
      const local = this.lookup(env, n.text);
      if (local) {
        local.v = v.v;
        return;
      }
      if (this.prog.statics.has(n.text)) return k.setGlobal(n.text, v.v);
      throw new CRuntimeError(`${n.at}: assignment to unknown identifier '${n.text}'`);
    }
    const a = this.addr(k, n, env);
    k.storeAt(a.v, v.v, oneLine(n.text));
  }

  private assign(k: Kernel, n: N, env: Env, r: TV): TV {
    const left = n.f.left!;
    let v = r;
    if (n.op !== '=') v = this.binary(n.op.slice(0, -1), this.expr(k, left, env), r);
    this.store(k, left, env, v);
    return v;
  }

  private unary(op: string, a: TV): TV {
    switch (op) {
      case '!':
        return { v: truthy(a.v) ? 0 : 1, t: INT };
      case '-':
        return { v: -a.v, t: a.t };
      case '+':
        return a;
      case '~':
        return { v: ~a.v, t: a.t };
      default:
        throw new CRuntimeError(`unsupported unary operator ${op}`);
    }
  }

  private binary(op: string, a: TV, b: TV): TV {
    const scale = (p: TV) => (p.t.k === 'ptr' ? Math.max(1, this.types.sizeOf(p.t.to)) : 1);
    switch (op) {
      case '+':
        if (a.t.k === 'ptr') return { v: a.v + b.v * scale(a), t: a.t };
        if (b.t.k === 'ptr') return { v: b.v + a.v * scale(b), t: b.t };
        return { v: a.v + b.v, t: wider(a.t, b.t) };
      case '-':
        if (a.t.k === 'ptr' && b.t.k === 'ptr') return { v: (a.v - b.v) / scale(a), t: LONG };
        if (a.t.k === 'ptr') return { v: a.v - b.v * scale(a), t: a.t };
        return { v: a.v - b.v, t: wider(a.t, b.t) };
      case '*':
        return { v: a.v * b.v, t: wider(a.t, b.t) };
      case '/':
        if (b.v === 0) throw new KernelFault('exception', 'division by zero');
        return { v: Math.trunc(a.v / b.v), t: wider(a.t, b.t) };
      case '%':
        if (b.v === 0) throw new KernelFault('exception', 'division by zero');
        return { v: a.v % b.v, t: wider(a.t, b.t) };
      case '<':
        return { v: a.v < b.v ? 1 : 0, t: INT };
      case '<=':
        return { v: a.v <= b.v ? 1 : 0, t: INT };
      case '>':
        return { v: a.v > b.v ? 1 : 0, t: INT };
      case '>=':
        return { v: a.v >= b.v ? 1 : 0, t: INT };
      case '==':
        return { v: a.v === b.v ? 1 : 0, t: INT };
      case '!=':
        return { v: a.v !== b.v ? 1 : 0, t: INT };
      case '&&':
        return { v: truthy(a.v) && truthy(b.v) ? 1 : 0, t: INT };
      case '||':
        return { v: truthy(a.v) || truthy(b.v) ? 1 : 0, t: INT };
      case '&':
        return { v: Number(BigInt(a.v) & BigInt(b.v)), t: wider(a.t, b.t) };
      case '|':
        return { v: Number(BigInt(a.v) | BigInt(b.v)), t: wider(a.t, b.t) };
      case '^':
        return { v: Number(BigInt(a.v) ^ BigInt(b.v)), t: wider(a.t, b.t) };
      case '<<':
        return { v: a.v * 2 ** b.v, t: a.t };
      case '>>':
        return { v: Math.floor(a.v / 2 ** b.v), t: a.t };
      default:
        throw new CRuntimeError(`unsupported binary operator ${op}`);
    }
  }

  // ---- primitives -----------------------------------------------------------------------------

  private callPrim(k: Kernel, n: N, env: Env): TV {
    const raw = n.f.function?.text ?? '';
    const args = n.f.arguments?.kids ?? [];
    const mac = this.prog.macros.get(raw);
    if (mac?.params && mac.expr) {
      const margs = new Map<string, { node: N; env: Env }>();
      mac.params.forEach((p, i) => args[i] && margs.set(p, { node: args[i]!, env }));
      return this.expr(k, mac.expr, { vars: new Map(), margs, parent: null });
    }
    const name = this.aliases[raw] ?? raw;
    const a = (i: number) => this.expr(k, args[i]!, env);
    const int = (v: number | boolean): TV => ({ v: typeof v === 'boolean' ? (v ? 1 : 0) : v, t: INT });
    // The flags argument is evaluated once: whether the call may sleep, and whether it zeroes.
    const gfpOf = (i: number): { g: Gfp; zero: boolean } => {
      const v = args[i] ? a(i).v : 1;
      return { g: GFP_NAME[v & 0xff] ?? 'GFP_KERNEL', zero: (v & GFP_ZERO) !== 0 };
    };
    const gfp = (i: number): Gfp => gfpOf(i).g;
    // Only a row of the primitives table is a kernel call (impl/kernel/primitive-table.ts).
    const row = cPrimitive(name);
    if (!row) throw new CRuntimeError(`${n.at}: ${raw}() is neither a function of the patch nor a kernel primitive the checker knows`);
    // A tracepoint's arguments are evaluated only when it is enabled, and it is not.
    if (row.name === 'trace_*') return int(0);
    if (CPUHP.test(name)) {
      const why = libCallProblem(name, args);
      if (why) throw new CRuntimeError(`${n.at}: ${oneLine(n.text)}: ${why}`);
      // Registration only: 0, as for a static state (a dynamic one's number is not used here).
      return int(0);
    }
    const tc = THIS_CPU_OP.exec(name);
    if (tc) return this.thisCpuOp(k, n, name, tc[1]!, tc[2]!, args, env);
    switch (name) {
      // include/linux/local_lock_internal.h, !PREEMPT_RT: the irq or preemption state, then lockdep's acquire.
      case 'local_lock_irqsave': {
        const f = k.local_irq_save();
        if (args[1]) this.store(k, args[1], env, { v: f, t: LONG });
        this.lockArg(k, args[0], env, name, n);
        return int(0);
      }
      case 'local_unlock_irqrestore':
        this.lockArg(k, args[0], env, name, n);
        k.local_irq_restore(a(1).v);
        return int(0);
      case 'local_lock':
        k.preempt_disable();
        this.lockArg(k, args[0], env, name, n);
        return int(0);
      case 'local_unlock':
        this.lockArg(k, args[0], env, name, n);
        k.preempt_enable();
        return int(0);
      case 'local_lock_irq':
        k.local_irq_disable();
        this.lockArg(k, args[0], env, name, n);
        return int(0);
      case 'local_unlock_irq':
        this.lockArg(k, args[0], env, name, n);
        k.local_irq_enable();
        return int(0);
      case 'local_lock_init':
        this.lockArg(k, args[0], env, name, n);
        return int(0);
      case 'get_cpu':
        return int(k.get_cpu());
      case 'put_cpu':
        k.put_cpu();
        return int(0);
      case 'preempt_disable':
        k.preempt_disable();
        return int(0);
      case 'preempt_enable':
        k.preempt_enable();
        return int(0);
      case 'smp_processor_id':
        return int(k.smp_processor_id());
      // The raw_ forms skip CONFIG_DEBUG_PREEMPT's check (include/linux/smp.h, percpu-defs.h).
      case 'raw_smp_processor_id':
        return int(k.raw_smp_processor_id());
      case 'per_cpu_ptr': {
        const p = a(0);
        return { v: k.per_cpu_ptr(p.v, a(1).v), t: p.t };
      }
      case 'this_cpu_ptr': {
        const p = a(0);
        return { v: k.this_cpu_ptr(p.v), t: p.t };
      }
      case 'raw_cpu_ptr': {
        const p = a(0);
        return { v: k.per_cpu_ptr(p.v, k.raw_smp_processor_id()), t: p.t };
      }
      case 'local_irq_save': {
        const f = k.local_irq_save();
        this.store(k, args[0]!, env, { v: f, t: LONG });
        return int(0);
      }
      case 'local_irq_restore':
        k.local_irq_restore(a(0).v);
        return int(0);
      case 'local_irq_disable':
        k.local_irq_disable();
        return int(0);
      case 'local_irq_enable':
        k.local_irq_enable();
        return int(0);
      case 'in_task':
        return int(k.in_task());
      case 'in_hardirq':
      case 'in_irq':
        return int(k.in_hardirq());
      case 'in_serving_softirq':
      case 'in_softirq':
        return int(k.in_serving_softirq());
      case 'in_interrupt':
        return int(!k.in_task());
      case 'irqs_disabled':
        return int(k.irqs_disabled());
      case 'READ_ONCE':
      case 'data_race': {
        // A marked access (Kernel.mark): its loads are not plain, so no data race is reported on them.
        const m = k.mark();
        try {
          return a(0);
        } finally {
          k.unmark(m, 0);
        }
      }
      case 'WRITE_ONCE':
        this.store(k, args[0]!, env, a(1));
        return int(0);
      case 'WARN_ON_ONCE':
      case 'WARN_ON':
        return int(k.WARN_ON_ONCE(truthy(a(0).v)));
      case 'lockdep_assert_irqs_disabled':
        k.lockdep_assert_irqs_disabled();
        return int(0);
      case 'likely':
      case 'unlikely':
        return a(0);
      case 'ERR_PTR':
        return { v: a(0).v, t: VOIDP };
      case 'IS_ERR':
        return int(a(0).v < 0);
      case 'PTR_ERR':
        return int(a(0).v);
      case 'kmalloc':
      case 'kzalloc':
      case 'kmem_cache_alloc':
      case 'kmem_cache_zalloc': {
        const cache = name.startsWith('kmem_cache');
        const size = cache ? undefined : this.allocBytes(k, args[0], env);
        const type = cache ? 'kmem_cache' : this.allocType(k, args[0]!, env);
        const { g, zero } = gfpOf(1);
        const v = name === 'kzalloc' || name === 'kmem_cache_zalloc' || zero ? k.kzalloc(type, g, cache ? null : size) : cache ? k.kmem_cache_alloc(type, g) : k.kmalloc(type, g, size);
        return { v, t: VOIDP };
      }
      case 'kfree':
        k.kfree(a(0).v);
        return int(0);
      // A mempool hands out and takes back slab objects; its reserve is never drawn on here.
      case 'mempool_alloc':
        return { v: k.mempool_alloc(gfp(1)), t: VOIDP };
      case 'mempool_free':
        k.kfree(a(0).v);
        return int(0);
      case 'kmem_cache_free':
        k.kmem_cache_free(a(1).v);
        return int(0);
      // include/linux/kmemleak.h: ghost state of the object, no memory touched (its arguments still are read).
      case 'kmemleak_alloc': {
        const p = a(0).v;
        const size = a(1).v;
        const minCount = a(2).v;
        k.kmemleak_alloc(p, size, minCount, gfp(3));
        return int(0);
      }
      case 'kmemleak_free':
        k.kmemleak_free(a(0).v);
        return int(0);
      // The slab cache is not an object of the model: its pointer is evaluated, not followed.
      case 'kmem_cache_size':
        a(0);
        return { v: k.kmem_cache_size(), t: LONG };
      case 'alloc_percpu': {
        const arg = args[0]!;
        const t = arg.t === 'sizeof_expression' && arg.f.type ? this.types.descriptor(arg.f.type) : this.typeOf(k, arg, env);
        const name = t.k === 'struct' ? t.name : showType(t);
        return { v: k.alloc_percpu(name), t: { k: 'ptr', to: t } };
      }
      case 'free_percpu':
        k.free_percpu(a(0).v);
        return int(0);
      case 'cpu_online':
        return int(k.cpu_online(a(0).v));
      case 'num_possible_cpus':
        return int(k.num_possible_cpus());
      case 'atomic_set': {
        const p = a(0);
        k.storeAt(p.v, a(1).v, oneLine(args[0]!.text));
        return int(0);
      }
      case 'atomic_read': {
        const m = k.mark();
        try {
          return int(k.loadAt(a(0).v, oneLine(args[0]!.text)));
        } finally {
          k.unmark(m, 0);
        }
      }
      // lib/string.c, mm/util.c, over the tracked heap: Kernel.memset/memcpy/memmove/kmemdup.
      case 'memset': {
        const p = a(0);
        const c = a(1).v;
        const bytes = a(2).v;
        if ((c & 0xff) !== 0) throw new CRuntimeError(`${n.at}: ${oneLine(n.text)}: ${MEMSET_NONZERO} (the fill here is ${c})`);
        k.memset(p.v, c, bytes, oneLine(n.text));
        return p;
      }
      case 'memcpy':
      case 'memmove': {
        const d = a(0);
        const src = a(1).v;
        const bytes = a(2).v;
        if (name === 'memcpy') k.memcpy(d.v, src, bytes, oneLine(n.text));
        else k.memmove(d.v, src, bytes, oneLine(n.text));
        return d;
      }
      case 'kmemdup': {
        const src = a(0).v;
        const bytes = a(1).v;
        return { v: k.kmemdup(this.allocType(k, args[1]!, env), src, bytes, gfp(2), oneLine(n.text)), t: VOIDP };
      }
      case 'BUG_ON':
        if (truthy(a(0).v)) throw new KernelFault('exception', `${k.fn}: kernel BUG: BUG_ON(${oneLine(args[0]!.text)}) at ${n.at}`);
        return int(0);
      case 'BUG':
        throw new KernelFault('exception', `${k.fn}: kernel BUG at ${n.at}`);
      case 'WARN':
      case 'WARN_ONCE': {
        const c = truthy(a(0).v);
        // The message's arguments are evaluated only when the warning fires.
        if (c) this.printArgs(k, args, 2, env);
        return int(k.WARN_ON_ONCE(c));
      }
      case 'min':
      case 'max': {
        const x = a(0);
        const y = a(1);
        return (name === 'min' ? x.v <= y.v : x.v >= y.v) ? { v: x.v, t: wider(x.t, y.t) } : { v: y.v, t: wider(x.t, y.t) };
      }
      case 'IS_ERR_OR_NULL': {
        const v = a(0).v;
        return int(v === NULL || v < 0);
      }
      case 'container_of':
      case 'container_of_const':
      case 'list_entry':
      case 'hlist_entry':
      case 'hlist_entry_safe':
        return this.containerOf(k, n, args, env, name === 'hlist_entry_safe');
      case 'cpu_possible':
      case 'cpu_present': {
        const c = a(0).v;
        return int(c >= 0 && c < k.num_possible_cpus());
      }
      case 'num_online_cpus': {
        let c = 0;
        for (let i = 0; i < k.num_possible_cpus(); i++) if (k.cpu_online(i)) c++;
        return int(c);
      }
      // No NMI context is modelled. The explorer's interleavings are sequentially consistent: a
      // barrier orders nothing that is not already ordered. BUILD_BUG_ON() is the compiler's: the
      // patch builds, and its condition may name macros the scope scales, which it must not see.
      // pr_debug() without DEBUG or dynamic debug on evaluates nothing (no_printk()).
      case 'in_nmi':
      case 'barrier':
      case 'smp_mb':
      case 'smp_rmb':
      case 'smp_wmb':
      case 'BUILD_BUG_ON':
      case 'pr_debug':
        return int(0);
      // printk: the text goes nowhere the model looks, but the arguments are read as the kernel
      // reads them, so a NULL or freed pointer in one is the oops it is. The printed length is
      // not modelled: 0.
      case 'pr_info':
      case 'pr_warn':
      case 'pr_err':
      case 'pr_warn_once':
      case 'pr_info_once':
      case 'pr_warn_ratelimited':
        this.printArgs(k, args, 1, env);
        return int(0);
      case 'get_cpu_ptr': {
        k.preempt_disable();
        const p = a(0);
        return { v: k.this_cpu_ptr(p.v), t: p.t };
      }
      case 'put_cpu_ptr':
        k.preempt_enable();
        return int(0);
      case 'kcalloc':
      case 'kmalloc_array': {
        // n elements: the bytes are n times the element's size, when both are numbers here.
        const count = a(0).v;
        const each = this.allocBytes(k, args[1], env);
        const type = this.allocType(k, args[1]!, env);
        const elem = each ?? k.sizeofOr(type);
        const bytes = elem === undefined ? null : count * elem;
        const { g, zero } = gfpOf(2);
        return { v: name === 'kcalloc' || zero ? k.kzalloc(type, g, bytes) : k.kmalloc(type, g, bytes), t: VOIDP };
      }
      // Statements of their own, run by block(): unsupported() refuses them anywhere else.
      case 'guard':
      case '__scoped_guard':
        throw new CRuntimeError(`${n.at}: ${raw}() is a scope-based guard, taken only as a statement of its own: ${oneLine(n.text)}`);
      default:
        throw new CRuntimeError(`${n.at}: ${raw}(): the primitives table has a row ${row.name} that the interpreter has no case for (impl/kernel/primitive-table.ts)`);
    }
  }

  /**
   * include/linux/percpu-defs.h: `this_cpu_OP(pcp, ...)` on the current CPU's instance of the
   * per-CPU lvalue pcp, as one operation (a statement is never split). `this_cpu_*` is irq- and
   * preempt-safe and `raw_cpu_*` checks nothing; `__this_cpu_*` is CONFIG_DEBUG_PREEMPT's
   * __this_cpu_preempt_check(): called while preemptible it is the smp_processor_id() splat.
   */
  private thisCpuOp(k: Kernel, n: N, name: string, kind: string, op: string, args: N[], env: Env): TV {
    // this_cpu_*() is safe against interrupts on this CPU (one instruction, or irqs off around
    // it): its load and store are one access at --atomicity access. __this_cpu_*() and
    // raw_cpu_*() are not: a plain load and store.
    if (kind !== 'this_cpu') return this.thisCpuRmw(k, n, name, kind, op, args, env);
    k.beginOneAccess();
    try {
      return this.thisCpuRmw(k, n, name, kind, op, args, env);
    } finally {
      k.endOneAccess();
    }
  }

  private thisCpuRmw(k: Kernel, n: N, name: string, kind: string, op: string, args: N[], env: Env): TV {
    const pcp = args[0];
    if (!pcp) throw new CRuntimeError(`${n.at}: ${name}() needs a per-CPU lvalue: ${oneLine(n.text)}`);
    let cpu: number;
    if (kind === '__this_cpu') {
      cpu = k.smp_processor_id(`${name}()`, `${oneLine(n.text)} at ${n.at}`);
    } else cpu = k.raw_smp_processor_id();
    const at = this.pcpAddr(k, pcp, env, cpu);
    const what = `${name}(${oneLine(pcp.text)})`;
    const arg = (i: number) => {
      if (!args[i]) throw new CRuntimeError(`${n.at}: ${name}() needs ${i + 1} arguments: ${oneLine(n.text)}`);
      return this.expr(k, args[i]!, env).v;
    };
    if (op === 'write') {
      k.storeAt(at.v, arg(1), what);
      return { v: 0, t: INT };
    }
    const old = k.loadAt(at.v, what);
    let nv: number;
    switch (op) {
      case 'read':
        return { v: old, t: at.t };
      case 'inc':
      case 'inc_return':
        nv = old + 1;
        break;
      case 'dec':
      case 'dec_return':
        nv = old - 1;
        break;
      case 'add':
      case 'add_return':
        nv = old + arg(1);
        break;
      case 'sub':
      case 'sub_return':
        nv = old - arg(1);
        break;
      case 'and':
        nv = Number(BigInt(old) & BigInt(arg(1)));
        break;
      case 'or':
        nv = Number(BigInt(old) | BigInt(arg(1)));
        break;
      case 'xchg':
        k.storeAt(at.v, arg(1), what);
        return { v: old, t: at.t };
      case 'cmpxchg': {
        const expect = arg(1);
        const v = arg(2);
        if (old === expect) k.storeAt(at.v, v, what);
        return { v: old, t: at.t };
      }
      default:
        throw new CRuntimeError(`${n.at}: ${name}() is not supported`);
    }
    k.storeAt(at.v, nv, what);
    return { v: op.endsWith('_return') ? nv : 0, t: at.t };
  }

  /**
   * The address on CPU `cpu` of a per-CPU lvalue: `p->f` with p a `__percpu` pointer,
   * `var.f` or `var` of a DEFINE_PER_CPU variable, and members and elements of those.
   */
  private pcpAddr(k: Kernel, n: N, env: Env, cpu: number): TV {
    switch (n.t) {
      case 'parenthesized_expression':
        return this.pcpAddr(k, n.kids[0]!, env, cpu);
      case 'field_expression': {
        let base: TV;
        if (n.op === '->') {
          const p = this.expr(k, n.f.argument!, env);
          base = { v: k.per_cpu_ptr(p.v, cpu), t: p.t.k === 'ptr' ? p.t.to : p.t };
        } else base = this.pcpAddr(k, n.f.argument!, env, cpu);
        return this.fieldAt(base, n);
      }
      case 'subscript_expression': {
        const a = this.pcpAddr(k, n.f.argument!, env, cpu);
        const el = a.t.k === 'array' ? a.t.of : a.t.k === 'ptr' ? a.t.to : INT;
        return { v: a.v + this.expr(k, n.kids[1]!, env).v * this.types.sizeOf(el), t: el };
      }
      case 'pointer_expression':
      case 'identifier': {
        // `*p` with p a __percpu pointer to a scalar, or a DEFINE_PER_CPU variable by name.
        const p = n.t === 'identifier' ? this.perCpuVar(k, n, env) : n.op === '*' ? this.expr(k, n.f.argument!, env) : null;
        if (p) return { v: k.per_cpu_ptr(p.v, cpu), t: p.t.k === 'ptr' ? p.t.to : INT };
        break;
      }
    }
    throw new CRuntimeError(`${n.at}: not a per-CPU lvalue (a __percpu pointer's member or a DEFINE_PER_CPU variable): ${oneLine(n.text)}`);
  }

  private perCpuVar(k: Kernel, n: N, env: Env): TV | null {
    if (this.lookup(env, n.text) || this.margOf(env, n.text)) return null;
    const s = this.prog.statics.get(n.text);
    return s?.perCpuVar ? { v: k.global(n.text), t: s.type } : null;
  }

  /** The member `n.f.field` of the struct at `base`. */
  private fieldAt(base: TV, n: N): TV {
    const field = n.f.field?.text ?? '';
    if (base.t.k !== 'struct') throw new CRuntimeError(`${n.at}: '${oneLine(n.f.argument!.text)}' is a ${showType(base.t)}, not a struct (${oneLine(n.text)})`);
    const l = this.prog.structs.get(base.t.name);
    if (!l) throw new CRuntimeError(`${n.at}: struct ${base.t.name} is not defined in the patch (needed for ${oneLine(n.text)})`);
    const f = l.fields.get(field);
    if (!f) throw new CRuntimeError(`${n.at}: struct ${base.t.name} has no field '${field}'`);
    return { v: base.v === NULL || !isPtr(base.v) ? base.v : base.v + f.off, t: f.type };
  }

  /** container_of(ptr, T, member): the enclosing struct's address (the `_safe` form keeps NULL). */
  private containerOf(k: Kernel, n: N, args: N[], env: Env, safe: boolean): TV {
    const tname = args[1];
    if (args.length !== 3 || !tname || tname.t !== 'identifier')
      throw new CRuntimeError(`${n.at}: ${oneLine(n.text)}: container_of() needs (ptr, struct NAME, member) on one line`);
    const name = this.prog.structs.has(tname.text) ? tname.text : this.prog.typedefs.has(tname.text) ? '' : tname.text;
    const t: CType = name ? { k: 'struct', name } : this.types.base({ ...tname, t: 'type_identifier' });
    const p = this.expr(k, args[0]!, env);
    if (safe && p.v === NULL) return { v: NULL, t: { k: 'ptr', to: t } };
    return { v: p.v - this.memberOffset(k, t, args[2]!, n), t: { k: 'ptr', to: t } };
  }

  /** offsetof(T, member) for a member designator: `f`, `f.g`, `f[2]`. */
  private memberOffset(k: Kernel, t: CType, m: N, at: N): number {
    if (m.t === 'parenthesized_expression') return this.memberOffset(k, t, m.kids[0]!, at);
    const fieldOf = (st: CType, name: string) => {
      if (st.k !== 'struct') throw new CRuntimeError(`${at.at}: ${oneLine(at.text)}: ${showType(st)} is not a struct`);
      const l = this.prog.structs.get(st.name);
      const f = l?.fields.get(name);
      if (!f) throw new CRuntimeError(`${at.at}: ${oneLine(at.text)}: struct ${st.name} has no field '${name}'${l ? '' : ' (the struct is not in the patch)'}`);
      return f;
    };
    const walkM = (x: N): { off: number; t: CType } => {
      if (x.t === 'identifier' || x.t === 'field_identifier') {
        const f = fieldOf(t, x.text);
        return { off: f.off, t: f.type };
      }
      if (x.t === 'field_expression' && x.op === '.') {
        const base = walkM(x.f.argument!);
        const f = fieldOf(base.t, x.f.field!.text);
        return { off: base.off + f.off, t: f.type };
      }
      if (x.t === 'subscript_expression') {
        const base = walkM(x.f.argument!);
        const el = base.t.k === 'array' ? base.t.of : INT;
        const i = this.expr(k, x.kids[1]!, { vars: new Map(), margs: null, parent: null }).v;
        return { off: base.off + i * this.types.sizeOf(el), t: el };
      }
      throw new CRuntimeError(`${at.at}: ${oneLine(at.text)}: unsupported member designator '${oneLine(x.text)}'`);
    };
    return walkM(m).off;
  }

  /** Evaluates a print's arguments from `from` on, except the strings (`"..."`, `__func__`), for the reads they make. */
  private printArgs(k: Kernel, args: readonly N[], from: number, env: Env): void {
    for (const x of args.slice(from)) if (!isPrintString(x)) this.expr(k, x, env);
  }

  /**
   * An allocation size, evaluated as C evaluates it: `sizeof(struct h) + list->element_size`
   * reads memory, and an uninitialised field there is a finding. A bare sizeof reads nothing and
   * sizes the object by its struct (undefined here); a computed size is the bytes asked for.
   */
  private allocBytes(k: Kernel, size: N | undefined, env: Env): number | undefined {
    let s = size;
    while (s?.t === 'parenthesized_expression') s = s.kids[0];
    return s && s.t !== 'sizeof_expression' ? this.expr(k, size!, env).v : undefined;
  }

  /** The struct name a kmalloc size names: `sizeof(*dio)`, `sizeof(struct x)`, else the object type. */
  private allocType(k: Kernel, size: N, env: Env): string {
    let s: N | undefined = size;
    while (s?.t === 'parenthesized_expression') s = s.kids[0];
    if (s?.t === 'sizeof_expression') {
      const t = s.f.type ? this.types.descriptor(s.f.type) : this.typeOf(k, s.f.value ?? s.kids[0]!, env);
      if (t.k === 'struct') return t.name;
    }
    return 'kmalloc';
  }

  /**
   * The first construct under `root` the interpreter does not run, found before exploring: a
   * scope small enough to be quick may never execute it, and a pass over code that was never
   * run would prove nothing. `params` are the enclosing function's parameters.
   */
  unsupported(root: N, params: readonly { name: string; type: CType }[] = []): string | null {
    const locals = new Set(params.map((p) => p.name));
    for (const p of params)
      if (p.type.k === 'struct') return `a struct passed by value (parameter '${p.name}', ${showType(p.type)}) is not supported; pass a pointer`;
    walk(root, (x) => {
      if (x.t === 'declaration') for (const d of x.kids) if (d !== x.f.type && /declarator|identifier/.test(d.t)) locals.add(this.types.declare(INT, d).name);
    });
    let found: string | null = null;
    let lib: string | null = null;
    const visit = (x: N, parent: N | null): void => {
      if (found) return;
      const isStmt = /_statement$|^declaration$|^else_clause$/.test(x.t);
      if (x.t === 'compound_statement' && parent?.t === 'parenthesized_expression') found = `${x.at}: a statement expression ({ ... }): ${oneLine(parent.text).slice(0, 60)}`;
      else if (isStmt && !STATEMENTS.has(x.t)) found = `${x.at}: a ${x.t.replace(/_statement$/, '')} statement: ${oneLine(x.text).slice(0, 60)}`;
      else if (x.t in UNSUPPORTED_EXPR) found = `${x.at}: ${UNSUPPORTED_EXPR[x.t]}: ${oneLine(x.text).slice(0, 60)}`;
      else if (x.t === 'call_expression' && x.f.function?.t === 'call_expression') {
        // guard(cls)(args): only as a statement, of a class the interpreter runs.
        const g = parent ? guardStmt(parent) : null;
        if (!g) found = `${x.at}: a call of a call (a function pointer, or guard() not as a statement of its own): ${oneLine(x.text).slice(0, 60)}`;
        else found = guardProblem(g);
      } else if (x.t === 'call_expression' && x.f.function?.text === 'guard') {
        if (parent?.t !== 'call_expression') found = `${x.at}: guard() without its argument list (guard(class)(args);): ${oneLine(x.text).slice(0, 60)}`;
      } else if (x.t === 'call_expression' && x.f.function?.text === '__scoped_guard') {
        const g = parent ? scopedGuard(parent) : null;
        found = g && parent!.f.initializer === x ? guardProblem(g) : `${x.at}: scoped_guard() where the checker cannot read it: ${oneLine(x.text).slice(0, 60)}`;
      }
      else if ((lib = x.t === 'call_expression' && x.f.function?.t === 'identifier' ? libCallProblem(this.aliases[x.f.function.text] ?? x.f.function.text, x.f.arguments?.kids ?? []) : null))
        found = `${x.at}: ${oneLine(x.text)}: ${lib}`;
      else if (x.t === 'function_definition' && parent) found = `${x.at}: a statement the C grammar reads as a nested function (an unknown iterator macro?): ${oneLine(x.text).slice(0, 60)}`;
      else if (x.t === 'pointer_expression' && x.op === '&' && x.f.argument?.t === 'identifier' && locals.has(x.f.argument.text) && !this.prog.statics.has(x.f.argument.text))
        found = `${x.at}: taking the address of local '${x.f.argument.text}' is not supported (locals are not in simulated memory): ${oneLine(x.text)}`;
      else if (
        x.t === 'identifier' &&
        this.prog.functions.has(x.text) &&
        !locals.has(x.text) &&
        !(parent?.t === 'call_expression' && parent.f.function === x) &&
        !(parent?.t === 'argument_list' && CPUHP.test(parent.text.length ? callee(root, parent) : ''))
      )
        found = `${x.at}: function pointers are not supported: '${x.text}' is used as a value, not called`;
      else if (x.t === 'declaration') {
        for (const d of x.kids) {
          if (d === x.f.type || !/declarator|identifier/.test(d.t)) continue;
          let fnDecl = false;
          walk(d, (y) => {
            if (y.t === 'function_declarator') fnDecl = true;
          });
          if (fnDecl) found = `${d.at}: function pointers are not supported: ${oneLine(x.text)}`;
          else {
            const { name, type } = this.types.declare(this.types.base(x.f.type), d);
            if (type.k === 'struct') found = `${d.at}: a local struct value ('${showType(type)} ${name}') is not supported: locals are not in simulated memory; use a pointer`;
          }
          if (found) return;
        }
      }
      for (const k of x.kids) visit(k, x);
    };
    visit(root, null);
    return found;
  }

  /** Function names called anywhere under n (for the missing-primitive check). */
  calledNames(n: N): { name: string; at: string }[] {
    const out: { name: string; at: string }[] = [];
    walk(n, (x) => {
      if (x.t === 'call_expression' && x.f.function?.t === 'identifier') out.push({ name: x.f.function.text, at: x.at });
    });
    return out;
  }
}

const MEMSET_NONZERO = 'a non-zero memset() fill is not modelled: memory cells hold whole field values, not bytes, and the checker does not build a field from a byte pattern; memset(p, 0, n) is';

const ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

/** A C character constant's value: `'a'`, `'\0'`, `'\x5a'`, `'\n'`. */
export function charValue(text: string): number {
  const body = text.replace(/^[LuU]?'|'$/g, '');
  if (!body.startsWith('\\')) return body.charCodeAt(0);
  const e = body.slice(1);
  if (/^[0-7]{1,3}$/.test(e)) return parseInt(e, 8);
  if (/^x[0-9a-fA-F]+$/.test(e)) return parseInt(e.slice(1), 16);
  return ESCAPES[e] ?? e.charCodeAt(0);
}

/** Argument nodes a print does not read memory for. */
const STRINGS = new Set(['string_literal', 'concatenated_string', 'char_literal']);
const FUNC_NAMES = new Set(['__func__', '__FUNCTION__']);

/** A print's argument that is text (a format, `__func__`): not evaluated, so not checked for names. */
export function isPrintString(x: N): boolean {
  return STRINGS.has(x.t) || FUNC_NAMES.has(x.text);
}

/**
 * Why a library call, as written, does something the checker does not model, else null: found
 * before exploring, where the arguments say it (memset()'s fill at run time too).
 * - cpuhp_setup_state*() with a startup callback: the kernel runs it on every CPU that comes
 *   online (at once, without _nocalls); the checker runs only the teardown, as the prune.
 * - cpuhp_remove_state(), cpuhp_state_remove_instance(): they run the teardown on every online
 *   CPU there and then; the checker cannot follow the callback from here.
 */
function libCallProblem(name: string, args: readonly N[]): string | null {
  if (name === 'memset') {
    const c = args[1];
    const lit = c?.t === 'number_literal' ? Number(c.text.replace(/[uUlL]+$/, '')) : c?.t === 'char_literal' ? charValue(c.text) : 0;
    return (lit & 0xff) !== 0 ? MEMSET_NONZERO : null;
  }
  if (/^cpuhp_setup_state/.test(name)) {
    const startup = args[2];
    if (startup && startup.text !== 'NULL' && startup.text !== '0')
      return `the startup callback ${oneLine(startup.text)} is not modelled (the kernel runs it on every CPU that comes online); the checker runs only the teardown callback, as the prune when a scope takes a CPU down: pass NULL`;
    return null;
  }
  if (name === 'cpuhp_remove_state' || name === 'cpuhp_state_remove_instance')
    return `${name}() runs the teardown callback on every online CPU there and then, which the checker does not model; the _nocalls variant runs none`;
  return null;
}

/** Why a guard cannot run (an unknown class, a missing or extra lock argument), else null. */
function guardProblem(g: GuardUse): string | null {
  const cls = GUARDS[g.cls];
  const what = `${g.scoped ? 'scoped_guard' : 'guard'}(${g.cls})`;
  if (!cls)
    return `${g.node.at}: ${what} is not supported: the guard classes the checker runs are ${Object.keys(GUARDS).join(', ')} (irqflags.h, preempt.h, rcupdate.h, local_lock.h; no spinlocks or mutexes)`;
  if (g.args.length !== (cls.lock ? 1 : 0)) return `${g.node.at}: ${what} takes ${cls.lock ? 'the local_lock_t as its one argument' : 'no argument'}: ${oneLine(g.node.text).slice(0, 60)}`;
  return null;
}

/** The name of the function called with `args` (an argument_list under root). */
function callee(root: N, args: N): string {
  let name = '';
  walk(root, (x) => {
    if (x.t === 'call_expression' && x.f.arguments === args) name = x.f.function?.text ?? '';
  });
  return name;
}

export function truthy(v: number): boolean {
  return v !== 0 && !Number.isNaN(v);
}

export function wider(a: CType, b: CType): CType {
  const sa = a.k === 'int' ? a.size : 8;
  const sb = b.k === 'int' ? b.size : 8;
  return sa >= sb ? a : b;
}

export type { Value };
