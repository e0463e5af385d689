/**
 * The interleaving explorer: an exhaustive, stateful search over every choice a System allows.
 *
 * - BFS (the default: the first counterexample is a shortest one) or DFS.
 * - The visited set holds 64-bit fingerprints of the whole World (fingerprint.ts), up to
 *   object-identity symmetry unless `symmetry: false`; BFS keeps a parent index and a choice index
 *   per stored state instead of paths, and rebuilds a counterexample by re-running its choice
 *   vector (trace.ts), which is also what `dio-cache replay` does.
 * - Every step is checked by System.step against the invariant registry. The largest
 *   `nr + nr_irq` on a quiescent CPU is recorded with the shortest path to each new maximum, so
 *   a test can show the soft cap's bound is reached, not just respected.
 * - Error violations are minimised (minimise.ts): fewest interrupts, then preemptions, then steps.
 *
 * `explore()` runs to the end synchronously; `exploreAsync()` yields to the event loop every
 * few milliseconds so that Ctrl-C (via an AbortSignal) stops it with a partial result.
 */
import type { Implementation } from '../../impl/interface.js';
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import type { InvariantId } from '../../model/invariants.js';
import { BootError, System, type Choice, type Scope, type Violation } from '../system.js';
import { Fingerprinter, FingerprintSet } from './fingerprint.js';
import { minimise } from './minimise.js';
import { runChoices } from './trace.js';

export interface TraceStep {
  /** Index into System.enabled() at this point: the replay vector. */
  choice: number;
  who: string;
  event: string;
  labels: string[];
  /** The CPU the step ran on, and its lists and counters after the step (reports). */
  cpu?: number;
  after?: string;
  /** Set when an operation returned (or oopsed) in this step. */
  returned?: string;
}

export interface FoundViolation extends Violation {
  /** The path from boot to the violating state. */
  steps: TraceStep[];
  /** Interrupts and preemptions on the path (after minimisation). */
  interrupts?: number;
  preemptions?: number;
  /** How the path was minimised: the BFS/DFS path's cost and the minimised one's. */
  minimised?: { from: PathCost; to: PathCost; complete: boolean };
}

export interface PathCost {
  interrupts: number;
  preemptions: number;
  steps: number;
}

export interface Progress {
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
}

export interface ExploreOptions {
  impl: Implementation;
  scope: Scope;
  strategy?: 'bfs' | 'dfs';
  symmetry?: boolean;
  /** Stop after this many distinct states (the result is then incomplete). */
  maxStates?: number;
  /** Keep exploring after the first error violation (collects one trace per invariant id). */
  all?: boolean;
  progress?: (p: Progress) => void;
  /** Milliseconds between progress calls (default 1000). */
  progressEveryMs?: number;
  signal?: AbortSignal;
  /**
   * Continue a frame's paused generator instead of replaying its read log where it can (Env.resume;
   * default: on for DFS, off for BFS, whose frontier would hold a generator per stored world).
   * False replays every statement, as BFS does: for the tests that compare the two, and for
   * measuring what it saves.
   */
  resume?: boolean;
  /** Minimise error counterexamples (default true). */
  minimise?: boolean;
  /** State budget of the minimising search (default 2,000,000). */
  minimiseMaxStates?: number;
  /**
   * Worker threads (exploreAsync only; default 1, this thread): a parallel BFS (parallel.ts) or,
   * with strategy 'dfs', a parallel DFS (parallel-dfs.ts). Each worker loads the implementation
   * itself from `load` (or, for a registry implementation, from its name).
   */
  workers?: number;
  /**
   * Slots the shared visited set starts with (a power of two; default 65,536). The table grows
   * as it fills; the tests start it tiny so that growth happens mid-search.
   */
  initialTableSlots?: number;
  /** How a worker thread loads the implementation: what `loadImplementation()` takes. */
  load?: { ref: string; binding?: string; roles?: Record<string, string> };
  /** Called once per worker at the end with what its implementation counted (the C path's coverage). */
  workerCoverage?: (coverage: unknown) => void;
}

/** The shortest path found to a new largest `nr + nr_irq` on a quiescent CPU. */
export interface ExtremeWitness {
  value: number;
  cpu: number;
  choices: number[];
}

export interface ExploreResult {
  verdict: 'conforms' | 'violation' | 'error';
  /** Error-severity violations, one per invariant id, shortest first. */
  violations: FoundViolation[];
  /** Warning-severity findings (hotplug-stranding), one per id. */
  warnings: FoundViolation[];
  /** False when stopped early (maxStates, signal, or the first violation). */
  complete: boolean;
  /** Why the search stopped early, when it did. */
  stoppedBy?: 'violation' | 'maxStates' | 'signal';
  stats: {
    states: number;
    transitions: number;
    depth: number;
    seconds: number;
    statesPerSecond: number;
    /** Visited set plus per-state parent/choice arrays, divided by states. */
    bytesPerState: number;
    symmetry: boolean;
    strategy: 'bfs' | 'dfs';
    /** Largest number of worlds held at once (BFS frontier or DFS stack). */
    peakOpen: number;
    /** Expected number of fingerprint collisions (64-bit hashes): n² / 2^65. */
    collisionOdds: number;
    /** Worker threads that expanded states (1: this thread alone). */
    workers: number;
  };
  /**
   * Largest nr + nr_irq seen on any quiescent CPU and on each CPU, and the shortest path to each
   * new per-CPU maximum (in the order found: under BFS the first witness of a value is a shortest).
   */
  extremes: { maxCached: number; perCpu: number[]; witnesses: ExtremeWitness[] };
  /** Set when the search could not run (boot failed): the message. */
  error?: string;
}

/** Fault kinds during boot and the invariant that judges them (model/invariants.ts). */
export const BOOT_FAULTS: Record<string, InvariantId> = {
  'null-deref': 'crash',
  'wild-pointer': 'crash',
  exception: 'crash',
  'no-return': 'crash',
  'replay-divergence': 'crash',
  'use-after-free': 'object-safety',
  'double-free': 'object-safety',
  'bad-free': 'object-safety',
  'uninit-read': 'object-safety',
};

export interface Open {
  w: World;
  abs: AbstractState;
  idx: number;
}

/**
 * What a stored state keeps of its abstract state for the steps out of it: `System.step` and the
 * invariants' `check(prev, next)` read only `prev.caches` (the lists before the step). Dropping
 * the per-object places keeps the BFS frontier small: surviving objects are what each young-
 * generation collection copies, and it was a fifth of the run time.
 */
const NO_OBJECTS: AbstractState['objects'] = [];
export function parentAbs(a: AbstractState): AbstractState {
  return { profile: a.profile, caches: a.caches, objects: NO_OBJECTS };
}

/** Growable parent/choice arrays: 4 + 2 bytes per stored state. */
export class Parents {
  parent = new Uint32Array(1 << 16);
  choice = new Uint16Array(1 << 16);
  n = 0;
  add(parent: number, choice: number): number {
    if (this.n === this.parent.length) {
      const p = new Uint32Array(this.n * 2);
      p.set(this.parent);
      this.parent = p;
      const c = new Uint16Array(this.n * 2);
      c.set(this.choice);
      this.choice = c;
    }
    this.parent[this.n] = parent;
    this.choice[this.n] = choice;
    return this.n++;
  }
  path(idx: number): number[] {
    const out: number[] = [];
    while (idx > 0) {
      out.push(this.choice[idx]!);
      idx = this.parent[idx]!;
    }
    return out.reverse();
  }
  get bytes(): number {
    return this.parent.byteLength + this.choice.byteLength;
  }
}

/** A resumable search: `run(ms)` does up to ms milliseconds of work and says whether it finished. */
class Search {
  readonly sys: System;
  private readonly fp: Fingerprinter;
  private readonly seen = new FingerprintSet();
  private readonly parents = new Parents();
  private readonly strategy: 'bfs' | 'dfs';
  private frontier: Open[] = [];
  private next: Open[] = [];
  private fi = 0;
  private stack: { o: Open; choices: Choice[]; i: number }[] = [];
  private found = new Map<string, { v: Violation; choices: number[] }>();
  private warned = new Map<string, { v: Violation; choices: number[] }>();
  private transitions = 0;
  private depth = 0;
  private maxCached = 0;
  private witnesses: ExtremeWitness[] = [];
  private maxPerCpu: number[] = [];
  private peakOpen = 0;
  private stopped: ExploreResult['stoppedBy'];
  private lastProgress = 0;
  private readonly t0 = performance.now();
  private bootError?: string;
  private bootFailed = false;
  done = false;

  constructor(private readonly o: ExploreOptions) {
    this.strategy = o.strategy ?? 'bfs';
    this.sys = new System(o.impl, o.scope, { resume: o.resume ?? this.strategy === 'dfs' });
    this.fp = new Fingerprinter(o.symmetry !== false);
    let init;
    try {
      init = this.sys.initial();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // Boot runs the implementation's own init, allocs and puts (without interleaving): if one
      // of them oopses, that is a finding about the implementation, not an input error.
      const fault = e instanceof BootError ? /failed: ([a-z-]+): /.exec(msg)?.[1] : undefined;
      const id = fault && BOOT_FAULTS[fault];
      this.bootFailed = true;
      if (id) this.found.set(id, { v: { id, severity: 'error', message: `during boot (init, prefill and in-flight allocations, run without interleaving): ${msg}` }, choices: [] });
      else this.bootError = msg;
      this.stopped = id ? 'violation' : undefined;
      this.done = true;
      return;
    }
    this.fp.fingerprint(init.world);
    this.seen.add(this.fp.hi, this.fp.lo);
    const root: Open = { w: init.world, abs: init.abs, idx: this.parents.add(0, 0) };
    this.noteExtremes(init.abs, []);
    for (const v of init.violations) this.record(v, []);
    if (this.found.size && !o.all) {
      this.stopped = 'violation';
      this.done = true;
    }
    if (this.strategy === 'bfs') this.frontier = [root];
    else this.stack = [{ o: root, choices: this.sys.enabled(root.w), i: 0 }];
  }

  private pathTo(parentIdx: number, choice: number): number[] {
    if (this.strategy === 'bfs') {
      const p = this.parents.path(parentIdx);
      p.push(choice);
      return p;
    }
    const p = this.stack.map((f) => f.i - 1);
    p[p.length - 1] = choice;
    return p;
  }

  private record(v: Violation, choices: number[]): void {
    const into = v.severity === 'warning' ? this.warned : this.found;
    const had = into.get(v.id);
    if (!had || had.choices.length > choices.length) into.set(v.id, { v, choices });
  }

  private noteExtremes(abs: AbstractState, choices: number[] | (() => number[])): void {
    for (const c of abs.caches) {
      if (!c.quiescent) continue;
      const total = c.freeList.length + c.freeListIrq.length;
      if (total <= (this.maxPerCpu[c.cpu] ?? -1)) continue;
      this.maxPerCpu[c.cpu] = total;
      this.maxCached = Math.max(this.maxCached, total);
      if (total > 0) this.witnesses.push({ value: total, cpu: c.cpu, choices: typeof choices === 'function' ? choices() : choices });
    }
  }

  /** Handles one transition; returns the new Open if the target is new and may be expanded. */
  private transition(from: Open, ci: number, c: Choice): Open | null {
    const r = this.sys.step(from.w, from.abs, c);
    this.transitions++;
    this.noteExtremes(r.abs, () => this.pathTo(from.idx, ci));
    this.fp.fingerprint(r.world);
    // A stored state passed every invariant when it was stored (one that failed is not stored):
    // a step back into it is judged only on what the step did.
    const revisited = this.seen.has(this.fp.hi, this.fp.lo);
    let bad = false;
    for (const v of r.judge(revisited)) {
      if (v.severity === 'error') bad = true;
      this.record(v, this.pathTo(from.idx, ci));
    }
    if (bad) {
      if (!this.o.all) this.stopped = 'violation';
      return null;
    }
    if (revisited) return null;
    this.seen.add(this.fp.hi, this.fp.lo);
    const idx = this.strategy === 'bfs' ? this.parents.add(from.idx, ci) : this.seen.size - 1;
    if (this.o.maxStates && this.seen.size >= this.o.maxStates) this.stopped = 'maxStates';
    return { w: r.world, abs: parentAbs(r.abs), idx };
  }

  /** Works for about `ms` milliseconds; returns true when the search is over. */
  run(ms: number): boolean {
    if (this.done) return true;
    const until = performance.now() + ms;
    let n = 0;
    while (!this.stopped) {
      if ((++n & 63) === 0) {
        const now = performance.now();
        if (this.o.signal?.aborted) {
          this.stopped = 'signal';
          break;
        }
        if (this.o.progress && now - this.lastProgress >= (this.o.progressEveryMs ?? 1000)) {
          this.lastProgress = now;
          this.o.progress({ states: this.seen.size, transitions: this.transitions, depth: this.depth, seconds: (now - this.t0) / 1000 });
        }
        if (now >= until) return false;
      }
      if (this.strategy === 'bfs') {
        if (this.fi >= this.frontier.length) {
          if (this.next.length === 0) break;
          this.frontier = this.next;
          this.next = [];
          this.fi = 0;
          this.depth++;
          this.peakOpen = Math.max(this.peakOpen, this.frontier.length);
        }
        const node = this.frontier[this.fi]!;
        this.frontier[this.fi++] = undefined as unknown as Open; // let the world be collected
        const choices = this.sys.enabled(node.w);
        for (let i = 0; i < choices.length && !this.stopped; i++) {
          const t = this.transition(node, i, choices[i]!);
          if (t) this.next.push(t);
        }
      } else {
        const top = this.stack[this.stack.length - 1];
        if (!top) break;
        if (top.i >= top.choices.length) {
          this.stack.pop();
          continue;
        }
        const ci = top.i++;
        const t = this.transition(top.o, ci, top.choices[ci]!);
        if (t) {
          this.stack.push({ o: t, choices: this.sys.enabled(t.w), i: 0 });
          this.depth = Math.max(this.depth, this.stack.length - 1);
          this.peakOpen = Math.max(this.peakOpen, this.stack.length);
        }
      }
    }
    this.done = true;
    return true;
  }

  result(): ExploreResult {
    const seconds = (performance.now() - this.t0) / 1000;
    return assemble(this.sys, this.o, {
      found: this.found,
      warned: this.warned,
      bootFailed: this.bootFailed,
      ...(this.bootError !== undefined ? { bootError: this.bootError } : {}),
      ...(this.stopped ? { stopped: this.stopped } : {}),
      stats: {
        states: this.seen.size,
        transitions: this.transitions,
        depth: this.depth,
        seconds,
        bytes: this.seen.bytes + (this.strategy === 'bfs' ? this.parents.bytes : 0),
        strategy: this.strategy,
        peakOpen: this.peakOpen,
      },
      extremes: { maxCached: this.maxCached, perCpu: this.maxPerCpu.map((x) => x ?? 0), witnesses: this.witnesses },
    });
  }
}

/** What a finished search (sequential or parallel) hands to assemble(). */
export interface SearchOutcome {
  /** One violation per invariant id with the choice vector that reaches it. */
  found: Map<string, { v: Violation; choices: number[] }>;
  warned: Map<string, { v: Violation; choices: number[] }>;
  bootFailed: boolean;
  bootError?: string;
  stopped?: ExploreResult['stoppedBy'];
  stats: { states: number; transitions: number; depth: number; seconds: number; bytes: number; strategy: 'bfs' | 'dfs'; peakOpen: number; workers?: number };
  extremes: ExploreResult['extremes'];
}

/** The verdict, with every error counterexample minimised and every path re-run into a trace. */
export function assemble(sys: System, o: ExploreOptions, x: SearchOutcome): ExploreResult {
  const states = x.stats.states;
  const seconds = x.stats.seconds;
  const build = (m: Map<string, { v: Violation; choices: number[] }>, min: boolean): FoundViolation[] => {
    const out: FoundViolation[] = [];
    for (const { v, choices } of m.values()) {
      let vec = choices;
      let minimised: FoundViolation['minimised'];
      if (x.bootFailed) {
        out.push({ ...v, steps: [], interrupts: 0, preemptions: 0 });
        continue;
      }
      if (min && o.minimise !== false) {
        const m2 = minimise(sys, v.id, choices, { maxStates: o.minimiseMaxStates ?? 2_000_000, symmetry: o.symmetry !== false, signal: o.signal });
        vec = m2.choices;
        minimised = { from: m2.from, to: m2.to, complete: m2.complete };
      }
      const run = runChoices(sys, vec);
      const again = run.violations.find((y) => y.id === v.id);
      const fv: FoundViolation = { ...(again ?? v), steps: run.steps, interrupts: run.interrupts, preemptions: run.preemptions };
      if (minimised) fv.minimised = minimised;
      out.push(fv);
    }
    return out.sort((a, b) => a.steps.length - b.steps.length);
  };
  const errs = build(x.found, true);
  const res: ExploreResult = {
    verdict: x.bootError ? 'error' : errs.length ? 'violation' : 'conforms',
    violations: errs,
    warnings: build(x.warned, false),
    complete: !x.stopped && !x.bootError,
    stats: {
      states,
      transitions: x.stats.transitions,
      depth: x.stats.depth,
      seconds,
      statesPerSecond: states / Math.max(seconds, 1e-9),
      bytesPerState: states ? x.stats.bytes / states : 0,
      symmetry: o.symmetry !== false,
      strategy: x.stats.strategy,
      peakOpen: x.stats.peakOpen,
      collisionOdds: (states * states) / 2 ** 65,
      workers: x.stats.workers ?? 1,
    },
    extremes: x.extremes,
  };
  if (x.stopped) res.stoppedBy = x.stopped;
  if (x.bootError) res.error = x.bootError;
  return res;
}

/** Explores to the end (or to the first violation, maxStates, or an already-aborted signal). */
export function explore(o: ExploreOptions): ExploreResult {
  const s = new Search(o);
  while (!s.run(1e9));
  return s.result();
}

/** As explore(), yielding to the event loop every ~50 ms so that a signal can stop it. */
export async function exploreAsync(o: ExploreOptions): Promise<ExploreResult> {
  if ((o.workers ?? 1) > 1) {
    // Imported lazily: worker threads are only started when asked for.
    if (o.strategy === 'dfs') {
      const { exploreParallelDfs } = await import('./parallel-dfs.js');
      return exploreParallelDfs(o);
    }
    const { exploreParallel } = await import('./parallel.js');
    return exploreParallel(o);
  }
  const s = new Search(o);
  while (!s.run(50)) await new Promise<void>((r) => setImmediate(r));
  return s.result();
}
