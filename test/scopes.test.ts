/**
 * Every knob of a scope takes effect. For each knob (preemptions, migration, objects in flight,
 * completion contexts, atomic handlers, hotplug, allocation failures, prefill, ops, CPUs and
 * tasks), the scope with the knob off is searched exhaustively and never reaches a witness state
 * that only the knob makes possible; with it on, the witness is reached (its trace is printed)
 * and the explorer's state count differs. The scheduler's own rules are checked on every state
 * of a search that preempts and migrates freely: a task runs on one CPU at most, the budget
 * bounds preemptions, an idle CPU still takes interrupts. And each named scope reaches the
 * witness of every knob it turns on, so that no description claims what its scope cannot do.
 *
 * The searches here walk System.enabled()/step() themselves (a BFS deduplicated by the explorer's
 * fingerprints), because a witness may need what a state does not keep: which CPU a task ran its
 * previous statement on.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../conformance/explorer/explore.js';
import { Fingerprinter } from '../conformance/explorer/fingerprint.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { CHECK_SCOPES } from '../conformance/c/run.js';
import { System, type Choice, type Scope, type StepReport } from '../conformance/system.js';
import type { World } from '../impl/kernel/world.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';

/** What a step did, and what the path before it knew: the CPU each task ran its last statement on (-1: none yet). */
interface At {
  r: StepReport;
  c: Choice;
  from: World;
  lastCpu: readonly number[];
}
type Witness = (x: At) => boolean;

interface Survey {
  /** Distinct states (fingerprints with symmetry, as the explorer counts them) plus, with `track`, last-CPU vectors. */
  states: number;
  /** Whether the search ran out of states (false: it stopped at the witness or at maxStates). */
  exhausted: boolean;
  /** The events of a shortest path to the first witness step, or null. */
  trace: string[] | null;
  /** Choice kinds taken anywhere. */
  kinds: Set<Choice['kind']>;
}

/**
 * A BFS over the scope's states that looks for a step the witness accepts. Stops there unless
 * `all`. It does not judge the steps (the explorer's tests do): the scopes here conform.
 * `track` keys states by the last CPU each task ran a statement on as well, for witnesses that
 * read it.
 */
function survey(scope: Scope, witness: Witness, o: { all?: boolean; track?: boolean; maxStates?: number } = {}): Survey {
  const sys = new System(iomapV1, { ...scope, profile: iomapV1.profile });
  const fp = new Fingerprinter(true);
  const init = sys.initial();
  expect(init.violations.filter((v) => v.severity === 'error')).toEqual([]);
  type Node = { w: World; abs: typeof init.abs; lastCpu: number[]; parent: number; event: string };
  const nodes: Node[] = [{ w: init.world, abs: init.abs, lastCpu: init.world.tasks.map(() => -1), parent: -1, event: 'boot' }];
  const key = (w: World, lastCpu: number[]) => {
    fp.fingerprint(w);
    return `${fp.hi}:${fp.lo}${o.track ? `:${lastCpu.join(',')}` : ''}`;
  };
  const seen = new Set([key(init.world, nodes[0]!.lastCpu)]);
  const kinds = new Set<Choice['kind']>();
  let trace: string[] | null = null;
  const pathTo = (i: number, last: string) => {
    const out = [last];
    for (; i > 0; i = nodes[i]!.parent) out.push(nodes[i]!.event);
    return out.reverse();
  };
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    for (const c of sys.enabled(n.w)) {
      const r = sys.step(n.w, n.abs, c);
      kinds.add(c.kind);
      const st = r.abs.step;
      let lastCpu = n.lastCpu;
      if (st && st.ctx === 'task' && st.task >= 0 && (c.kind === 'step' || c.kind === 'start')) {
        lastCpu = lastCpu.slice();
        lastCpu[st.task] = st.cpu;
      }
      const label = r.labels[r.labels.length - 1];
      const event = label && !label.includes(r.event) ? `${r.event} [${r.who}: ${label}]` : r.event;
      if (trace === null && witness({ r, c, from: n.w, lastCpu: n.lastCpu })) {
        trace = pathTo(i, event);
        if (!o.all) return { states: seen.size, exhausted: false, trace, kinds };
      }
      const k = key(r.world, lastCpu);
      if (seen.has(k)) continue;
      seen.add(k);
      nodes.push({ w: r.world, abs: r.abs, lastCpu, parent: i, event });
      if (o.maxStates && seen.size >= o.maxStates) return { states: seen.size, exhausted: false, trace, kinds };
    }
    // The expanded world is not read again.
    nodes[i] = { ...n, w: undefined as unknown as World, abs: undefined as unknown as typeof init.abs };
  }
  return { states: seen.size, exhausted: true, trace, kinds };
}

// The explorer's count of a conforming scope: DFS stores the states BFS does, sooner.
const states = (scope: Scope) => {
  const r = explore({ impl: iomapV1, scope, strategy: 'dfs' });
  expect(r.verdict).toBe('conforms');
  return r.stats.states;
};

/**
 * The knob off: an exhaustive search never reaches the witness. On: it is reached, and the
 * explorer's count differs. Returns the trace to the witness.
 */
function takesEffect(name: string, off: Scope, on: Scope, witness: Witness, o: { track?: boolean } = {}): string[] {
  const without = survey(off, witness, { ...o, all: true });
  expect(without.exhausted).toBe(true);
  expect(without.trace).toBeNull();
  const withIt = survey(on, witness, o);
  expect(withIt.trace, `${name}: the witness is not reached with the knob on`).not.toBeNull();
  const [a, b] = [states(off), states(on)];
  console.log(`${name}: ${a} states off, ${b} on; witness in ${withIt.trace!.length} steps:\n  ${withIt.trace!.join('\n  ')}`);
  expect(b).not.toBe(a);
  return withIt.trace!;
}

/** One CPU, one task, one op, nothing in flight, no prefill: each test turns on what it is about. */
function base(o: Partial<Scope>): Scope {
  return {
    name: 'knob',
    description: 'a scope for one knob',
    cpus: 1,
    taskCpus: [0],
    ops: 1,
    taskOps: ['alloc', 'free', 'submit'],
    prefill: 0,
    inflight: 0,
    completers: ['hardirq'],
    atomicIrq: true,
    preemptions: 0,
    migration: false,
    hotplug: false,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
    ...o,
  };
}

/** A task's statement on another CPU than its previous statement of the same operation. */
const ranOnAnotherCpu: Witness = ({ r, c, lastCpu }) => {
  const st = r.abs.step;
  return c.kind === 'step' && !!st && st.ctx === 'task' && lastCpu[st.task]! >= 0 && lastCpu[st.task] !== st.cpu;
};

/** A task taken off its CPU with an operation in progress. */
const preemptedMidOp: Witness = ({ c, from, r }) =>
  c.kind === 'switch' && from.tasks.some((t, i) => t.frame !== null && from.cpus.some((cs, cpu) => cs.current === i && r.world.cpus[cpu]!.current !== i));

describe('every scope knob takes effect', () => {
  it('preemptions (smp-small at 1 op): with 0 no switch is ever enabled; with 1 a task is preempted mid-operation and finishes on the other CPU', () => {
    // One op per task (`--ops 1`): once one task has finished, the other is taken off its CPU
    // mid-operation and moves to the idle one. smp-small's own 2 ops (26,505 states at 0
    // preemptions, 40,553 at 1) showed no more of the knob, in seconds.
    const smp = scopeWith(SCOPES['smp-small']!, { ops: 1 });
    const none = survey({ ...smp, preemptions: 0 }, ({ c }) => c.kind === 'switch', { all: true });
    expect(none.exhausted).toBe(true);
    expect(none.trace).toBeNull();
    expect(none.kinds.has('switch')).toBe(false);
    const one = survey(smp, ranOnAnotherCpu, { track: true });
    expect(one.trace).not.toBeNull();
    console.log(`smp-small --ops 1: ${none.states} states at 0 preemptions (no switch); a migration at 1:\n  ${one.trace!.join('\n  ')}`);
    expect(one.trace!.some((e) => /task\d preempted on cpu\d; migrates to cpu\d/.test(e))).toBe(true);
    // The CLI's override, as `explore --preemptions` applies it, changes what the explorer counts.
    const [zero, one1] = [states(scopeWith(smp, { preemptions: 0 })), states(smp)];
    console.log(`smp-small --ops 1: the explorer stores ${zero} states at --preemptions 0, ${one1} at 1`);
    expect(one1).toBeGreaterThan(zero);
  });

  it('preemptions (one CPU, two tasks): only a preemption puts two operations in progress on one CPU', () => {
    const off = base({ taskCpus: [0, 0], taskOps: ['alloc'] });
    const trace = takesEffect('preemptions', off, { ...off, preemptions: 1 }, ({ r }) => r.world.tasks.every((t) => t.frame !== null));
    expect(trace.some((e) => /cpu0: task0 preempted, task1 runs/.test(e))).toBe(true);
  });

  it('migration: only with it does a task run a statement on one CPU and its next statement on another', () => {
    const off = { ...SCOPES['smp-small']!, ops: 1, taskOps: ['alloc' as const], inflight: 0, migration: false };
    takesEffect('migration', off, { ...off, migration: true }, ranOnAnotherCpu, { track: true });
  });

  it('migration of a waiting task: only with it does an idle CPU take a task from another CPU’s runqueue', () => {
    const off = base({ cpus: 2, taskCpus: [0, 0], taskOps: ['alloc'] });
    const trace = takesEffect('runqueue migration', off, { ...off, migration: true }, ({ r }) => r.abs.step?.ctx === 'task' && r.abs.step.task === 1 && r.abs.step.cpu === 1);
    expect(trace.some((e) => /task1 migrates from cpu0's runqueue to cpu1 \(idle\)/.test(e))).toBe(true);
  });

  it('objects in flight: only with one is a completion taken', () => {
    const off = base({});
    takesEffect('inflight', off, { ...off, inflight: 1 }, ({ c }) => c.kind === 'hardirq');
  });

  it('completers: each completion context completes an object only when listed, the task one included', () => {
    const off = base({ ops: 0, inflight: 1, completers: ['hardirq'] });
    takesEffect('completers softirq', off, { ...off, completers: ['hardirq', 'softirq'] }, ({ c }) => c.kind === 'softirq');
    takesEffect('completers hardirq', { ...off, completers: ['softirq'] }, { ...off, completers: ['softirq', 'hardirq'] }, ({ c }) => c.kind === 'hardirq');
    const task = base({ ops: 1, inflight: 1, taskOps: ['alloc', 'complete'], completers: ['hardirq'] });
    takesEffect('completers task', task, { ...task, completers: ['hardirq', 'task'] }, ({ c, r }) => c.kind === 'start' && c.op === 'complete' && r.abs.step?.ctx === 'task');
  });

  it('atomicIrq false: only then does a hardirq enter inside a softirq', () => {
    const off = base({ ops: 0, inflight: 2, completers: ['hardirq', 'softirq'] });
    takesEffect('atomicIrq', off, { ...off, atomicIrq: false }, ({ r }) => r.world.cpus.some((cs) => cs.softirq !== null && cs.hardirq !== null));
  });

  it('hotplug: only with it does a CPU go offline', () => {
    const off = base({ cpus: 2, taskCpus: [0, 1], taskOps: ['alloc'] });
    takesEffect('hotplug', off, { ...off, hotplug: true }, ({ r }) => r.world.cpus.some((cs) => !cs.online));
    // The dead CPU's task waits on cpu0 and runs there once cpu0's task has finished (no preemption).
    const moved = survey({ ...off, hotplug: true }, ({ r, from }) => !from.cpus[1]!.online && r.abs.step?.ctx === 'task' && r.abs.step.task === 1 && r.abs.step.cpu === 0);
    expect(moved.trace).not.toBeNull();
  });

  it('allocFailures: only with a budget does an allocation fail', () => {
    const off = base({ taskOps: ['alloc'] });
    const trace = takesEffect('allocFailures', off, { ...off, allocFailures: 1 }, ({ r }) => r.world.allocFails > 0);
    expect(trace[trace.length - 1]).toMatch(/the allocation fails \(NULL\)/);
  });

  it('prefill: only a prefilled cache gives the first alloc a hit', () => {
    const off = base({ taskOps: ['alloc'] });
    takesEffect('prefill', off, { ...off, prefill: 1 }, ({ r }) => r.abs.step?.done?.op === 'alloc' && r.abs.step.done.kind === 'hit');
  });

  it('ops: only with two does a task start a second operation', () => {
    const off = base({ taskOps: ['alloc'] });
    takesEffect('ops', off, { ...off, ops: 2 }, ({ r }) => r.world.tasks.some((t) => t.opsDone === 2));
  });

  it('cpus and tasks (the CLI overrides): a second CPU runs statements, a second task runs its own', () => {
    const one = base({ taskOps: ['alloc'] });
    takesEffect('cpus', one, scopeWith(one, { cpus: 2 }), ({ r }) => r.abs.step?.cpu === 1 && r.labels.length > 0 && r.abs.step.ctx === 'task');
    takesEffect('tasks', { ...one, preemptions: 1 }, scopeWith({ ...one, preemptions: 1 }, { tasks: 2 }), ({ r }) => r.abs.step?.task === 1);
  });
});

describe('the scheduler', () => {
  /** Two CPUs, a task on each, preemptions enough for a task to migrate onto a CPU whose task it preempts. */
  const busy = base({ cpus: 2, taskCpus: [0, 1], taskOps: ['alloc'], preemptions: 2, migration: true });

  it('a task is current on one CPU at most, where it last ran; preemptions stay within the budget and are counted per task taken off a CPU', () => {
    let checked = 0;
    let double = 0;
    const s = survey(
      busy,
      ({ r, c, from }) => {
        const w = r.world;
        w.tasks.forEach((t, i) => {
          const on = w.cpus.flatMap((cs, cpu) => (cs.online && cs.current === i ? [cpu] : []));
          expect(on.length).toBeLessThanOrEqual(1);
          if (on.length) expect(t.cpu).toBe(on[0]);
        });
        expect(w.preemptions).toBeLessThanOrEqual(busy.preemptions);
        if (c.kind === 'switch') {
          // A running task taken off its CPU is one; the current task of the CPU it arrives on, if it has work left, another.
          const t = c.task;
          const wasRunning = from.cpus.some((cs) => cs.current === t);
          const prev = from.cpus[c.cpu]!.current;
          const displaced = prev >= 0 && (from.tasks[prev]!.frame !== null || from.tasks[prev]!.opsDone < busy.ops);
          expect(w.preemptions - from.preemptions).toBe((wasRunning ? 1 : 0) + (displaced ? 1 : 0));
          if (wasRunning && displaced) double++;
          // The task runs where it was put; the CPU it left is idle.
          expect(w.cpus[c.cpu]!.current).toBe(t);
          if (wasRunning) expect(from.cpus.findIndex((cs) => cs.current === t)).not.toBe(c.cpu);
        }
        checked++;
        return false;
      },
      { all: true },
    );
    expect(s.exhausted).toBe(true);
    expect(double).toBeGreaterThan(0);
    console.log(`scheduler: ${s.states} states, ${checked} steps checked, ${double} migrations that preempt the task on the CPU they arrive on`);
  });

  it('an idle CPU still takes interrupts, and a task preempted with irqs or preemption off is never taken', () => {
    const s = survey({ ...busy, inflight: 1 }, ({ c, from }) => c.kind === 'hardirq' && from.cpus[c.cpu]!.current < 0 && from.tasks.every((t) => t.opsDone > 0));
    expect(s.trace).not.toBeNull();
    console.log(`idle CPU takes a hardirq:\n  ${s.trace!.join('\n  ')}`);
    const never = survey(
      busy,
      ({ c, from }) => {
        if (c.kind !== 'switch') return false;
        const on = from.cpus.findIndex((cs) => cs.current === c.task);
        const moved = on >= 0 ? from.tasks[c.task]!.frame : null;
        const cur = from.cpus[c.cpu]!.current;
        const displacedFrame = cur >= 0 ? from.tasks[cur]!.frame : null;
        return (moved !== null && (moved.preempt > 0 || from.cpus[on]!.irqsOff)) || (displacedFrame !== null && (displacedFrame.preempt > 0 || from.cpus[c.cpu]!.irqsOff));
      },
      { all: true },
    );
    expect(never.trace).toBeNull();
  });
});

describe('the named scopes', () => {
  /** The explorer's scopes and `check`'s defaults. */
  const NAMED: Record<string, Scope> = { ...SCOPES, ...Object.fromEntries(CHECK_SCOPES.map((x) => [x.name, x])) };
  it('each knob a named scope turns on can take effect there', () => {
    for (const s of Object.values(NAMED)) {
      const tasks = s.taskCpus.length;
      if (s.migration) expect(s.cpus > 1 && s.preemptions > 0, `${s.name}: migration without a second CPU or a preemption`).toBe(true);
      if (s.preemptions > 0) expect(tasks > s.cpus || (s.migration && s.cpus > 1), `${s.name}: preemptions with no task to switch to`).toBe(true);
      if (s.hotplug) expect(s.cpus, `${s.name}: hotplug with one CPU`).toBeGreaterThan(1);
      expect(s.completers.includes('task'), `${s.name}: task completions need the 'complete' op and the 'task' completer`).toBe(s.taskOps.includes('complete'));
      if (!s.atomicIrq) expect(s.completers.includes('softirq') && s.completers.includes('hardirq'), `${s.name}: interleaved handlers need both`).toBe(true);
    }
  });

  /** Per knob: whether the scope turns it on, and the witness only it makes possible there. */
  const KNOBS: { knob: string; on: (s: Scope) => boolean; witness: (s: Scope) => Witness }[] = [
    { knob: 'preemptions', on: (s) => s.preemptions > 0, witness: () => preemptedMidOp },
    // A task running a statement on another CPU than the one it booted on.
    {
      knob: 'migration',
      on: (s) => s.migration,
      witness: (s) => ({ r, c }) => (c.kind === 'step' || c.kind === 'start') && r.abs.step?.ctx === 'task' && r.abs.step.task >= 0 && r.abs.step.cpu !== s.taskCpus[r.abs.step.task],
    },
    { knob: 'hotplug', on: (s) => s.hotplug, witness: () => ({ r }) => r.world.cpus.some((cs) => !cs.online) },
    { knob: 'allocFailures', on: (s) => (s.allocFailures ?? 0) > 0, witness: () => ({ r }) => r.world.allocFails > 0 },
    { knob: 'atomicIrq false', on: (s) => !s.atomicIrq, witness: () => ({ r }) => r.world.cpus.some((cs) => cs.softirq !== null && cs.hardirq !== null) },
    { knob: 'task completions', on: (s) => s.completers.includes('task'), witness: () => ({ c }) => c.kind === 'start' && c.op === 'complete' },
  ];

  for (const name of Object.keys(NAMED)) {
    it(`${name} reaches the witness of each knob it turns on`, () => {
      const s = NAMED[name]!;
      for (const k of KNOBS.filter((k) => k.on(s))) {
        // Witnesses are shallow; the bound only keeps the large scopes (smp) from running on.
        const r = survey(s, k.witness(s), { maxStates: 100_000 });
        expect(r.trace, `${name}: ${k.knob} never takes effect`).not.toBeNull();
        console.log(`${name}: ${k.knob} in ${r.trace!.length} steps (${r.states} states searched): ${r.trace![r.trace!.length - 1]}`);
      }
    });
  }
});
