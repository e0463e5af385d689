/**
 * The explorer's vocabulary: what a search is asked (ExploreOptions), what it reports
 * (ExploreResult, its counterexamples as TraceSteps, progress), and what the sequential and the
 * parallel searches hand to assemble(). Types only, importing nothing of the explorer but
 * por.ts's PorStats, so that the front door (explore.ts), the searches, traces, minimisation,
 * shards, replay files and the worker protocol can all name them without importing one another.
 */
import type { CacheMachine } from '../../model/machine.js';
import type { Implementation } from '../../impl/interface.js';
import type { Scope, Violation } from '../system.js';
import type { PorStats } from './por.js';

/** What a stopped search was stopped by (ExploreResult.stoppedBy and the check/test reports). */
export type StopReason = 'violation' | 'maxStates' | 'signal' | 'time' | 'memory';

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
  /**
   * What is being counted. 'explore': distinct states stored so far (the report's `states` once
   * the search ends); 'minimise': the search for a cheaper counterexample of `invariant` has
   * started (its own states are not the scope's and are not counted here).
   */
  phase?: 'explore' | 'minimise';
  invariant?: string;
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
  /**
   * Partial-order reduction (por.ts), where it applies (more than one CPU, no hotplug). Default
   * off: sound, but on the suite's scopes it saves few states (docs/performance.md) and costs
   * a trial step per state. Sequential search only: worker threads explore the full graph.
   */
  por?: boolean;
  /**
   * CPU and task symmetry (cpu-symmetry.ts): interchangeable CPUs and tasks are canonicalised as
   * objects are, where that holds (no hotplug); never with `symmetry: false`. Default off: it
   * halves the 2-CPU scopes' states for about 1.2 times the time per state (docs/performance.md),
   * but code from outside the registry might keep a CPU number in memory, which it does not
   * rename.
   */
  cpuSymmetry?: boolean;
  /**
   * Compiled C's frames fingerprinted by where they are and what their locals hold (Frame.key),
   * not by every value they read: states that differ only in values no statement will use again
   * are one. Default on; false hashes the read log (the counts of a TypeScript port's frames,
   * and of `check --interpret`).
   */
  frameKeys?: boolean;
  /** Stop after this many distinct states (the result is then incomplete). */
  maxStates?: number;
  /** exploreAsync only: stop after this many seconds (stoppedBy 'time'; the result is then incomplete). */
  maxSeconds?: number;
  /**
   * exploreAsync only: stop when the process's resident memory passes this many MiB (stoppedBy
   * 'memory'). Without it the search still stops, as 'memory', when this thread's heap is 90%
   * full, rather than die with nothing reported.
   */
  maxMemoryMb?: number;
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
  /**
   * The statechart that judges each step (default: model/machine.ts's for the scope's profile).
   * Another one shows that the machine is the oracle (test/oracle.test.ts). One thread only.
   */
  machine?: CacheMachine;
  /**
   * False: run without the statechart oracle, so that `refinement` is not judged at all. Only the
   * bench uses it, to measure what judging every step by the machine costs. One thread only.
   */
  statechart?: false;
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
  load?: { ref: string; binding?: string; roles?: Record<string, string>; compiled?: boolean };
  /** Called once per worker at the end with what its implementation counted (the C path's coverage). */
  workerCoverage?: (coverage: unknown) => void;
  /**
   * Search only shard `index` of `count` (shard.ts): a BFS prefix that every shard runs alike,
   * then this shard's part of the first level of ≥ count·perShard states, with `strategy`.
   * One thread: `workers` is ignored.
   */
  shard?: ShardSpec;
}

/** The shortest path found to a new largest `nr + nr_irq` on a quiescent CPU. */
export interface ExtremeWitness {
  value: number;
  cpu: number;
  choices: number[];
}

export interface ExploreResult {
  /** incomplete: no violation, but the search stopped (stoppedBy) before its bound was exhausted. */
  verdict: 'conforms' | 'violation' | 'incomplete' | 'error';
  /** Error-severity violations, one per invariant id, shortest first. */
  violations: FoundViolation[];
  /** Warning-severity findings (hotplug-stranding), one per id. */
  warnings: FoundViolation[];
  /** False when stopped early (maxStates, signal, or the first violation). */
  complete: boolean;
  /** Why the search stopped early, when it did. */
  stoppedBy?: StopReason;
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
    /** Set when partial-order reduction ran (por.ts): what it did, and whether it fell back. */
    por?: PorStats;
    /** Whether CPU and task symmetry was on (cpu-symmetry.ts). */
    cpuSymmetry?: boolean;
  };
  /**
   * Largest nr + nr_irq seen on any quiescent CPU and on each CPU, and the shortest path to each
   * new per-CPU maximum (in the order found: under BFS the first witness of a value is a shortest).
   */
  extremes: { maxCached: number; perCpu: number[]; witnesses: ExtremeWitness[] };
  /** Set when the search could not run (boot failed): the message. */
  error?: string;
  /** Set for one shard of a split search (ExploreOptions.shard): where it split and what it took. */
  shard?: ShardInfo;
  /**
   * The statechart's coverage by this search (absent for an implementation without per-CPU
   * lists): the transitions of its observed vocabulary some explored step took, out of all of
   * them, and those none took (the scope is too small for them, or the machine allows more than
   * the implementation does).
   */
  statechart?: StatechartCoverage;
}

/** ExploreResult.statechart. */
export interface StatechartCoverage {
  taken: number;
  total: number;
  /** Transition ids (`<state id> <event>#<i>`) no explored step took, in the machine's order. */
  untaken: string[];
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
  shard?: ShardInfo;
  /** Statechart transitions the worker threads' steps took (the search's own System adds its own). */
  statechart?: string[];
}

/** Shard `index` (1-based) of `count`. */
export interface ShardSpec {
  index: number;
  count: number;
  /** Frontier states per shard at the split (default 8): the split level holds ≥ count·perShard states. */
  perShard?: number;
}

/** What a shard did, recorded in its result (ExploreResult.shard). */
export interface ShardInfo {
  index: number;
  count: number;
  perShard: number;
  /**
   * False when no BFS level reached count·perShard states: the search ended inside the prefix,
   * so every shard did all of it and each one's result is the whole answer.
   */
  split: boolean;
  /** Depth of the split level (the deepest level of the prefix when there was no split). */
  depth: number;
  /** States on the split level, and how many of them are this shard's roots. */
  frontier: number;
  roots: number;
  /** States stored up to and including the split level: the same in every shard. */
  prefixStates: number;
  /** Digest of the split level's sorted fingerprints: equal in every shard of one search. */
  frontierHash: string;
}
