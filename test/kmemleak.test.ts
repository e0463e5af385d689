/**
 * kmemleak annotations of the per-CPU cache (issue 16 §3): kmemleak's view of each object is ghost
 * state (HeapObj.kmemleak, set by the kmemleak_alloc/kmemleak_free primitives and by the slab's own
 * hooks), and kmemleak-balance judges it once an implementation annotates. Checked here: the bio
 * cache proposal <aZ74UbGA261L4mxQ@laps> as posted, through the C path on block/bio.c with it
 * applied; C edits of it that misplace or drop an annotation; v1 with the same annotations
 * (iomap-v1-kmemleak) and its wrong placement (kmemleak-free-after-put-cpu); that an implementation
 * that never annotates is not judged; and that the ghost is part of the explored state.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { explore } from '../conformance/explorer/explore.js';
import { Fingerprinter } from '../conformance/explorer/fingerprint.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Scope } from '../conformance/system.js';
import { findImpl } from '../impl/registry.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { iomapV1Kmemleak } from '../impl/ports/iomap-v1-kmemleak.js';
import { kmemleakFreeAfterPutCpu } from '../impl/variants/kmemleak-free-after-put-cpu.js';
import { cloneWorld, newHeapObj } from '../impl/kernel/world.js';
import { invariant } from '../model/invariants.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const KERNEL = fileURLToPath(new URL('./fixtures/kernel/', import.meta.url));
const BASE = `${KERNEL}bio-5031e945.c`;
const POST = `${KERNEL}bio-5031e945-kmemleak.c`;
const PROPOSAL = `${KERNEL}bio-kmemleak-aZ74UbGA261L4mxQ.diff`;
const BINDING = `${KERNEL}bio-5031e945.binding.json`;
const work = tempDir('dio-kmemleak-');

const scope = (name: string) => CHECK_SCOPES.find((s) => s.name === name)!;

/** The post-image with C edits, as a new file. */
function edited(name: string, subs: [string, string][]): string {
  let s = readFileSync(POST, 'utf8');
  for (const [a, b] of subs) {
    expect(s.includes(a), a).toBe(true);
    s = s.replace(a, b);
  }
  const file = join(work, `${name}.c`);
  writeFileSync(file, s);
  return file;
}

const TASK_FREE = '\t\tbio_uninit(bio);\n\t\tkmemleak_free((void *)bio - bio->bi_pool->front_pad);\n\t\tbio->bi_next = cache->free_list;';
const IRQ_FREE = '\t\tbio_uninit(bio);\n\t\tkmemleak_free((void *)bio - bio->bi_pool->front_pad);\n\t\tbio->bi_next = cache->free_list_irq;';
const PRUNE_ALLOC = '\t\tkmemleak_alloc((void *)bio - bio->bi_pool->front_pad,\n\t\t\t       kmem_cache_size(bio->bi_pool->bio_slab),\n\t\t\t       1, GFP_NOWAIT);\n';
const POP_ALLOC = '\tput_cpu();\n\n\tkmemleak_alloc((void *)bio - bs->front_pad,\n\t\t       kmem_cache_size(bs->bio_slab), 1, gfp);\n';

describe('the bio cache proposal <aZ74UbGA261L4mxQ@laps>, through the C path', () => {
  it('the post-image fixture is bio-5031e945.c with exactly the lines the proposal adds', () => {
    const diff = readFileSync(PROPOSAL, 'utf8');
    expect(diff).toMatch(/^# Source: Message-ID <aZ74UbGA261L4mxQ@laps>/);
    const added = diff
      .split('\n')
      .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
      .map((l) => l.slice(1).trim())
      .filter((l) => l !== '');
    expect(added).toHaveLength(8);
    const post = readFileSync(POST, 'utf8').split('\n');
    const base = readFileSync(BASE, 'utf8').split('\n');
    // Past the header comment, the post-image is the base with the added lines (re-indented).
    const body = (ls: string[]) => ls.slice(ls.findIndex((l) => l.startsWith(' */')) + 1);
    const extra = [...body(post)];
    for (const l of body(base)) {
      const i = extra.indexOf(l);
      expect(i, l).toBeGreaterThanOrEqual(0);
      extra.splice(i, 1);
    }
    expect(extra.map((l) => l.trim()).filter((l) => l !== '')).toEqual(added);
  });

  it('conforms: every annotation runs, and the checker\'s own slab path leaves out the pop\'s kmemleak_alloc()', async () => {
    // DFS (check --dfs): the states, verdict and statements run of BFS, sooner (hit counts differ, not which are hit).
    const r = await check({ file: POST, bindingFile: BINDING, strategy: 'dfs' });
    console.log(`bio-5031e945-kmemleak.c: ${r.verdict}, ${r.stats.states} states (${r.runs.map((x) => `${x.scope.name} ${x.stats.states}`).join(', ')}), ${r.stats.seconds.toFixed(1)} s`);
    expect(r.violations).toEqual([]);
    expect(r.verdict).toBe('conforms');
    expect(r.profile.inferred.join('\n')).toMatch(/without its kmemleak_alloc\(\(void \*\)bio - bs->front_pad, kmem_cache_size\(bs->bio_slab\), 1, gfp\); \(the slab allocator registers a fresh object with kmemleak itself\)/);
    const cov = r.coverage!;
    const stmt = (fn: string, text: string) =>
      cov.functions
        .find((f) => f.name === fn)!
        .statements.filter((s) => s.text.startsWith(text))
        .map((s) => s.hits);
    // Both kmemleak_free()s of the put, the pop's kmemleak_alloc() and the prune's.
    expect(stmt('bio_put_percpu_cache', 'kmemleak_free(')).toHaveLength(2);
    for (const h of stmt('bio_put_percpu_cache', 'kmemleak_free(')) expect(h).toBeGreaterThan(0);
    expect(stmt('bio_alloc_percpu_cache', 'kmemleak_alloc(')[0]).toBeGreaterThan(0);
    expect(stmt('__bio_alloc_cache_prune', 'kmemleak_alloc(')[0]).toBeGreaterThan(0);
    // The same excerpt without the proposal explores fewer states: the ghost is state.
    const plain = await check({ file: BASE, bindingFile: BINDING, scopes: [scope('check-1cpu')], strategy: 'dfs' });
    const withIt = r.runs.find((x) => x.scope.name === 'check-1cpu')!.stats.states;
    expect(plain.verdict).toBe('conforms');
    expect(withIt).toBeGreaterThan(plain.stats.states);
  });

  const MUTANTS: [string, [string, string][], string, RegExp][] = [
    ['the hardirq put without its kmemleak_free()', [[IRQ_FREE, IRQ_FREE.replace('\t\tkmemleak_free((void *)bio - bio->bi_pool->front_pad);\n', '')]], 'check-1cpu', /free_list_irq holds #\d+, which kmemleak still tracks/],
    ['the prune without its kmemleak_alloc()', [[PRUNE_ALLOC, '']], 'check-hotplug', /bio_free: kmemleak: Freeing unknown object at #\d+/],
    [
      'the task put\'s kmemleak_free() after put_cpu()',
      [
        [TASK_FREE, TASK_FREE.replace('\t\tkmemleak_free((void *)bio - bio->bi_pool->front_pad);\n', '')],
        ['\tput_cpu();\n\treturn;\nout_free:', '\tput_cpu();\n\tif (in_task())\n\t\tkmemleak_free((void *)bio - bio->bi_pool->front_pad);\n\treturn;\nout_free:'],
      ],
      'check-1cpu',
      /free_list holds #\d+, which kmemleak still tracks \(kmemleak_alloc\(\) registered it\)/,
    ],
    ['the pop kmemleak_alloc()s twice', [[POP_ALLOC, `${POP_ALLOC}\tkmemleak_alloc((void *)bio, 0, 1, GFP_ATOMIC);\n`]], 'check-1cpu', /Cannot insert #\d+ into the object search tree \(overlaps existing\)/],
  ];
  for (const [what, subs, sc, msg] of MUTANTS) {
    it(`${what} is caught with kmemleak-balance`, async () => {
      const r = await check({ file: edited(what.replace(/\W+/g, '-'), subs), bindingFile: BINDING, scopes: [scope(sc)] });
      const v = r.violations[0];
      console.log(`${what}: ${v ? `${v.id} after ${v.steps.length} steps — ${v.message}` : 'NOT CAUGHT'}`);
      expect(r.verdict).toBe('violation');
      expect(v!.id).toBe('kmemleak-balance');
      expect(v!.message).toMatch(msg);
    });
  }

  it('kmemleak_alloc() before the pop\'s put_cpu() with a gfp that may sleep is might-sleep: kmemleak allocates its metadata with it', async () => {
    const file = edited('alloc-under-get-cpu', [
      [POP_ALLOC, '\tput_cpu();\n'],
      ['\tcache->nr--;\n\tput_cpu();\n', '\tcache->nr--;\n\tkmemleak_alloc((void *)bio - bs->front_pad,\n\t\t       kmem_cache_size(bs->bio_slab), 1, GFP_KERNEL);\n\tput_cpu();\n'],
    ]);
    const r = await check({ file, bindingFile: BINDING, scopes: [scope('check-1cpu')] });
    expect(r.violations[0]?.id).toBe('might-sleep');
    expect(r.violations[0]!.message).toMatch(/kmemleak_alloc\(GFP_KERNEL\) with preemption disabled/);
  });
});

describe('v1 with the annotations, and a wrong placement', () => {
  const spinRef3: Scope = { ...SCOPES['spin-ref']!, ops: 3, profile: 'iomap-v1' };

  it('iomap-v1-kmemleak conforms, on more states than iomap-v1 (the ghost is explored)', () => {
    // DFS: the states, verdict and maximum of BFS, sooner (nothing here is about path lengths).
    const a = explore({ impl: iomapV1, scope: spinRef3, strategy: 'dfs' });
    const b = explore({ impl: iomapV1Kmemleak, scope: spinRef3, strategy: 'dfs' });
    console.log(`spin-ref K=3: iomap-v1 ${a.stats.states} states, iomap-v1-kmemleak ${b.stats.states} states`);
    expect(b.violations).toEqual([]);
    expect(b.verdict).toBe('conforms');
    expect(b.stats.states).toBeGreaterThan(a.stats.states);
    expect(findImpl('iomap-v1-kmemleak')).toBe(iomapV1Kmemleak);
  });

  it('kmemleak-free-after-put-cpu is caught with kmemleak-balance at the boundary after put_cpu()', () => {
    const r = explore({ impl: kmemleakFreeAfterPutCpu, scope: { ...spinRef3, ops: 2 } });
    const v = r.violations[0]!;
    console.log(`kmemleak-free-after-put-cpu: ${v.id} after ${v.steps.length} steps — ${v.message}`);
    expect(v.id).toBe('kmemleak-balance');
    expect(v.message).toMatch(/cpu0 free_list holds #\d+, which kmemleak still tracks/);
    expect(v.steps[v.steps.length - 1]!.labels.join(' ')).toMatch(/dio_put_percpu_cache: put_cpu\(\);/);
  });
});

describe('who is judged, and the ghost as state', () => {
  const boot = (impl = iomapV1) => new System(impl, { ...SCOPES['spin-ref']!, prefill: 2, profile: 'iomap-v1' }).initial();

  it('an implementation that never annotates is not judged: its cached objects are registered, and that is fine', () => {
    const { abs, violations } = boot();
    expect(violations).toEqual([]);
    expect(abs.kmemleak).toBeUndefined();
    const onList = abs.objects.filter((o) => o.places.some((p) => p.kind === 'task-list'));
    expect(onList.length).toBe(2);
    for (const o of onList) expect(o.kmemleak).toBeUndefined();
    const inv = invariant('kmemleak-balance');
    expect(inv.check(undefined, abs)).toBeNull();
    // The same state, had the implementation annotated anything, would be judged: the gate is what spares it.
    expect(inv.check(undefined, { ...abs, objects: abs.objects, kmemleak: true })).toMatch(/cpu0 free_list holds #\d+, which kmemleak still tracks \(registered by the slab allocator, never kmemleak_free\(\)d\)/);
  });

  it('the annotated port caches unregistered objects', () => {
    const { abs, violations } = boot(iomapV1Kmemleak);
    expect(violations).toEqual([]);
    expect(abs.kmemleak).toBe(true);
    const onList = abs.objects.filter((o) => o.places.some((p) => p.kind === 'task-list'));
    expect(onList.map((o) => o.kmemleak)).toEqual(['freed', 'freed']);
  });

  it('two worlds that differ only in an object\'s kmemleak state fingerprint differently', () => {
    const { world } = boot(iomapV1Kmemleak);
    const id = world.heap.findIndex((o) => o?.kmemleak === 'freed');
    expect(id).toBeGreaterThan(0);
    const other = cloneWorld(world);
    const o = world.heap[id]!;
    other.heap[id] = newHeapObj(o.type, o.freed, o.origin, { ...o.cells }, o.size, 'allocated');
    const same = cloneWorld(world);
    same.heap[id] = newHeapObj(o.type, o.freed, o.origin, { ...o.cells }, o.size, 'freed');
    for (const symmetry of [false, true]) {
      const fp = new Fingerprinter(symmetry);
      const of = (w: typeof world) => {
        fp.fingerprint(w);
        return `${fp.hi}:${fp.lo}`;
      };
      expect(of(other)).not.toBe(of(world));
      expect(of(same)).toBe(of(world));
    }
  });
});
