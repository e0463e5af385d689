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
import { violations } from '../model/invariants.js';
import { getProfile, type Profile } from '../model/profiles.js';
import { kernelConfig, type KernelConfig } from '../model/config.js';
import type { Implementation } from '../impl/interface.js';
import { KernelFault, NONDET_BRANCH, type Fact, type RacyLoad } from '../impl/kernel/primitives.js';
import { firstStatement, newFrame, resolveMacros, RunMemo, runStatement, runToCompletion, type Env, type StepOutcome } from '../impl/kernel/runtime.js';
import { isPtr, NULL, ptrId, ptrOff, showValue, type Value } from '../impl/kernel/values.js';
import { cloneWorld, topContext, type Frame, type World } from '../impl/kernel/world.js';
import { abstractCaches, abstractCachesSince, abstractState, abstractStateOf, cacheObjects, cpuQuiescent, emptySaw, GHOST, layoutOf, noteOwnWrite, outcomeOf, returnOf, sectionHeld, Spec, specStepOf, type Layout, type SpecStep } from './abstraction.js';
import { ALLOCATES, boot, handedOutPastEnd } from './boot.js';
import type { Choice, Scope, StepReport, TaskOp, Violation } from './scope.js';
import { gcFreed, insertSorted, namedIds, removeOne, sameContent } from '../impl/kernel/heap.js';
import type { CacheMachine } from '../model/machine.js';

export type { Choice, Completer, Scope, StepReport, TaskOp, Violation } from './scope.js';
export { BootError } from './boot.js';

export class System {
  readonly env: Env;
  readonly profile: Profile;
  readonly layout: Layout | null;
  /** The statechart as the oracle of each step (null: an implementation without per-CPU lists). */
  readonly spec: Spec | null;
  /** What each context is on the scope's kernel configuration. */
  readonly kernel: KernelConfig;

  /** `resume`: frames keep their generator for the next statement (Env.resume; for a DFS). */
  /** `oracle: false`: no statechart (the bench measures its cost; nothing judges refinement then). */
  constructor(readonly impl: Implementation, readonly scope: Scope, opts: { resume?: boolean; machine?: CacheMachine; oracle?: false } = {}) {
    this.kernel = kernelConfig(scope.config);
    const rt = this.kernel.name !== 'default';
    this.profile = { ...getProfile(scope.profile, { max: scope.max, threshold: scope.threshold }), ...(rt ? { config: this.kernel.name } : {}) };
    this.env = { impl, macros: resolveMacros(impl, scope.max, scope.threshold), ...(opts.resume ? { resume: true } : {}), ...(rt ? { kernel: this.kernel } : {}), ...(scope.atomicity === 'access' ? { atomicity: 'access' as const } : {}) };
    this.layout = layoutOf(impl);
    // `machine`: another statechart to judge by (a test that edits the machine shows it is the oracle).
    // The statechart models the !PREEMPT_RT contexts (a hardirq pushes onto free_list_irq): on
    // another kernel config it has no transitions for an irq thread's put, so it is not the oracle
    // there (refinement is not judged; the other invariants are): KernelConfig.notJudged says so.
    this.spec = this.layout && this.profile.cached && opts.oracle !== false ? new Spec(this.profile, opts.machine) : null;
    // marked-access: the irq list and its counter are written by hardirq puts (irq-list-hardirq-only),
    // so a context they can interrupt must load them marked. On a config without hardirq puts
    // (PREEMPT_RT's irq threads are tasks) nothing writes them concurrently.
    if (this.layout && this.kernel.contexts.hardirq.inHardirq) this.env.racyLoad = racyIrqLoad(impl, this.layout);
    // Atomic handlers and run-alone checks repeat the same runs over and over (runtime.ts RunMemo):
    // one memo for every System that runs this implementation alike (the search, minimisation,
    // replays, the runs of one check), as the statechart's memo is shared.
    if (!impl.countsRuns) this.env.memo = sharedMemo(impl, JSON.stringify([this.env.macros, this.kernel.name, this.env.racyLoad !== undefined]));
  }

  /**
   * The context the statechart sees a step in: what in_task()/in_hardirq() say there on the
   * scope's kernel config. On PREEMPT_RT a device interrupt's completion runs in its irq thread,
   * a task (its put is a task put); by default the three are themselves.
   */
  private machineCtx(ctx: CtxKind): CtxKind {
    const c = this.kernel.contexts[ctx];
    return c.inTask ? 'task' : c.inHardirq ? 'hardirq' : 'softirq';
  }

  // ---- boot (boot.ts) ------------------------------------------------------------------------

  /** Boot: run the initcall, prefill each CPU's cache and put objects in flight, all without interleaving. */
  initial(): { world: World; abs: AbstractState; violations: Violation[] } {
    return boot(this);
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
    // The objects in flight up to symmetry, worked out once for every CPU and context that completes them.
    let inflight: Value[] | null = null;
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
            else if (op === 'complete' && s.completers.includes('task')) for (const o of (inflight ??= distinct(w, w.inflight))) out.push(choice('start', -1, top.task, o, false, op));
          }
        }
      }
      // An interrupt-kind completer: where irqs are on and no hardirq (irq thread) runs, and, for a
      // context the kernel config schedules as a thread rather than takes as an interrupt, where
      // the context it would preempt is not inside a preempt-disabled section.
      if (!c.irqsOff && !c.hardirq && w.inflight.length > 0) {
        const k = this.kernel.contexts;
        if (s.completers.includes('hardirq') && (!c.softirq || k.hardirq.entersOverSoftirq) && (k.hardirq.entersPreemptOff || !preemptOff(w, c)))
          for (const o of (inflight ??= distinct(w, w.inflight))) out.push(choice('hardirq', cpu, -1, o, false));
        if (!c.softirq && s.completers.includes('softirq') && (k.softirq.entersPreemptOff || !preemptOff(w, c)))
          for (const o of (inflight ??= distinct(w, w.inflight))) out.push(choice('softirq', cpu, -1, o, false));
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
      case 'softirq':
        return `cpu${c.cpu} ${this.kernel.contexts[c.kind].what} completes ${showValue(c.obj)}`;
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
    // The step as the statechart sees it (the seam maps it to machine events).
    let specStep: SpecStep | null = null;
    let specFrame: Frame | null = null;

    switch (c.kind) {
      case 'step': {
        const top = topContext(w, c.cpu);
        const f = top.frame!;
        who = whoOf(c.cpu, top.ctx, top.task);
        // The caller's own code from here on (G_CALLER); which way it went is in the read log.
        const branches = f.next.endsWith(NONDET_BRANCH);
        if (branches) f.ghost |= GHOST.CALLER;
        const busyBefore = top.ctx !== 'task' || sectionHeld(f);
        const x = this.exec(prevWorld, w, f, c.cpu, top.ctx, top.task, false, prevAbs, c.failAlloc === true, c.branch === true);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        specStep = specStepOf(f, this.machineCtx(ctx), c.cpu, busyBefore, out.done !== undefined, top.ctx !== 'task');
        specFrame = f;
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
        const x = this.exec(prevWorld, w, f, t.cpu, 'task', c.task, false, prevAbs, c.failAlloc === true);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        specStep = specStepOf(f, this.machineCtx(ctx), t.cpu, false, out.done !== undefined, false);
        specFrame = f;
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
        // A hardirq handler runs with irqs off; a softirq, and on PREEMPT_RT an irq thread, with them on.
        if (this.kernel.contexts[kind].irqsOff) cs.irqsOff = true;
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
        const x = this.exec(prevWorld, w, f, c.cpu, kind, -1, atomic, prevAbs);
        ({ cpu, ctx, task, irqsOff, preemptible, labels, facts, fault, lists } = x);
        const out = x.out;
        specStep = specStepOf(f, this.machineCtx(ctx), c.cpu, false, out.done !== undefined, true);
        specFrame = f;
        if (atomic) {
          // The whole handler ran: classify it against the state it started from.
          lists = abstractCachesSince(this.impl, w, this.layout, prevWorld, prevAbs.caches);
          noteOwnWrite(prevAbs, { caches: lists }, f, c.cpu);
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

    // marked-access: a racy plain load is reported when its context's section ends (or the
    // operation returns), not at the load: a section that goes on to write the irq list with irqs
    // on (the splice without local_irq_save()) is irq-list-hardirq-only's first.
    if (specFrame) facts = holdRace(specFrame, facts, done !== undefined || specStep === null || !specStep.busyAfter);

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
    } else abs = abstractStateOf(this.impl, this.profile, w, abstractCachesSince(this.impl, w, this.layout, prevWorld, prevAbs.caches), undefined, true);
    // The statechart judges the step: each online CPU's machine takes the events the step maps to.
    let refused: string | null = null;
    if (specStep && done && (done.op === 'alloc' || done.op === 'free')) specStep.returned = returnOf(done);
    if (this.spec) {
      for (let i = 0; i < w.cpus.length; i++) {
        const cs = w.cpus[i]!;
        const b = prevAbs.caches[i]!;
        const a = abs.caches[i]!;
        // Hotplug is outside the one-CPU statechart (hotplug-stranding judges it), and a list that
        // cannot be walked is object-safety's.
        if (!cs.online || !prevWorld.cpus[i]!.online || b.listFault || a.listFault) continue;
        cs.spec = this.spec.advance(cs.spec ?? 0, b, a, prevWorld.cpus[i]!.irqsOff, cs.irqsOff, specStep);
        refused ??= this.spec.refused;
        // The frame keeps what its ended section saw, for its next section or its return.
        if (this.spec.endSaw >= 0 && specFrame && specStep && specStep.cpu === i) specFrame.ghost = (specFrame.ghost & ~GHOST.SAW) | this.spec.endSaw;
      }
    }

    const step: AbsStep = { who, cpu, ctx, task, preemptible, irqsOff, label: labels[labels.length - 1] ?? (event ??= this.describe(c)), facts };
    if (fault) step.fault = { kind: fault.kind, msg: fault.message };
    if (done) step.done = done;
    if (offlined) step.offlined = offlined;
    if (refused !== null) step.refused = refused;
    abs.step = step;
    return new Report(w, who, labels, event, c, this, abs, prevAbs);
  }

  /**
   * Runs the next statement of `f` (or, `atomic`, the whole operation) and, statement by
   * statement, records in the frame's ghost what the statement did to the lists (`before`: the
   * lists before it). A method, not a closure in step(): it runs on every transition.
   */
  private exec(pw: World, w: World, f: Frame, cpu: number, ctx: CtxKind, task: number, atomic: boolean, before: { caches: AbsCache[] }, failAlloc = false, branch = false): Exec {
    const irqsOff = w.cpus[cpu]!.irqsOff;
    // An atomic handler runs whole in one step, nothing interleaved: on PREEMPT_RT its irq thread
    // is preemptible in principle, but not within this step (the scope's atomicIrq abstraction).
    const preemptible = !atomic && this.kernel.contexts[ctx].preemptible && f.preempt === 0 && !irqsOff;
    const out = atomic ? runToCompletion(this.env, w, cpu, ctx, task, f) : runStatement(this.env, w, cpu, ctx, task, f, failAlloc, branch);
    const labels = out.labels ?? [out.label];
    let lists: AbsCache[] | null = null;
    if (!atomic) {
      lists = abstractCachesSince(this.impl, w, this.layout, pw, before.caches);
      noteOwnWrite(before, { caches: lists }, f, cpu);
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
    const own = frameIn(w, cpu, ctx, task);
    // The same run made before (this check is made at every start of an operation) returned.
    if (this.env.memo?.returns(w, cpu, ctx, task, own)) return undefined;
    const copy = cloneWorld(w);
    const f = frameIn(copy, cpu, ctx, task);
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



  /** An operation returned: hand the result to its owner, end the handler, and say what it did (the seam's outcomeOf). */
  private finish(w: World, f: Frame, cpu: number, ctx: CtxKind, task: number, result: Value, lists: AbsCache[] | null): OpOutcome {
    if (f.op === 'alloc' && task >= 0) {
      const t = w.tasks[task]!;
      t.frame = null;
      if (result !== NULL && isPtr(result)) insertSorted(t.held, result);
    } else if (f.op === 'free') {
      if (task >= 0) w.tasks[task]!.frame = null;
      else this.endInterrupt(w, cpu, ctx);
    }
    // The lists after the operation's last statement: ending the frame does not change memory.
    return outcomeOf(w, f, cpu, ctx, result, f.op === 'free' ? (lists ?? this.cachesOf(w).caches) : null);
  }

  private endInterrupt(w: World, cpu: number, ctx: CtxKind): void {
    const cs = w.cpus[cpu]!;
    if (ctx === 'hardirq') {
      cs.hardirq = null;
      cs.irqsOff = false;
    } else if (ctx === 'softirq') cs.softirq = null;
  }
}



/** The frame of `ctx` on `cpu` (a task's: task `task`'s), which must be in progress. */
function frameIn(w: World, cpu: number, ctx: CtxKind, task: number): Frame {
  return ctx === 'task' ? w.tasks[task]!.frame! : ctx === 'hardirq' ? w.cpus[cpu]!.hardirq! : w.cpus[cpu]!.softirq!;
}

/** RunMemos by implementation and what else a fresh run sees of its Env (macros, kernel config, racy-load rule). */
const MEMOS = new WeakMap<Implementation, Map<string, RunMemo>>();
function sharedMemo(impl: Implementation, env: string): RunMemo {
  let byEnv = MEMOS.get(impl);
  if (!byEnv) MEMOS.set(impl, (byEnv = new Map()));
  let m = byEnv.get(env);
  if (!m) byEnv.set(env, (m = new RunMemo()));
  return m;
}

/**
 * A step's data-race facts go into the frame (GHOST.RACY, the first one's text in Frame.racy) and
 * come out as one fact in the step that ends the section (`ends`).
 */
function holdRace(f: Frame, facts: Fact[], ends: boolean): Fact[] {
  let race: Fact | undefined;
  for (const x of facts)
    if (x.kind === 'data-race') {
      race = x;
      break;
    }
  if (race) {
    if (!(f.ghost & GHOST.RACY)) {
      f.ghost |= GHOST.RACY;
      f.racy = race.msg;
    }
    facts = facts.filter((x) => x.kind !== 'data-race');
  }
  if (!ends || !(f.ghost & GHOST.RACY)) return facts;
  const msg = f.racy ?? 'a plain load raced with a hardirq put';
  f.ghost &= ~GHOST.RACY;
  f.racy = undefined;
  return [...facts, { kind: 'data-race', msg }];
}

/**
 * Env.racyLoad for an implementation with per-CPU lists: a plain load of a per-CPU instance's
 * free_list_irq or nr_irq races with a hardirq put on that CPU, unless it is made on that CPU
 * with irqs disabled. An offline CPU takes no interrupt (a hotplug prune reads a dead CPU's lists).
 */
function racyIrqLoad(impl: Implementation, layout: Layout): RacyLoad {
  const objs: (number | null)[] = [];
  return (w, p, cpu, irqsOff) => {
    if (!isPtr(p)) return null;
    const o = w.heap[ptrId(p)];
    if (!o || o.origin !== 'percpu') return null;
    cacheObjects(impl, w, objs);
    for (let c = 0; c < objs.length; c++) {
      const inst = objs[c];
      if (inst === null || inst === undefined || ptrId(inst) !== ptrId(p)) continue;
      const off = ptrOff(p) - ptrOff(inst);
      const field = off === layout.nrIrq ? 'nr_irq' : off === layout.freeListIrq ? 'free_list_irq' : null;
      if (field === null || !w.cpus[c]!.online || (c === cpu && irqsOff)) continue;
      return c === cpu
        ? `cpu${c}'s ${field}, which a hardirq put writes, read with irqs enabled: the interrupt can write it at any moment of the load (READ_ONCE())`
        : `cpu${c}'s ${field}, which a hardirq put on cpu${c} writes, read from cpu${cpu}: it can write it at any moment of the load (READ_ONCE())`;
    }
    return null;
  };
}

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










/**
 * Whether the context running on CPU `c` has preemption disabled: a softirq in progress (its
 * frame), else the current task's operation. A thread the kernel config schedules cannot start
 * there (docs/kernel-rules.md §4.10).
 */
function preemptOff(w: World, c: World['cpus'][number]): boolean {
  const below = c.softirq ?? (c.current >= 0 ? w.tasks[c.current]!.frame : null);
  return below !== null && below.preempt > 0;
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








