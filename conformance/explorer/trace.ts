/**
 * Choice vectors to traces, and traces to text a kernel reader can check against the C.
 *
 * A choice vector is the only thing a search keeps of a path: each entry is an index into
 * System.enabled() at that point. Re-running it from boot reproduces every statement, so the
 * explorer, the minimiser and `dio-cache replay` all produce their traces through `runChoices`.
 */
import { showValue } from '../../impl/kernel/values.js';
import type { World } from '../../impl/kernel/world.js';
import type { AbsCache, AbstractState } from '../../model/abstract.js';
import type { System, Violation } from '../system.js';
import type { TraceStep } from './types.js';

export interface ChoiceRun {
  steps: TraceStep[];
  world: World;
  abs: AbstractState;
  /** Violations of the last step (or of boot for an empty vector). */
  violations: Violation[];
  /** Interrupts and preemptions taken on the path. */
  interrupts: number;
  preemptions: number;
  /** The vector asked for a choice that is not enabled at that point (index, enabled count). */
  diverged?: { at: number; enabled: number };
}

/** The lists and counters of one CPU's cache: `free_list [#3 #4] nr 2 · free_list_irq [] nr_irq 0`. */
export function showCache(c: AbsCache | undefined): string {
  if (!c) return '';
  const ids = (l: number[]) => `[${l.map((i) => `#${i}`).join(' ')}]`;
  return `free_list ${ids(c.freeList)} nr ${c.nr} · free_list_irq ${ids(c.freeListIrq)} nr_irq ${c.nrIrq}`;
}

/** Re-runs `choices` from boot. Stops early at a violation of the given severity if asked. */
export function runChoices(sys: System, choices: readonly number[]): ChoiceRun {
  const init = sys.initial();
  let w = init.world;
  let abs = init.abs;
  let viols: Violation[] = init.violations;
  const steps: TraceStep[] = [];
  for (let i = 0; i < choices.length; i++) {
    const en = sys.enabled(w);
    const ci = choices[i]!;
    const c = en[ci];
    if (!c) return { steps, world: w, abs, violations: viols, interrupts: w.interrupts, preemptions: w.preemptions, diverged: { at: i, enabled: en.length } };
    const r = sys.step(w, abs, c);
    const st = r.abs.step;
    const cpu = st?.cpu ?? 0;
    const ts: TraceStep = { choice: ci, who: r.who, event: r.event, labels: r.labels, cpu, after: showCache(r.abs.caches[cpu]) };
    const d = st?.done;
    if (d) ts.returned = d.op === 'alloc' ? `returned ${d.result ? `#${d.result}` : 'NULL'}` : `${d.op} done (${d.kind})`;
    if (st?.fault) ts.returned = `oops: ${st.fault.msg}`;
    steps.push(ts);
    w = r.world;
    abs = r.abs;
    viols = r.violations;
  }
  return { steps, world: w, abs, violations: viols, interrupts: w.interrupts, preemptions: w.preemptions };
}

/** Kernel-level events on a path: task operations started plus interrupts taken (plus switches). */
export function kernelEvents(steps: readonly TraceStep[]): number {
  return steps.filter((s) => !s.event.endsWith('next statement')).length;
}

/** One run of consecutive steps of one context, as the text report prints it on one line (0-based step indices). */
export interface TraceSegment {
  lane: string;
  first: number;
  last: number;
  /** The operation or interrupt the run starts with, if it starts one. */
  events: string[];
  labels: string[];
  returned?: string;
  /** The affected CPU's lists after the run's last step. */
  after: string;
}

/** The lanes in order of first appearance, and the runs the text report collapses (every step its own with `full`). */
export function traceSegments(steps: readonly TraceStep[], full = false): { lanes: string[]; segs: TraceSegment[] } {
  const lanes: string[] = [];
  for (const s of steps) if (!lanes.includes(laneOf(s))) lanes.push(laneOf(s));
  const segs: TraceSegment[] = [];
  steps.forEach((s, i) => {
    const lane = laneOf(s);
    const prev = segs[segs.length - 1];
    const startsOp = !s.event.endsWith('next statement');
    if (!full && prev && prev.lane === lane && !startsOp && !prev.returned) {
      prev.last = i;
      prev.labels.push(...s.labels);
      prev.after = s.after ?? '';
      if (s.returned) prev.returned = s.returned;
      return;
    }
    const seg: TraceSegment = { lane, first: i, last: i, events: startsOp ? [s.event] : [], labels: [...s.labels], after: s.after ?? '' };
    if (s.returned) seg.returned = s.returned;
    segs.push(seg);
  });
  return { lanes, segs };
}

/**
 * One lane per CPU/context, one line per run of consecutive statements of one context: what it
 * started, the last statement it executed before someone else ran (or its return), and the
 * affected CPU's lists after it. `full` prints every statement instead.
 */
export function renderTrace(steps: readonly TraceStep[], broken: { id: string; message: string } | null, full = false): string[] {
  const { lanes, segs } = traceSegments(steps, full);
  const out: string[] = [`lanes: ${lanes.map((l, i) => `${' '.repeat(i * 2)}${l}`).join(' | ')}`];
  const width = Math.max(...lanes.map((l) => l.length));
  let shown = '';
  for (const g of segs) {
    const li = lanes.indexOf(g.lane);
    const n = g.labels.length;
    const stmt = g.labels[n - 1] ?? '';
    // A schedule() step's label already says what happened.
    const what = g.events.length && !stmt.includes(g.events[0]!) ? `${g.events.join(', ').replace(/^task\d+ /, '').replace(/^cpu\d+ /, '')}: ` : '';
    const more = n > 1 ? ` (${n} statements)` : '';
    const ret = g.returned ? ` → ${g.returned}` : '';
    const idx = g.first === g.last ? `${g.first + 1}` : `${g.first + 1}-${g.last + 1}`;
    out.push(`${idx.padStart(7)}  ${' '.repeat(li * 2)}${g.lane.padEnd(width)}  ${what}${stmt}${more}${ret}`);
    // The lists only when they changed: the reader's eye goes to the steps that moved objects.
    if (g.after && g.after !== shown) out.push(`${' '.repeat(9 + li * 2 + width + 2)}⤷ ${g.after}`);
    shown = g.after;
  }
  if (steps.length === 0) out.push('        (no step: the state after boot already breaks it)');
  if (broken) out.push(`  ✗ ${broken.id}: ${broken.message}`);
  return out;
}

function laneOf(s: TraceStep): string {
  // `cpu0` for a schedule() step: attribute it to the CPU.
  return s.who;
}

/** Value rendering shared with reports. */
export { showValue };
