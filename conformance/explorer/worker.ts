/**
 * One worker thread of a parallel BFS (parallel.ts): it expands the states it owns, level by
 * level, when the main thread says so. The thread serves one search after another (the pool in
 * protocol.ts), BFS here or DFS (worker-dfs.ts): `start` begins a search, the reply to `finish`
 * ends it. Every worker inserts into the same shared visited set; the
 * one whose insert wins keeps the new state in its next frontier. Paths are not kept here: each
 * stored state has a global index (local index × workers + worker id) and a (parent, choice) pair,
 * which the main thread collects at the end to rebuild choice vectors.
 */
import { parentPort } from 'node:worker_threads';
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import { System, type Violation } from '../system.js';
import { parentAbs, Parents, type Open } from './search.js';
import { SharedFingerprintSet, type Fingerprinter } from './fingerprint.js';
import { loadImplementation } from './replay.js';
import {
  C_STATES,
  C_STOP,
  C_TRANSITIONS,
  STOP_MAX_STATES,
  STOP_VIOLATION,
  claimRoot,
  revive,
  type Found,
  type FromWorker,
  type Session,
  type ToDfsWorker,
  type ToWorker,
  type WorkerInit,
  type Witness,
  workerFingerprinter,
} from './protocol.js';

const port = parentPort!;

interface Pending {
  w: World;
  abs: AbstractState;
  parent: number;
  choice: number;
  hi: number;
  lo: number;
}

class Expander {
  private readonly fp: Fingerprinter;
  private seen: SharedFingerprintSet;
  private readonly control: Int32Array;
  private readonly parents = new Parents();
  private frontier: Open[] = [];
  private next: Open[] = [];
  private pending: Pending[] = [];
  private found: Found[] = [];
  private witnesses: Witness[] = [];
  private maxPerCpu: number[] = [];
  private depth = 0;
  private transitions = 0;

  /** Set when boot fails or the root already breaks an invariant (worker 0). */
  readonly sequential: boolean = false;

  constructor(
    readonly sys: System,
    private readonly init: WorkerInit,
  ) {
    this.fp = workerFingerprinter(this.init);
    this.seen = new SharedFingerprintSet(this.init.table);
    this.control = new Int32Array(this.init.control);
    if (this.init.id === 0) {
      // The root: boot is deterministic, so every worker could rebuild it; worker 0 owns it.
      const root = claimRoot(sys, this.fp, this.seen, this.control);
      if (!root) {
        this.sequential = true;
        return;
      }
      this.next.push({ w: root.world, abs: parentAbs(root.abs), idx: this.global(this.parents.add(0, 0)) });
      this.noteExtremes(root.abs, 0, -1);
    }
  }

  private global(local: number): number {
    return local * this.init.workers + this.init.id;
  }

  private stopped(): boolean {
    return Atomics.load(this.control, C_STOP) !== 0;
  }

  private noteExtremes(abs: AbstractState, parent: number, choice: number): void {
    for (const c of abs.caches) {
      if (!c.quiescent) continue;
      const total = c.freeList.length + c.freeListIrq.length;
      if (total <= (this.maxPerCpu[c.cpu] ?? -1)) continue;
      this.maxPerCpu[c.cpu] = total;
      if (total > 0) this.witnesses.push({ value: total, cpu: c.cpu, parent, choice, depth: this.depth });
    }
  }

  private record(v: Violation, parent: number, choice: number): void {
    this.found.push({ v, parent, choice, depth: this.depth });
  }

  /** Expands the whole frontier (the transitions mirror Search.transition in explore.ts). */
  level(): FromWorker {
    this.frontier = this.next;
    this.next = [];
    const sys = this.sys;
    let sinceCount = 0;
    for (let fi = 0; fi < this.frontier.length; fi++) {
      if (this.stopped()) break;
      const node = this.frontier[fi]!;
      this.frontier[fi] = undefined as unknown as Open;
      const choices = sys.enabled(node.w);
      for (let ci = 0; ci < choices.length; ci++) {
        const r = sys.step(node.w, node.abs, choices[ci]!);
        this.transitions++;
        if (++sinceCount === 64) {
          Atomics.add(this.control, C_TRANSITIONS, sinceCount);
          sinceCount = 0;
        }
        this.noteExtremes(r.abs, node.idx, ci);
        this.fp.fingerprint(r.world);
        // As in explore.ts: a state in the table passed every invariant before any worker stored it.
        const revisited = this.seen.has(this.fp.hi, this.fp.lo);
        let bad = false;
        for (const v of r.judge(revisited)) {
          if (v.severity === 'error') bad = true;
          this.record(v, node.idx, ci);
        }
        if (bad) {
          if (!this.init.all) Atomics.compareExchange(this.control, C_STOP, 0, STOP_VIOLATION);
          continue;
        }
        if (revisited) continue;
        const added = this.seen.add(this.fp.hi, this.fp.lo);
        if (added === 0) continue;
        if (added === SharedFingerprintSet.FULL) {
          this.pending.push({ w: r.world, abs: parentAbs(r.abs), parent: node.idx, choice: ci, hi: this.fp.hi, lo: this.fp.lo });
          continue;
        }
        this.keep(r.world, parentAbs(r.abs), node.idx, ci);
      }
    }
    Atomics.add(this.control, C_TRANSITIONS, sinceCount);
    this.frontier = [];
    this.depth++;
    return this.report();
  }

  private keep(w: World, abs: AbstractState, parent: number, choice: number): void {
    const idx = this.global(this.parents.add(parent, choice));
    this.next.push({ w, abs, idx });
    const states = Atomics.add(this.control, C_STATES, 1) + 1;
    if (this.init.maxStates && states >= this.init.maxStates) Atomics.compareExchange(this.control, C_STOP, 0, STOP_MAX_STATES);
  }

  /** After the main thread grew the table: insert what did not fit. */
  retry(): FromWorker {
    const p = this.pending;
    this.pending = [];
    for (const x of p) {
      const added = this.seen.add(x.hi, x.lo);
      if (added === 1) this.keep(x.w, x.abs, x.parent, x.choice);
      else if (added === SharedFingerprintSet.FULL) this.pending.push(x);
    }
    return this.report();
  }

  setTable(t: WorkerInit['table']): void {
    this.seen = new SharedFingerprintSet(t);
  }

  /** What happened since the last report (found and witnesses are handed over once). */
  private report(): FromWorker {
    const r: FromWorker = {
      type: 'level',
      id: this.init.id,
      next: this.next.length,
      pending: this.pending.length,
      transitions: this.transitions,
      found: this.found,
      witnesses: this.witnesses,
    };
    this.found = [];
    this.witnesses = [];
    return r;
  }

  /** Hands `n` states of the next frontier to another worker (load balancing). */
  give(n: number): { w: World; idx: number }[] {
    const out = this.next.splice(this.next.length - n, n);
    return out.map((o) => ({ w: o.w, idx: o.idx }));
  }

  take(list: { w: World; idx: number }[]): void {
    for (const x of list) {
      const w = revive(x.w);
      this.next.push({ w, abs: parentAbs(this.sys.abs(w)), idx: x.idx });
    }
  }

  parentsArrays(): { parent: Uint32Array; choice: Uint16Array; n: number } {
    return { parent: this.parents.parent, choice: this.parents.choice, n: this.parents.n };
  }
}


/** A BFS on this thread (a `start` whose strategy is bfs); `end` is called at its `finish`. */
async function startBfs(init: WorkerInit, end: () => void): Promise<Session> {
  const { impl, coverage } = await loadImplementation(init.load.ref, init.load);
  const sys = new System(impl, init.scope, { resume: init.resume });
  const ex = new Expander(sys, init);
  const handle = (m: ToWorker) => {
    switch (m.type) {
      case 'level':
        port.postMessage(ex.level());
        break;
      case 'table':
        ex.setTable(m.table);
        port.postMessage(ex.retry());
        break;
      case 'give':
        port.postMessage({ type: 'worlds', id: init.id, worlds: ex.give(m.n) } satisfies FromWorker);
        break;
      case 'take':
        ex.take(m.worlds);
        port.postMessage({ type: 'took', id: init.id } satisfies FromWorker);
        break;
      case 'finish': {
        end();
        const p = ex.parentsArrays();
        port.postMessage({ type: 'parents', id: init.id, ...p, coverage, statechart: [...(sys.spec?.covered ?? [])] } satisfies FromWorker);
        break;
      }
    }
  };
  return { sequential: ex.sequential, handle: (m) => handle(m as ToWorker) };
}

/**
 * The thread's entry (worker-boot.mjs loads this file): it serves one search after another, BFS
 * or DFS (worker-dfs.ts), whichever `start` asks for. A search ended by `finish` keeps nothing
 * reachable from here.
 */
let session: Session | null = null;
const end = () => {
  session = null;
};

port.on('message', (m: ToWorker | ToDfsWorker) => {
  if (m.type !== 'start') {
    session?.handle(m);
    return;
  }
  const init = m.init;
  const started = init.strategy === 'dfs' ? import('./worker-dfs.js').then((d) => d.startDfs(init, end)) : startBfs(init, end);
  started.then(
    (s) => {
      session = s;
      port.postMessage({ type: 'ready', id: init.id, sequential: s.sequential } satisfies FromWorker);
    },
    (e: unknown) => {
      port.postMessage({ type: 'error', id: init.id, message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    },
  );
});
