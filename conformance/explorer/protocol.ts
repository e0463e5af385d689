/**
 * The messages between the main thread and the worker threads, and the layout of their shared
 * control words: the parallel BFS (parallel.ts, worker.ts) and the parallel DFS (parallel-dfs.ts,
 * worker-dfs.ts); and the pool of threads both run on, kept from one search to the next.
 */
import { Worker } from 'node:worker_threads';
import { newHeapObj, type HeapObj, type World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import { findImpl } from '../../impl/registry.js';
import { System, type Scope, type Violation } from '../system.js';
import type { ExploreOptions } from './types.js';
import { Fingerprinter, SharedFingerprintSet, type SharedTable } from './fingerprint.js';
import { cpuImages, cpuSymmetryOn } from './cpu-symmetry.js';

/** Int32 slots of the control buffer. */
export const C_STOP = 0;
export const C_STATES = 1;
export const C_TRANSITIONS = 2;
/** DFS: non-zero while the main thread grows the table; a running worker stops at its next check. */
export const C_PAUSE = 3;
/** DFS: the deepest path any worker has reached (for progress). */
export const C_DEPTH = 4;
export const CONTROL_SLOTS = 5;

/** Values of the stop slot. */
export const STOP_VIOLATION = 1;
export const STOP_MAX_STATES = 2;
export const STOP_SIGNAL = 3;

/** What one search tells each of its workers (the `start` message). */
export interface WorkerInit {
  /** Which search the thread runs: worker.ts's BFS or worker-dfs.ts's DFS. */
  strategy: 'bfs' | 'dfs';
  id: number;
  workers: number;
  load: { ref: string; binding?: string; roles?: Record<string, string>; compiled?: boolean };
  scope: Scope;
  symmetry: boolean;
  /** ExploreOptions.frameKeys. */
  frameKeys: boolean;
  /** CPU and task symmetry (cpu-symmetry.ts), as the main thread decided it. */
  cpuSymmetry?: boolean;
  all: boolean;
  /** ExploreOptions.resume, as this worker's search takes it. */
  resume: boolean;
  maxStates?: number;
  table: SharedTable;
  control: SharedArrayBuffer;
}

/** What the main thread of a parallel search starts from: the workers' count and how they load the implementation, its own System, the shared table and control words. */
export function parallelSetup(o: ExploreOptions): { n: number; load: WorkerInit['load']; sys: System; table: SharedFingerprintSet; controlBuf: SharedArrayBuffer; control: Int32Array } {
  const n = o.workers ?? 2;
  const load = o.load ?? (findImpl(o.impl.name) === o.impl ? { ref: o.impl.name } : null);
  if (!load) throw new Error(`parallel exploration: worker threads cannot load ${o.impl.name}; pass ExploreOptions.load (the module path)`);
  const controlBuf = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  return { n, load, sys: new System(o.impl, o.scope), table: SharedFingerprintSet.create(o.initialTableSlots ?? 1 << 16), controlBuf, control: new Int32Array(controlBuf) };
}

/**
 * A world that came through postMessage: heap objects arrive as plain objects (the structured
 * clone drops their class and its cache of the flattened form); make them kernel objects again.
 */
export function revive(w: World): World {
  w.heap = w.heap.map((o: HeapObj | undefined) => (o ? newHeapObj(o.type, o.freed, o.origin, o.cells, o.size, o.kmemleak) : undefined));
  return w;
}

/** Why the workers stopped, from the stop word, as ExploreResult says it. */
export function stoppedBy(stop: number): 'violation' | 'maxStates' | 'signal' | undefined {
  return stop === STOP_VIOLATION ? 'violation' : stop === STOP_MAX_STATES ? 'maxStates' : stop === STOP_SIGNAL ? 'signal' : undefined;
}

/** What every worker of a search is started with. */
export function workerInit(o: ExploreOptions, strategy: 'bfs' | 'dfs', id: number, workers: number, load: WorkerInit['load'], table: SharedTable, control: SharedArrayBuffer): WorkerInit {
  return {
    strategy,
    id,
    workers,
    load,
    scope: o.scope,
    symmetry: o.symmetry !== false,
    frameKeys: o.frameKeys !== false,
    ...(cpuSymmetryOn(o) ? { cpuSymmetry: true } : {}),
    all: !!o.all,
    resume: o.resume ?? strategy === 'dfs',
    table,
    control,
    ...(o.maxStates ? { maxStates: o.maxStates } : {}),
  };
}

/** A worker's fingerprinter: the search's object symmetry, and its CPU symmetry when on. */
export function workerFingerprinter(init: WorkerInit): Fingerprinter {
  const fp = new Fingerprinter(init.symmetry, init.frameKeys);
  if (init.cpuSymmetry) fp.images = cpuImages(init.scope);
  return fp;
}

/** One search on a pooled thread (worker.ts, worker-dfs.ts): what it does with the main thread's messages until `finish`. */
export interface Session {
  /** Boot failed or the root breaks an invariant (worker 0): the `ready` reply says so. */
  sequential: boolean;
  handle(m: ToWorker | ToDfsWorker): void;
}

/** What a search does with the events of a thread it holds. */
export interface ThreadHandlers {
  message(m: unknown): void;
  error(e: Error): void;
  exit(code: number): void;
}

const BOOT = new URL('./worker-boot.mjs', import.meta.url);

/**
 * A worker thread that outlives one search: it serves one search at a time, BFS or DFS (a `start`
 * message begins one, its reply to `finish` ends it). The thread's events go to the search that
 * holds it.
 */
export class PooledThread {
  handlers: ThreadHandlers | null = null;
  exited = false;

  constructor(readonly w: Worker) {
    w.on('message', (m: unknown) => this.handlers?.message(m));
    w.on('error', (e: Error) => this.handlers?.error(e));
    w.on('exit', (code: number) => {
      this.exited = true;
      pool.forget(this);
      this.handlers?.exit(code);
    });
  }

  post(m: ToWorker | ToDfsWorker): void {
    this.w.postMessage(m);
  }
}

/**
 * The threads of the parallel searches, kept between searches of one process. Starting a thread
 * costs it tsx and the checker's modules, and its first search warms its JIT and the checker's
 * caches: a process that runs several parallel searches (`check` over its scopes, `test`, the
 * test suite) pays that once per thread. An idle thread is unref'd, so it never keeps a process
 * alive; one that failed, or whose search ended without its last reply, is terminated instead.
 */
class ThreadPool {
  private readonly idle: PooledThread[] = [];

  /** n threads for one search, held until release(); their events go to `handlers(i)`. */
  acquire(n: number, handlers: (i: number) => ThreadHandlers): PooledThread[] {
    const out: PooledThread[] = [];
    try {
      for (let i = 0; i < n; i++) {
        // worker-boot.mjs loads worker.ts (no strategy in its workerData), which serves both searches.
        const t = this.idle.pop() ?? new PooledThread(new Worker(BOOT, { workerData: {} }));
        t.w.ref();
        t.handlers = handlers(i);
        out.push(t);
      }
    } catch (e) {
      void this.release(out, false);
      throw e;
    }
    return out;
  }

  /**
   * Starts threads ahead of a search (until n are idle), so that they load tsx and the checker
   * while this thread reads, builds and boots what they will explore: a CLI run that will
   * search on n workers calls it first. They are unref'd: unused, they keep no process alive.
   */
  prewarm(n: number): void {
    while (this.idle.length < n) {
      const t = new PooledThread(new Worker(BOOT, { workerData: {} }));
      t.w.unref();
      this.idle.push(t);
    }
  }

  /** Ends a search's hold on its threads: `clean` (every thread answered its last request) keeps them for the next search. */
  async release(threads: readonly PooledThread[], clean: boolean): Promise<void> {
    const ending: Promise<number>[] = [];
    for (const t of threads) {
      t.handlers = null;
      if (clean && !t.exited) {
        t.w.unref();
        this.idle.push(t);
      } else if (!t.exited) ending.push(t.w.terminate());
    }
    await Promise.all(ending);
  }

  /** The thread ids of the idle threads (what a search would start on). */
  idleThreadIds(): number[] {
    return this.idle.map((t) => t.w.threadId);
  }

  forget(t: PooledThread): void {
    const i = this.idle.indexOf(t);
    if (i >= 0) this.idle.splice(i, 1);
  }
}

export const pool = new ThreadPool();

/**
 * Worker 0 boots and claims the root in the shared set (boot runs the code under test once, so
 * its coverage counts once, as with one thread). Null when boot fails or the root already breaks
 * an invariant: the main thread then reports it the sequential way.
 */
export function claimRoot(sys: System, fp: Fingerprinter, seen: SharedFingerprintSet, control: Int32Array): { world: World; abs: AbstractState } | null {
  let root;
  try {
    root = sys.initial();
  } catch {
    return null;
  }
  if (root.violations.length) return null;
  fp.fingerprint(root.world);
  seen.add(fp.hi, fp.lo);
  Atomics.add(control, C_STATES, 1);
  return root;
}

/** A violation found by a worker: the step (parent state, choice) and the BFS depth of the parent. */
export interface Found {
  v: Violation;
  parent: number;
  choice: number;
  depth: number;
}

/** A new largest nr + nr_irq seen by one worker. */
export interface Witness {
  value: number;
  cpu: number;
  parent: number;
  choice: number;
  depth: number;
}

export type ToWorker =
  /** A new search: the thread loads the implementation and answers `ready`. */
  | { type: 'start'; init: WorkerInit }
  | { type: 'level' }
  | { type: 'table'; table: SharedTable }
  | { type: 'give'; n: number }
  | { type: 'take'; worlds: { w: World; idx: number }[] }
  | { type: 'finish' };

export type FromWorker =
  /** `sequential`: boot failed or the root breaks an invariant; the main thread reports it the sequential way. */
  | { type: 'ready'; id: number; sequential: boolean }
  | { type: 'level'; id: number; next: number; pending: number; transitions: number; found: Found[]; witnesses: Witness[] }
  | { type: 'worlds'; id: number; worlds: { w: World; idx: number }[] }
  | { type: 'took'; id: number }
  | { type: 'parents'; id: number; parent: Uint32Array; choice: Uint16Array; n: number; coverage: unknown; statechart: string[] }
  | { type: 'error'; id: number; message: string };

/**
 * DFS work handed from one worker to another: choices [from, to) of a stored state (one the giver
 * inserted into the shared set), and the choice vector that reaches it from boot.
 */
export interface DfsUnit {
  w: World;
  path: number[];
  from: number;
  to: number;
}

/** A violation or a new maximum found by a DFS worker, with its whole choice vector. */
export interface DfsFound {
  v: Violation;
  choices: number[];
}
export interface DfsWitness {
  value: number;
  cpu: number;
  choices: number[];
}

export type ToDfsWorker =
  /** A new search: the thread loads the implementation and answers `ready`. */
  | { type: 'start'; init: WorkerInit }
  /** Units to explore (the receiver was idle). */
  | { type: 'work'; units: DfsUnit[] }
  /** Give some of your unexplored choices to an idle worker. */
  | { type: 'give' }
  /** The grown table; insert what did not fit, then wait for `resume`. */
  | { type: 'table'; table: SharedTable }
  | { type: 'resume' }
  | { type: 'finish' };

export type FromDfsWorker =
  | { type: 'ready'; id: number; sequential: boolean }
  /** Nothing left to explore (or the search was stopped). */
  | { type: 'idle'; id: number }
  /** Stopped for C_PAUSE, or (`full`) because the table was too full to insert into. */
  | { type: 'paused'; id: number; full: boolean }
  | { type: 'gift'; id: number; units: DfsUnit[] }
  | { type: 'table-ok'; id: number }
  | { type: 'done'; id: number; transitions: number; depth: number; peakOpen: number; found: DfsFound[]; witnesses: DfsWitness[]; coverage: unknown; statechart: string[] }
  | { type: 'error'; id: number; message: string };
