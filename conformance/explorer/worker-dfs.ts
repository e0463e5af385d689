/**
 * One worker thread of a parallel DFS (parallel-dfs.ts): a depth-first search of its own that
 * inserts into the visited set every worker shares.
 *
 * Why every state is still expanded exactly once: a worker pushes a state onto its stack only if
 * its own insert of that state's fingerprint won, and it takes every choice of every state it
 * pushes, or hands a range of those choices to another worker, which takes them instead. A state
 * another worker inserted is that worker's to expand. So the states stored, and the transitions
 * taken, are those of the sequential DFS; only who takes them differs.
 *
 * The worker runs in slices of a few milliseconds so that the main thread's messages get in
 * between: `give` (split off the oldest unexplored choices for an idle worker) and, while the
 * table grows, `table` and `resume`. It runs on a pooled thread (protocol.ts) whose entry,
 * worker.ts, hands it a `start` whose strategy is dfs; the reply to `finish` ends the search.
 */
import { parentPort } from 'node:worker_threads';
import type { Implementation } from '../../impl/interface.js';
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import { System, type Choice, type Violation } from '../system.js';
import { parentAbs } from './search.js';
import { SharedFingerprintSet, type Fingerprinter } from './fingerprint.js';
import { loadImplementation } from './replay.js';
import {
  C_DEPTH,
  C_PAUSE,
  C_STATES,
  C_STOP,
  C_TRANSITIONS,
  STOP_MAX_STATES,
  STOP_VIOLATION,
  claimRoot,
  revive,
  type DfsFound,
  type DfsUnit,
  type DfsWitness,
  type FromDfsWorker,
  type Session,
  type ToDfsWorker,
  type WorkerInit,
  workerFingerprinter,
} from './protocol.js';

const port = parentPort!;

/** A state on the stack: choices [i, end) are still to take (`end` shrinks when some are given away). */
interface Frame {
  w: World;
  abs: AbstractState;
  choices: Choice[];
  i: number;
  end: number;
}

type Status = 'more' | 'idle' | 'paused' | 'full';

class DfsWorker {
  private readonly fp: Fingerprinter;
  private seen: SharedFingerprintSet;
  private readonly control: Int32Array;
  private stack: Frame[] = [];
  /** The choice vector from boot to stack[0]. */
  private base: number[] = [];
  private units: DfsUnit[] = [];
  /** A new state whose insert found the table full: retried once the table has grown. */
  private pending: { w: World; abs: AbstractState; hi: number; lo: number } | null = null;
  private found = new Map<string, DfsFound>();
  private witnesses: DfsWitness[] = [];
  private maxPerCpu: number[] = [];
  private transitions = 0;
  /** Transitions and new states not yet added to the shared counters (published every 64 steps). */
  private unpublished = 0;
  private unpublishedStates = 0;
  private depth = 0;
  private peakOpen = 0;

  readonly sequential: boolean = false;

  constructor(
    readonly sys: System,
    private readonly init: WorkerInit,
  ) {
    this.fp = workerFingerprinter(this.init);
    this.seen = new SharedFingerprintSet(this.init.table);
    this.control = new Int32Array(this.init.control);
    if (this.init.id !== 0) return;
    // Worker 0 owns the root; the others start idle and are given work.
    const root = claimRoot(sys, this.fp, this.seen, this.control);
    if (!root) {
      this.sequential = true;
      return;
    }
    this.noteExtremes(root.abs);
    this.stack.push(this.frame(root.world, parentAbs(root.abs), 0, -1));
    this.peakOpen = 1;
  }

  private frame(w: World, abs: AbstractState, from: number, to: number): Frame {
    const choices = this.sys.enabled(w);
    return { w, abs, choices, i: from, end: to < 0 ? choices.length : Math.min(to, choices.length) };
  }

  /** The choice vector to stack[k]. */
  private pathOf(k: number): number[] {
    const p = this.base.slice();
    for (let j = 0; j < k; j++) p.push(this.stack[j]!.i - 1);
    return p;
  }

  /** The choice vector of the step just taken from the top of the stack. */
  private pathOfStep(): number[] {
    return this.pathOf(this.stack.length);
  }

  /** A new largest total on a quiescent CPU, reached by the step just taken (or by boot). */
  private noteExtremes(abs: AbstractState): void {
    for (const c of abs.caches) {
      if (!c.quiescent) continue;
      const total = c.freeList.length + c.freeListIrq.length;
      if (total <= (this.maxPerCpu[c.cpu] ?? -1)) continue;
      this.maxPerCpu[c.cpu] = total;
      if (total > 0) this.witnesses.push({ value: total, cpu: c.cpu, choices: this.pathOfStep() });
    }
  }

  private record(v: Violation, choices: number[]): void {
    const had = this.found.get(v.id);
    if (!had || had.choices.length > choices.length) this.found.set(v.id, { v, choices });
  }

  addUnits(units: DfsUnit[]): void {
    for (const u of units) this.units.push({ ...u, w: revive(u.w) });
  }

  private startUnit(u: DfsUnit): void {
    this.base = u.path;
    this.stack.push(this.frame(u.w, parentAbs(this.sys.abs(u.w)), u.from, u.to));
  }

  /** Adds this worker's counts to the shared ones (progress, maxStates); also before it reports. */
  publish(): void {
    Atomics.add(this.control, C_TRANSITIONS, this.unpublished);
    this.unpublished = 0;
    if (this.unpublishedStates > 0) {
      const states = Atomics.add(this.control, C_STATES, this.unpublishedStates) + this.unpublishedStates;
      this.unpublishedStates = 0;
      if (this.init.maxStates && states >= this.init.maxStates) Atomics.compareExchange(this.control, C_STOP, 0, STOP_MAX_STATES);
    }
  }


  private push(w: World, abs: AbstractState): void {
    this.stack.push(this.frame(w, abs, 0, -1));
    this.unpublishedStates++;
    const d = this.base.length + this.stack.length - 1;
    if (d > this.depth) {
      this.depth = d;
      // Rarely taken: a new depth record of this worker.
      for (let cur = Atomics.load(this.control, C_DEPTH); cur < d; cur = Atomics.load(this.control, C_DEPTH)) if (Atomics.compareExchange(this.control, C_DEPTH, cur, d) === cur) break;
    }
    if (this.stack.length > this.peakOpen) this.peakOpen = this.stack.length;
  }

  /** Works for about `ms` milliseconds (the loop of Search.run in explore.ts, with a shared set). */
  run(ms: number): Status {
    const until = performance.now() + ms;
    const sys = this.sys;
    let n = 0;
    for (;;) {
      if ((++n & 63) === 0) {
        this.publish();
        if (Atomics.load(this.control, C_STOP) !== 0) return 'idle';
        if (Atomics.load(this.control, C_PAUSE) !== 0) return 'paused';
        if (performance.now() >= until) return 'more';
      }
      const top = this.stack[this.stack.length - 1];
      if (!top) {
        const u = this.units.shift();
        if (!u) return 'idle';
        this.startUnit(u);
        continue;
      }
      if (top.i >= top.end) {
        this.stack.pop();
        continue;
      }
      const ci = top.i++;
      const r = sys.step(top.w, top.abs, top.choices[ci]!);
      this.transitions++;
      this.unpublished++;
      this.noteExtremes(r.abs);
      this.fp.fingerprint(r.world);
      // As in explore.ts: a state in the table passed every invariant before any worker stored it.
      const revisited = this.seen.has(this.fp.hi, this.fp.lo);
      let bad = false;
      for (const v of r.judge(revisited)) {
        if (v.severity === 'error') bad = true;
        this.record(v, this.pathOfStep());
      }
      if (bad) {
        if (!this.init.all) Atomics.compareExchange(this.control, C_STOP, 0, STOP_VIOLATION);
        continue;
      }
      if (revisited) continue;
      const added = this.seen.add(this.fp.hi, this.fp.lo);
      if (added === 0) continue;
      if (added === SharedFingerprintSet.FULL) {
        this.pending = { w: r.world, abs: parentAbs(r.abs), hi: this.fp.hi, lo: this.fp.lo };
        return 'full';
      }
      this.push(r.world, parentAbs(r.abs));
    }
  }

  setTable(t: WorkerInit['table']): void {
    this.seen = new SharedFingerprintSet(t);
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const added = this.seen.add(p.hi, p.lo);
    if (added === 1) this.push(p.w, p.abs);
    // Still FULL cannot happen: the main thread grows the table to under half full.
    else if (added === SharedFingerprintSet.FULL) this.pending = p;
  }

  /**
   * Work for an idle worker: a unit not started yet, or else the later half of the untaken
   * choices of the oldest state that has any (the nearer the root, the larger what it leads to).
   */
  give(): DfsUnit[] {
    const u = this.units.pop();
    if (u) return [u];
    for (let k = 0; k < this.stack.length; k++) {
      const f = this.stack[k]!;
      const left = f.end - f.i;
      if (left <= 0) continue;
      const from = left >= 2 ? f.i + (left >> 1) : f.i;
      const unit: DfsUnit = { w: f.w, path: this.pathOf(k), from, to: f.end };
      f.end = from;
      return [unit];
    }
    return [];
  }

  done(coverage: unknown): FromDfsWorker {
    return {
      type: 'done',
      id: this.init.id,
      transitions: this.transitions,
      depth: this.depth,
      peakOpen: this.peakOpen,
      found: [...this.found.values()],
      witnesses: this.witnesses,
      coverage,
      statechart: [...(this.sys.spec?.covered ?? [])],
    };
  }
}


/** A DFS on a pooled thread (worker.ts dispatches a `start` whose strategy is dfs here); `end` is called at its `finish`. */
export async function startDfs(init: WorkerInit, end: () => void): Promise<Session> {
  const { impl, coverage } = await loadImplementation(init.load.ref, init.load);
  return dfsSession(impl, coverage, init, end, (m) => port.postMessage(m));
}

/**
 * One worker's DFS over `impl`, talking through `post`: on a pooled thread (startDfs), or on the
 * main thread as worker 0 (parallel-dfs.ts), which runs it on the implementation it already
 * built and so has no `coverage` of its own to send (its counters are the main thread's).
 */
export function dfsSession(impl: Implementation, coverage: unknown, init: WorkerInit, end: () => void, post: (m: FromDfsWorker) => void): Session {
  const ex = new DfsWorker(new System(impl, init.scope, { resume: init.resume }), init);
  let running = false;
  let finished = false;
  // One slice, then back to the event loop so that a `give` or a pause gets in.
  const slice = () => {
    // A slice still scheduled when the search ended: nothing more of it is said.
    if (finished) return;
    const s = ex.run(20);
    if (s === 'more') {
      setImmediate(slice);
      return;
    }
    ex.publish();
    running = false;
    post(s === 'idle' ? { type: 'idle', id: init.id } : { type: 'paused', id: init.id, full: s === 'full' });
  };
  const begin = () => {
    if (running) return;
    running = true;
    setImmediate(slice);
  };
  const handle = (m: ToDfsWorker) => {
    switch (m.type) {
      case 'work':
        ex.addUnits(m.units);
        begin();
        break;
      case 'give':
        post({ type: 'gift', id: init.id, units: ex.give() });
        break;
      case 'table':
        ex.setTable(m.table);
        post({ type: 'table-ok', id: init.id });
        break;
      case 'resume':
        begin();
        break;
      case 'finish':
        finished = true;
        end();
        ex.publish();
        post(ex.done(coverage));
        break;
    }
  };
  return { sequential: ex.sequential, handle: (m) => handle(m as ToDfsWorker) };
}
