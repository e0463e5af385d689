/**
 * The interleaving explorer: exhaustive verdicts at small scopes with and without symmetry, the
 * soft cap's bound reached (not just respected), a known-bad implementation caught with a
 * minimised counterexample that replays identically from its file (API and CLI), Ctrl-C/abort
 * giving a partial result, and the state counts recorded in conformance/manifest.json.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkRunIndex,
  describeCheckRun,
  describeRun,
  MANIFEST_CHECK_RUNS,
  MANIFEST_PATH,
  MANIFEST_RUNS,
  MANIFEST_SEED,
  manifestCheckEntries,
  manifestEntry,
  manifestGaps,
  type ManifestCheckEntry,
  type ManifestEntry,
} from '../bench/manifest.js';
import { CHECK_SCOPES } from '../conformance/c/run.js';
import { loadInput } from '../conformance/load.js';
import { explore, exploreAsync } from '../conformance/explorer/explore.js';
import { Fingerprinter } from '../conformance/explorer/fingerprint.js';
import { readReplay, replay, writeReplay } from '../conformance/explorer/replay.js';
import { kernelEvents, renderTrace, runChoices } from '../conformance/explorer/trace.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { System } from '../conformance/system.js';
import { port, type Implementation, type Op } from '../impl/interface.js';
import type { Kernel } from '../impl/kernel/primitives.js';
import { isPtr, mkPtr, NULL, ptrId, ptrOff, type Value } from '../impl/kernel/values.js';
import { GHOST_ID_SHIFT, LIVE, newHeapObj, type Frame, type World } from '../impl/kernel/world.js';
import { IOMAP_DIO, iomapV1 } from '../impl/ports/iomap-v1.js';
import { slab } from '../impl/ports/slab.js';
import { PORTS, VARIANTS } from '../impl/registry.js';
import { v1Variant } from '../impl/variants/v1-parts.js';
import { INVARIANTS, violations } from '../model/invariants.js';
import { getProfile, reachableCapBound } from '../model/profiles.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const spinRef = (ops: number) => ({ ...SCOPES['spin-ref']!, ops });

/**
 * `w` with its heap objects' ids permuted at random (`rnd` in [0, 1)): the same state up to object
 * identity. The sets stay sorted, as System keeps them.
 */
function renameObjects(w: World, rnd: () => number): World {
  const ids = w.heap.flatMap((o, id) => (o && id > 0 ? [id] : []));
  const perm = ids.slice();
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const to = new Map(ids.map((id, i) => [id, perm[i]!]));
  const rv = (v: Value) => (isPtr(v) ? mkPtr(to.get(ptrId(v)) ?? ptrId(v), ptrOff(v)) : v);
  const heap: World['heap'] = new Array(w.heap.length).fill(undefined);
  for (const id of ids) {
    const o = w.heap[id]!;
    const cells: Record<number, Value> = {};
    for (const k in o.cells) cells[+k] = rv(o.cells[+k]!);
    heap[to.get(id)!] = newHeapObj(o.type, o.freed, o.origin, cells, o.size, o.kmemleak);
  }
  const rf = (f: Frame | null): Frame | null => f && { ...f, args: f.args.map(rv), reads: f.reads.map(rv), ghost: (f.ghost & ((1 << GHOST_ID_SHIFT) - 1)) | (f.ghost >>> GHOST_ID_SHIFT ? to.get(f.ghost >>> GHOST_ID_SHIFT)! << GHOST_ID_SHIFT : 0) };
  const set = (a: Value[]) => a.map(rv).sort((x, y) => x - y);
  return {
    ...w,
    heap,
    globals: Object.fromEntries(Object.entries(w.globals).map(([k, v]) => [k, rv(v)])),
    cpus: w.cpus.map((c) => ({ ...c, softirq: rf(c.softirq), hardirq: rf(c.hardirq) })),
    tasks: w.tasks.map((t) => ({ ...t, held: set(t.held), frame: rf(t.frame) })),
    inflight: set(w.inflight),
  };
}

const runs = new Map<string, ManifestEntry>();
function run(i: number): ManifestEntry {
  const key = JSON.stringify(MANIFEST_RUNS[i]);
  let r = runs.get(key);
  if (!r) runs.set(key, (r = manifestEntry(MANIFEST_RUNS[i]!)));
  return r;
}

/**
 * The seeded BUG_NOIRQOFF of the Promela reference, written here so the test does not depend on
 * another file: the splice without local_irq_save()/local_irq_restore(). A hardirq put between
 * `free_list = free_list_irq` and `free_list_irq = NULL` is lost.
 */
const spliceNoIrqsave = port('dio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
  yield 'if (WARN_ON_ONCE(cache->free_list)) return;';
  if (k.WARN_ON_ONCE(k.load(cache, 'free_list') !== NULL)) return;
  yield 'cache->free_list = cache->free_list_irq;';
  k.store(cache, 'free_list', k.load(cache, 'free_list_irq'));
  yield 'cache->free_list_irq = NULL;';
  k.store(cache, 'free_list_irq', NULL);
  yield 'cache->nr += cache->nr_irq;';
  k.store(cache, 'nr', k.load(cache, 'nr') + k.load(cache, 'nr_irq'));
  yield 'cache->nr_irq = 0;';
  k.store(cache, 'nr_irq', 0);
});
const allocNoIrqsave = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
  yield 'cache = per_cpu_ptr(dio_cache, get_cpu());';
  const cache = k.per_cpu_ptr(k.global('dio_cache'), k.get_cpu());
  yield 'if (!cache->free_list) {';
  if (k.load(cache, 'free_list') === NULL) {
    yield 'if (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)';
    if (k.READ_ONCE(cache, 'nr_irq') >= k.macro('DIO_ALLOC_CACHE_THRESHOLD')) yield* spliceNoIrqsave(k, cache);
    yield 'if (!cache->free_list) {';
    if (k.load(cache, 'free_list') === NULL) {
      yield 'put_cpu();';
      k.put_cpu();
      return NULL;
    }
  }
  yield 'dio = cache->free_list;';
  const dio = k.load(cache, 'free_list');
  yield 'cache->free_list = dio->dio_next;';
  k.store(cache, 'free_list', k.load(dio, 'dio_next'));
  yield 'cache->nr--;';
  k.store(cache, 'nr', k.load(cache, 'nr') - 1);
  yield 'put_cpu();';
  k.put_cpu();
  return dio;
});
const rwNoIrqsave = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
  let dio = yield* allocNoIrqsave(k);
  yield 'if (!dio) {';
  if (dio === NULL) {
    yield 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
    dio = k.kmalloc('iomap_dio', 'GFP_KERNEL');
  }
  yield 'dio->iocb = iocb;';
  k.store(dio, 'iocb', 1);
  yield 'atomic_set(&dio->ref, 1);';
  k.store(dio, 'ref', 1);
  return dio;
});
const badSplice: Implementation = { ...iomapV1, name: 'test-splice-no-irqsave', description: 'splice without local_irq_save (test fixture)', alloc: rwNoIrqsave };

describe('explorer: exhaustive verdicts', () => {
  it('iomap-v1 conforms at spin-ref K=3 with symmetry on and off; symmetry stores fewer states', () => {
    const on = run(0);
    const off = run(1);
    expect(on.verdict).toBe('conforms');
    expect(off.verdict).toBe('conforms');
    expect(on.states).toBeLessThan(off.states);
    // Symmetry merges isomorphic states only: the reachable extremes cannot change.
    expect(on.maxCached).toBe(off.maxCached);
    console.log(`spin-ref K=3: ${off.states} states without symmetry, ${on.states} with (${(off.states / on.states).toFixed(2)}x)`);
  });

  it('iomap-v1 conforms on 2 CPUs with preemption, migration and cross-CPU puts (smp-small), symmetry on and off', () => {
    expect(run(2).verdict).toBe('conforms');
    expect(run(3).verdict).toBe('conforms');
    expect(run(2).states).toBeLessThanOrEqual(run(3).states);
  });

  it('DFS visits exactly the states BFS visits', () => {
    const dfs = explore({ impl: iomapV1, scope: spinRef(3), strategy: 'dfs' });
    expect(dfs.verdict).toBe('conforms');
    expect(dfs.complete).toBe(true);
    expect(dfs.stats.states).toBe(run(0).states);
  });

  it('DFS and BFS store the same states with symmetry at spin-ref K=6, where stale dio_next pointers tell equal objects apart', () => {
    // Which state a search keeps of each isomorphism class differs between BFS and DFS; the
    // choices offered from it must not (System.enabled merges only truly interchangeable
    // objects). Before that was so, BFS stored 106,916 states here and DFS 106,926.
    const bfs = explore({ impl: iomapV1, scope: spinRef(6) });
    const dfs = explore({ impl: iomapV1, scope: spinRef(6), strategy: 'dfs' });
    expect(bfs.verdict).toBe('conforms');
    expect(dfs.verdict).toBe('conforms');
    expect(dfs.stats.states).toBe(bfs.stats.states);
    expect(dfs.stats.transitions).toBe(bfs.stats.transitions);
  }, 60_000);

  it('every registered port conforms at spin-ref K=3 and reaches exactly its profile\'s cap bound', () => {
    for (const impl of PORTS) {
      // The port's manifest row is this exploration (its own profile, BFS, object symmetry; the
      // reductions do not apply on one CPU): computed once, here and for the manifest test below.
      const i = MANIFEST_RUNS.findIndex(
        (m) => m.impl === impl.name && m.scope === 'spin-ref' && m.ops === 3 && m.symmetry && !m.por && !m.cpuSymmetry && !m.atomicity && !m.strategy && !m.maxStates,
      );
      expect(i, `${impl.name}: no manifest row at spin-ref K=3`).toBeGreaterThanOrEqual(0);
      const r = run(i);
      const scope = spinRef(3);
      const profile = getProfile(impl.profile, { max: scope.max, threshold: scope.threshold });
      expect(r.verdict, `${impl.name}: ${r.violations?.join(', ')}`).toBe('conforms');
      // A profile without per-CPU lists (the slab stand-in) caches nothing.
      expect(r.maxCached, impl.name).toBe(profile.cached ? reachableCapBound(profile) : 0);
      console.log(`${impl.name} (${impl.profile}): ${r.states} states, largest nr + nr_irq ${r.maxCached}`);
    }
  });
});

describe('explorer: the soft cap is tight', () => {
  it('iomap-v1 reaches MAX+2, and the shortest trace to it has hardirq puts between a task put\'s cap test and its nr++', () => {
    const r = explore({ impl: iomapV1, scope: spinRef(3) });
    const max = SCOPES['spin-ref']!.max;
    expect(r.extremes.maxCached).toBe(max + 2);
    const w = r.extremes.witnesses.find((x) => x.value === max + 2)!;
    expect(w).toBeDefined();
    const sys = new System(iomapV1, spinRef(3));
    const path = runChoices(sys, w.choices);
    const c = path.abs.caches[w.cpu]!;
    expect(c.quiescent).toBe(true);
    expect(c.freeList.length + c.freeListIrq.length).toBe(max + 2);
    // The race: a hardirq put runs after the task put's cap test and before its `cache->nr++`,
    // so both see room and both push (the test and the push are not atomic against a hardirq).
    const steps = path.steps;
    const capTest = steps.findIndex((s) => s.labels.some((l) => l.startsWith('dio_put_percpu_cache: if (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)')) && s.who.endsWith('/task0'));
    const nrInc = steps.findIndex((s, i) => i > capTest && s.who.endsWith('/task0') && s.labels.includes('dio_put_percpu_cache: cache->nr++;'));
    const raced = capTest >= 0 && nrInc > capTest && steps.slice(capTest + 1, nrInc).some((s) => s.who.endsWith('/hardirq') && s.returned === 'free done (push-irq)');
    expect(raced, renderTrace(steps, null).join('\n')).toBe(true);
    // BFS: no shorter path reaches MAX+2. Checked apart from the explorer's search: every state
    // within one step fewer than the witness, level by level through System alone.
    const fp = new Fingerprinter(true);
    const seen = new Set<string>();
    let level = [sys.initial()];
    for (let d = 0; d < w.choices.length; d++) {
      for (const x of level) for (const c of x.abs.caches) if (c.quiescent) expect(c.freeList.length + c.freeListIrq.length, `depth ${d}`).toBeLessThan(max + 2);
      if (d === w.choices.length - 1) break;
      const next: typeof level = [];
      for (const x of level)
        for (const ch of sys.enabled(x.world)) {
          const r = sys.step(x.world, x.abs, ch);
          fp.fingerprint(r.world);
          const key = `${fp.hi}:${fp.lo}`;
          if (seen.has(key)) continue;
          seen.add(key);
          next.push({ world: r.world, abs: r.abs, violations: [] });
        }
      level = next;
    }
    expect(seen.size).toBeGreaterThan(100);
  });
});

describe('explorer: counterexamples', () => {
  it('catches the splice without local_irq_save, minimises the trace, and replays it identically from the replay file', () => {
    const scope = spinRef(5);
    const r = explore({ impl: badSplice, scope });
    expect(r.verdict).toBe('violation');
    const v = r.violations[0]!;
    expect(['irq-list-hardirq-only', 'nr-accuracy', 'object-safety']).toContain(v.id);
    expect(v.minimised).toBeDefined();
    expect(v.minimised!.to.interrupts).toBeLessThanOrEqual(v.minimised!.from.interrupts);
    expect(v.interrupts).toBe(v.minimised!.to.interrupts);
    // The race needs at least THRESHOLD hardirq puts onto free_list_irq before the splice.
    expect(v.interrupts).toBeGreaterThanOrEqual(SCOPES['spin-ref']!.threshold);
    const lines = renderTrace(v.steps, v);
    console.log(lines.join('\n'));
    expect(lines.some((l) => l.includes('dio_alloc_irq_cache_splice: cache->free_list'))).toBe(true);
    expect(lines[lines.length - 1]).toContain(`✗ ${v.id}: ${v.message}`);
    expect(lines.length).toBeLessThanOrEqual(20);

    const dir = tempDir('dio-explorer-');
    const file = join(dir, 'bad.replay.json');
    writeReplay(file, { impl: badSplice.name, scope, choices: v.steps.map((s) => s.choice), invariant: v.id, message: v.message });
    const back = replay(badSplice, readReplay(file));
    expect(back.violation).toEqual({ id: v.id, message: v.message });
    expect(back.steps).toEqual(v.steps);
  });

  it('CLI: explore --impl PATH --json exits 1 with a replay file, and `replay FILE` reproduces the identical trace', async () => {
    const dir = tempDir('dio-explorer-cli-');
    const mod = join(dir, 'bad.ts');
    const src = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    // The fixture module: this file's bad splice, importing the repo by absolute path.
    const body = src.slice(src.indexOf('const spliceNoIrqsave'), src.indexOf("describe('explorer: exhaustive"));
    writeFileSync(
      mod,
      [
        `import { port, type Implementation, type Op } from '${repo}/impl/interface.js';`,
        `import type { Kernel } from '${repo}/impl/kernel/primitives.js';`,
        `import { NULL, type Value } from '${repo}/impl/kernel/values.js';`,
        `import { iomapV1 } from '${repo}/impl/ports/iomap-v1.js';`,
        body,
        'export default badSplice;',
      ].join('\n'),
    );
    const replayFile = join(dir, 'out.replay.json');
    // The module loaded by tsx as a user's is, in a process of its own; the replay and the
    // missing module in-process (test/cli-run.ts), through the same entry.
    const cli = (...a: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'conformance/cli/main.ts'), ...a], { cwd: repo, encoding: 'utf8' });
    const ex = cli('explore', '--impl', mod, '--ops', '4', '--json', '--replay-out', replayFile);
    expect(ex.status, ex.stderr).toBe(1);
    const out = JSON.parse(ex.stdout) as { verdict: string; violations: { invariant: string; steps: unknown[]; replayFile: string }[]; stats: { states: number; bytesPerState: number }; extremes: { maxCached: number } };
    expect(out.verdict).toBe('violation');
    expect(out.violations[0]!.replayFile).toBe(replayFile);
    expect(out.stats.states).toBeGreaterThan(0);
    const rp = await runCli(['replay', replayFile, '--json'], repo);
    expect(rp.code, rp.err).toBe(1);
    const back = JSON.parse(rp.out) as { reproduced: boolean; invariant: string; steps: unknown[] };
    expect(back.reproduced).toBe(true);
    expect(back.invariant).toBe(out.violations[0]!.invariant);
    expect(back.steps).toEqual(out.violations[0]!.steps);
    const bad = await runCli(['explore', '--impl', join(dir, 'missing.ts')], repo);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^dio-cache: --impl .*missing\.ts/);
  });
});

/** The registry's variant of that name; a missing one is a failure, never a skipped test. */
function variant(name: string): (typeof VARIANTS)[number] {
  const impl = VARIANTS.find((v) => v.name === name);
  if (!impl) throw new Error(`${name} is not in impl/registry.ts VARIANTS (${VARIANTS.map((v) => v.name).join(', ')})`);
  return impl;
}

describe('explorer: the seeded bugs of the Promela reference', () => {
  // SPIN's shortest counterexamples under -DBFS at K=5 on bench/spin/dio_cache.pml (its README), in
  // Promela steps; each of ours must break the variant's expected invariant in no more statements.
  const seeded: [string, string, number][] = [
    ['BUG_NOIRQOFF', 'splice-no-irqsave', 85],
    ['BUG_NOEMPTY', 'splice-nonempty', 30],
    ['BUG_NULLPOP', 'flat-threshold-b1', 33],
    ['BUG_TASKIRQ', 'task-put-irq-list', 43],
  ];
  for (const [bug, name, spinDepth] of seeded) {
    it(`${name} (${bug}) is caught at spin-ref K=5 with its expected id, in at most ${spinDepth} steps`, () => {
      // A variant renamed or dropped from the registry fails here: the bug would go unchecked.
      const impl = variant(name);
      const r = explore({ impl, scope: { ...spinRef(5), profile: impl.profile } });
      expect(r.verdict).toBe('violation');
      const v = r.violations[0]!;
      expect(v.id).toBe(impl.expectedViolation);
      expect(v.steps.length).toBeLessThanOrEqual(spinDepth);
      console.log(`${name}: ${v.id} after ${v.steps.length} statements (SPIN: ${spinDepth} Promela steps), ${kernelEvents(v.steps)} kernel-level events`);
    });
  }
});

describe('explorer: an explorer-only bug', () => {
  it('cap-check-split-section breaks cap only with a put preempted inside its own window (scope preempt)', () => {
    const impl = variant('cap-check-split-section');
    // DFS, unminimised: nothing asserted here is about the path's length or cost, and DFS meets
    // the violation in a tenth of the states BFS stores before it, with no minimisation after
    // (which took twice the BFS again; the minimiser is the splice test's above and parallel.test.ts's).
    const r = explore({ impl, scope: { ...SCOPES.preempt!, profile: impl.profile }, strategy: 'dfs', minimise: false });
    expect(r.verdict).toBe('violation');
    const v = r.violations[0]!;
    expect(v.id).toBe('cap');
    expect(v.preemptions).toBeGreaterThanOrEqual(1);
    // The second task's put and a hardirq put both land while the first put is preempted.
    const first = v.steps.findIndex((s) => s.event.includes('preempted'));
    expect(v.steps.slice(first).some((s) => s.who.endsWith('/hardirq'))).toBe(true);
    console.log(renderTrace(v.steps, v).join('\n'));
  });
});

describe('explorer: search mechanics', () => {
  it('a DFS continues a frame\'s paused generator: the next step of the same frame takes it, with the same Kernel', () => {
    const sys = new System(iomapV1, spinRef(3), { resume: true });
    const init = sys.initial();
    const start = sys.step(init.world, init.abs, sys.enabled(init.world).find((c) => c.kind === 'start' && c.op === 'alloc')!);
    const f1 = start.world.tasks[0]!.frame!;
    const live = f1[LIVE];
    expect(live).toBeDefined();
    expect(live!.steps).toBe(f1.steps);
    const next = sys.step(start.world, start.abs, { kind: 'step', cpu: 0 });
    const f2 = next.world.tasks[0]!.frame!;
    // Taken and moved on: the same generator and Kernel, now at the new count.
    expect(f2[LIVE]).toBe(live);
    expect(live!.steps).toBe(f2.steps);
    // The parent's frame is at the old count: a second step from it replays (a new Resumable).
    const again = sys.step(start.world, start.abs, { kind: 'step', cpu: 0 });
    const f3 = again.world.tasks[0]!.frame!;
    expect(f3[LIVE]).not.toBe(live);
    expect(f3.reads).toEqual(f2.reads);
    expect(f3.next).toBe(f2.next);
    // Without resume no generator is kept.
    const plain = new System(iomapV1, spinRef(3));
    const p0 = plain.initial();
    const ps = plain.step(p0.world, p0.abs, plain.enabled(p0.world).find((c) => c.kind === 'start' && c.op === 'alloc')!);
    expect(ps.world.tasks[0]!.frame![LIVE]).toBeUndefined();
  });

  it('continuing paused generators explores exactly what replaying every statement does: states, transitions, extremes, verdicts and traces', () => {
    const same = (o: Parameters<typeof explore>[0]) => {
      const a = explore({ ...o, strategy: 'dfs' });
      const b = explore({ ...o, strategy: 'dfs', resume: false });
      expect([a.verdict, a.stats.states, a.stats.transitions, a.extremes.maxCached], o.impl.name).toEqual([b.verdict, b.stats.states, b.stats.transitions, b.extremes.maxCached]);
      expect(a.violations.map((v) => [v.id, v.steps.map((st) => st.labels.join(' | '))])).toEqual(b.violations.map((v) => [v.id, v.steps.map((st) => st.labels.join(' | '))]));
      return a;
    };
    // K=3 without symmetry (manifest row 1's 5,960 states): every statement of every operation
    // continued or replayed thousands of times; K=4's 43,647 states showed the same in seconds more.
    expect(same({ impl: iomapV1, scope: spinRef(3), symmetry: false }).stats.states).toBe(5_960);
    // Tasks preempted and migrated: a frame continued on another CPU than the one it paused on.
    // One op each is enough: once a task has finished, the other is taken off its CPU mid-operation
    // and moved there (80 such switches in its 2,570 states; smp-small's 2 ops store 40,553).
    same({ impl: iomapV1, scope: scopeWith(SCOPES['smp-small']!, { ops: 1 }) });
    // Statements whose allocation is made to fail.
    same({ impl: iomapV1, scope: { ...SCOPES['enomem']!, ops: 2 } });
    for (const v of VARIANTS) same({ impl: v, scope: spinRef(3), minimise: false });
  });

  it('allocation failures reach an operation\'s first statement: a slab alloc without its NULL check oopses on enomem, the slab port does not', () => {
    // The first statement is run by the start choice, not by a `step`: it needs a failing start of its own.
    const unchecked = port('__iomap_dio_rw', function* (k: Kernel): Op<Value> {
      yield 'dio = kmem_cache_alloc(dio_cachep, GFP_KERNEL);';
      k.global('dio_cachep');
      const dio = k.kmem_cache_alloc('iomap_dio', 'GFP_KERNEL');
      yield 'dio->iocb = iocb;';
      k.store(dio, 'iocb', 1);
      yield 'atomic_set(&dio->ref, 1);';
      k.store(dio, 'ref', 1);
      return dio;
    });
    const bad: Implementation = { ...slab, name: 'test-slab-unchecked', alloc: unchecked, fresh: slab.alloc };
    const scope = { ...SCOPES['enomem']!, profile: 'slab' };
    const r = explore({ impl: bad, scope });
    expect(r.verdict).toBe('violation');
    expect(r.violations[0]!.id).toBe('crash');
    expect(r.violations[0]!.steps.map((st) => st.event).join(' / ')).toMatch(/task0: alloc starts, and the allocation fails \(NULL\) in __iomap_dio_rw: dio = kmem_cache_alloc/);
    expect(explore({ impl: slab, scope }).verdict).toBe('conforms');
    // Without allocation failures neither start is offered twice.
    const sys = new System(bad, { ...scope, allocFailures: 0 });
    const init = sys.initial();
    expect(sys.enabled(init.world).filter((c) => c.kind === 'start' && c.op === 'alloc')).toHaveLength(1);
  });

  it('a step into a stored state is judged only on what the step did: the claims about a state alone are not re-checked', () => {
    const sys = new System(iomapV1, spinRef(3));
    const init = sys.initial();
    const c0 = init.abs.caches[0]!;
    // A state that breaks nr-accuracy and cap (counters and lists disagree; too many cached).
    const bad = { ...init.abs, caches: [{ ...c0, nr: c0.freeList.length + 5, freeList: [...c0.freeList, 90, 91, 92, 93, 94, 95, 96] }] };
    const ids = (revisited: boolean) => violations(init.abs, bad, revisited).map((v) => v.id);
    expect(ids(false)).toEqual(expect.arrayContaining(['nr-accuracy', 'cap']));
    expect(ids(true)).not.toContain('nr-accuracy');
    expect(ids(true)).not.toContain('cap');
    // What the step did is still judged: a use after free in it is an object-safety violation.
    const uaf = { ...bad, step: { who: 'cpu0/task0', cpu: 0, ctx: 'task' as const, task: 0, preemptible: false, irqsOff: false, label: 'x', facts: [], fault: { kind: 'use-after-free' as const, msg: 'use after free of #3' } } };
    expect(violations(init.abs, uaf, true).map((v) => v.id)).toContain('object-safety');
    // Exactly the two state invariants are left to the first visit (the loop above would pass on none).
    expect(INVARIANTS.filter((inv) => inv.revisit === null).map((inv) => inv.id).sort()).toEqual(['cap', 'nr-accuracy']);
  });

  it('an abort signal (Ctrl-C) stops the search with a partial result', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await exploreAsync({ impl: iomapV1, scope: spinRef(7), signal: ac.signal });
    expect(r.complete).toBe(false);
    expect(r.stoppedBy).toBe('signal');
    // Nothing found in part of the scope proves nothing: never `conforms`.
    expect(r.verdict).toBe('incomplete');
    expect(r.stats.states).toBeGreaterThan(1);
  });

  it('symmetry: completing either of two interchangeable in-flight objects gives one fingerprint, a real difference another', () => {
    const sys = new System(iomapV1, spinRef(3));
    const init = sys.initial();
    const [a, b] = init.world.inflight;
    const wa = sys.step(init.world, init.abs, { kind: 'hardirq', cpu: 0, obj: a! }).world;
    const wb = sys.step(init.world, init.abs, { kind: 'hardirq', cpu: 0, obj: b! }).world;
    const wsoft = sys.step(init.world, init.abs, { kind: 'softirq', cpu: 0, obj: a! }).world;
    const sym = new Fingerprinter(true);
    const raw = new Fingerprinter(false);
    expect(sym.serialised(wa)).toEqual(sym.serialised(wb));
    expect(raw.serialised(wa)).not.toEqual(raw.serialised(wb));
    expect(sym.serialised(wa)).not.toEqual(sym.serialised(wsoft));
  });

  it('choices merge equal objects only when nothing else names them: a stale dio_next makes its target a choice of its own', () => {
    const sys = new System(iomapV1, spinRef(3));
    const init = sys.initial();
    const w = init.world;
    const [a, b, c, d] = w.inflight;
    const hardirqs = (x: World) => sys.enabled(x).filter((ch) => ch.kind === 'hardirq');
    // Four fresh in-flight dios, all alike: one completion stands for all of them.
    expect(hardirqs(w)).toHaveLength(1);
    // d keeps a stale dio_next naming a; b and c are still alike and named by nothing.
    const o = w.heap[ptrId(d!)]!;
    w.heap[ptrId(d!)] = newHeapObj(o.type, o.freed, o.origin, { ...o.cells, [IOMAP_DIO.fields.dio_next!]: a! });
    const objs = hardirqs(w).map((ch) => (ch.kind === 'hardirq' ? ch.obj : NULL));
    expect(objs).toHaveLength(3);
    expect(objs).toContain(a);
    expect(objs).toContain(d);
    expect(objs.includes(b!) !== objs.includes(c!)).toBe(true);
    // And completing a is really not the same as completing b.
    const sym = new Fingerprinter(true);
    const wa = sys.step(w, init.abs, { kind: 'hardirq', cpu: 0, obj: a! }).world;
    const wb = sys.step(w, init.abs, { kind: 'hardirq', cpu: 0, obj: b! }).world;
    expect(sym.serialised(wa)).not.toEqual(sym.serialised(wb));
  });

  it('an operation that never returns is a crash at its start, found at once (not after STEP_BUDGET levels of BFS)', () => {
    // The splice waits for free_list_irq to fill up, which nothing does while it runs: boot
    // (through fresh) is fine, the first alloc that splices hangs.
    const spinning = port('dio_alloc_irq_cache_splice', function* (k: Kernel, cache: Value): Op {
      for (;;) {
        yield 'while (READ_ONCE(cache->nr_irq) < 100) cpu_relax();';
        if (k.READ_ONCE(cache, 'nr_irq') >= 100) break;
      }
    });
    const impl = v1Variant({ name: 'splice-spins', description: 'a splice that waits forever', expectedViolation: 'crash' }, { splice: spinning });
    const t0 = performance.now();
    const r = explore({ impl, scope: spinRef(4) });
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(r.verdict).toBe('violation');
    const v = r.violations[0]!;
    expect(v.id).toBe('crash');
    expect(v.message).toMatch(/does not return even when nothing interrupts it/);
    // The finding is the start of the alloc, not a statement thousands of levels deep.
    expect(v.steps[v.steps.length - 1]!.event).toMatch(/alloc$/);
    expect(v.steps.length).toBeLessThan(40);
  });

  it('symmetry is a canonical form: every state reached at spin-ref K=4 and smp-small fingerprints the same under a random renaming of its objects', () => {
    // A renaming keeps the state (sets stay sorted, as System keeps them); if some renaming
    // changed the fingerprint, the count of states would depend on which of two isomorphic
    // worlds a search happened to keep (and the parallel BFS would not find the same count).
    let seed = 20261126;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const rename = (w: World) => renameObjects(w, rnd);
    for (const scope of [spinRef(4), SCOPES['smp-small']!]) {
      const sys = new System(iomapV1, scope);
      const fp = new Fingerprinter(true);
      const key = (w: World) => (fp.fingerprint(w), `${fp.hi}:${fp.lo}`);
      const init = sys.initial();
      const seen = new Set([key(init.world)]);
      let frontier = [{ w: init.world, abs: init.abs }];
      let differ = 0;
      while (frontier.length) {
        const next: typeof frontier = [];
        for (const s of frontier) {
          if (key(rename(s.w)) !== key(s.w)) differ++;
          for (const c of sys.enabled(s.w)) {
            const r = sys.step(s.w, s.abs, c);
            const k = key(r.world);
            if (!seen.has(k)) {
              seen.add(k);
              next.push({ w: r.world, abs: r.abs });
            }
          }
        }
        frontier = next;
      }
      expect(seen.size).toBeGreaterThan(5000);
      expect(differ).toBe(0);
    }
  });

  it('symmetry is a canonical form where its keys tie objects that are not interchangeable (spin-ref K=8): any renaming, one fingerprint', () => {
    // Held dios A and B have equal cells and are each the stale dio_next of an in-flight dio
    // (X -> A, Y -> B); only Y is itself the stale dio_next of a held dio. No key tells A from B
    // (what points to them looks alike one level up), and breaking the tie by object id wrote
    // isomorphic worlds two ways: a parallel DFS, which meets both, stored both (issue 14: three
    // states more than one thread at K=9). The walk now branches at such a tie.
    const { world: w, diverged } = runChoices(new System(iomapV1, spinRef(8)), [...Array<number>(20).fill(0), 1, 1, 0, 0, 1, ...Array<number>(32).fill(0), 7, 7]);
    expect(diverged).toBeUndefined();
    const next = IOMAP_DIO.fields.dio_next!;
    const nextOf = (v: Value) => w.heap[ptrId(v)]!.cells[next];
    const namedBy = (set: Value[], v: Value) => set.filter((x) => nextOf(x) === v);
    const held = w.tasks[0]!.held;
    const [a, b] = held.filter((v) => namedBy(w.inflight, v).length === 1);
    expect(a !== undefined && b !== undefined).toBe(true);
    expect(w.heap[ptrId(a!)]!.cells).toEqual(w.heap[ptrId(b!)]!.cells);
    expect([a!, b!].filter((v) => namedBy(held, namedBy(w.inflight, v)[0]!).length > 0)).toHaveLength(1);
    let seed = 20261207;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const fp = new Fingerprinter(true);
    const key = (x: World) => (fp.fingerprint(x), `${fp.hi}:${fp.lo}`);
    const k0 = key(w);
    const keys = new Set(Array.from({ length: 100 }, () => key(renameObjects(w, rnd))));
    expect([...keys]).toEqual([k0]);
  });

  // The manifest's rows: what each is (the fields bench/manifest.ts describes it by) for every
  // row, its counts recomputed for the cheap ones (the bench's --manifest recomputes them all).
  const manifestFile = () => JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as { runs: (ManifestEntry | ManifestCheckEntry)[] };
  const pick = (row: object, keys: readonly string[]) => Object.fromEntries(Object.entries(row).filter(([k]) => keys.includes(k)));
  const RUN_KEYS = ['impl', 'scope', 'ops', 'symmetry', 'profile', 'por', 'cpuSymmetry', 'atomicity', 'strategy', 'maxStates'] as const;
  const CHECK_KEYS = ['check', 'scope', 'site'] as const;

  it('the state counts match conformance/manifest.json', () => {
    const manifest = manifestFile();
    expect(MANIFEST_RUNS.length).toBeGreaterThan(0);
    // ... then the rows of check --cpu-symmetry (test/cpu-numbers.test.ts recomputes them).
    const symRows = manifest.runs.slice(MANIFEST_RUNS.length + MANIFEST_CHECK_RUNS.length);
    expect(symRows.length).toBeGreaterThan(0);
    expect(symRows.every((r) => 'check' in r && 'withoutCpuSymmetryStates' in r)).toBe(true);
    // Every row is the run bench/manifest.ts says, in its order, the expensive ones too.
    MANIFEST_RUNS.forEach((r, i) => expect(pick(manifest.runs[i]!, RUN_KEYS)).toEqual(describeRun(r)));
    MANIFEST_CHECK_RUNS.forEach((r, i) => expect(pick(manifest.runs[MANIFEST_RUNS.length + i]!, CHECK_KEYS)).toEqual(describeCheckRun(r)));
    const tested = MANIFEST_RUNS.flatMap((r, i) => (r.test === false ? [] : [i]));
    expect(tested.length).toBeGreaterThan(20);
    for (const i of tested) expect(run(i), JSON.stringify(MANIFEST_RUNS[i])).toEqual(manifest.runs[i]);
  });

  it('the C path rows of conformance/manifest.json: check on the seed, its cheap scopes recomputed', async () => {
    const manifest = manifestFile();
    const cheap = MANIFEST_CHECK_RUNS.filter((r) => r.test !== false && !r.site).map((r) => r.scope);
    expect(cheap.length).toBeGreaterThan(2);
    // One check of those scopes; the call-site runs of this check are on another first scope and are no rows.
    const got = await manifestCheckEntries(cheap);
    expect(got.map((e) => e.scope)).toEqual(cheap);
    for (const e of got) {
      const i = checkRunIndex(e);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(e).toEqual(manifest.runs[MANIFEST_RUNS.length + i]);
    }
  });

  it('conformance/manifest.json has a row for every port on every scope and for every run of check on the seed', async () => {
    const sites = (await loadInput(MANIFEST_SEED)).c!.siteRuns.map((s) => s.site);
    expect(sites.length).toBeGreaterThan(0);
    const ports = PORTS.map((p) => p.name);
    const scopes = Object.keys(SCOPES);
    const checkScopes = CHECK_SCOPES.map((s) => s.name);
    expect(manifestGaps(ports, scopes, checkScopes, sites)).toEqual([]);
    // The check can fail: a port, a scope, a check scope or a call site without a row is named.
    expect(manifestGaps([...ports, 'new-port'], [...scopes, 'new-scope'], [...checkScopes, 'check-new'], [...sites, 'new site'])).toEqual([
      ...ports.map((p) => `${p} on new-scope`),
      ...[...scopes, 'new-scope'].map((s) => `new-port on ${s}`),
      'check on check-new',
      `check on ${checkScopes[0]}: new site`,
    ]);
  });
});
