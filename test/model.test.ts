/**
 * The statechart on its own: the soft cap's reachable maximum (MAX+2 with `>`, MAX+1 with `>=`)
 * is a path and nothing beyond it is reachable; a splice only empties the irq list onto an empty
 * task list; a softirq put frees; a hit returns the head; interrupts are refused with irqs off;
 * the derived regions agree with the context everywhere; the kernel's own constants at the
 * boundaries (a put at total 256 caches, at 257 frees; a splice at nr_irq 16, not 15).
 */
import { describe, expect, it } from 'vitest';
import { createActor, transition, type AnyMachineSnapshot, type SnapshotFrom, type StateValue } from 'xstate';
import { cacheMachine, type CacheEvent, type CacheMachine } from '../model/machine.js';
import { getProfile, reachableCapBound, sequentialCapBound, type Profile } from '../model/profiles.js';
import { abstractKey, pathEvents } from '../conformance/paths.js';

type Snap = SnapshotFrom<CacheMachine>;

function run(m: CacheMachine, events: CacheEvent[]): Snap {
  const a = createActor(m).start();
  for (const e of events) {
    const before = a.getSnapshot();
    expect(before.can(e), `the model refused ${JSON.stringify(e)} in ${JSON.stringify(before.value)}`).toBe(true);
    a.send(e);
  }
  return a.getSnapshot();
}

const total = (s: Snap) => s.context.nr + s.context.nrIrq;
/** `snapshot.matches` on a partial state value (the machine's state value type is not inferred). */
const is = (s: Snap, v: StateValue) => (s as AnyMachineSnapshot).matches(v);

type Graph = { states: Snap[]; edges: { prev: Snap; e: CacheEvent; next: Snap }[] };
const graphs = new Map<string, Graph>();

/**
 * Every reachable (state, event, next state) of the small-scope abstract graph; `sequential`
 * offers whole operations only (no interrupt between two phases of an operation).
 */
function reachable(profile: Profile, sequential = false): Graph {
  const key = `${profile.name}/${sequential}`;
  const hit = graphs.get(key);
  if (hit) return hit;
  const m = cacheMachine(profile);
  const all = pathEvents(profile);
  const events = (s: Snap) => all(s).filter((e) => !sequential || e.type === 'ALLOC' || e.type === 'PUT');
  const init = createActor(m).getSnapshot();
  const seen = new Map<string, Snap>([[abstractKey(init), init]]);
  const edges: { prev: Snap; e: CacheEvent; next: Snap }[] = [];
  let frontier = [init];
  while (frontier.length) {
    const next: Snap[] = [];
    for (const s of frontier)
      for (const e of events(s)) {
        const [n] = transition(m, s, e);
        edges.push({ prev: s, e, next: n });
        const k = abstractKey(n);
        if (!seen.has(k)) {
          seen.set(k, n);
          next.push(n);
        }
      }
    frontier = next;
  }
  const g = { states: [...seen.values()], edges };
  graphs.set(key, g);
  return g;
}

const small = (name: string) => getProfile(name, { max: 2, threshold: 1 });
const allocs = (n: number): CacheEvent[] => Array.from({ length: n }, (_, i) => ({ type: 'ALLOC', fresh: i + 1 }));

describe('the soft cap', () => {
  it('`>` (iomap-v1): a hardirq put between a task put\'s cap check and its push reaches MAX+2', () => {
    const p = small('iomap-v1');
    const m = cacheMachine(p);
    const s = run(m, [
      ...allocs(4),
      { type: 'PUT', ctx: 'task', obj: 1 },
      { type: 'PUT', ctx: 'task', obj: 2 },
      { type: 'TASK_PUT_BEGIN', obj: 3 }, // reads nr_irq + nr = 2 = MAX: not > MAX, will push
      { type: 'PUT', ctx: 'hardirq', obj: 4 }, // reads 2 too: pushes onto free_list_irq
      { type: 'TASK_STEP' }, // the task pushes: 4
    ]);
    expect(total(s)).toBe(p.max + 2);
    expect(is(s, { capacity: 'overshoot' })).toBe(true);
    expect(s.context.freeList).toEqual([3, 2, 1]);
    expect(s.context.freeListIrq).toEqual([4]);
  });

  it('`>`: sequentially a put at MAX+1 frees, so MAX+1 is the sequential bound', () => {
    const p = small('iomap-v1');
    const s = run(cacheMachine(p), [...allocs(4), ...[1, 2, 3, 4].map((obj): CacheEvent => ({ type: 'PUT', ctx: 'task', obj }))]);
    expect(total(s)).toBe(p.max + 1);
    expect(s.context.lastOutcome).toBe('free');
    expect(s.context.freed).toEqual([4]);
  });

  it('`>=` (iomap-v3): the same race reaches MAX+1', () => {
    const p = small('iomap-v3');
    const s = run(cacheMachine(p), [
      ...allocs(3),
      { type: 'PUT', ctx: 'task', obj: 1 },
      { type: 'TASK_PUT_BEGIN', obj: 2 },
      { type: 'PUT', ctx: 'hardirq', obj: 3 },
      { type: 'TASK_STEP' },
    ]);
    expect(total(s)).toBe(p.max + 1);
    expect(is(s, { capacity: 'overshoot' })).toBe(true);
  });

  for (const name of ['iomap-v1', 'iomap-v3']) {
    it(`${name}: the reachable maximum is the profile's bound, and only interleaving gets past the sequential one`, () => {
      const p = small(name);
      expect(Math.max(...reachable(p).states.map(total))).toBe(reachableCapBound(p));
      expect(Math.max(...reachable(p, true).states.map(total))).toBe(sequentialCapBound(p));
    });
  }
});

describe('alloc and put', () => {
  it('a hit returns the head of free_list; a miss hands out the fresh object', () => {
    const m = cacheMachine(small('iomap-v1'));
    const s1 = run(m, [...allocs(2), { type: 'PUT', ctx: 'task', obj: 1 }, { type: 'PUT', ctx: 'task', obj: 2 }, { type: 'ALLOC', fresh: 9 }]);
    expect(s1.context.lastOutcome).toBe('hit');
    expect(s1.context.lastAlloc).toBe(2);
    const s2 = run(m, [{ type: 'ALLOC', fresh: 7 }]);
    expect(s2.context.lastOutcome).toBe('miss');
    expect(s2.context.lastAlloc).toBe(7);
  });

  it('a softirq put frees, whatever the cap test says', () => {
    const s = run(cacheMachine(small('iomap-v1')), [...allocs(1), { type: 'PUT', ctx: 'softirq', obj: 1 }]);
    expect(s.context.lastOutcome).toBe('free');
    expect(s.context.freeList).toEqual([]);
    expect(s.context.freeListIrq).toEqual([]);
    expect(s.context.freed).toEqual([1]);
  });

  it('an alloc on an empty free_list splices a spliceable irq list, then pops its head', () => {
    const m = cacheMachine(small('iomap-v1'));
    const s = run(m, [...allocs(2), { type: 'PUT', ctx: 'hardirq', obj: 1 }, { type: 'PUT', ctx: 'hardirq', obj: 2 }, { type: 'ALLOC', fresh: 3 }]);
    expect(s.context.lastOutcome).toBe('splice-hit');
    expect(s.context.lastAlloc).toBe(2);
    expect(s.context.freeList).toEqual([1]);
    expect(s.context.nrIrq).toBe(0);
  });

  it('interrupts are refused while the splice has irqs off, and accepted again after it', () => {
    const m = cacheMachine(small('iomap-v1'));
    const s = run(m, [...allocs(3), { type: 'PUT', ctx: 'hardirq', obj: 1 }, { type: 'TASK_ALLOC_BEGIN', fresh: 4 }, { type: 'TASK_STEP' }]);
    expect(is(s, { task: { preemptOff: { alloc: 'splicing' } }, irqs: 'off' })).toBe(true);
    for (const e of [{ type: 'HARDIRQ_ENTER', obj: 2 }, { type: 'PUT', ctx: 'hardirq', obj: 2 }, { type: 'SOFTIRQ_ENTER', obj: 2 }] as CacheEvent[]) expect(s.can(e)).toBe(false);
    const [after] = transition(m, s, { type: 'TASK_STEP' });
    expect(is(after, { task: { preemptOff: { alloc: 'pop' } }, irqs: 'on' })).toBe(true);
    expect(after.can({ type: 'HARDIRQ_ENTER', obj: 2 })).toBe(true);
  });

  it('hardirqs do not nest, and a task does not run under an interrupt', () => {
    const m = cacheMachine(small('iomap-v1'));
    const s = run(m, [...allocs(2), { type: 'SOFTIRQ_ENTER', obj: 1 }, { type: 'HARDIRQ_ENTER', obj: 2 }]);
    expect(is(s, { running: 'hardirqOverSoftirq' })).toBe(true);
    expect(s.can({ type: 'HARDIRQ_ENTER', obj: 2 })).toBe(false);
    expect(s.can({ type: 'SOFTIRQ_EXIT' })).toBe(false);
    expect(s.can({ type: 'ALLOC', fresh: 5 })).toBe(false);
  });

  it('the kernel constants: a put at total 256 caches, at 257 frees; a splice at nr_irq 16, not 15', () => {
    const p = getProfile('iomap-v1');
    const m = cacheMachine(p);
    const a = createActor(m).start();
    for (let i = 1; i <= 258; i++) a.send({ type: 'ALLOC', fresh: i });
    for (let i = 1; i <= 256; i++) a.send({ type: 'PUT', ctx: 'task', obj: i });
    expect(a.getSnapshot().context.nr).toBe(256);
    a.send({ type: 'PUT', ctx: 'task', obj: 257 });
    expect(a.getSnapshot().context.lastOutcome).toBe('push-task');
    a.send({ type: 'PUT', ctx: 'task', obj: 258 });
    expect(a.getSnapshot().context.lastOutcome).toBe('free');

    const b = createActor(m).start();
    for (let i = 1; i <= 17; i++) b.send({ type: 'ALLOC', fresh: i });
    for (let i = 1; i <= 15; i++) b.send({ type: 'PUT', ctx: 'hardirq', obj: i });
    b.send({ type: 'ALLOC', fresh: 100 });
    expect(b.getSnapshot().context.lastOutcome).toBe('miss');
    expect(b.getSnapshot().context.nrIrq).toBe(15);
    b.send({ type: 'PUT', ctx: 'hardirq', obj: 16 });
    b.send({ type: 'ALLOC', fresh: 101 });
    expect(b.getSnapshot().context.lastOutcome).toBe('splice-hit');
    expect(b.getSnapshot().context.nr).toBe(15);
  });
});

describe('over every reachable state and edge (MAX 2, THRESHOLD 1)', () => {
  for (const name of ['iomap-v1', 'iomap-v3']) {
    it(`${name}: counters, derived regions and objects agree with the lists`, () => {
      const p = small(name);
      const { states, edges } = reachable(p);
      expect(states.length).toBeGreaterThan(100);
      for (const s of states) {
        const c = s.context;
        expect(c.nr).toBe(c.freeList.length);
        expect(c.nrIrq).toBe(c.freeListIrq.length);
        expect(is(s, { taskList: c.freeList.length ? 'cached' : 'empty' })).toBe(true);
        expect(is(s, { irqList: c.nrIrq >= p.threshold ? 'spliceable' : 'belowThreshold' })).toBe(true);
        expect(is(s, { irqs: c.irqsOff ? 'off' : 'on' })).toBe(true);
        const t = total(s);
        const cap = t < p.max ? 'room' : t === p.max ? 'atMax' : t <= sequentialCapBound(p) ? 'overMax' : 'overshoot';
        expect(is(s, { capacity: cap })).toBe(true);
        const running = c.hardirqObj !== null ? (c.softirqObj !== null ? 'hardirqOverSoftirq' : 'hardirqOverTask') : c.softirqObj !== null ? 'softirqOverTask' : 'task';
        expect(is(s, { running })).toBe(true);
        const live = [...c.freeList, ...c.freeListIrq, ...c.inUse, ...[c.taskObj, c.softirqObj, c.hardirqObj].filter((x) => x !== null)];
        expect(new Set(live).size, `an object in two places: ${JSON.stringify(c)}`).toBe(live.length);
      }
      let splices = 0;
      for (const { prev, next } of edges) {
        if (next.context.freeListIrq.length < prev.context.freeListIrq.length) {
          splices++;
          expect(prev.context.freeList.length, `splice over a non-empty free_list after ${JSON.stringify(prev.value)}`).toBe(0);
        }
        // free_list and nr change only in task context (whole-op task events or task phases).
        if (next.context.freeList.join() !== prev.context.freeList.join()) expect(prev.context.softirqObj === null && prev.context.hardirqObj === null).toBe(true);
      }
      expect(splices).toBeGreaterThan(0);
    });
  }
});

describe('profiles are data', () => {
  it('slab: no per-CPU lists; every alloc is fresh and every put frees', () => {
    const p = getProfile('slab', { max: 2, threshold: 1 });
    const s = run(cacheMachine(p), [...allocs(2), { type: 'PUT', ctx: 'task', obj: 1 }, { type: 'PUT', ctx: 'hardirq', obj: 2 }, { type: 'ALLOC', fresh: 3 }]);
    expect(s.context.freed).toEqual([1, 2]);
    expect(s.context.lastOutcome).toBe('miss');
    expect(s.context.freeList).toEqual([]);
  });
});
