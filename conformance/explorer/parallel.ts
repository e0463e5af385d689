/**
 * The BFS on several worker threads (`--workers N`): the same search as explore.ts, level by
 * level, with the visited set in shared memory.
 *
 * - Every worker loads the implementation itself (worker.ts), on a thread of the pool (protocol.ts)
 *   that earlier searches of the process may have started; the main thread keeps a System of
 *   its own for the boot check, minimisation and traces.
 * - A level: each worker expands the states it owns; a new state belongs to the worker whose
 *   insert into the shared set won. Between levels the main thread grows the table when it is
 *   half full (workers set aside what did not fit past 7/8 and retry), and moves states from the
 *   fullest next frontier to the emptiest so that no core idles.
 * - States, transitions and depth are those of the sequential search (the set of states is the
 *   same; only which of two isomorphic worlds represents a state may differ). A counterexample
 *   is a shortest one, as with one thread, and is rebuilt from every worker's parent arrays.
 */
import type { Violation } from '../system.js';
import { assemble, explore } from './search.js';
import type { ExploreOptions, ExploreResult, ExtremeWitness, SearchOutcome } from './types.js';
import { SharedFingerprintSet } from './fingerprint.js';
import {
  C_STATES,
  C_STOP,
  C_TRANSITIONS,
  STOP_SIGNAL,
  parallelSetup,
  pool,
  stoppedBy,
  workerInit,
  type Found,
  type FromWorker,
  type PooledThread,
  type ThreadHandlers,
  type ToWorker,
  type Witness,
} from './protocol.js';

/** A worker and the replies it owes: each request gets exactly one message back. */
class Peer {
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;
  thread: PooledThread | null = null;

  readonly handlers: ThreadHandlers = {
    message: (m) => {
      const r = m as FromWorker;
      if (r.type === 'error') this.fail(new Error(r.message));
      else this.waiting.shift()?.resolve(r);
    },
    error: (e) => this.fail(e),
    // A thread held by a search never ends on its own.
    exit: (code) => this.fail(new Error(`a worker thread exited with code ${code}`)),
  };

  private fail(e: Error): void {
    this.failed ??= e;
    for (const x of this.waiting.splice(0)) x.reject(e);
  }

  /** Every request answered, none failed: the thread can serve another search. */
  get settled(): boolean {
    return !this.failed && this.waiting.length === 0;
  }

  /** The worker's reply to `m`. */
  ask(m: ToWorker): Promise<FromWorker> {
    if (this.failed) return Promise.reject(this.failed);
    const p = new Promise<FromWorker>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.thread!.post(m);
    return p;
  }
}

function reply<T extends FromWorker['type']>(m: FromWorker, type: T): Extract<FromWorker, { type: T }> {
  if (m.type !== type) throw new Error(`worker protocol: expected ${type}, got ${m.type}`);
  return m as Extract<FromWorker, { type: T }>;
}

export async function exploreParallel(o: ExploreOptions): Promise<ExploreResult> {
  const t0 = performance.now();
  const setup = parallelSetup(o);
  const { n, load, sys, controlBuf, control } = setup;
  let table = setup.table;
  const peers = Array.from({ length: n }, () => new Peer());
  let threads: PooledThread[] = [];
  /** Set once every worker has answered `finish`: the search is over for them. */
  let finished = false;
  const onAbort = () => Atomics.compareExchange(control, C_STOP, 0, STOP_SIGNAL);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);
  let depth = 0;
  let lastProgress = t0;
  const progress = o.progress
    ? setInterval(() => {
        const now = performance.now();
        if (now - lastProgress < (o.progressEveryMs ?? 1000)) return;
        lastProgress = now;
        o.progress!({ states: Atomics.load(control, C_STATES), transitions: Atomics.load(control, C_TRANSITIONS), depth, seconds: (now - t0) / 1000 });
      }, Math.min(o.progressEveryMs ?? 1000, 250))
    : null;

  const found: (Found & { worker: number })[] = [];
  const witnesses: Witness[] = [];
  let transitions = 0;
  let peakOpen = 1;
  try {
    threads = pool.acquire(n, (i) => peers[i]!.handlers);
    threads.forEach((t, i) => (peers[i]!.thread = t));
    const ready = await Promise.all(peers.map((p, id) => p.ask({ type: 'start', init: workerInit(o, 'bfs', id, n, load, table.table, controlBuf) }).then((m) => reply(m, 'ready'))));
    // Boot failures and violations at the root are reported by the sequential search, the same way.
    if (ready.some((r) => r.sequential)) return explore(o);

    const merge = (replies: FromWorker[]): number[] => {
      const next: number[] = [];
      transitions = 0;
      for (const r of replies) {
        const l = reply(r, 'level');
        next[l.id] = l.next;
        transitions += l.transitions;
        for (const f of l.found) found.push({ ...f, worker: l.id });
        witnesses.push(...l.witnesses);
      }
      return next;
    };
    const pendingIn = (replies: FromWorker[]) => replies.some((r) => r.type === 'level' && r.pending > 0);
    const setTable = async (t: SharedFingerprintSet) => {
      table = t;
      return Promise.all(peers.map((p) => p.ask({ type: 'table', table: t.table })));
    };

    for (let level = 0; ; level++) {
      let replies = await Promise.all(peers.map((p) => p.ask({ type: 'level' })));
      let next = merge(replies);
      // What did not fit: grow, and let the workers insert it (it belongs to this same level).
      while (pendingIn(replies)) {
        replies = await setTable(table.grown(4));
        next = merge(replies);
      }
      depth = level;
      if (Atomics.load(control, C_STOP) !== 0) break;
      const total = next.reduce((a, b) => a + b, 0);
      if (total === 0) break;
      peakOpen = Math.max(peakOpen, total);
      if (table.size * 2 > table.capacity) merge(await setTable(table.grown(4)));
      await rebalance(peers, next);
    }

    const arrays = await Promise.all(peers.map((p) => p.ask({ type: 'finish' }).then((m) => reply(m, 'parents'))));
    finished = true;
    arrays.sort((a, b) => a.id - b.id);
    if (o.workerCoverage) for (const a of arrays) if (a.coverage !== undefined) o.workerCoverage(a.coverage);
    const path = (g: number): number[] => {
      const out: number[] = [];
      while (g > 0) {
        const a = arrays[g % n]!;
        const l = Math.floor(g / n);
        out.push(a.choice[l]!);
        g = a.parent[l]!;
      }
      return out.reverse();
    };
    const stepPath = (parent: number, choice: number) => (choice < 0 ? [] : [...path(parent), choice]);

    // One counterexample per invariant id: the shallowest (BFS: a shortest), then the lowest worker.
    found.sort((a, b) => a.depth - b.depth || a.worker - b.worker);
    const errs = new Map<string, { v: Violation; choices: number[] }>();
    const warns = new Map<string, { v: Violation; choices: number[] }>();
    for (const f of found) {
      const into = f.v.severity === 'warning' ? warns : errs;
      if (!into.has(f.v.id)) into.set(f.v.id, { v: f.v, choices: stepPath(f.parent, f.choice) });
    }
    // Extremes: the per-CPU maxima in BFS order, as the sequential search records them.
    witnesses.sort((a, b) => a.depth - b.depth || a.value - b.value || a.cpu - b.cpu);
    const perCpu: number[] = [];
    const kept: ExtremeWitness[] = [];
    for (const w of witnesses) {
      if (w.value <= (perCpu[w.cpu] ?? -1)) continue;
      perCpu[w.cpu] = w.value;
      kept.push({ value: w.value, cpu: w.cpu, choices: stepPath(w.parent, w.choice) });
    }
    const stopped = stoppedBy(Atomics.load(control, C_STOP));
    const outcome: SearchOutcome = {
      statechart: arrays.flatMap((a) => a.statechart),
      found: errs,
      warned: warns,
      bootFailed: false,
      ...(stopped ? { stopped } : {}),
      stats: {
        states: table.size,
        transitions,
        depth,
        seconds: (performance.now() - t0) / 1000,
        bytes: table.bytes + arrays.reduce((a, x) => a + x.parent.byteLength + x.choice.byteLength, 0),
        strategy: 'bfs',
        peakOpen,
        workers: n,
      },
      extremes: { maxCached: Math.max(0, ...perCpu.map((x) => x ?? 0)), perCpu: Array.from(perCpu, (x) => x ?? 0), witnesses: kept },
    };
    return assemble(sys, o, outcome);
  } finally {
    if (progress) clearInterval(progress);
    o.signal?.removeEventListener('abort', onAbort);
    // Back to the pool only if the search ended as the protocol ends it; else the threads go.
    await pool.release(threads, finished && peers.every((p) => p.settled));
  }
}

/** Levels with fewer states than this are not rebalanced. */
const SMALL_LEVEL = 512;

/** Moves states from the fullest next frontiers to the emptiest, when they differ by more than a tenth. */
async function rebalance(peers: Peer[], next: number[]): Promise<void> {
  const total = next.reduce((a, b) => a + b, 0);
  // A small level is done sooner by one worker than by moving worlds between threads.
  if (total < SMALL_LEVEL) return;
  const fair = Math.ceil(total / peers.length);
  const slack = Math.max(32, Math.floor(fair / 10));
  for (;;) {
    let hi = 0;
    let lo = 0;
    for (let i = 1; i < next.length; i++) {
      if (next[i]! > next[hi]!) hi = i;
      if (next[i]! < next[lo]!) lo = i;
    }
    if (next[hi]! - next[lo]! <= slack) return;
    const k = Math.min(next[hi]! - fair, fair - next[lo]!);
    if (k <= 0) return;
    const given = reply(await peers[hi]!.ask({ type: 'give', n: k }), 'worlds');
    reply(await peers[lo]!.ask({ type: 'take', worlds: given.worlds }), 'took');
    next[hi] = next[hi]! - k;
    next[lo] = next[lo]! + k;
  }
}
