/**
 * The system under exploration: a workload (scope) run on the simulated kernel against one
 * implementation. It answers the explorer's three questions — what may happen next (`enabled`),
 * what happens (`step`), and whether the result breaks an invariant (every step is checked) —
 * with the kernel's rules for who may run when (docs/kernel-rules.md §4):
 *
 * - per CPU a context stack: a task, a softirq over it, a hardirq over either; the top one runs;
 * - a hardirq may enter wherever irqs are on on that CPU; hardirqs do not nest;
 * - a softirq may run (at hardirq exit) wherever irqs are on and no softirq or hardirq runs —
 *   preemption off (get_cpu) does not prevent it;
 * - a task may be preempted, or migrate, only when its preempt depth is 0 and irqs are on; it
 *   needs no other runnable task: the CPU it leaves goes idle (or takes a waiting task), the CPU
 *   it arrives on is idle or preempts its current task; an idle CPU still takes interrupts;
 * - steps of different CPUs interleave freely.
 */
import type { AbsCache, AbstractState, AbsStep, CtxKind, OpOutcome } from '../model/abstract.js';
import { violations, type InvariantId } from '../model/invariants.js';
import { capAllows, getProfile, type Profile } from '../model/profiles.js';
import type { Implementation } from '../impl/interface.js';
import { KernelFault, NONDET_BRANCH, type Fact } from '../impl/kernel/primitives.js';
import { firstStatement, newFrame, resolveMacros, runStatement, runToCompletion, type Env, type StepOutcome } from '../impl/kernel/runtime.js';
import { isPtr, NULL, ptrId, ptrOff, showValue, type Value } from '../impl/kernel/values.js';
import { cloneWorld, flatObj, GHOST_ID_SHIFT, topContext, type Frame, type World } from '../impl/kernel/world.js';
import { abstractCaches, abstractState, abstractStateOf, cpuQuiescent, layoutOf, type Layout } from './abstraction.js';

export type TaskOp = 'alloc' | 'free' | 'submit' | 'complete';
export type Completer = 'hardirq' | 'softirq' | 'task';

/** A workload: everything that bounds an exploration. */
export interface Scope {
  name: string;
  description: string;
  cpus: number;
  /** Initial CPU of each task. */
  taskCpus: number[];
  /** Operations each task performs. */
  ops: number;
  /** Operations a task may choose from. */
  taskOps: TaskOp[];
  /** Objects put on each CPU's free_list at boot (through the implementation's own put). */
  prefill: number;
  /** Objects in flight at boot, completed by `completers`. */
  inflight: number;
  /** Contexts that complete in-flight objects (a put in that context). */
  completers: Completer[];
  /** Interrupt handlers run as one step (sound on one CPU; the Promela reference does this). */
  atomicIrq: boolean;
  /**
   * Preemptions allowed in one run: each task taken off a CPU while it has work left counts one
   * (0: no task is ever preempted; a waiting task may still run on an idle CPU).
   */
  preemptions: number;
  /** A task may move to another CPU: a running one wherever it is preemptible, a waiting one to an idle CPU. */
  migration: boolean;
  /** CPUs other than 0 may go offline (runs the implementation's cpuDead, if any). */
  hotplug: boolean;
  /**
   * Allocations the explorer may make fail in one run (default 0: the slab never fails). Where a
   * statement calls kmalloc(), kzalloc(), kmem_cache_alloc() or alloc_percpu(), it is run both
   * ways: the allocation succeeds, or returns NULL, as under memory pressure.
   */
  allocFailures?: number;
  /**
   * Whether a statement that branches on a value of the caller the model does not compute
   * (NONDET_BRANCH: `if (ret) goto out_free_dio;` in __iomap_dio_rw()) is run both ways, so that
   * the caller's error path is explored (default true). Off, it takes the plain way only, as the
   * Promela model of `spin-ref`, which has no caller error path, does.
   */
  callerErrors?: boolean;
  profile: string;
  max: number;
  threshold: number;
}

export type Choice =
  /**
   * `failAlloc`: the statement's allocations return NULL. `branch`: the statement branches on a
   * value the model does not compute (its label ends with NONDET_BRANCH) and takes the branch
   * (Kernel.nondet); the plain step takes the other way.
   */
  | { kind: 'step'; cpu: number; failAlloc?: boolean; branch?: boolean }
  /** `failAlloc`: the allocations of the operation's first statement return NULL. */
  | { kind: 'start'; task: number; op: TaskOp; obj: Value; failAlloc?: boolean }
  | { kind: 'hardirq'; cpu: number; obj: Value }
  | { kind: 'softirq'; cpu: number; obj: Value }
  | { kind: 'switch'; cpu: number; task: number }
  | { kind: 'offline'; cpu: number };

export interface Violation {
  id: InvariantId;
  severity: 'error' | 'warning';
  message: string;
}

export interface StepReport {
  world: World;
  /** `cpu0/task0`, `cpu0/hardirq` ... */
  who: string;
  /** The C statements executed, `function: statement` (several for an atomic handler). */
  labels: string[];
  /** A short description of the choice: `alloc`, `hardirq completes #3`, `preempt`. */
  event: string;
  abs: AbstractState;
  /** What the invariants say of the step (judged when first read). */
  readonly violations: Violation[];
  /**
   * The same, for a search that knows whether the step led to a state it judged already: then
   * only the claims about the step are checked (Invariant.revisit).
   */
  judge(revisited: boolean): Violation[];
}

// Refinement ghost bits, kept per frame (Frame.ghost) and hashed with the state.
const G_EMPTY = 1; // free_list seen empty
const G_BELOW = 2; // nr_irq < THRESHOLD seen while free_list empty
const G_SPLICED = 4;
const G_EMPTY_AFTER_SPLICE = 8;
const G_POPPED = 16;
const G_ROOM = 32; // nr_irq + nr passes the cap test
const G_FULL = 64; // nr_irq + nr fails the cap test
const G_OTHER = 128; // the op changed the lists in a way the model has no transition for
// The caller's part: after an op ran a statement that branches on a value the model does not
// compute (NONDET_BRANCH: __iomap_dio_rw's `goto out_free_dio`), an alloc's put of its own object
// is the caller's error path, judged as a task put.
const G_CALLER = 256;
const G_ERRPUT = 512; // that put pushed the object onto free_list
const G_ERRPUT_IRQ = 1024; // ... onto free_list_irq
const POP_SHIFT = GHOST_ID_SHIFT; // popped object id lives above the flag bits (the fingerprint renames it)

export class System {
  readonly env: Env;
  readonly profile: Profile;
  readonly layout: Layout | null;

  /** `resume`: frames keep their generator for the next statement (Env.resume; for a DFS). */
  constructor(readonly impl: Implementation, readonly scope: Scope, opts: { resume?: boolean } = {}) {
    this.profile = getProfile(scope.profile, { max: scope.max, threshold: scope.threshold });
    this.env = { impl, macros: resolveMacros(impl, scope.max, scope.threshold), ...(opts.resume ? { resume: true } : {}) };
    this.layout = layoutOf(impl);
  }

  // ---- boot -----------------------------------------------------------------------------------

  /** Boot: run the initcall, prefill each CPU's cache and put objects in flight, all without interleaving. */
  initial(): { world: World; abs: AbstractState; violations: Violation[] } {
    const s = this.scope;
    const w = this.bootWorld();
    const bootFail = (what: string, out: StepOutcome) => {
      const msg = out.fault
        ? `${out.fault.kind}: ${out.fault.message}`
        : out.facts.length
          ? out.facts.map((f) => f.msg).join('; ')
          : `it returned ${out.done ? showValue(out.done.result) : 'nothing'}: the cache is empty at boot, and no slab path of the caller allocated an object`;
      throw new BootError(`${what} failed: ${msg}`);
    };
    const run = (cpu: number, op: string, args: Value[]): StepOutcome & { labels: string[] } => {
      const f = newFrame(op, args, false);
      return runToCompletion(this.env, w, cpu, 'task', -1, f);
    };
    const init = run(0, 'init', []);
    if (init.fault) bootFail(`${this.impl.name}: init`, init);
    const initFindings = this.initResult(init);
    // Objects come from the slab path when the implementation says how (fresh), so that boot does
    // not run the cached alloc the exploration is about to test. A slab path that cannot allocate
    // by itself (a C site whose miss path is inside the cache's helper) hands boot to alloc.
    let allocOp = this.impl.fresh ? 'fresh' : 'alloc';
    const bootAlloc = (cpu: number, what: string): Value => {
      if (allocOp === 'fresh') {
        // Heap objects are copied before they are written: the snapshot stays as it was.
        const before = cloneWorld(w);
        const a = run(cpu, 'fresh', []);
        // Success is an object: NULL and an ERR_PTR(-ENOMEM) both say the site could not allocate.
        if (!a.fault && a.done && isPtr(a.done.result) && !handedOutPastEnd(w, 'fresh', a.done.result)) return a.done.result;
        Object.assign(w, before);
        allocOp = 'alloc';
      }
      const a = run(cpu, 'alloc', []);
      if (a.fault || !a.done || a.done.result === NULL) bootFail(what, a);
      const past = handedOutPastEnd(w, 'alloc', a.done!.result);
      if (past) bootFail(what, { ...a, fault: past });
      return a.done!.result;
    };
    const fresh: Value[] = [];
    for (let cpu = 0; cpu < s.cpus; cpu++) for (let i = 0; i < s.prefill; i++) fresh.push(bootAlloc(cpu, 'prefill alloc'));
    for (let i = 0; i < s.inflight; i++) {
      // Not insertSorted(w.inflight, bootAlloc(...)): a fallback from fresh to alloc puts the
      // snapshot's arrays back into w, and the insert would go to the array it replaced.
      const o = bootAlloc(0, 'in-flight alloc');
      insertSorted(w.inflight, o);
    }
    let n = 0;
    for (let cpu = 0; cpu < s.cpus; cpu++) {
      for (let i = 0; i < s.prefill; i++) {
        const p = run(cpu, 'free', [fresh[n++]!]);
        if (p.fault) bootFail('prefill put', p);
      }
    }
    const abs = abstractState(this.impl, this.profile, w, this.layout);
    if (!initFindings) return { world: w, abs, violations: violations(undefined, abs) };
    // Judged like any step: the invariants read the boot step's facts (init-result) or fault (crash).
    const withStep: AbstractState = { ...abs, step: initFindings };
    return { world: w, abs, violations: violations(undefined, withStep) };
  }

  /** Memory, CPUs and tasks before the initcall. */
  private bootWorld(): World {
    const s = this.scope;
    const w: World = {
      heap: [undefined],
      globals: {},
      cpus: Array.from({ length: s.cpus }, () => ({ online: true, irqsOff: false, current: -1, softirq: null, hardirq: null })),
      tasks: s.taskCpus.map((cpu) => ({ cpu, opsDone: 0, held: [], frame: null })),
      inflight: [],
      preemptions: 0,
      interrupts: 0,
      allocFails: 0,
    };
    w.tasks.forEach((t, i) => {
      const c = w.cpus[t.cpu]!;
      if (c.current < 0) c.current = i;
    });
    return w;
  }

  /**
   * init-result: what the initcall returned against whether its allocations succeeded. With
   * nothing failing it must return 0. Where the scope lets allocations fail, the initcall is also
   * run on a fresh boot once per allocation it makes, with that one failing (v3's create helper:
   * the descriptor's kmalloc(), then alloc_percpu()):
   * - returning 0 is a claim that the cache is usable, and the first alloc is run to see (a design
   *   whose callers test the cache pointer, as bio_alloc_bioset() tests `bs->cache`, passes);
   * - returning an error, it must have freed what it allocated before the failure: an object
   *   nothing reaches any more is leaked (the error path's `kfree()` missing).
   * Null when there is nothing to report.
   */
  private initResult(init: StepOutcome & { labels: string[] }): AbsStep | null {
    const r = init.done?.result;
    if (r !== undefined && r !== 0 && !isPtr(r))
      return bootStep(init.label, [
        {
          kind: 'init-result',
          msg: `the initcall returned ${showValue(r)} although every allocation it made succeeded (it ran: ${init.labels.join(' | ')}): the kernel logs "initcall ... returned ${showValue(r)}" and carries on with the cache it did set up; a module would not load`,
        },
      ]);
    if ((this.scope.allocFailures ?? 0) === 0) return null;
    // A handful of allocations at most; the bound only keeps a looping initcall finite.
    for (let n = 0; n < 16; n++) {
      const found = this.initFailing(n);
      if (found === 'done') return null;
      if (found) return found;
    }
    return null;
  }

  /** The initcall with its n-th allocation failing: a finding, null for none, 'done' when it makes fewer than n + 1. */
  private initFailing(n: number): AbsStep | null | 'done' {
    const pw = this.bootWorld();
    const failed = runToCompletion(this.env, pw, 0, 'task', -1, newFrame('init', [], false), true, n);
    if (!failed.allocFailed) return 'done';
    // The statement whose allocation failed: the n-th of those that allocate, as far as labels tell.
    const allocating = failed.labels.filter((l) => ALLOCATES.test(l));
    const when = `with its allocation ${allocating.length > 1 ? `#${n + 1} ` : ''}failing (${allocating[n] ?? allocating[allocating.length - 1] ?? failed.label})`;
    if (failed.fault) {
      // An unsupported construct on the failure path (a panic()) is not a finding about the cache.
      if (failed.fault.kind === 'exception') return null;
      return bootStep(failed.label, [], new KernelFault(failed.fault.kind, `${when}, the initcall oopses: ${failed.fault.message}`));
    }
    if (failed.done?.result !== 0) {
      const leaked = unreachableLive(pw);
      if (leaked.length === 0) return null;
      const o = pw.heap[leaked[0]!]!;
      return bootStep(failed.label, [
        {
          kind: 'init-result',
          msg: `${when}, the initcall returned ${showValue(failed.done?.result)} but left #${leaked[0]} (${o.type === 'kmalloc' ? 'an allocation' : `a struct ${o.type}`} from ${o.origin}) allocated with nothing pointing to it: the error path leaks what the initcall had allocated before the failure (it ran: ${failed.labels.join(' | ')})`,
        },
      ]);
    }
    const t = pw.tasks.findIndex((x) => x.cpu === 0);
    const f = newFrame('alloc', [], false);
    if (t >= 0) pw.tasks[t]!.frame = f;
    const a = runToCompletion(this.env, pw, 0, 'task', t, f, true);
    if (!a.fault || a.fault.kind === 'exception') return null;
    return bootStep(failed.label, [
      {
        kind: 'init-result',
        msg: `${when}, the initcall returned 0, and the first alloc then oopses: ${a.fault.kind}: ${a.fault.message} (at ${a.label}). An initcall that cannot set the cache up must return an error (-ENOMEM), or its callers must test the cache pointer`,
      },
    ]);
  }

  // ---- what may happen next -------------------------------------------------------------------

  /** firstAllocates()' answers by operation. */
  private readonly firstAllocs = new Map<string, boolean>();

  /**
   * Whether the first statement of `op` allocates, so that a start of it is offered with that
   * allocation failing too (a `step` choice can only fail the statements after the first). The
   * first statement is the one the generator names at its first yield: asked once, on a copy of
   * `w`. Where the code before that yield read memory, the first statement could depend on the
   * state, and the answer is yes (a start that then allocates nothing is the plain start, a state
   * found already).
   */
  private firstAllocates(op: string, w: World): boolean {
    let yes = this.firstAllocs.get(op);
    if (yes === undefined) {
      const first = firstStatement(this.env, cloneWorld(w), 0, 'task', -1, newFrame(op, [], false));
      yes = first === null || first.readsBefore > 0 || ALLOCATES.test(first.label);
      this.firstAllocs.set(op, yes);
    }
    return yes;
  }

  enabled(w: World): Choice[] {
    const s = this.scope;
    const out: Choice[] = [];
    for (let cpu = 0; cpu < w.cpus.length; cpu++) {
      const c = w.cpus[cpu]!;
      if (!c.online) continue;
      const top = topContext(w, cpu);
      if (top.frame) {
        out.push(choice('step', cpu, -1, NULL, false));
        if (w.allocFails < (s.allocFailures ?? 0) && ALLOCATES.test(top.frame.next)) out.push(choice('step', cpu, -1, NULL, true));
        if (s.callerErrors !== false && top.frame.next.endsWith(NONDET_BRANCH)) out.push(choice('step', cpu, -1, NULL, false, 'alloc', true));
      }
      else if (top.ctx === 'task' && top.task >= 0) {
        const t = w.tasks[top.task]!;
        if (t.opsDone < s.ops) {
          const failing = w.allocFails < (s.allocFailures ?? 0);
          for (const op of s.taskOps) {
            if (op === 'alloc') {
              out.push(choice('start', -1, top.task, NULL, false, op));
              if (failing && this.firstAllocates('alloc', w)) out.push(choice('start', -1, top.task, NULL, true, op));
            }
            else if (op === 'free' || op === 'submit') for (const o of distinct(w, t.held)) out.push(choice('start', -1, top.task, o, false, op));
            else if (op === 'complete' && s.completers.includes('task')) for (const o of distinct(w, w.inflight)) out.push(choice('start', -1, top.task, o, false, op));
          }
        }
      }
      if (!c.irqsOff && !c.hardirq && w.inflight.length > 0) {
        if (s.completers.includes('hardirq')) for (const o of distinct(w, w.inflight)) out.push(choice('hardirq', cpu, -1, o, false));
        if (!c.softirq && s.completers.includes('softirq')) for (const o of distinct(w, w.inflight)) out.push(choice('softirq', cpu, -1, o, false));
      }
      // The scheduler on this CPU (a switch to task i): at a point where the CPU's current task,
      // if it has work left, may be preempted. Task i has work left, is not the current one, and
      // either waits on a runqueue or runs on another CPU at a point where it may be preempted
      // (preempt count 0, irqs on, nothing interrupting it): it then migrates, and the CPU it
      // leaves goes idle. A task with no work left is not preempted: its CPU is as good as idle.
      // Each task taken off a CPU while it has work left is one preemption of the budget.
      if (!c.irqsOff && !c.hardirq && !c.softirq) {
        const cur = c.current >= 0 ? w.tasks[c.current]! : null;
        const displaces = cur !== null && hasWork(s, cur) ? 1 : 0;
        if (!cur || !cur.frame || cur.frame.preempt === 0) {
          for (let i = 0; i < w.tasks.length; i++) {
            const t = w.tasks[i]!;
            if (i === c.current || !hasWork(s, t)) continue;
            if (t.cpu !== cpu && !s.migration) continue;
            let cost = displaces;
            const from = runningOn(w, i);
            if (from >= 0) {
              const fc = w.cpus[from]!;
              if (fc.irqsOff || fc.hardirq || fc.softirq || (t.frame && t.frame.preempt > 0)) continue;
              cost++;
            }
            if (w.preemptions + cost <= s.preemptions) out.push(choice('switch', cpu, i, NULL, false));
          }
        }
      }
      if (s.hotplug && cpu !== 0 && !c.hardirq && !c.softirq && !w.tasks.some((t) => t.cpu === cpu && t.frame))
        out.push(choice('offline', cpu, -1, NULL, false));
    }
    return out;
  }

  describe(c: Choice): string {
    switch (c.kind) {
      case 'step':
        return c.failAlloc
          ? `cpu${c.cpu}: the allocation of its next statement fails (NULL)`
          : c.branch
            ? `cpu${c.cpu}: its next statement takes the branch ${NONDET_BRANCH}`
            : `cpu${c.cpu} next statement`;
      case 'start':
        return (c.op === 'alloc' ? `task${c.task} alloc` : `task${c.task} ${c.op} ${showValue(c.obj)}`) + (c.failAlloc ? ', the allocation of its first statement fails (NULL)' : '');
      case 'hardirq':
        return `cpu${c.cpu} hardirq completes ${showValue(c.obj)}`;
      case 'softirq':
        return `cpu${c.cpu} softirq completes ${showValue(c.obj)}`;
      case 'switch':
        return `cpu${c.cpu} switches to task${c.task}`;
      case 'offline':
        return `cpu${c.cpu} goes offline`;
    }
  }

  // ---- one step -------------------------------------------------------------------------------

  step(prevWorld: World, prevAbs: AbstractState, c: Choice): StepReport {
    const w = cloneWorld(prevWorld);
    let who = '';
    let labels: string[] = [];
    // Built only if asked for (reports, traces): the explorer takes millions of steps and reads none.
    let event: string | undefined;
    let facts: Fact[] = [];
    let fault: StepOutcome['fault'];
    let done: OpOutcome | undefined;
    let offlined: AbsStep['offlined'];
    let ctx: CtxKind = 'task';
    let cpu = 0;
    let task = -1;
    let preemptible = false;
    let irqsOff = false;
    // The per-CPU lists as walked after the last change to the heap in this step (null: not yet
    // walked). `prevAbs.caches` are the lists of `w` until the first statement runs: `w` is a
    // copy of `prevWorld` and the steps below change tasks and frames before that, never memory.
    let lists: AbsCache[] | null = null;

    switch (c.kind) {
      case 'step': {
        const top = topContext(w, c.cpu);
        const f = top.frame!;
        who = whoOf(c.cpu, top.ctx, top.task);
        // The caller's own code from here on (G_CALLER); which way it went is in the read log.
        const branches = f.next.endsWith(NONDET_BRANCH);
        if (branches) f.ghost |= G_CALLER;
        const x = this.exec(w, f, c.cpu, top.ctx, top.task, false, prevAbs, c.failAlloc === true, c.branch === true);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        // A statement that allocated nothing ran as the plain step did: the same state, found already.
        if (out.allocFailed) {
          w.allocFails++;
          event = `cpu${c.cpu}: the allocation fails (NULL) in ${labels[0]}`;
        }
        if (branches && this.scope.callerErrors !== false) event = `cpu${c.cpu}: ${c.branch ? 'takes' : 'does not take'} the branch of ${labels[0]}: the model does not compute its condition, both ways are explored`;
        if (out.done) {
          done = this.finish(w, f, c.cpu, top.ctx, top.task, out.done.result, lists);
          fault ??= handedOutPastEnd(w, f.op, out.done.result);
        }
        break;
      }
      case 'start': {
        const t = w.tasks[c.task]!;
        who = whoOf(t.cpu, 'task', c.task);
        t.opsDone++;
        cpu = t.cpu;
        if (c.op === 'submit') {
          removeOne(t.held, c.obj);
          insertSorted(w.inflight, c.obj);
          labels = [`submit_bio: ${showValue(c.obj)} goes in flight`];
          break;
        }
        if (c.op === 'free') removeOne(t.held, c.obj);
        if (c.op === 'complete') removeOne(w.inflight, c.obj);
        const f = newFrame(c.op === 'alloc' ? 'alloc' : 'free', c.op === 'alloc' ? [] : [c.obj], w.cpus[t.cpu]!.irqsOff);
        t.frame = f;
        fault = this.endlessAlone(w, t.cpu, 'task', c.task, f.op);
        if (fault) {
          labels = [`${f.op}: (run alone to its end: it does not return)`];
          break;
        }
        this.observe(null, prevAbs, f, t.cpu);
        const x = this.exec(w, f, t.cpu, 'task', c.task, false, prevAbs, c.failAlloc === true);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        if (out.allocFailed) {
          w.allocFails++;
          event = `task${c.task}: ${f.op} starts, and the allocation fails (NULL) in ${labels[0]}`;
        }
        if (out.done) {
          done = this.finish(w, f, t.cpu, 'task', c.task, out.done.result, lists);
          fault ??= handedOutPastEnd(w, f.op, out.done.result);
        }
        break;
      }
      case 'hardirq':
      case 'softirq': {
        const cs = w.cpus[c.cpu]!;
        removeOne(w.inflight, c.obj);
        w.interrupts++;
        const kind: CtxKind = c.kind;
        who = whoOf(c.cpu, kind, -1);
        // A hardirq handler runs with irqs off; a softirq runs with them on.
        if (kind === 'hardirq') cs.irqsOff = true;
        const f = newFrame('free', [c.obj], cs.irqsOff);
        if (kind === 'hardirq') cs.hardirq = f;
        else cs.softirq = f;
        const atomic = this.scope.atomicIrq;
        // An atomic handler runs to its end in this step anyway.
        fault = atomic ? undefined : this.endlessAlone(w, c.cpu, kind, -1, `the ${kind} handler's put`);
        if (fault) {
          labels = [`${f.op}: (run alone to its end: it does not return)`];
          break;
        }
        this.observe(null, prevAbs, f, c.cpu);
        const x = this.exec(w, f, c.cpu, kind, -1, atomic, prevAbs);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        if (atomic) {
          // The whole handler ran: classify it against the state it started from.
          lists = abstractCaches(this.impl, w, this.layout);
          this.observe(prevAbs, { caches: lists }, f, c.cpu);
        }
        // A handler that oopsed stays on the stack, holding what it was given: the state is a
        // crash and is not expanded, and the object it was putting is not also reported lost.
        if (out.done) done = this.finish(w, f, c.cpu, kind, -1, out.done.result, lists);
        break;
      }
      case 'switch': {
        const cs = w.cpus[c.cpu]!;
        who = `cpu${c.cpu}`;
        cpu = c.cpu;
        const t = w.tasks[c.task]!;
        // enabled()'s rules, costed alike: a running task taken off its CPU (which goes idle),
        // and the current task of this CPU if it has work left, are a preemption each.
        const from = runningOn(w, c.task);
        const prev = cs.current;
        const displaced = prev >= 0 && hasWork(this.scope, w.tasks[prev]!);
        const arrive = displaced ? `, preempting task${prev}` : prev >= 0 ? ` (task${prev} has finished)` : ' (idle)';
        if (from >= 0) {
          w.cpus[from]!.current = -1;
          w.preemptions++;
          event = `task${c.task} preempted on cpu${from}; migrates to cpu${c.cpu}${arrive}; cpu${from} goes idle`;
        } else if (t.cpu !== c.cpu) event = `task${c.task} migrates from cpu${t.cpu}'s runqueue to cpu${c.cpu}${arrive}`;
        else event = displaced ? `cpu${c.cpu}: task${prev} preempted, task${c.task} runs` : `cpu${c.cpu}: task${c.task} runs${arrive}`;
        if (displaced) w.preemptions++;
        t.cpu = c.cpu;
        cs.current = c.task;
        labels = [`schedule(): ${event}`];
        break;
      }
      case 'offline': {
        const cs = w.cpus[c.cpu]!;
        who = `cpu${c.cpu}`;
        cpu = c.cpu;
        cs.online = false;
        cs.current = -1;
        w.tasks.forEach((t, i) => {
          if (t.cpu === c.cpu) {
            t.cpu = 0;
            if (w.cpus[0]!.current < 0) w.cpus[0]!.current = i;
          }
        });
        labels = [`cpuhp: cpu${c.cpu} offline`];
        if (this.impl.cpuDead) {
          const f = newFrame('cpu_dead', [c.cpu], w.cpus[0]!.irqsOff);
          const out = runToCompletion(this.env, w, 0, 'task', -1, f);
          labels.push(...out.labels);
          facts = out.facts;
          fault = out.fault;
          ctx = 'task';
          cpu = 0;
          if (out.done) done = { op: 'cpu_dead', ctx: 'task', cpu: 0, kind: 'other', saw: emptySaw() };
        }
        lists = abstractCaches(this.impl, w, this.layout);
        const after = lists[c.cpu]!;
        offlined = { cpu: c.cpu, stranded: after.freeList.length + after.freeListIrq.length, ...(this.impl.cpuDead ? { pruned: true } : {}) };
        break;
      }
    }

    gcFreed(w);
    // The lists walked above still describe the heap after gcFreed: it drops only freed objects
    // that nothing points to, and a walk reaches an object only through a pointer in a live one
    // (it stops at the first freed element, which a live cell names, so that one is kept).
    // Whether a CPU is quiescent depends on frames that finish() may have ended since: redone.
    let abs: AbstractState;
    if (lists) {
      const ls: AbsCache[] = lists;
      for (const lc of ls) {
        lc.online = w.cpus[lc.cpu]!.online;
        lc.quiescent = cpuQuiescent(w, lc.cpu);
      }
      abs = abstractStateOf(this.impl, this.profile, w, ls, undefined, true);
    } else abs = abstractStateOf(this.impl, this.profile, w, abstractCaches(this.impl, w, this.layout), undefined, true);
    // Every operation still in progress witnesses the new instant.
    for (const t of w.tasks) if (t.frame) this.observe(null, abs, t.frame, t.cpu);
    for (let i = 0; i < w.cpus.length; i++) {
      const cs = w.cpus[i]!;
      if (cs.softirq) this.observe(null, abs, cs.softirq, i);
      if (cs.hardirq) this.observe(null, abs, cs.hardirq, i);
    }

    const step: AbsStep = { who, cpu, ctx, task, preemptible, irqsOff, label: labels[labels.length - 1] ?? (event ??= this.describe(c)), facts };
    if (fault) step.fault = { kind: fault.kind, msg: fault.message };
    if (done) step.done = done;
    if (offlined) step.offlined = offlined;
    abs.step = step;
    return new Report(w, who, labels, event, c, this, abs, prevAbs);
  }

  /**
   * Runs the next statement of `f` (or, `atomic`, the whole operation) and, statement by
   * statement, records in the frame's ghost what the statement did to the lists (`before`: the
   * lists before it). A method, not a closure in step(): it runs on every transition.
   */
  private exec(w: World, f: Frame, cpu: number, ctx: CtxKind, task: number, atomic: boolean, before: { caches: AbsCache[] }, failAlloc = false, branch = false): Exec {
    const irqsOff = w.cpus[cpu]!.irqsOff;
    const preemptible = ctx === 'task' && f.preempt === 0 && !irqsOff;
    const out = atomic ? runToCompletion(this.env, w, cpu, ctx, task, f) : runStatement(this.env, w, cpu, ctx, task, f, failAlloc, branch);
    const labels = out.labels ?? [out.label];
    let lists: AbsCache[] | null = null;
    if (!atomic) {
      lists = abstractCaches(this.impl, w, this.layout);
      this.observe(before, { caches: lists }, f, cpu);
    }
    return { out, cpu, ctx, task, irqsOff, preemptible, labels, facts: out.facts, fault: out.fault, lists };
  }

  /**
   * An operation that loops forever would be found by the search only once it had interleaved
   * every other context with each of its STEP_BUDGET statements: minutes of BFS for one bug. So
   * at its start, the operation is first run alone to its end on a copy of the world; if it does
   * not return, the start is the finding. (Such a loop waiting for another context to change
   * memory would be reported too: the cache code has no such wait.)
   */
  private endlessAlone(w: World, cpu: number, ctx: CtxKind, task: number, what: string): KernelFault | undefined {
    const copy = cloneWorld(w);
    const f = ctx === 'task' ? copy.tasks[task]!.frame! : ctx === 'hardirq' ? copy.cpus[cpu]!.hardirq! : copy.cpus[cpu]!.softirq!;
    const out = runToCompletion(this.env, copy, cpu, ctx, task, f, true);
    if (out.fault?.kind !== 'no-return') return undefined;
    return new KernelFault('no-return', `${what} does not return even when nothing interrupts it: run alone from here, ${out.fault.message}`);
  }

  abs(w: World): AbstractState {
    return abstractState(this.impl, this.profile, w, this.layout);
  }

  /** Only the per-CPU lists: what the refinement ghost and the step bookkeeping need (cheaper than abs). */
  private cachesOf(w: World): { caches: AbsCache[] } {
    return { caches: abstractCaches(this.impl, w, this.layout) };
  }

  /**
   * Refinement ghost: record what the operation could have observed at this instant, and what its
   * own step did to the lists (`before` is the state before its own step, or null for an instant
   * produced by someone else).
   */
  private observe(before: { caches: AbsCache[] } | null, after: { caches: AbsCache[] }, f: Frame, cpu: number): void {
    const c = after.caches[cpu];
    if (!c) return;
    const p = this.profile;
    let g = f.ghost;
    const empty = c.freeList.length === 0;
    if (f.op === 'alloc') {
      if (empty) g |= G_EMPTY;
      if (empty && c.nrIrq < p.threshold) g |= G_BELOW;
      if (empty && g & G_SPLICED) g |= G_EMPTY_AFTER_SPLICE;
    }
    if (f.op === 'free' || (f.op === 'alloc' && g & G_CALLER)) g |= capAllows(p, c.nr + c.nrIrq) ? G_ROOM : G_FULL;
    if (before) {
      const b = before.caches[cpu]!;
      const sameTask = eq(b.freeList, c.freeList);
      const sameIrq = eq(b.freeListIrq, c.freeListIrq);
      if (!sameTask || !sameIrq) {
        if (f.op === 'alloc' && b.freeList.length > 0 && eq(c.freeList, b.freeList.slice(1)) && sameIrq) {
          g |= G_POPPED;
          g = (g & ((1 << POP_SHIFT) - 1)) | (b.freeList[0]! << POP_SHIFT);
        } else if (f.op === 'alloc' && b.freeListIrq.length > 0 && c.freeList[0] === b.freeListIrq[0] && b.freeList.length === 0) {
          g |= G_SPLICED;
          if (c.freeList.length === 0) g |= G_EMPTY_AFTER_SPLICE;
        } else if (f.op === 'alloc' && !sameIrq && b.freeListIrq.length > 0 && c.freeListIrq.length === 0 && sameTask) {
          // the second half of the splice: free_list_irq = NULL
        } else if (f.op === 'alloc' && g & G_CALLER && !(g & (G_ERRPUT | G_ERRPUT_IRQ)) && isPush(b.freeList, c.freeList) && sameIrq && ownObject(g, c.freeList[0]!)) {
          // the caller's error path puts back the object the alloc got
          g |= G_ERRPUT;
        } else if (f.op === 'alloc' && g & G_CALLER && !(g & (G_ERRPUT | G_ERRPUT_IRQ)) && isPush(b.freeListIrq, c.freeListIrq) && sameTask && ownObject(g, c.freeListIrq[0]!)) {
          g |= G_ERRPUT_IRQ;
        } else if (f.op === 'free' && isPush(b.freeList, c.freeList) && sameIrq) {
          // push onto free_list
        } else if (f.op === 'free' && isPush(b.freeListIrq, c.freeListIrq) && sameTask) {
          // push onto free_list_irq
        } else if (f.op === 'cpu_dead') {
          // pruning
        } else g |= G_OTHER;
      }
    }
    f.ghost = g;
  }

  /** An operation returned: hand the result to its owner and classify what it did. */
  private finish(w: World, f: Frame, cpu: number, ctx: CtxKind, task: number, result: Value, lists: AbsCache[] | null): OpOutcome {
    const g = f.ghost;
    const saw = {
      emptyTaskList: (g & G_EMPTY) !== 0,
      belowThresholdWhileEmpty: (g & G_BELOW) !== 0,
      spliced: (g & G_SPLICED) !== 0,
      emptyAfterSplice: (g & G_EMPTY_AFTER_SPLICE) !== 0,
      popped: (g & G_POPPED) !== 0,
      poppedObj: g >>> POP_SHIFT,
      room: (g & G_ROOM) !== 0,
      full: (g & G_FULL) !== 0,
    };
    let kind: OpOutcome['kind'] = 'other';
    const out: OpOutcome = { op: f.op, ctx, cpu, kind, saw };
    if (f.op === 'alloc') {
      if (task >= 0) {
        const t = w.tasks[task]!;
        t.frame = null;
        if (result !== NULL && isPtr(result)) insertSorted(t.held, result);
      }
      out.result = isPtr(result) ? ptrId(result) : 0;
      kind = g & G_OTHER ? 'other' : saw.popped ? (saw.spliced ? 'splice-hit' : 'hit') : 'miss';
      // The caller went down its error path and returned no object: how it gave back the one it got.
      if (g & G_CALLER && !isPtr(result)) {
        const popped = w.heap[saw.poppedObj];
        if (g & G_ERRPUT) out.errorPut = 'push-task';
        else if (g & G_ERRPUT_IRQ) out.errorPut = 'push-irq';
        else if (saw.popped && (!popped || popped.freed)) out.errorPut = 'free';
        // After a miss the object is not known here: a leak of it is object-safety's.
        else out.errorPut = 'unknown';
      }
    } else if (f.op === 'free') {
      if (task >= 0) w.tasks[task]!.frame = null;
      else this.endInterrupt(w, cpu, ctx);
      const id = ptrId(f.args[0]!);
      // The lists after the operation's last statement: ending the frame does not change memory.
      const a = lists ? { caches: lists } : this.cachesOf(w);
      const o = w.heap[id];
      if (g & G_OTHER) kind = 'other';
      else if (a.caches.some((c) => c.freeList.includes(id))) kind = 'push-task';
      else if (a.caches.some((c) => c.freeListIrq.includes(id))) kind = 'push-irq';
      else if (!o || o.freed) kind = 'free';
    }
    out.kind = kind;
    return out;
  }

  private endInterrupt(w: World, cpu: number, ctx: CtxKind): void {
    const cs = w.cpus[cpu]!;
    if (ctx === 'hardirq') {
      cs.hardirq = null;
      cs.irqsOff = false;
    } else if (ctx === 'softirq') cs.softirq = null;
  }
}

export class BootError extends Error {}

/**
 * A statement that calls an allocation that can fail (a `function: statement` label). The C
 * interpreter's labels are the C text, and the ports' are the C statements they port; an
 * allocation inside a helper is a statement of the helper. mempool_alloc() is not here: it waits
 * rather than fail.
 */
const ALLOCATES = /\b(kmalloc|kzalloc|kcalloc|kmalloc_array|kmem_cache_alloc|kmem_cache_zalloc|alloc_percpu|kmemdup)\s*\(/;

/**
 * A Choice as enabled() makes them: every kind with the same fields, in the same order, so that
 * step() reads them through one object shape (six literal shapes made its loads megamorphic).
 * The fields a kind does not have are -1, NULL or false; none of them is read for that kind.
 */
function choice(kind: Choice['kind'], cpu: number, task: number, obj: Value, failAlloc: boolean, op: TaskOp = 'alloc', branch = false): Choice {
  return { kind, cpu, task, op, obj, failAlloc, branch } as Choice;
}

/** A StepReport whose `event` text and violations are made when first read. */
class Report implements StepReport {
  private judged: Violation[] | undefined;
  constructor(
    readonly world: World,
    readonly who: string,
    readonly labels: string[],
    private ev: string | undefined,
    private readonly choice: Choice,
    private readonly sys: System,
    readonly abs: AbstractState,
    private readonly prevAbs: AbstractState,
  ) {}
  get event(): string {
    return (this.ev ??= this.sys.describe(this.choice));
  }
  get violations(): Violation[] {
    return (this.judged ??= violations(this.prevAbs, this.abs));
  }
  judge(revisited: boolean): Violation[] {
    return revisited ? violations(this.prevAbs, this.abs, true) : this.violations;
  }
}

/** The step boot's findings are judged on (init-result's facts, or a fault for crash). */
function bootStep(label: string, facts: Fact[], fault?: KernelFault): AbsStep {
  const step: AbsStep = { who: 'boot', cpu: 0, ctx: 'task', task: -1, preemptible: false, irqsOff: false, label, facts };
  if (fault) step.fault = { kind: fault.kind, msg: fault.message };
  return step;
}

/** `cpu0/task1`, `cpu1/hardirq`: one string per (cpu, context, task), not one per step. */
const WHO = new Map<number, string>();
function whoOf(cpu: number, ctx: CtxKind, task: number): string {
  const key = (cpu * 4 + (ctx === 'task' ? 0 : ctx === 'softirq' ? 1 : 2)) * 1024 + task + 1;
  let s = WHO.get(key);
  if (s === undefined) WHO.set(key, (s = ctx === 'task' ? `cpu${cpu}/task${task}` : `cpu${cpu}/${ctx}`));
  return s;
}

/** What System.exec() ran and the step's bookkeeping it sets. */
interface Exec {
  out: StepOutcome;
  cpu: number;
  ctx: CtxKind;
  task: number;
  irqsOff: boolean;
  preemptible: boolean;
  labels: string[];
  facts: Fact[];
  fault: StepOutcome['fault'];
  lists: AbsCache[] | null;
}

function emptySaw(): OpOutcome['saw'] {
  return { emptyTaskList: false, belowThresholdWhileEmpty: false, spliced: false, emptyAfterSplice: false, popped: false, poppedObj: 0, room: false, full: false };
}

function eq(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether the object an alloc's error path pushes is the one the alloc popped (any new one after a miss). */
function ownObject(g: number, id: number): boolean {
  return !(g & G_POPPED) || g >>> POP_SHIFT === id;
}

function isPush(before: number[], after: number[]): boolean {
  return after.length === before.length + 1 && eq(after.slice(1), before);
}

/**
 * Held and in-flight objects are sets, hashed as such (fingerprint.ts): kept in ascending order,
 * the order the checker offers their choices in (and which of two equal objects `distinct` keeps)
 * is a function of the state itself, never of the path that reached it. Otherwise two paths to
 * one state could continue differently, and which of them a search kept would change what it
 * finds next (the parallel BFS keeps whichever worker's insert wins).
 */
function insertSorted(a: Value[], v: Value): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > v) i--;
  a.splice(i, 0, v);
}

function removeOne(a: Value[], v: Value): void {
  const i = a.indexOf(v);
  if (i < 0) return;
  // Shifted by hand: splice() builds the array of what it removed, on every start and interrupt.
  for (let j = i + 1; j < a.length; j++) a[j - 1] = a[j]!;
  a.length--;
}

/** The online CPU a task is the current task of, or -1 (it waits on a runqueue, or has finished). */
function runningOn(w: World, task: number): number {
  for (let i = 0; i < w.cpus.length; i++) if (w.cpus[i]!.online && w.cpus[i]!.current === task) return i;
  return -1;
}

/** An operation in progress or one still to start: a task without either has finished. */
function hasWork(s: Scope, t: World['tasks'][number]): boolean {
  return t.frame !== null || t.opsDone < s.ops;
}

/**
 * Choices over objects that differ only in identity are the same choice up to symmetry; keep one.
 * Two objects are interchangeable only if swapping their ids maps the state onto itself: equal
 * cells, the same set (the caller passes one set), and nothing else naming either of them. A
 * stale `dio_next` left in an object, a value an operation in progress has read, or a static
 * that points at one of them tells them apart, and choosing one or the other then leads to states
 * that are not isomorphic: both must be explored.
 */
function distinct(w: World, objs: Value[]): Value[] {
  if (objs.length < 2) return objs.slice();
  const out: Value[] = [];
  let named: Set<number> | null = null;
  for (const o of objs) {
    let dup = false;
    for (const q of out)
      if (sameContent(w, o, q)) {
        named ??= namedIds(w);
        dup = !named.has(ptrId(o)) && !named.has(ptrId(q));
        if (dup) break;
      }
    if (!dup) out.push(o);
  }
  return out;
}

/**
 * An alloc that hands out a pointer at or past the end of its allocation (an element header
 * kmalloc()ed without room for the payload behind it): nothing in the cache touches the payload,
 * but the caller's first write to the object is slab-out-of-bounds. Only where the size is known.
 */
function handedOutPastEnd(w: World, op: string, p: Value): KernelFault | undefined {
  if ((op !== 'alloc' && op !== 'fresh') || !isPtr(p)) return undefined;
  const o = w.heap[ptrId(p)];
  if (!o || o.freed || o.size === undefined || ptrOff(p) < o.size) return undefined;
  return new KernelFault(
    'wild-pointer',
    `slab-out-of-bounds (KASAN): ${op} handed out ${showValue(p)}, byte ${ptrOff(p)} of an allocation of ${o.size} bytes: there is no room for the object, and the caller's first access to it is out of bounds`,
  );
}

/**
 * Live heap objects that nothing reaches from the statics (following pointers in cells): after an
 * initcall that failed, what its error path should have freed. Only boot worlds have no frames.
 */
function unreachableLive(w: World): number[] {
  const seen = new Set<number>();
  const todo: number[] = [];
  const visit = (v: Value) => {
    if (!isPtr(v)) return;
    const id = ptrId(v);
    if (!seen.has(id) && w.heap[id]) {
      seen.add(id);
      todo.push(id);
    }
  };
  for (const k in w.globals) visit(w.globals[k]!);
  while (todo.length) {
    const f = flatObj(w.heap[todo.pop()!]!);
    for (let j = 4; j < f.length; j += 2) visit(f[j]!);
  }
  const out: number[] = [];
  for (let id = 1; id < w.heap.length; id++) if (w.heap[id] && !w.heap[id]!.freed && !seen.has(id)) out.push(id);
  return out;
}

/** Ids of the objects a pointer names anywhere but in the held and in-flight sets. */
function namedIds(w: World): Set<number> {
  const ids = new Set<number>();
  // Cell values: every other entry of the flattened form from index 4 (gcFreed reads it alike).
  for (const o of w.heap) if (o) addIds(ids, flatObj(o), 4, 2);
  for (const k in w.globals) {
    const v = w.globals[k]!;
    if (isPtr(v)) ids.add(ptrId(v));
  }
  for (const t of w.tasks) if (t.frame) frameIds(ids, t.frame);
  for (const c of w.cpus) {
    if (c.softirq) frameIds(ids, c.softirq);
    if (c.hardirq) frameIds(ids, c.hardirq);
  }
  return ids;
}

// Module-level rather than closures in namedIds(): enabled() runs it for most stored states.
function addIds(ids: Set<number>, vs: readonly Value[], from: number, stride: number): void {
  for (let j = from; j < vs.length; j += stride) {
    const v = vs[j]!;
    if (isPtr(v)) ids.add(ptrId(v));
  }
}

/** What an operation in progress names: its arguments, the values it read, the object it popped. */
function frameIds(ids: Set<number>, f: Frame): void {
  addIds(ids, f.args, 0, 1);
  addIds(ids, f.reads, 0, 1);
  if (f.ghost >>> POP_SHIFT) ids.add(f.ghost >>> POP_SHIFT);
}

/** Same cells and freed flag (type and origin are not compared), or the same value where there is no object. */
function sameContent(w: World, a: Value, b: Value): boolean {
  const ha = w.heap[ptrId(a)];
  const hb = w.heap[ptrId(b)];
  if (!ha || !hb) return !ha && !hb && a === b;
  const fa = flatObj(ha);
  const fb = flatObj(hb);
  if (fa.length !== fb.length) return false;
  for (let i = 2; i < fa.length; i++) if (fa[i] !== fb[i]) return false;
  return true;
}

/** Freed objects nothing points to can never be touched again: drop them so they do not split states. */
function gcFreed(w: World): void {
  const heap = w.heap;
  let freed: number[] | null = null;
  for (let id = 1; id < heap.length; id++) if (heap[id]?.freed) (freed ??= []).push(id);
  if (!freed) return;
  // Only the freed ids matter: mark which of them something still points to.
  const f = freed;
  const live = new Uint8Array(f.length);
  // Cell values of live objects: every other entry of the flattened form from index 4.
  for (const o of heap) if (o && !o.freed) markAll(f, live, flatObj(o), 4, 2);
  for (const k in w.globals) mark(f, live, w.globals[k]!);
  for (const t of w.tasks) {
    markAll(f, live, t.held, 0, 1);
    if (t.frame) {
      markAll(f, live, t.frame.args, 0, 1);
      markAll(f, live, t.frame.reads, 0, 1);
    }
  }
  markAll(f, live, w.inflight, 0, 1);
  for (const c of w.cpus) {
    if (c.softirq) {
      markAll(f, live, c.softirq.args, 0, 1);
      markAll(f, live, c.softirq.reads, 0, 1);
    }
    if (c.hardirq) {
      markAll(f, live, c.hardirq.args, 0, 1);
      markAll(f, live, c.hardirq.reads, 0, 1);
    }
  }
  for (let i = 0; i < f.length; i++) if (!live[i]) heap[f[i]!] = undefined;
  while (heap.length > 1 && heap[heap.length - 1] === undefined) heap.pop();
}

/** Marks live[i] for each freed id f[i] that a pointer among vs[from], vs[from + stride]... names. */
function markAll(f: number[], live: Uint8Array, vs: readonly Value[], from: number, stride: number): void {
  for (let j = from; j < vs.length; j += stride) mark(f, live, vs[j]!);
}
function mark(f: number[], live: Uint8Array, v: Value): void {
  if (isPtr(v)) {
    const i = f.indexOf(ptrId(v));
    if (i >= 0) live[i] = 1;
  }
}
