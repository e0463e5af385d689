/**
 * The statechart-path layer against the implementations: every conforming port passes with 100%
 * of the machine's states and transitions covered, and a known-bad behaviour is caught with its
 * invariant id.
 */
import { describe, expect, it } from 'vitest';
import { runPathLayer, pathModel, PATH_MAX, PATH_THRESHOLD } from '../conformance/paths.js';
import { PORTS } from '../impl/registry.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import type { Implementation, Op } from '../impl/interface.js';
import type { Kernel } from '../impl/kernel/primitives.js';
import type { Value } from '../impl/kernel/values.js';
import { getProfile } from '../model/profiles.js';
import { machineSize } from '../model/render.js';
import { machineInventory } from '../model/inventory.js';

describe('statechart paths', () => {
  it('iomap-v1 conforms with 100% state and transition coverage', async () => {
    const t0 = performance.now();
    const r = await runPathLayer(iomapV1);
    const pm = pathModel(getProfile('iomap-v1', { max: PATH_MAX, threshold: PATH_THRESHOLD }));
    // The path layer walks the phase and whole-operation vocabulary; the observed one is the explorer's.
    const inv = machineInventory(pm.machine, 'paths');
    const size = { states: inv.nodes.length, transitions: inv.transitions.size };
    expect(machineSize(pm.machine).states).toBeGreaterThan(size.states);
    console.log(
      `iomap-v1: machine ${size.states} states / ${size.transitions} transitions; ${pm.vertices} transition-coverage vertices, ${r.paths} paths; ` +
        `states ${r.states.covered}/${r.states.total}, transitions ${r.transitions.covered}/${r.transitions.total}; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(r.failures).toEqual([]);
    expect(r.states.covered).toBe(r.states.total);
    expect(r.transitions.covered).toBe(r.transitions.total);
    expect(r.states.total).toBe(size.states);
    expect(r.transitions.total).toBe(size.transitions);
    expect(r.paths).toBeGreaterThan(100);
  });

  for (const port of PORTS.filter((p) => p !== iomapV1)) {
    it(`${port.name} (profile ${port.profile}) conforms with 100% coverage`, async () => {
      const r = await runPathLayer(port);
      console.log(`${port.name}: ${r.paths} paths; states ${r.states.covered}/${r.states.total}, transitions ${r.transitions.covered}/${r.transitions.total}`);
      expect(r.failures).toEqual([]);
      expect(r.states.covered).toBe(r.states.total);
      expect(r.transitions.covered).toBe(r.transitions.total);
    });
  }

  it('catches a hardirq put that pushes onto the task list (task-list-task-only)', async () => {
    // The v1 port, except that in hardirq context the put takes the in_task() branch.
    const bad: Implementation = {
      ...iomapV1,
      name: 'test-hardirq-pushes-free-list',
      free: function* (k: Kernel, dio: Value): Op {
        if (k.ctx !== 'hardirq') return yield* iomapV1.free(k, dio);
        k.enter('dio_put_percpu_cache');
        yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
        const cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
        yield 'dio->dio_next = cache->free_list;';
        k.store(dio, 'dio_next', k.load(cache, 'free_list'));
        yield 'cache->free_list = dio;';
        k.store(cache, 'free_list', dio);
        yield 'cache->nr++;';
        k.store(cache, 'nr', k.load(cache, 'nr') + 1);
        yield 'put_cpu();';
        k.put_cpu();
        k.leave();
      },
    };
    const r = await runPathLayer(bad);
    console.log(`caught: ${r.failures.map((f) => `${f.invariant}: ${f.message} via ${f.path}`).join('\n        ')}`);
    expect(r.failures.map((f) => f.invariant)).toContain('task-list-task-only');
    expect(r.failures[0]!.path).toMatch(/PUT\(hardirq/);
  });

  it('catches the v1 cap test run against the `>=` profile (refinement)', async () => {
    const r = await runPathLayer(iomapV1, { profile: 'iomap-v3' });
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.failures.every((f) => f.invariant === 'refinement')).toBe(true);
    expect(r.failures[0]!.message).toMatch(/cap test/);
  });
});
