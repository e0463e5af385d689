/**
 * The DFS on several worker threads (`--dfs --workers N`): each worker runs a depth-first search
 * of its own (worker-dfs.ts) against one visited set in shared memory, and the main thread keeps
 * them all busy.
 *
 * - Worker 0 runs on the main thread, on the implementation the caller already built (no thread
 *   to start, no module to load or C to rebuild, and the JIT and the oracle's memo it warms serve
 *   the searches that follow in this process); workers 1.. run on pooled threads (protocol.ts).
 * - Worker 0 boots and starts at the root as soon as it is set up: the others join when their
 *   thread has loaded the implementation. An idle worker is given work by a busy one: the later
 *   half of the untaken choices of the oldest state on its stack, with the choice vector to it.
 * - The table doubles while every worker is paused (no insert can race the copy) and none is still
 *   starting (its thread holds the table it was started with): when it is 3/4 full and every
 *   worker has started, or when a worker's insert found it too full (7/8). A DFS has no level
 *   barrier at which to grow, so each growth stops the search; at 3/4 and doubling it stays as
 *   dense as the sequential set (a table 4× larger is that many more cache and TLB misses on
 *   every insert).
 * - The search ends when every worker is idle and no work is on its way to one.
 * - States and transitions are those of the sequential DFS (the test compares them). A
 *   counterexample is minimised exactly as one found by one thread.
 */
import type { Violation } from '../system.js';
import { assemble, explore } from './search.js';
import type { ExploreOptions, ExploreResult, ExtremeWitness, SearchOutcome } from './types.js';
import { dfsSession } from './worker-dfs.js';
import {
  C_DEPTH,
  C_PAUSE,
  C_STATES,
  C_STOP,
  C_TRANSITIONS,
  STOP_SIGNAL,
  parallelSetup,
  pool,
  stoppedBy,
  workerInit,
  type DfsFound,
  type DfsUnit,
  type DfsWitness,
  type FromDfsWorker,
  type PooledThread,
  type Session,
  type ToDfsWorker,
  type WorkerInit,
} from './protocol.js';

/** `starting`: the thread is still loading the implementation (nothing may be sent to it but `start`). */
type Mode = 'starting' | 'running' | 'idle' | 'paused';

/**
 * Worker 0 on this thread: its messages both ways are cloned and delivered on a later turn of the
 * event loop, as a port delivers them, so that neither side sees the other's objects.
 */
function localWorker(o: ExploreOptions, init: WorkerInit, onMessage: (m: FromDfsWorker) => void): { post(m: ToDfsWorker): void } {
  let session: Session | null = null;
  const post = (m: FromDfsWorker) => {
    const c = structuredClone(m);
    setImmediate(() => onMessage(c));
  };
  session = dfsSession(o.impl, undefined, init, () => (session = null), post);
  post({ type: 'ready', id: init.id, sequential: session.sequential });
  return {
    post(m) {
      const c = structuredClone(m);
      setImmediate(() => session?.handle(c));
    },
  };
}

export async function exploreParallelDfs(o: ExploreOptions): Promise<ExploreResult> {
  const t0 = performance.now();
  const setup = parallelSetup(o);
  const { n, load, sys, controlBuf, control } = setup;
  let table = setup.table;
  const onAbort = () => Atomics.compareExchange(control, C_STOP, 0, STOP_SIGNAL);
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort);

  let threads: PooledThread[] = [];
  /** Where each worker's messages go: worker 0 on this thread, the others on `threads`. */
  const ends: { post(m: ToDfsWorker): void }[] = [];
  /** Set once every worker has answered `finish`: the search is over for them. */
  let finished = false;
  /** Set when the search has settled, however: worker 0 says nothing more to it. */
  let closed = false;
  const mode: Mode[] = [];
  /** requested[i]: the worker asked to give to idle worker i (-1: none asked). */
  const requested: number[] = [];
  /** Gifts that arrived while the table was growing, and whom they are for. */
  const held: { to: number; units: DfsUnit[] }[] = [];
  let growing = false;
  let tableOks = 0;
  let rr = 0;
  let retryTimer: NodeJS.Timeout | null = null;
  const send = (i: number, m: ToDfsWorker) => ends[i]!.post(m);

  const outcome = await new Promise<{ done: Extract<FromDfsWorker, { type: 'done' }>[]; sequential: boolean }>((resolve, reject) => {
    let readyCount = 0;
    /** Worker 0 has been told to start from the root: from then on, no running worker and no work owed is the end. */
    let started = false;
    let finishing = false;
    const done: Extract<FromDfsWorker, { type: 'done' }>[] = [];
    let lastProgress = t0;
    const timer = setInterval(() => {
      const now = performance.now();
      if (o.progress && now - lastProgress >= (o.progressEveryMs ?? 1000)) {
        lastProgress = now;
        o.progress({ states: Atomics.load(control, C_STATES), transitions: Atomics.load(control, C_TRANSITIONS), depth: Atomics.load(control, C_DEPTH), seconds: (now - t0) / 1000 });
      }
      if (readyCount === n && !growing && !finishing && table.size * 4 > table.capacity * 3) grow();
    }, 10);
    const fail = (e: Error) => {
      clearInterval(timer);
      if (retryTimer) clearTimeout(retryTimer);
      reject(e);
    };

    /** A worker still starting is told at its `ready`. */
    const finish = () => {
      if (finishing) return;
      finishing = true;
      for (let i = 0; i < n; i++) if (mode[i] !== 'starting') send(i, { type: 'finish' });
    };

    /** Every idle worker without a request out gets one to a running worker; if none runs and none is owed work, the search is over. */
    const balance = () => {
      if (growing || finishing || !started) return;
      const stopped = Atomics.load(control, C_STOP) !== 0;
      const running = mode.map((m, i) => (m === 'running' ? i : -1)).filter((i) => i >= 0);
      const owed = requested.some((r) => r >= 0) || held.length > 0;
      if (running.length === 0 && !owed) {
        finish();
        return;
      }
      if (stopped) return;
      for (let i = 0; i < n; i++) {
        if (mode[i] !== 'idle' || requested[i]! >= 0 || running.length === 0) continue;
        const giver = running[rr++ % running.length]!;
        requested[i] = giver;
        send(giver, { type: 'give' });
      }
    };

    const grow = () => {
      growing = true;
      Atomics.store(control, C_PAUSE, 1);
      maybeGrown();
    };
    /** Once no worker runs, the copy cannot race an insert. */
    const maybeGrown = () => {
      if (!growing || tableOks > 0 || mode.some((m) => m === 'running' || m === 'starting')) return;
      table = table.grown(2);
      tableOks = n;
      for (let i = 0; i < n; i++) send(i, { type: 'table', table: table.table });
    };
    const resume = () => {
      Atomics.store(control, C_PAUSE, 0);
      growing = false;
      for (let i = 0; i < n; i++)
        if (mode[i] === 'paused') {
          mode[i] = 'running';
          send(i, { type: 'resume' });
        }
      for (const h of held.splice(0)) give(h.to, h.units);
      balance();
    };
    const give = (to: number, units: DfsUnit[]) => {
      mode[to] = 'running';
      send(to, { type: 'work', units });
    };

    const onMessage = (m: FromDfsWorker) => {
      switch (m.type) {
        case 'error':
          fail(new Error(m.message));
          return;
        case 'ready':
          if (m.sequential) {
            // Boot failed or the root breaks an invariant: the sequential search reports it.
            clearInterval(timer);
            resolve({ done: [], sequential: true });
            return;
          }
          readyCount++;
          mode[m.id] = 'idle';
          if (finishing) {
            send(m.id, { type: 'finish' });
            return;
          }
          if (m.id === 0) {
            started = true;
            mode[0] = 'running';
            send(0, { type: 'resume' });
          }
          if (growing) maybeGrown();
          else balance();
          return;
        case 'idle':
          mode[m.id] = 'idle';
          if (growing) maybeGrown();
          balance();
          return;
        case 'paused':
          mode[m.id] = 'paused';
          if (m.full && !growing) grow();
          else maybeGrown();
          return;
        case 'table-ok':
          if (--tableOks === 0) resume();
          return;
        case 'gift': {
          const to = requested.indexOf(m.id);
          if (to < 0) return;
          requested[to] = -1;
          if (m.units.length === 0) {
            // The giver had nothing to spare just now: ask again shortly (or end, if it went idle).
            retryTimer ??= setTimeout(() => {
              retryTimer = null;
              balance();
            }, 1);
            return;
          }
          if (growing) held.push({ to, units: m.units });
          else give(to, m.units);
          balance();
          return;
        }
        case 'done':
          done.push(m);
          if (done.length === n) {
            clearInterval(timer);
            if (retryTimer) clearTimeout(retryTimer);
            finished = true;
            resolve({ done, sequential: false });
          }
          return;
      }
    };

    for (let id = 0; id < n; id++) {
      mode.push('starting');
      requested.push(-1);
    }
    try {
      threads = pool.acquire(n - 1, () => ({
        message: (m) => onMessage(m as FromDfsWorker),
        error: fail,
        // A thread held by a search never ends on its own.
        exit: (code) => fail(new Error(`a worker thread exited with code ${code}`)),
      }));
      // The threads first: they load while worker 0 boots here.
      for (let id = 1; id < n; id++) {
        const t = threads[id - 1]!;
        ends[id] = t;
        t.post({ type: 'start', init: workerInit(o, 'dfs', id, n, load, table.table, controlBuf) });
      }
      ends[0] = localWorker(o, workerInit(o, 'dfs', 0, n, load, table.table, controlBuf), (m) => {
        if (!closed) onMessage(m);
      });
    } catch (e) {
      fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
  }).finally(async () => {
    closed = true;
    // A search that failed (or fell back to one thread) stops worker 0's slices here too.
    if (!finished) Atomics.compareExchange(control, C_STOP, 0, STOP_SIGNAL);
    o.signal?.removeEventListener('abort', onAbort);
    // Back to the pool only if the search ended as the protocol ends it; else the threads go.
    await pool.release(threads, finished);
  });

  if (outcome.sequential) return explore({ ...o, strategy: 'dfs', workers: 1 });
  const results = outcome.done.sort((a, b) => a.id - b.id);
  if (o.workerCoverage) for (const r of results) if (r.coverage !== undefined) o.workerCoverage(r.coverage);

  // One counterexample per invariant id: the shortest any worker found (minimise() then shortens it).
  const errs = new Map<string, { v: Violation; choices: number[] }>();
  const warns = new Map<string, { v: Violation; choices: number[] }>();
  for (const f of results.flatMap((r) => r.found).sort((a: DfsFound, b: DfsFound) => a.choices.length - b.choices.length)) {
    const into = f.v.severity === 'warning' ? warns : errs;
    if (!into.has(f.v.id)) into.set(f.v.id, { v: f.v, choices: f.choices });
  }
  // Extremes: per CPU, each value some worker saw as a new maximum, with the shortest path to it.
  const perCpu: number[] = [];
  const kept: ExtremeWitness[] = [];
  const all = results.flatMap((r) => r.witnesses).sort((a: DfsWitness, b: DfsWitness) => a.cpu - b.cpu || a.value - b.value || a.choices.length - b.choices.length);
  for (const w of all) {
    if (w.value <= (perCpu[w.cpu] ?? -1)) continue;
    perCpu[w.cpu] = w.value;
    kept.push({ value: w.value, cpu: w.cpu, choices: w.choices });
  }
  const stopped = stoppedBy(Atomics.load(control, C_STOP));
  const search: SearchOutcome = {
    statechart: results.flatMap((r) => r.statechart),
    found: errs,
    warned: warns,
    bootFailed: false,
    ...(stopped ? { stopped } : {}),
    stats: {
      states: table.size,
      transitions: results.reduce((a, r) => a + r.transitions, 0),
      depth: Math.max(0, ...results.map((r) => r.depth)),
      seconds: (performance.now() - t0) / 1000,
      bytes: table.bytes,
      strategy: 'dfs',
      peakOpen: Math.max(1, ...results.map((r) => r.peakOpen)),
      workers: n,
    },
    extremes: { maxCached: Math.max(0, ...perCpu.map((x) => x ?? 0)), perCpu: Array.from(perCpu, (x) => x ?? 0), witnesses: kept },
  };
  return assemble(sys, o, search);
}
