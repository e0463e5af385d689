/**
 * The simulated kernel's own guarantees, which every layer relies on: a step never changes the
 * state it started from (the explorer resumes many successors from one stored state), the same
 * step from the same state gives the same state (replay), and an implementation that misbehaves
 * inside a statement is reported, not obeyed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { System, type Scope } from '../conformance/system.js';
import { SCOPES } from '../conformance/scopes.js';
import { explore } from '../conformance/explorer/explore.js';
import { port, type Implementation, type Op } from '../impl/interface.js';
import { LIVE_CALL_BUDGET, type Kernel } from '../impl/kernel/primitives.js';
import { mkPtr, type Value } from '../impl/kernel/values.js';
import { sameContent } from '../impl/kernel/heap.js';
import { newHeapObj, type HeapObj, type KmemleakState, type World } from '../impl/kernel/world.js';
import { dio_put_percpu_cache, iomapV1 } from '../impl/ports/iomap-v1.js';
import { PORTS } from '../impl/registry.js';

const smp: Scope = { ...SCOPES['smp-irq']! };

describe('kernel simulation: steps are pure functions of the stored state', () => {
  for (const impl of PORTS) {
    it(`${impl.name}: a step never mutates its parent, and repeating it gives the same world`, () => {
      const sys = new System(impl, { ...smp, profile: impl.profile });
      const seed = Number(process.env.FC_SEED ?? 20261125);
      console.log(`kernel purity (${impl.name}) seed ${seed}`);
      fc.assert(
        fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (picks) => {
          let { world, abs } = sys.initial();
          for (const p of picks) {
            const choices = sys.enabled(world);
            if (!choices.length) break;
            const c = choices[p % choices.length]!;
            const before = JSON.stringify(world);
            const a = sys.step(world, abs, c);
            expect(JSON.stringify(world)).toBe(before);
            const b = sys.step(world, abs, c);
            expect(JSON.stringify(b.world)).toBe(JSON.stringify(a.world));
            expect(b.violations).toEqual(a.violations);
            expect(a.violations).toEqual([]);
            world = a.world;
            abs = a.abs;
          }
        }),
        { seed, numRuns: 60 },
      );
    });
  }
});

describe('kernel simulation: misbehaving implementations are reported', () => {
  const scope: Scope = { ...SCOPES['spin-ref']!, ops: 2 };

  it('a statement that loops without reaching a yield is a crash, not a hang', () => {
    const spin = port('dio_put_percpu_cache', function* (k: Kernel, _dio: Value): Op {
      yield 'while (cache->nr >= 0) ;';
      const cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
      while (k.load(cache, 'nr') >= 0) {
        /* the loop the budget exists for */
      }
    });
    const impl: Implementation = { ...iomapV1, name: 'spins-in-a-statement', free: spin };
    const r = explore({ impl, scope });
    expect(r.verdict).toBe('violation');
    expect(r.violations[0]!.id).toBe('crash');
    expect(r.violations[0]!.message).toContain(`more than ${LIVE_CALL_BUDGET} kernel calls`);
  });

  it('an access at or past the end of a kmalloc()ed object is slab-out-of-bounds (crash); kzalloc() memory reads as 0 past the declared fields', () => {
    // The caller's set-up writes 8 bytes past a 128-byte struct iomap_dio.
    const overrun = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
      yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
      const dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
      yield 'dio->pad[16] = 0;';
      k.storeAt(dio + 136, 0, 'dio->pad[16]');
      return dio;
    });
    const r = explore({ impl: { ...iomapV1, name: 'overruns', alloc: overrun }, scope });
    expect(r.violations.map((v) => v.id)).toEqual(['crash']);
    expect(r.violations[0]!.message).toContain('slab-out-of-bounds (KASAN): dio->pad[16] is at byte 136 of #');
    expect(r.violations[0]!.message).toContain('a struct iomap_dio of 128 bytes');
    // A computed size: 16 bytes asked for, zeroed; byte 12 reads 0, byte 16 is out of bounds.
    const zeroed = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
      yield 'p = kzalloc(16, GFP_KERNEL);';
      const p = k.kzalloc('kmalloc', 'GFP_KERNEL', 16);
      yield 'if (p[3] || p[4]) ...';
      if (k.loadAt(p + 12, 'p[3]') !== 0) throw new Error('kzalloc memory reads as 0');
      k.loadAt(p + 16, 'p[4]');
      return p;
    });
    const r2 = explore({ impl: { ...iomapV1, name: 'reads-past-16', alloc: zeroed }, scope });
    expect(r2.violations[0]!.message).toContain('slab-out-of-bounds (KASAN): p[4] is at byte 16 of #');
    expect(r2.violations[0]!.message).toContain('an allocation of 16 bytes');
  });

  it('an implementation that is not deterministic is caught when it is resumed', () => {
    let calls = 0;
    // Reads a different field each time it is re-run: replay of the stored read log diverges.
    const flaky = port('iomap_dio_complete', function* (k: Kernel, dio: Value): Op {
      yield 'trace_iomap_dio_complete(iocb, dio->error, ret);';
      if (calls++ % 2 === 0) k.load(dio, 'iocb');
      yield* dio_put_percpu_cache(k, dio);
    });
    const impl: Implementation = { ...iomapV1, name: 'not-deterministic', free: flaky, fresh: iomapV1.fresh! };
    const r = explore({ impl, scope });
    expect(r.verdict).toBe('violation');
    expect(r.violations[0]!.id).toBe('crash');
    expect(r.violations[0]!.message).toMatch(/not deterministic|replay/);
  });
});

describe('kernel simulation: objects that differ only in identity', () => {
  // System.enabled() offers one choice for objects that are the same but for their id
  // (distinct(), by sameContent()); type, origin, size and kmemleak state are the object too:
  // freeing a dio kmemleak tracks and one it does not are different steps.
  it('sameContent() compares everything but the id', () => {
    const w = (objs: HeapObj[]): World => ({ heap: [undefined, ...objs], globals: {}, cpus: [], tasks: [], inflight: [], preemptions: 0, interrupts: 0, allocFails: 0 });
    const dio = (kmemleak?: KmemleakState, origin = 'slab', type = 'iomap_dio') => newHeapObj(type, false, origin, { 0: 7, 8: mkPtr(9) }, undefined, kmemleak);
    const same = (a: HeapObj, b: HeapObj) => sameContent(w([a, b]), mkPtr(1), mkPtr(2));
    expect(same(dio(), dio())).toBe(true);
    expect(same(dio('allocated'), dio('allocated'))).toBe(true);
    expect(same(dio('allocated'), dio())).toBe(false);
    expect(same(dio('allocated'), dio('freed'))).toBe(false);
    expect(same(dio(undefined, 'slab'), dio(undefined, 'kmalloc'))).toBe(false);
    expect(same(dio(undefined, 'slab', 'iomap_dio'), dio(undefined, 'slab', 'bio'))).toBe(false);
    expect(same(dio(), newHeapObj('iomap_dio', false, 'slab', { 0: 7, 8: mkPtr(10) }))).toBe(false);
  });
});
