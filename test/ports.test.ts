/**
 * The ports conform: every port in the registry, under the interleaving explorer, at small scopes
 * that finish in seconds — two CPUs with preemption, migration and cross-CPU frees, and CPU
 * hotplug (the Promela reference's semantics at K=3, with each port's cap bound reached, is
 * explorer.test.ts's "every registered port conforms at spin-ref K=3": each port's manifest row). Plus what the abstraction sees of the ports
 * whose lists are not plain `struct dio_alloc_cache` fields (the v3 helpers' element headers and
 * descriptor) and the bio port's hotplug prune, step by step.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../conformance/explorer/explore.js';
import { Fingerprinter, FingerprintSet } from '../conformance/explorer/fingerprint.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Choice, type Scope } from '../conformance/system.js';
import { PORTS } from '../impl/registry.js';
import type { Implementation } from '../impl/interface.js';
import { bio } from '../impl/ports/bio.js';
import { iomapCommon, bioCommon } from '../impl/ports/common.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { ptrId, ptrOff } from '../impl/kernel/values.js';
import type { World } from '../impl/kernel/world.js';
import type { AbstractState } from '../model/abstract.js';
import { getProfile } from '../model/profiles.js';

/**
 * Two CPUs, a task on each, one preemption: a task may move to the other CPU wherever it is
 * preemptible once that CPU's task has finished, so an operation can start on one CPU and end on
 * the other. Alloc and free in task context, a hardirq completion whose handler interleaves with
 * the other CPU statement by statement. Objects allocated on one CPU are freed on the other.
 */
function smp2(impl: Implementation): Scope {
  return {
    name: 'smp2-small',
    description: '2 CPUs, a task on each, 1 preemption (a task may migrate mid-operation to the CPU whose task has finished), alloc/free, 1 prefilled per CPU, 1 hardirq completion, MAX 1',
    cpus: 2,
    taskCpus: [0, 1],
    ops: 2,
    taskOps: ['alloc', 'free'],
    prefill: 1,
    inflight: 1,
    completers: ['hardirq'],
    atomicIrq: false,
    preemptions: 1,
    migration: true,
    hotplug: false,
    profile: impl.profile,
    max: 1,
    threshold: 1,
  };
}

/** Two CPUs, one cached object on each, a hardirq completion; CPU 1 may go offline. */
function hotplug(impl: Implementation): Scope {
  return {
    name: 'hotplug-small',
    description: '2 CPUs, 1 task each doing one op, 1 prefilled per CPU, 1 hardirq completion, CPU 1 may go offline',
    cpus: 2,
    taskCpus: [0, 1],
    ops: 1,
    taskOps: ['alloc', 'free'],
    prefill: 1,
    inflight: 1,
    completers: ['hardirq'],
    atomicIrq: true,
    preemptions: 0,
    migration: false,
    hotplug: true,
    profile: impl.profile,
    max: 2,
    threshold: 1,
  };
}

const describeViolations = (r: ReturnType<typeof explore>) => r.violations.map((v) => `${v.id}: ${v.message}`);

describe('every port conforms under explore()', () => {
  it('the registry lists the ports', () => {
    expect(PORTS.map((p) => p.name)).toEqual(['iomap-v1', 'bio', 'iomap-common', 'bio-common', 'slab', 'sheaves', 'iomap-v1-kmemleak']);
    for (const p of PORTS) expect(p.expectedViolation).toBeUndefined();
  });

  // Each port at spin-ref K=3 (conforms, reaches its profile's cap bound) was a test here too, by
  // DFS: the same claims as explorer.test.ts's "every registered port conforms at spin-ref K=3"
  // on the same states (its BFS run of each port's manifest row), so only that one is kept.
  for (const impl of PORTS) {
    it(`${impl.name} conforms on 2 CPUs with migration, preemption and cross-CPU frees`, () => {
      const scope = smp2(impl);
      const r = explore({ impl, scope, strategy: 'dfs' }); // every state as BFS would, sooner: nothing to keep short here
      console.log(`${impl.name} @ ${scope.name}: ${r.verdict}, ${r.stats.states} states, ${r.stats.seconds.toFixed(2)} s`);
      expect(describeViolations(r)).toEqual([]);
      expect(r.complete).toBe(true);
    });
  }
});

describe('CPU hotplug', () => {
  for (const impl of PORTS) {
    const strands = impl.cache !== null && !getProfile(impl.profile).hotplugPrune;
    it(`${impl.name}: ${strands ? 'strands a dead CPU\'s objects (hotplug-stranding warning)' : 'leaves nothing on a dead CPU'}`, () => {
      const r = explore({ impl, scope: hotplug(impl), strategy: 'dfs' });
      expect(describeViolations(r)).toEqual([]);
      expect(r.complete).toBe(true);
      expect(r.warnings.map((w) => w.id)).toEqual(strands ? ['hotplug-stranding'] : []);
    });
  }
});

/** Runs choices picked by `pick` until it returns undefined; fails on any violation. */
function walk(sys: System, pick: (w: World, choices: Choice[]) => Choice | undefined): { w: World; abs: AbstractState } {
  const init = sys.initial();
  expect(init.violations).toEqual([]);
  let w = init.world;
  let abs = init.abs;
  for (let i = 0; i < 200; i++) {
    const c = pick(w, sys.enabled(w));
    if (!c) return { w, abs };
    const r = sys.step(w, abs, c);
    expect(r.violations).toEqual([]);
    w = r.world;
    abs = r.abs;
  }
  throw new Error('walk did not finish');
}

describe('the v3 generic helpers: the abstraction sees the lists through the descriptor and the element headers', () => {
  for (const impl of [iomapCommon, bioCommon]) {
    it(`${impl.name}: prefilled, irq-completed and allocated objects land where the model says`, () => {
      const scope: Scope = { ...SCOPES['spin-ref']!, ops: 1, taskOps: ['alloc'], profile: impl.profile };
      const sys = new System(impl, scope);
      const init = sys.initial();
      const c0 = init.abs.caches[0]!;
      // Boot put 2 objects on free_list through the helper: the list links headers of kmalloc'd objects.
      expect(c0.freeList).toHaveLength(2);
      expect(c0.nr).toBe(2);
      expect(c0.listFault).toBeUndefined();
      // The descriptor (struct pcpu_cache_list) is the module's, not an object the model tracks.
      const descriptor = ptrId(init.world.globals[impl.cache!.percpu]!);
      expect(init.world.heap[descriptor]!.type).toBe('pcpu_cache_list');
      expect(init.abs.objects.map((o) => o.id)).not.toContain(descriptor);
      expect(init.abs.objects.filter((o) => !o.freed)).toHaveLength(6);
      const head = c0.freeList[0]!;

      // A hardirq completes one in-flight object, then the task allocates.
      let hardirqs = 0;
      const { w, abs } = walk(sys, (world, cs) => {
        if (hardirqs === 0) {
          hardirqs++;
          return cs.find((c) => c.kind === 'hardirq');
        }
        const step = cs.find((c) => c.kind === 'step');
        if (step) return step;
        if (world.tasks[0]!.opsDone === 0) return cs.find((c) => c.kind === 'start');
        return undefined;
      });
      const c = abs.caches[0]!;
      expect(c.freeListIrq).toHaveLength(1);
      expect(c.nrIrq).toBe(1);
      expect(c.freeList).toHaveLength(1);
      expect(c.nr).toBe(1);
      // The task holds the payload pointer: the old head's object, one header past its start.
      const held = w.tasks[0]!.held;
      expect(held).toHaveLength(1);
      expect(ptrId(held[0]!)).toBe(head);
      expect(ptrOff(held[0]!)).toBe(8);
      expect(abs.objects.find((o) => o.id === head)!.places).toEqual([{ kind: 'held', task: 0 }]);
    });
  }
});

describe('bio: bio_cpu_dead() prunes both lists of a dead CPU', () => {
  it('a bio cached on CPU 1 free_list and one on its free_list_irq are freed when CPU 1 goes offline', () => {
    const sys = new System(bio, hotplug(bio));
    let phase = 0;
    const { w, abs } = walk(sys, (_world, cs) => {
      phase++;
      if (phase === 1) return cs.find((c) => c.kind === 'hardirq' && c.cpu === 1);
      if (phase === 2) return cs.find((c) => c.kind === 'offline' && c.cpu === 1);
      return undefined;
    });
    expect(phase).toBe(3);
    const c1 = abs.caches[1]!;
    expect(c1.online).toBe(false);
    expect([c1.freeList, c1.freeListIrq, c1.nr, c1.nrIrq]).toEqual([[], [], 0, 0]);
    // Everything that is still live is on CPU 0's list or in nobody's hands but the model's.
    const live = abs.objects.filter((o) => !o.freed);
    expect(live.length).toBeGreaterThan(0);
    expect(live.every((o) => o.places.some((p) => p.kind === 'task-list' && p.cpu === 0))).toBe(true);
    expect(w.cpus[0]!.irqsOff).toBe(false);
  });

  it('iomap-v1, in the same steps, strands both objects', () => {
    const sys = new System(iomapV1, hotplug(iomapV1));
    const init = sys.initial();
    const irq = sys.step(init.world, init.abs, sys.enabled(init.world).find((c) => c.kind === 'hardirq' && c.cpu === 1)!);
    const off = sys.step(irq.world, irq.abs, sys.enabled(irq.world).find((c) => c.kind === 'offline' && c.cpu === 1)!);
    expect(off.violations.map((v) => v.id)).toEqual(['hotplug-stranding']);
    expect(off.violations[0]!.message).toContain('2 object(s)');
  });
});

describe("the caller's error path: __iomap_dio_rw()'s out_free_dio, a nondeterministic branch", () => {
  for (const impl of [iomapV1, iomapCommon]) {
    it(`${impl.name}: the branch is offered both ways; taken, the dio goes back on free_list in task context and the caller gets none`, () => {
      const scope: Scope = { ...SCOPES['spin-ref']!, ops: 1, taskOps: ['alloc'], inflight: 0, profile: impl.profile, callerErrors: true };
      const sys = new System(impl, scope);
      const head = sys.initial().abs.caches[0]!.freeList[0]!;
      for (const take of [false, true]) {
        let offered = 0;
        const { w, abs } = walk(sys, (world, cs) => {
          const branch = cs.filter((c) => c.kind === 'step' && c.branch);
          if (branch.length) offered++;
          if (world.tasks[0]!.opsDone === 0) return cs.find((c) => c.kind === 'start');
          return (take ? branch[0] : undefined) ?? cs.find((c) => c.kind === 'step' && !c.branch);
        });
        // The step the walk ended with: the alloc's return.
        const done = abs.step;
        expect(offered).toBe(1);
        expect(done?.done?.op).toBe('alloc');
        const c0 = abs.caches[0]!;
        if (take) {
          // Popped from the head, put back at the head by the error path's task put.
          expect(done!.done!.errorPut).toBe('push-task');
          expect(done!.done!.kind).toBe('hit');
          expect(w.tasks[0]!.held).toEqual([]);
          expect(c0.freeList[0]).toBe(head);
          expect(c0.nr).toBe(c0.freeList.length);
        } else {
          expect(done!.done!.errorPut).toBeUndefined();
          expect(w.tasks[0]!.held.map((p) => ptrId(p))).toEqual([head]);
        }
      }
    });
  }

  it('the trace says the branch was the explorer\'s choice, and a replay of the choices reproduces it', () => {
    const sys = new System(iomapV1, { ...SCOPES['spin-ref']!, ops: 1, taskOps: ['alloc'], inflight: 0, callerErrors: true });
    const init = sys.initial();
    let w = init.world;
    let abs = init.abs;
    const idx: number[] = [];
    let event = '';
    for (let i = 0; i < 100; i++) {
      const cs = sys.enabled(w);
      let j = w.tasks[0]!.opsDone === 0 ? cs.findIndex((c) => c.kind === 'start') : cs.findIndex((c) => c.kind === 'step' && c.branch);
      if (j < 0) j = cs.findIndex((c) => c.kind === 'step');
      if (j < 0) break;
      idx.push(j);
      const r = sys.step(w, abs, cs[j]!);
      if (cs[j]!.kind === 'step' && (cs[j] as { branch?: boolean }).branch) event = r.event;
      w = r.world;
      abs = r.abs;
    }
    expect(event).toMatch(/takes the branch of __iomap_dio_rw: atomic_set\(&dio->ref, 1\); then if \(ret\) goto out_free_dio;.*\(nondeterministic branch\)/);
    // The same indices from boot: the read log carries the branch, so the same state comes out.
    let w2 = sys.initial().world;
    let a2 = sys.initial().abs;
    for (const j of idx) {
      const r = sys.step(w2, a2, sys.enabled(w2)[j]!);
      w2 = r.world;
      a2 = r.abs;
    }
    expect(a2.caches).toEqual(abs.caches);
    expect(w2.tasks[0]!.held).toEqual([]);
  });

  it('the callerErrors knob: on, an alloc that gives its dio back on the error path is reached (and more states); off (spin-ref, as the Promela model), never', () => {
    for (const impl of [iomapV1, iomapCommon]) {
      const base: Scope = { ...SCOPES['spin-ref']!, ops: 2, inflight: 1, profile: impl.profile };
      // Every reachable state (a BFS of its own, fingerprinted as the explorer does): how many an
      // alloc reached by putting its dio back on the caller's error path, how many offer the branch.
      const reach = (callerErrors: boolean) => {
        const sys = new System(impl, { ...base, callerErrors });
        const fp = new Fingerprinter(true);
        const seen = new FingerprintSet();
        const init = sys.initial();
        let todo = [{ w: init.world, abs: init.abs }];
        let states = 0;
        let errorPuts = 0;
        let offered = 0;
        while (todo.length) {
          const next: typeof todo = [];
          for (const { w, abs } of todo) {
            fp.fingerprint(w);
            if (!seen.add(fp.hi, fp.lo)) continue;
            states++;
            if (abs.step?.done?.errorPut) errorPuts++;
            const cs = sys.enabled(w);
            if (cs.some((c) => c.kind === 'step' && c.branch)) offered++;
            for (const c of cs) {
              const r = sys.step(w, abs, c);
              expect(r.violations).toEqual([]);
              next.push({ w: r.world, abs: r.abs });
            }
          }
          todo = next;
        }
        return { states, errorPuts, offered };
      };
      const on = reach(true);
      const off = reach(false);
      expect(on.errorPuts).toBeGreaterThan(0);
      expect(on.offered).toBeGreaterThan(0);
      expect([off.errorPuts, off.offered]).toEqual([0, 0]);
      expect(on.states).toBeGreaterThan(off.states);
    }
    expect(SCOPES['spin-ref']!.callerErrors).toBe(false);
  });
});
