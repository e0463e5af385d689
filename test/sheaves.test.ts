/**
 * SLUB's per-CPU sheaves beside the v1 cache (impl/ports/sheaves.ts, issue 16 §4): the port's
 * statements are mm/slub.c's, in the C's order (the excerpt of linux-next 00e7a3e9 in
 * test/fixtures/kernel/); it conforms with hardirq and softirq completions landing between any two
 * statements; an interrupt that lands on the holder of the local lock finds it taken and frees to
 * the slab (reached in both interrupt contexts, and only there); what a CPU holds is bounded by
 * main + spare = 2 × sheaf_capacity, reached, while the barn's MAX_FULL_SHEAVES is soft; a dead
 * CPU's sheaves are flushed by slub_cpu_dead(); and the variant whose hardirq free ignores the
 * failed trylock is caught with object-safety at a scope where the port conforms.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explore } from '../conformance/explorer/explore.js';
import { Fingerprinter, FingerprintSet } from '../conformance/explorer/fingerprint.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Scope } from '../conformance/system.js';
import type { Implementation } from '../impl/interface.js';
import { KMEM_CACHE, NODE_BARN, SLAB_SHEAF, SLUB_PERCPU_SHEAVES, sheaves } from '../impl/ports/sheaves.js';
import { findImpl, PORTS, VARIANTS } from '../impl/registry.js';
import { sheavesHardirqIgnoresTrylock } from '../impl/variants/sheaves-hardirq-ignores-trylock.js';
import { NULL, ptrId, ptrOff, type Value } from '../impl/kernel/values.js';
import type { World } from '../impl/kernel/world.js';
import type { StructDecl } from '../impl/kernel/primitives.js';

const EXCERPT = readFileSync(new URL('./fixtures/kernel/mm_slub_sheaves_fastpath_linux-next_00e7a3e9.c', import.meta.url), 'utf8');
const PORT_SRC = readFileSync(new URL('../impl/ports/sheaves.ts', import.meta.url), 'utf8');

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The body of a C function of the excerpt, from its name to the closing brace at column 0. */
function cBody(name: string): string {
  const at = EXCERPT.search(new RegExp(`\\n${name}\\(struct kmem_cache|\\n(?:void|bool) \\*?${name}\\(`));
  expect(at, name).toBeGreaterThan(0);
  return squash(EXCERPT.slice(at, EXCERPT.indexOf('\n}\n', at)));
}

/** The statement labels a port()ed function yields, in source order, as C: no goto label in front, no trailing comment. */
function portLabels(name: string): string[] {
  const at = PORT_SRC.indexOf(`port('${name}'`);
  expect(at, name).toBeGreaterThan(0);
  const end = PORT_SRC.indexOf('\n});', at) >= 0 && name !== 'slab_free' ? PORT_SRC.indexOf('\n});', at) : PORT_SRC.indexOf('\n  });', at);
  return [...PORT_SRC.slice(at, end).matchAll(/yield '((?:[^'\\]|\\.)*)';/g)].map((m) =>
    squash(m[1]!.replace(/\\'/g, "'").replace(/\s*\/\*.*\*\/\s*$/, '').replace(/^\w+: /, '')),
  );
}

/** Reads a field of the sheaves' memory in a world (the checker does not: they are the allocator's). */
function field(w: World, p: Value, struct: StructDecl, f: string): Value {
  return w.heap[ptrId(p)]!.cells[ptrOff(p) + struct.fields[f]!] ?? 0;
}
/** What CPU `cpu`'s sheaves hold, whether its local lock is taken, and the barn. */
function sheafState(w: World, cpu: number) {
  const s = w.globals['dio_cachep']!;
  const pcs = w.heap[ptrId(field(w, s, KMEM_CACHE, 'cpu_sheaves'))]!.cells[cpu * 8]!;
  const size = (sh: Value) => (sh === NULL ? 0 : field(w, sh, SLAB_SHEAF, 'size'));
  const barn = field(w, s, KMEM_CACHE, 'barn');
  return {
    locked: field(w, pcs, SLUB_PERCPU_SHEAVES, 'lock') !== 0,
    main: size(field(w, pcs, SLUB_PERCPU_SHEAVES, 'main')),
    spare: size(field(w, pcs, SLUB_PERCPU_SHEAVES, 'spare')),
    hasSpare: field(w, pcs, SLUB_PERCPU_SHEAVES, 'spare') !== NULL,
    barnFull: field(w, barn, NODE_BARN, 'nr_full'),
  };
}

const TRYLOCK_FAILS = 'free_to_pcs: if (!local_trylock(&s->cpu_sheaves->lock)) return false;';
const SLOW_FREE = /^slab_free: do_slab_free\(/;

/**
 * Every reachable state (a BFS fingerprinted as the explorer does), with what the interrupts ran
 * and what the sheaves held: a search of its own because the explorer does not look into the
 * allocator's memory.
 */
function reach(impl: Implementation, scope: Scope) {
  const sys = new System(impl, scope);
  const fp = new Fingerprinter(true);
  const seen = new FingerprintSet();
  const init = sys.initial();
  expect(init.violations).toEqual([]);
  let todo = [{ w: init.world, abs: init.abs }];
  const cap = scope.max;
  const out = { states: 0, maxHeld: 0, maxBarnFull: 0, slowFrees: { task: 0, softirq: 0, hardirq: 0 }, onHolder: { softirq: 0, hardirq: 0 }, labels: new Set<string>() };
  while (todo.length) {
    const next: typeof todo = [];
    for (const { w, abs } of todo) {
      fp.fingerprint(w);
      if (!seen.add(fp.hi, fp.lo)) continue;
      out.states++;
      for (let cpu = 0; cpu < w.cpus.length; cpu++) {
        const st = sheafState(w, cpu);
        out.maxHeld = Math.max(out.maxHeld, st.main + st.spare);
        out.maxBarnFull = Math.max(out.maxBarnFull, st.barnFull);
        expect(st.main).toBeLessThanOrEqual(cap);
        expect(st.spare).toBeLessThanOrEqual(cap);
      }
      for (const c of sys.enabled(w)) {
        const r = sys.step(w, abs, c);
        expect(r.violations.map((v) => `${v.id}: ${v.message}`)).toEqual([]);
        for (const l of r.labels) out.labels.add(l);
        const i = r.labels.indexOf(TRYLOCK_FAILS);
        // The trylock failed when the statement after it is the slow path, not `pcs = this_cpu_ptr(...)`.
        if (i >= 0 && SLOW_FREE.test(r.labels[i + 1] ?? '')) {
          if (c.kind === 'hardirq' || c.kind === 'softirq') {
            out.slowFrees[c.kind]++;
            if (sheafState(w, c.cpu).locked) out.onHolder[c.kind]++;
          } else out.slowFrees.task++;
        }
        next.push({ w: r.world, abs: r.abs });
      }
    }
    todo = next;
  }
  return out;
}

/** 1 CPU, 1 task (alloc/free/submit), hardirq and softirq completions wherever irqs are on. */
const ONE_CPU: Scope = { ...SCOPES['spin-ref']!, name: 'sheaves-1cpu', ops: 3, prefill: 2, inflight: 3, max: 1, threshold: 1, profile: 'slab' };

describe('the sheaves port', () => {
  it('is registered as a port under the slab profile, with the allocator contract only', () => {
    expect(PORTS).toContain(sheaves);
    expect(sheaves.profile).toBe('slab');
    expect(sheaves.cache).toBeNull();
    expect(VARIANTS).toContain(sheavesHardirqIgnoresTrylock);
  });

  it("its statements are mm/slub.c's (linux-next 00e7a3e9), in the C's order", () => {
    for (const fn of ['alloc_from_pcs', '__pcs_replace_empty_main', 'free_to_pcs', '__pcs_replace_full_main']) {
      const body = cBody(fn);
      const labels = portLabels(fn);
      expect(labels.length, fn).toBeGreaterThan(4);
      let from = 0;
      for (const l of labels) {
        const at = body.indexOf(l, from);
        expect(at, `${fn}: '${l}' is not in the C after position ${from}`).toBeGreaterThanOrEqual(0);
        from = at + l.length;
      }
    }
    // slab_free() and the lines of slab_alloc_node() the excerpt has.
    const free = squash(EXCERPT.slice(EXCERPT.indexOf('void slab_free(')));
    for (const l of portLabels('slab_free')) expect(free).toContain(l);
    const allocLines = squash(EXCERPT.slice(EXCERPT.indexOf('/* in slab_alloc_node(): */'), EXCERPT.indexOf('/* __pcs_replace_full_main()')));
    const inExcerpt = portLabels('slab_alloc_node').filter((l) => allocLines.includes(l));
    expect(inExcerpt).toEqual(['if (s->cpu_sheaves) object = alloc_from_pcs(s, gfpflags, node);', 'if (!object) object = __slab_alloc_node(s, gfpflags, node, addr, orig_size);']);
  });

  it('conforms with hardirq and softirq completions between any two statements: 1 CPU (spin-ref K=3), and 2 CPUs with migration (smp-small)', () => {
    for (const scope of [{ ...SCOPES['spin-ref']!, ops: 3, profile: 'slab' }, { ...SCOPES['smp-small']!, profile: 'slab' }]) {
      expect(scope.completers).toEqual(['hardirq', 'softirq']);
      // DFS: the states and verdict of BFS, sooner (its BFS rows are in conformance/manifest.json).
      const r = explore({ impl: sheaves, scope, strategy: 'dfs' });
      console.log(`sheaves @ ${scope.name}: ${r.verdict}, ${r.stats.states} states, ${r.stats.transitions} transitions, depth ${r.stats.depth}`);
      expect(r.violations.map((v) => `${v.id}: ${v.message}`)).toEqual([]);
      expect(r.verdict).toBe('conforms');
      expect(r.complete).toBe(true);
    }
  });

  it('an interrupt that lands on the lock holder finds the lock taken and frees to the slab; the per-CPU sheaves hold at most 2 x sheaf_capacity, reached; the barn limit is soft', () => {
    const r = reach(sheaves, ONE_CPU);
    console.log(
      `sheaves @ ${ONE_CPU.name} (capacity ${ONE_CPU.max}, MAX_FULL_SHEAVES 1): ${r.states} states; slow-path frees after a failed trylock: hardirq ${r.slowFrees.hardirq}, softirq ${r.slowFrees.softirq}, task ${r.slowFrees.task}; most objects in one CPU's main + spare ${r.maxHeld}; most full sheaves in the barn ${r.maxBarnFull}`,
    );
    // Reached in both interrupt contexts, each time on a CPU whose lock word was set (the holder
    // interrupted), and never in task context: a task cannot run on a CPU whose lock is held.
    expect(r.slowFrees.hardirq).toBeGreaterThan(0);
    expect(r.slowFrees.softirq).toBeGreaterThan(0);
    expect(r.onHolder).toEqual({ hardirq: r.slowFrees.hardirq, softirq: r.slowFrees.softirq });
    expect(r.slowFrees.task).toBe(0);
    expect(r.maxHeld).toBe(2 * ONE_CPU.max);
    // barn_put_full_sheaf() checks no limit: a full main put while the lock was dropped goes past it.
    expect(r.maxBarnFull).toBeGreaterThan(1);
    // The main/spare exchange and the barn are exercised, not only the fast path.
    for (const l of [
      'free_to_pcs: pcs->main->objects[pcs->main->size++] = object;',
      '__pcs_replace_full_main: swap(pcs->main, pcs->spare);',
      '__pcs_replace_full_main: empty = barn_replace_full_sheaf(barn, pcs->main);',
      '__pcs_replace_full_main: to_flush = pcs->spare;',
      '__pcs_install_empty_sheaf: barn_put_full_sheaf(barn, pcs->main);',
      '__pcs_replace_empty_main: swap(pcs->main, pcs->spare);',
      '__pcs_replace_empty_main: full = barn_replace_empty_sheaf(barn, pcs->main);',
      'alloc_from_pcs: object = pcs->main->objects[pcs->main->size - 1];',
    ])
      expect([...r.labels]).toContain(l);
  });

  it("a dead CPU's sheaves are flushed by slub_cpu_dead(); without the callback they keep their objects", () => {
    const scope: Scope = { ...SCOPES['smp-hotplug']!, ops: 1, taskOps: ['alloc'], prefill: 2, inflight: 0, max: 1, profile: 'slab' };
    for (const impl of [sheaves, { ...sheaves, name: 'sheaves-no-cpu-dead', cpuDead: undefined }]) {
      const sys = new System(impl, scope);
      const init = sys.initial();
      // Boot freed two objects into CPU 1's sheaves: the main one and, once it was full, the spare.
      expect(sheafState(init.world, 1)).toMatchObject({ main: 1, spare: 1 });
      const off = sys.step(init.world, init.abs, sys.enabled(init.world).find((c) => c.kind === 'offline' && c.cpu === 1)!);
      expect(off.violations).toEqual([]);
      if (impl.cpuDead) {
        expect(off.labels).toContain('__pcs_flush_all_cpu: pcs->spare = NULL;');
        expect(sheafState(off.world, 1)).toMatchObject({ main: 0, spare: 0, hasSpare: false });
      } else expect(sheafState(off.world, 1)).toMatchObject({ main: 1, spare: 1 });
    }
  });

  it('the variant whose hardirq free ignores the failed trylock is caught with object-safety, where the port conforms', () => {
    const v = findImpl('sheaves-hardirq-ignores-trylock')!;
    expect(v.expectedViolation).toBe('object-safety');
    const scope: Scope = { ...SCOPES['spin-ref']!, name: 'sheaves-variant', ops: 2, taskOps: ['alloc'], prefill: 1, inflight: 1, completers: ['hardirq'], max: 2, profile: 'slab' };
    const bad = explore({ impl: v, scope });
    const hit = bad.violations[0]!;
    console.log(`${v.name}: ${hit.id} after ${hit.steps.length} steps, ${bad.stats.states} states — ${hit.message}`);
    expect(hit.id).toBe('object-safety');
    expect(hit.message).toMatch(/in two places at once/);
    // The hardirq lands between the read of the top slot and the decrement, and writes the sheaf.
    const irq = hit.steps.findIndex((s) => s.event.includes('hardirq'));
    expect(irq).toBeGreaterThan(0);
    expect(hit.steps[irq - 1]!.labels.at(-1)).toBe('alloc_from_pcs: object = pcs->main->objects[pcs->main->size - 1];');
    expect(hit.steps[irq]!.labels).toContain('free_to_pcs: pcs->main->objects[pcs->main->size++] = object;');
    const good = explore({ impl: sheaves, scope });
    console.log(`sheaves @ ${scope.name}: ${good.verdict}, ${good.stats.states} states`);
    expect(good.verdict).toBe('conforms');
  });
});
