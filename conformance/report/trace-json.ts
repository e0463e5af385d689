/**
 * The trace document (`dio-cache-trace/1`, docs/trace-schema.md): one counterexample or witness
 * as data. `--json` prints it, `--html` embeds it verbatim in the page (html.ts), and its `text`
 * is the text report's trace block made by the same renderTrace(): the three cannot disagree.
 *
 * It is built by re-running the choice vector (as replay does) and reading, after every step,
 * what a kernel reader wants to see that TraceStep's one-line `after` leaves out: every CPU's
 * lists and counters, its irq and preemption state, the contexts on its stack, where each object
 * is, which invariants fail there, and which states of the CPU's statechart are active.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Implementation } from '../../impl/interface.js';
import type { Frame, World } from '../../impl/kernel/world.js';
import type { AbsCache, AbstractState } from '../../model/abstract.js';
import { invariant, type InvariantId } from '../../model/invariants.js';
import { cacheMachine, initialContext, type CacheContext } from '../../model/machine.js';
import { reachableCapBound, sequentialCapBound, type Profile } from '../../model/profiles.js';
import { toJsonObject, type JsonState } from '../../model/render.js';
import type { CBuild } from '../c/build.js';
import type { TraceStep } from '../explorer/explore.js';
import { kernelEvents, renderTrace, runChoices, traceSegments } from '../explorer/trace.js';
import { BootError, type Scope, type System, type Violation } from '../system.js';
import { REPO_ROOT } from '../root.js';

export const TRACE_FORMAT = 'dio-cache-trace/1';

/** One C statement a step ran: `function: statement`, split, with where it is written. */
export interface TraceStatement {
  fn: string;
  text: string;
  /** The patch's post-image file (C input) or the port's .ts file (repository-relative), null if not found. */
  file: string | null;
  line: number | null;
}

/** A context on a CPU's stack after a step. */
export interface TraceContext {
  ctx: 'task' | 'softirq' | 'hardirq';
  /** `cpu0/task1`, `cpu0/hardirq`: the lane it runs in. */
  who: string;
  /** The operation in progress: alloc, free (a put), cpu_dead; null for a task between operations. */
  op: string | null;
  /** get_cpu()/preempt_disable() depth this operation holds. */
  preempt: number;
  /** local_irq_save() depth this operation holds. */
  irqSaved: number;
  /** The statement it runs next (`function: statement`), or null. */
  next: string | null;
  /** The task is on the CPU but not running (preempted, or another context is above it). */
  running: boolean;
}

/** One CPU after a step: its abstract cache (model/abstract.ts, the lists head first) and what the page draws around it. */
export interface TraceCpu extends AbsCache {
  irqsOff: boolean;
  /** The task the CPU runs (-1: none). */
  current: number;
  /** Preemption is off on the CPU: an operation holds get_cpu(), or an interrupt handler runs. */
  preemptOff: boolean;
  /** Bottom first: the task (if any), a softirq, a hardirq. */
  contexts: TraceContext[];
  /** Active leaf state of each statechart region (`task: preemptOff.alloc.splice`); see docs/trace-schema.md. */
  machine: Record<string, string>;
  /** The same as state ids of the statechart SVG (`cpu.task.preemptOff.alloc.splice`). */
  machineIds: string[];
  /** Where the implementation did something the statechart has no transition for. */
  machineNote?: string;
}

export interface TraceObjects {
  /** Objects held by each task (allocated, not yet freed or submitted): `task0: [4]`. */
  held: Record<string, number[]>;
  inFlight: number[];
  /** Objects an operation in progress refers to (popped, being freed, kmalloc'd), by who. */
  inOp: Record<string, number[]>;
  /** Objects freed to the slab and still known. */
  freed: number[];
}

/** One step: the TraceStep `--json` always had, plus what the page draws. */
export interface TraceStepDoc extends TraceStep {
  /** 1-based, as in the text report and the page's #step-N. */
  n: number;
  lane: string;
  ctx: 'task' | 'softirq' | 'hardirq' | 'sched';
  /** The step enters an interrupt (a hardirq or softirq handler starts). */
  interrupt: boolean;
  statements: TraceStatement[];
  cpus: TraceCpu[];
  objects: TraceObjects;
  /** Invariants that fail after this step (errors and warnings), registry order. */
  violations: { id: string; severity: 'error' | 'warning'; message: string }[];
}

export interface TraceLane {
  id: string;
  cpu: number;
  ctx: 'task' | 'softirq' | 'hardirq' | 'sched';
  task: number | null;
}

/** A collapsed run of statements as the text report prints it (1-based, inclusive). */
export interface TraceRun {
  lane: string;
  first: number;
  last: number;
  events: string[];
  returned?: string;
}

export interface TraceSource {
  fn: string;
  kind: 'c' | 'port';
  file: string;
  firstLine: number;
  lines: string[];
  /** Lines the patch adds (C input from a diff), line numbers. */
  added: number[];
}

export interface TraceDoc {
  format: typeof TRACE_FORMAT;
  kind: 'counterexample' | 'witness';
  title: string;
  impl: string;
  description: string;
  scope: Scope;
  profile: { name: string; max: number; threshold: number; capCompare: string; cached: boolean; sequentialBound: number; reachableBound: number };
  /** The replay vector: indices into System.enabled() at each step. */
  choices: number[];
  violation: null | {
    id: string;
    message: string;
    claim: string;
    kernelRule: string;
    source: string;
    severity: 'error' | 'warning';
    /** The step after which it fails (1-based; 0: the state after boot). */
    step: number;
  };
  /** Witness only: what the trace reaches. */
  witness?: { value: number; cpu: number };
  interrupts: number;
  preemptions: number;
  kernelEvents: number;
  lanes: TraceLane[];
  /** The state after boot (step 0). */
  boot: { cpus: TraceCpu[]; objects: TraceObjects };
  steps: TraceStepDoc[];
  runs: TraceRun[];
  sources: TraceSource[];
  /** The statechart's regions and their leaf state ids, for the profile (model/machine.ts). */
  statechart: { regions: Record<string, string[]> };
  /** The text report's trace block (renderTrace), line for line. */
  text: string[];
}

export interface TraceInput {
  sys: System;
  choices: readonly number[];
  /** The violation the trace ends in; null for a witness. */
  violation: { id: string; message: string } | null;
  witness?: { value: number; cpu: number };
  /** Where the implementation came from: a registry name or a module/C path (for source lines). */
  ref: string;
  /** The C build, when the input was C (sources with post-image lines). */
  c?: CBuild | null;
  full?: boolean;
  /** Overrides the title (a replay that no longer reproduces). */
  title?: string;
}

/** Builds the document; throws if the vector does not replay. */
export function buildTrace(o: TraceInput): TraceDoc {
  const { sys } = o;
  let run: ReturnType<typeof runChoices>;
  try {
    run = runChoices(sys, o.choices);
  } catch (e) {
    // The implementation oopsed at boot (the explorer reports it with no step): nothing to draw but that.
    if (!(e instanceof BootError)) throw e;
    return bootOnly(o);
  }
  if (run.diverged) throw new Error(`choice ${run.diverged.at} is not enabled (only ${run.diverged.enabled} choices there)`);
  const profile = sys.profile;
  const view = new MachineView(profile, sys.impl);
  const init = sys.initial();
  let w = init.world;
  let abs = init.abs;
  const boot = { cpus: cpusOf(w, abs, view), objects: objectsOf(abs) };
  const docSteps: TraceStepDoc[] = [];
  const locate = sourceLocator(o.ref, sys.impl, o.c ?? null);
  for (let i = 0; i < o.choices.length; i++) {
    const c = sys.enabled(w)[o.choices[i]!]!;
    const r = sys.step(w, abs, c);
    const ts = run.steps[i]!;
    const ctx: TraceStepDoc['ctx'] = r.abs.step?.who === r.who ? r.abs.step.ctx : 'sched';
    const lane = ts.who;
    view.observe(r.who, ctx, ts.labels, abs, r.abs, r.world);
    const doc: TraceStepDoc = {
      ...ts,
      n: i + 1,
      lane,
      ctx: c.kind === 'switch' || c.kind === 'offline' ? 'sched' : ctx,
      interrupt: c.kind === 'hardirq' || c.kind === 'softirq',
      statements: ts.labels.map((l) => locate(l, lane)),
      cpus: cpusOf(r.world, r.abs, view),
      objects: objectsOf(r.abs),
      violations: r.violations.map((v: Violation) => ({ id: v.id, severity: v.severity, message: v.message })),
    };
    docSteps.push(doc);
    w = r.world;
    abs = r.abs;
  }
  const inv = o.violation ? invariant(o.violation.id as InvariantId) : null;
  const { segs } = traceSegments(run.steps, o.full);
  const m = cacheMachine(profile);
  const regions: Record<string, string[]> = {};
  for (const r of toJsonObject(m).states) regions[r.key] = leaves(r).map((s) => s.id);
  const doc: TraceDoc = {
    format: TRACE_FORMAT,
    kind: o.violation ? 'counterexample' : 'witness',
    title: o.title ?? (o.violation
      ? `violation ${o.violation.id}: ${o.violation.message}`
      : `shortest trace to nr + nr_irq = ${o.witness?.value ?? '?'} on cpu${o.witness?.cpu ?? 0}`),
    impl: sys.impl.name,
    description: sys.impl.description,
    scope: sys.scope,
    profile: {
      name: profile.name,
      max: profile.max,
      threshold: profile.threshold,
      capCompare: profile.capCompare,
      cached: profile.cached,
      sequentialBound: sequentialCapBound(profile),
      reachableBound: reachableCapBound(profile),
    },
    choices: [...o.choices],
    violation:
      o.violation && inv
        ? { id: inv.id, message: o.violation.message, claim: inv.claim, kernelRule: inv.kernelRule, source: inv.source, severity: inv.severity, step: o.choices.length }
        : null,
    interrupts: run.interrupts,
    preemptions: run.preemptions,
    kernelEvents: kernelEvents(run.steps),
    lanes: lanesOf(docSteps),
    boot,
    steps: docSteps,
    runs: segs.map((s) => ({ lane: s.lane, first: s.first + 1, last: s.last + 1, events: s.events, ...(s.returned ? { returned: s.returned } : {}) })),
    sources: locate.sources(),
    statechart: { regions },
    text: renderTrace(run.steps, o.violation, o.full),
  };
  if (o.witness) doc.witness = o.witness;
  return doc;
}

/** A document for a finding during boot: no step, no state to show, the invariant and the text. */
function bootOnly(o: TraceInput): TraceDoc {
  const { sys } = o;
  const p = sys.profile;
  const inv = o.violation ? invariant(o.violation.id as InvariantId) : null;
  const regions: Record<string, string[]> = {};
  for (const r of toJsonObject(cacheMachine(p)).states) regions[r.key] = leaves(r).map((s) => s.id);
  return {
    format: TRACE_FORMAT,
    kind: o.violation ? 'counterexample' : 'witness',
    title: o.title ?? (o.violation ? `violation ${o.violation.id}: ${o.violation.message}` : 'the state after boot'),
    impl: sys.impl.name,
    description: sys.impl.description,
    scope: sys.scope,
    profile: { name: p.name, max: p.max, threshold: p.threshold, capCompare: p.capCompare, cached: p.cached, sequentialBound: sequentialCapBound(p), reachableBound: reachableCapBound(p) },
    choices: [],
    violation: o.violation && inv ? { id: inv.id, message: o.violation.message, claim: inv.claim, kernelRule: inv.kernelRule, source: inv.source, severity: inv.severity, step: 0 } : null,
    interrupts: 0,
    preemptions: 0,
    kernelEvents: 0,
    lanes: [],
    boot: { cpus: [], objects: { held: {}, inFlight: [], inOp: {}, freed: [] } },
    steps: [],
    runs: [],
    sources: [],
    statechart: { regions },
    text: renderTrace([], o.violation),
  };
}

function leaves(s: JsonState): JsonState[] {
  return s.states.length ? s.states.flatMap(leaves) : [s];
}

/** Lanes by CPU, then task, softirq, hardirq, then the scheduler's. */
function lanesOf(steps: TraceStepDoc[]): TraceLane[] {
  const seen = new Map<string, TraceLane>();
  for (const s of steps) {
    if (seen.has(s.lane)) continue;
    const m = /^cpu(\d+)(?:\/(task(\d+)|softirq|hardirq))?$/.exec(s.lane);
    const cpu = m ? Number(m[1]) : s.cpu ?? 0;
    const ctx: TraceLane['ctx'] = !m || !m[2] ? 'sched' : m[3] !== undefined ? 'task' : (m[2] as 'softirq' | 'hardirq');
    seen.set(s.lane, { id: s.lane, cpu, ctx, task: m?.[3] !== undefined ? Number(m[3]) : null });
  }
  const rank = { task: 0, softirq: 1, hardirq: 2, sched: 3 };
  return [...seen.values()].sort((a, b) => a.cpu - b.cpu || rank[a.ctx] - rank[b.ctx] || (a.task ?? 0) - (b.task ?? 0));
}

function objectsOf(abs: AbstractState): TraceObjects {
  const out: TraceObjects = { held: {}, inFlight: [], inOp: {}, freed: [] };
  for (const o of abs.objects) {
    if (o.freed) out.freed.push(o.id);
    for (const p of o.places) {
      if (p.kind === 'held') (out.held[`task${p.task}`] ??= []).push(o.id);
      else if (p.kind === 'in-flight') out.inFlight.push(o.id);
      else if (p.kind === 'in-op') (out.inOp[p.who] ??= []).push(o.id);
    }
  }
  return out;
}

function contextsOf(w: World, cpu: number): TraceContext[] {
  const cs = w.cpus[cpu]!;
  const out: TraceContext[] = [];
  const frame = (f: Frame | null) => ({ op: f ? f.op : null, preempt: f?.preempt ?? 0, irqSaved: f?.irqSaved ?? 0, next: f ? f.next || null : null });
  w.tasks.forEach((t, i) => {
    if (t.cpu !== cpu) return;
    const onTop = cs.current === i && !cs.softirq && !cs.hardirq;
    // A task that is not current here and holds nothing is only parked on this CPU: not drawn.
    if (cs.current !== i && !t.frame) return;
    out.push({ ctx: 'task', who: `cpu${cpu}/task${i}`, ...frame(t.frame), running: onTop });
  });
  if (cs.softirq) out.push({ ctx: 'softirq', who: `cpu${cpu}/softirq`, ...frame(cs.softirq), running: !cs.hardirq });
  if (cs.hardirq) out.push({ ctx: 'hardirq', who: `cpu${cpu}/hardirq`, ...frame(cs.hardirq), running: true });
  return out;
}

function cpusOf(w: World, abs: AbstractState, view: MachineView): TraceCpu[] {
  return abs.caches.map((c) => {
    const cs = w.cpus[c.cpu]!;
    const contexts = contextsOf(w, c.cpu);
    const ms = view.state(w, c);
    const cpu: TraceCpu = {
      cpu: c.cpu,
      online: c.online,
      freeList: [...c.freeList],
      freeListIrq: [...c.freeListIrq],
      nr: c.nr,
      nrIrq: c.nrIrq,
      quiescent: c.quiescent,
      irqsOff: cs.irqsOff,
      current: cs.current,
      preemptOff: !!cs.hardirq || !!cs.softirq || contexts.some((x) => x.preempt > 0),
      contexts,
      machine: ms.machine,
      machineIds: ms.ids,
    };
    if (c.listFault) cpu.listFault = c.listFault;
    if (ms.note) cpu.machineNote = ms.note;
    return cpu;
  });
}

// ---- the statechart's active states ---------------------------------------------------------------

interface Phase {
  /** Which of the machine's operations the critical section is: an alloc's, or a put's (an alloc's error path puts too). */
  kind: 'alloc' | 'put';
  /** Decided by the statement that tests it (the cap test, the threshold test), or by a pop. */
  committed: string | null;
  spliced: boolean;
}

/**
 * Maps the implementation's state after a step to the active states of each CPU's statechart
 * (model/machine.ts). The derived regions (running, irqs, taskList, irqList, capacity) are the
 * machine's own guards evaluated on the CPU's lists, counters, irq state and contexts. The
 * task/softirq/hardirq regions follow the operation in progress as the machine's phase events
 * cut it (docs/trace-schema.md, "statechart states"):
 * - outside get_cpu()…put_cpu() (or local_irq_save), a task is `idle`;
 * - the section is a put's if the operation is a put or the section runs (or is about to run) the
 *   cap test, the statement naming the MAX macro (an alloc whose error path puts the object);
 *   else an alloc's;
 * - an alloc inside it is `splicing` while it holds local_irq_save, `pop` once it has spliced or
 *   popped, else what TASK_ALLOC_BEGIN would choose on the current lists (`pop` / `splice` /
 *   `miss`) until its threshold test decides `splice` or `miss`;
 * - a put inside it is `push` or `free`: what the cap test decided, or before the cap test has
 *   run, what it would decide on the current counters;
 * - a softirq handler is `put`; a hardirq handler `push` / `free` as a task's put.
 */
class MachineView {
  private readonly phases = new Map<string, Phase>();
  private readonly guards: Record<string, (a: { context: CacheContext; event: { type: string } }, p?: unknown) => boolean>;
  private readonly ids: Set<string>;

  constructor(
    private readonly profile: Profile,
    private readonly impl: Implementation,
  ) {
    const m = cacheMachine(profile);
    this.guards = m.implementations.guards as unknown as MachineView['guards'];
    this.ids = new Set<string>();
    const walk = (s: JsonState) => {
      this.ids.add(s.id);
      s.states.forEach(walk);
    };
    walk(toJsonObject(m));
  }

  private guard(name: string, context: CacheContext): boolean {
    const g = this.guards[name];
    return g ? g({ context, event: { type: 'TASK_STEP' } }, undefined) : false;
  }

  /** Records what the step by `who` decided: its threshold or cap test, a pop, a splice. */
  observe(who: string, ctx: string, labels: string[], prev: AbstractState, next: AbstractState, w: World): void {
    const m = /^cpu(\d+)\//.exec(who);
    if (!m || ctx === 'sched') return;
    const cpu = Number(m[1]);
    const key = this.keyOf(who);
    const f = this.frameOf(w, who);
    // A phase lasts one critical section: an alloc whose error path then puts the object gets a new one.
    if (!f || (f.preempt === 0 && f.irqSaved === 0)) {
      this.phases.delete(key);
      return;
    }
    const b = this.impl.cache;
    const text = labels.join('\n');
    const capTest = (x: string) => !!b && x.includes(b.maxMacro);
    let ph = this.phases.get(key);
    if (!ph) this.phases.set(key, (ph = { kind: f.op === 'free' || capTest(text) || capTest(f.next) ? 'put' : 'alloc', committed: null, spliced: false }));
    if (capTest(text) && ph.kind !== 'put') {
      ph.kind = 'put';
      ph.committed = null;
    }
    const before = prev.caches[cpu];
    const after = next.caches[cpu];
    if (!before || !after) return;
    if (ph.kind === 'alloc') {
      if (f.irqSaved > 0) ph.spliced = true;
      if (b && text.includes(b.thresholdMacro) && ph.committed === null) ph.committed = after.nrIrq >= this.profile.threshold ? 'splice' : 'miss';
      if (before.freeList.length > 0 && sameIds(after.freeList, before.freeList.slice(1))) ph.committed = 'pop';
    } else {
      if (capTest(text) && ph.committed === null) ph.committed = this.guard('capAllows', this.context(after, w)) ? 'push' : 'free';
    }
  }

  private keyOf(who: string): string {
    // A task keeps its operation across a migration: key it by the task alone.
    const t = /task(\d+)$/.exec(who);
    return t ? `task${t[1]}` : who;
  }

  private frameOf(w: World, who: string): Frame | null {
    const t = /^cpu(\d+)\/task(\d+)$/.exec(who);
    if (t) return w.tasks[Number(t[2])]?.frame ?? null;
    const i = /^cpu(\d+)\/(softirq|hardirq)$/.exec(who);
    if (i) return w.cpus[Number(i[1])]?.[i[2] as 'softirq' | 'hardirq'] ?? null;
    return null;
  }

  private context(c: AbsCache, w: World): CacheContext {
    const cs = w.cpus[c.cpu]!;
    return {
      ...initialContext(),
      freeList: c.freeList,
      freeListIrq: c.freeListIrq,
      nr: c.nr,
      nrIrq: c.nrIrq,
      irqsOff: cs.irqsOff,
      softirqObj: cs.softirq ? 0 : null,
      hardirqObj: cs.hardirq ? 0 : null,
    };
  }

  state(w: World, c: AbsCache): { machine: Record<string, string>; ids: string[]; note?: string } {
    const cs = w.cpus[c.cpu]!;
    const ctx = this.context(c, w);
    const machine: Record<string, string> = {};
    let note: string | undefined;
    const cached = this.profile.cached;
    // task
    let task = 'idle';
    const cur = cs.current >= 0 ? w.tasks[cs.current] : undefined;
    const f = cur?.frame;
    if (cached && f && (f.preempt > 0 || f.irqSaved > 0)) {
      const ph = this.phases.get(`task${cs.current}`);
      if ((ph?.kind ?? (f.op === 'free' ? 'put' : 'alloc')) === 'alloc') {
        let leaf: string;
        if (f.irqSaved > 0) leaf = 'splicing';
        else if (ph?.spliced) leaf = 'pop';
        else if (ph?.committed) leaf = ph.committed;
        else leaf = this.guard('taskListCached', ctx) ? 'pop' : this.guard('spliceable', ctx) ? 'splice' : 'miss';
        if (leaf === 'splice' && c.freeList.length > 0 && ph?.committed === 'splice')
          note = 'free_list was refilled from free_list_irq without local_irq_save: the statechart has no such transition (splice → splicing needs irqs off)';
        task = `preemptOff.alloc.${leaf}`;
      } else {
        const leaf = ph?.committed ?? (this.guard('capAllows', ctx) ? 'push' : 'free');
        task = `preemptOff.put.${leaf}`;
      }
    }
    machine.task = task;
    machine.softirq = cached && cs.softirq ? 'put' : 'idle';
    let hardirq = 'idle';
    if (cached && cs.hardirq) {
      const ph = this.phases.get(`cpu${c.cpu}/hardirq`);
      hardirq = ph?.committed ?? (this.guard('capAllows', ctx) ? 'push' : 'free');
    }
    machine.hardirq = hardirq;
    if (cached) {
      machine.running = cs.hardirq ? (cs.softirq ? 'hardirqOverSoftirq' : 'hardirqOverTask') : cs.softirq ? 'softirqOverTask' : 'task';
      machine.irqs = this.guard('irqsDisabled', ctx) ? 'off' : 'on';
      machine.taskList = this.guard('taskListNonEmpty', ctx) ? 'cached' : 'empty';
      machine.irqList = this.guard('nrIrqAtThreshold', ctx) ? 'spliceable' : 'belowThreshold';
      machine.capacity = this.guard('totalBelowMax', ctx)
        ? 'room'
        : this.guard('totalIsMax', ctx)
          ? 'atMax'
          : this.guard('totalOverMax', ctx)
            ? 'overMax'
            : 'overshoot';
    }
    const ids = Object.entries(machine)
      .map(([region, leaf]) => `cpu.${region}.${leaf}`)
      .filter((id) => this.ids.has(id));
    return note ? { machine, ids, note } : { machine, ids };
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- source positions -----------------------------------------------------------------------------


type Locator = ((label: string, lane: string) => TraceStatement) & { sources(): TraceSource[] };

/**
 * `function: statement (file:line)` or `function: statement` (a port's), split; a step of a
 * statement at --atomicity access ends with the access it ran (` [load cache->nr]`), kept apart
 * in `access` so that the statement is found in the source.
 */
export function splitLabel(label: string): { fn: string; text: string; file: string | null; line: number | null; access?: string } {
  const i = label.indexOf(': ');
  const fn = i > 0 && !/\s/.test(label.slice(0, i).replace(/\(\)$/, '')) ? label.slice(0, i) : '';
  let rest = fn ? label.slice(i + 2) : label;
  const acc = /\s\[((?:load|store|write|copy) [^\]]*)\]$/.exec(rest);
  if (acc) rest = rest.slice(0, acc.index);
  const access = acc ? { access: acc[1]! } : {};
  const at = /\s\(([\w.+-]+\.[ch]):(\d+)\)$/.exec(rest);
  return at ? { fn, text: rest.slice(0, at.index), file: at[1]!, line: Number(at[2]), ...access } : { fn, text: rest, file: null, line: null, ...access };
}

/**
 * Finds each statement in the source: the C post-image (its labels carry `file:line`), or the
 * port's .ts file (the `yield 'statement';` inside `port('function', ...)`: the implementation's
 * own file first, then the files it imports).
 */
function sourceLocator(ref: string, impl: Implementation, c: CBuild | null): Locator {
  const used = new Map<string, { fn: string; kind: 'c' | 'port'; file: string; lines: Set<number> }>();
  const portFiles = c ? [] : portFilesOf(ref, impl);
  const lastLine = new Map<string, number>();
  const fn = (label: string, lane: string): TraceStatement => {
    const s = splitLabel(label);
    // The statement as shown: with the access a step of it ran, at --atomicity access.
    const shown = s.access ? `${s.text} [${s.access}]` : s.text;
    if (!s.fn) return { fn: '', text: shown, file: null, line: null };
    if (s.file && s.line !== null) {
      const key = `c:${s.fn}`;
      const u = used.get(key) ?? { fn: s.fn, kind: 'c' as const, file: s.file, lines: new Set<number>() };
      u.lines.add(s.line);
      used.set(key, u);
      return { fn: s.fn, text: shown, file: s.file, line: s.line };
    }
    for (const pf of portFiles) {
      const body = pf.fns.get(s.fn);
      if (!body) continue;
      const hits = body.yields.filter((y) => y.text === s.text).map((y) => y.line);
      if (!hits.length) continue;
      // The same statement twice in one function (`put_cpu();` on both paths): the next one down
      // from where this context last was in it, else the first.
      const lk = `${lane}|${pf.file}|${s.fn}`;
      const from = lastLine.get(lk) ?? 0;
      const line = hits.find((h) => h > from) ?? hits[0]!;
      lastLine.set(lk, line);
      const key = `port:${pf.file}:${s.fn}`;
      const u = used.get(key) ?? { fn: s.fn, kind: 'port' as const, file: pf.file, lines: new Set<number>() };
      u.lines.add(line);
      used.set(key, u);
      return { fn: s.fn, text: shown, file: pf.file, line };
    }
    return { fn: s.fn, text: shown, file: null, line: null };
  };
  const sources = (): TraceSource[] => {
    const out: TraceSource[] = [];
    for (const u of used.values()) {
      if (u.kind === 'port') {
        const pf = portFiles.find((p) => p.file === u.file)!;
        const body = pf.fns.get(u.fn)!;
        out.push({ fn: u.fn, kind: 'port', file: u.file, firstLine: body.first, lines: pf.lines.slice(body.first - 1, body.last), added: [] });
      } else if (c) {
        const src = cSource(c, u.fn, u.file, [...u.lines]);
        if (src) out.push(src);
      }
    }
    return out;
  };
  return Object.assign(fn, { sources });
}

/** The lines of a C function of the post-image, or (a site inside a fragment) the lines around the statements that ran. */
function cSource(c: CBuild, fn: string, file: string, lines: number[]): TraceSource | null {
  const post = c.prog.post;
  const byLine = new Map<number, string>();
  const base = (f: string) => f.split('/').pop();
  for (const l of post.complete) if (base(l.file) === file) byLine.set(l.line, l.text);
  for (const fr of post.fragments) for (const l of fr.lines) if (base(l.file) === file && !byLine.has(l.line)) byLine.set(l.line, l.text);
  // A C file's lines are all "added" (reader.ts): only a diff's are worth marking.
  const added = [...(post.kind === 'c' ? [] : post.added)].flatMap((k) => {
    const m = /^(.*):(\d+)$/.exec(k);
    return m && base(m[1]!) === file ? [Number(m[2])] : [];
  });
  const def = c.prog.functions.get(fn);
  let first: number;
  let last: number;
  if (def && base(def.node.file) === file) {
    first = def.node.line;
    last = first + def.node.text.split('\n').length - 1;
  } else {
    first = Math.min(...lines) - 3;
    last = Math.max(...lines) + 3;
  }
  while (first < last && !byLine.has(first)) first++;
  while (last > first && !byLine.has(last)) last--;
  if (!byLine.has(first)) return null;
  const text: string[] = [];
  for (let l = first; l <= last; l++) text.push(byLine.get(l) ?? '');
  return { fn, kind: 'c', file, firstLine: first, lines: text, added: added.filter((l) => l >= first && l <= last) };
}

interface PortFile {
  /** Repository-relative for the checker's own ports, else the path as given. */
  file: string;
  lines: string[];
  fns: Map<string, { first: number; last: number; yields: { text: string; line: number }[] }>;
}

/** The implementation's own file (the one that names it), then the files it imports, breadth first. */
function portFilesOf(ref: string, impl: Implementation): PortFile[] {
  const start: string[] = [];
  if (/\.(ts|mts|cts|js|mjs)$/.test(ref) && existsSync(ref)) start.push(resolve(ref));
  else {
    for (const dir of ['impl/variants', 'impl/ports']) {
      const d = join(REPO_ROOT, dir);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d))
        if (f.endsWith('.ts') && readFileSync(join(d, f), 'utf8').includes(`name: '${impl.name}'`)) start.push(join(d, f));
    }
  }
  const order: string[] = [];
  const queue = [...start];
  while (queue.length && order.length < 64) {
    const p = queue.shift()!;
    if (order.includes(p) || !existsSync(p)) continue;
    order.push(p);
    const text = readFileSync(p, 'utf8');
    for (const m of text.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) queue.push(resolve(dirname(p), `${m[1]}.ts`));
  }
  // String constants a port yields by name (`yield OUT_FREE_DIO_BRANCH;`), `${X}` inside them resolved.
  const consts = new Map<string, string>();
  const texts = order.map((p) => readFileSync(p, 'utf8'));
  for (let pass = 0; pass < 2; pass++)
    for (const t of texts)
      for (const m of t.matchAll(/(?:export )?const (\w+) = (['`])((?:[^'`\\]|\\.)*)\2;/g))
        consts.set(m[1]!, m[3]!.replace(/\$\{(\w+)\}/g, (x, n: string) => consts.get(n) ?? x).replace(/\\(.)/g, '$1'));
  return order.map((p, i) => parsePortFile(p, texts[i]!, consts)).filter((x) => x.fns.size > 0);
}

function parsePortFile(path: string, text: string, consts: Map<string, string>): PortFile {
  const lines = text.split('\n');
  const fns: PortFile['fns'] = new Map();
  const re = /port\(\s*'([\w]+)'\s*,\s*function\*/g;
  for (const m of text.matchAll(re)) {
    const startIdx = m.index!;
    // The `/** Port of ... */` header belongs to the function: start there when it is right above.
    let first = text.slice(0, startIdx).split('\n').length;
    while (first > 1 && /^\s*(\/\*\*|\*|\*\/)/.test(lines[first - 2] ?? '')) first--;
    const open = text.indexOf('{', text.indexOf(')', text.indexOf('function*', startIdx)));
    const end = closingBrace(text, open);
    const last = text.slice(0, end).split('\n').length;
    const yields: { text: string; line: number }[] = [];
    const startLine = text.slice(0, open).split('\n').length;
    for (let l = startLine; l <= last; l++) {
      const src = lines[l - 1] ?? '';
      for (const y of src.matchAll(/yield '((?:[^'\\]|\\.)*)'/g)) yields.push({ text: y[1]!.replace(/\\(.)/g, '$1'), line: l });
      for (const y of src.matchAll(/yield (\w+);/g)) if (consts.has(y[1]!)) yields.push({ text: consts.get(y[1]!)!, line: l });
    }
    if (!fns.has(m[1]!)) fns.set(m[1]!, { first, last, yields });
  }
  const rel = path.startsWith(REPO_ROOT + '/') ? path.slice(REPO_ROOT.length + 1) : path;
  return { file: rel, lines, fns };
}

/** The `}` that closes the `{` at `open`, skipping strings and comments (yielded C has braces of its own). */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      for (i++; i < text.length && text[i] !== ch; i++) if (text[i] === '\\') i++;
    } else if (ch === '/' && text[i + 1] === '/') i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
    else if (ch === '/' && text[i + 1] === '*') i = text.indexOf('*/', i + 2) < 0 ? text.length : text.indexOf('*/', i + 2) + 1;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i;
  }
  return text.length - 1;
}

/** The document as `--json` prints it inside a report, and html.ts embeds it. */
export function traceJson(doc: TraceDoc): string {
  return JSON.stringify(doc);
}
