/**
 * `--atomicity access`: interrupts between the shared-memory loads and stores of one C statement.
 * The bitfield-counters variant conforms at statement level and is caught at access level with its
 * id; a port conforms at access level with more states than at statement level; the labels of a
 * statement's steps name the access (TS ports and the C path); resuming a statement mid-way by
 * replay explores what continuing its generator does.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check } from '../conformance/c/run.js';
import { explore } from '../conformance/explorer/explore.js';
import { renderTrace } from '../conformance/explorer/trace.js';
import { runSuite } from '../conformance/suite.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Scope } from '../conformance/system.js';
import { port, type Implementation, type Op } from '../impl/interface.js';
import type { Kernel } from '../impl/kernel/primitives.js';
import type { Value } from '../impl/kernel/values.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { findImpl, VARIANTS } from '../impl/registry.js';
import { allocPercpuWith, v1Variant } from '../impl/variants/v1-parts.js';
import { dio_alloc_irq_cache_splice } from '../impl/ports/iomap-v1.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tempDir = tempDirs();
const spinRef = (ops: number, atomicity?: 'access'): Scope => ({ ...SCOPES['spin-ref']!, ops, ...(atomicity ? { atomicity } : {}) });
/** iomap-v1 by DFS at access level, spin-ref K=3: explored once for the two tests that read it. */
let accessRun: ReturnType<typeof explore> | undefined;
const accessDfs = () => (accessRun ??= explore({ impl: iomapV1, scope: spinRef(3, 'access'), strategy: 'dfs' }));

/** One CPU, one task, one alloc, one object prefilled and one in flight: the variant's shortest scenario. */
const ONE_ALLOC: Scope = {
  name: 'one-alloc',
  description: 'one alloc hitting the prefilled list, one hardirq completion',
  cpus: 1,
  taskCpus: [0],
  ops: 1,
  taskOps: ['alloc'],
  prefill: 1,
  inflight: 1,
  completers: ['hardirq'],
  atomicIrq: true,
  preemptions: 0,
  migration: false,
  hotplug: false,
  profile: 'iomap-v1',
  max: 2,
  threshold: 2,
};

/** The labels of one alloc run alone from boot: one per step of the task. */
function allocLabels(impl: Implementation, scope: Scope): string[] {
  const sys = new System(impl, scope);
  const init = sys.initial();
  let r = sys.step(init.world, init.abs, sys.enabled(init.world).find((c) => c.kind === 'start' && c.op === 'alloc')!);
  const labels = [...r.labels];
  while (r.world.tasks[0]!.frame) {
    r = sys.step(r.world, r.abs, { kind: 'step', cpu: 0 });
    labels.push(...r.labels);
  }
  return labels;
}

describe('--atomicity access', () => {
  const variant = findImpl('bitfield-counters')!;

  it('bitfield-counters is registered as a known-bad variant that needs access level', () => {
    expect(VARIANTS).toContain(variant);
    expect(variant.atomicity).toBe('access');
    expect(variant.expectedViolation).toBe('marked-access');
  });

  it('bitfield-counters: its word load is a data race at statement level (marked-access); at access level the race\'s lost update is irq-list-hardirq-only, an interrupt inside `cache->nr--`', () => {
    // Every run stops at the first error: --all (ExploreOptions.all) collects one per id.
    const stmt = explore({ impl: variant, scope: ONE_ALLOC, all: true });
    expect(stmt.violations.map((v) => v.id)).toEqual(['marked-access']);
    expect(stmt.violations[0]!.message).toMatch(/^dio_alloc_percpu_cache: plain load of #\d+->nr_irq: cpu0's nr_irq, which a hardirq put writes, read with irqs enabled/);
    expect(stmt.complete).toBe(true);

    const acc = explore({ impl: variant, scope: { ...ONE_ALLOC, atomicity: 'access' }, all: true });
    expect(acc.violations.map((v) => v.id).sort()).toEqual(['irq-list-hardirq-only', 'marked-access']);
    const v = acc.violations.find((x) => x.id === 'irq-list-hardirq-only')!;
    console.log(renderTrace(v.steps, v, true).join('\n'));
    // The word's store that lost the hardirq's nr_irq++ is named, and the hardirq came between
    // the statement's first access and that store.
    expect(v.message).toMatch(/task context wrote free_list_irq\/nr_irq with irqs enabled \(dio_alloc_percpu_cache: cache->nr--; \[store #\d+->nr_irq\]\)/);
    const labels = v.steps.map((s) => s.labels.join(' | '));
    const first = labels.findIndex((l) => /cache->nr--; \[load #\d+->nr\]$/.test(l));
    const irq = v.steps.findIndex((s) => s.who.endsWith('/hardirq'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(irq).toBeGreaterThan(first);
    expect(labels[labels.length - 1]).toMatch(/cache->nr--; \[store #\d+->nr_irq\]$/);
  });

  it('iomap-v1 conforms at access level, with more states than at statement level (spin-ref K=3)', () => {
    // DFS: the states, verdict and maximum of BFS, sooner (BFS at access level is the test below).
    const stmt = explore({ impl: iomapV1, scope: spinRef(3), strategy: 'dfs' });
    const acc = accessDfs();
    console.log(`iomap-v1 spin-ref K=3: ${stmt.stats.states} states at statement level, ${acc.stats.states} at access level`);
    expect(stmt.verdict).toBe('conforms');
    expect(acc.verdict).toBe('conforms');
    expect(acc.complete).toBe(true);
    expect(acc.stats.states).toBeGreaterThan(stmt.stats.states);
    // Same reachable extremes: the soft cap MAX+2 either way.
    expect(acc.extremes.maxCached).toBe(stmt.extremes.maxCached);
  });

  it('a statement with a load and a store is two steps at access level, each label naming its access; statement level keeps the plain labels', () => {
    const stmt = allocLabels(iomapV1, ONE_ALLOC);
    const acc = allocLabels(iomapV1, { ...ONE_ALLOC, atomicity: 'access' });
    expect(stmt.filter((l) => l.startsWith('dio_alloc_percpu_cache: cache->nr--;'))).toEqual(['dio_alloc_percpu_cache: cache->nr--;']);
    const dec = acc.filter((l) => l.startsWith('dio_alloc_percpu_cache: cache->nr--;'));
    expect(dec).toHaveLength(2);
    expect(dec[0]).toMatch(/^dio_alloc_percpu_cache: cache->nr--; \[load #\d+->nr\]$/);
    expect(dec[1]).toMatch(/^dio_alloc_percpu_cache: cache->nr--; \[store #\d+->nr\]$/);
    // `cache->free_list = dio->dio_next;`: the load of the next object's link, then the store.
    expect(acc.filter((l) => l.includes('cache->free_list = dio->dio_next;')).map((l) => l.replace(/#\d+/g, '#'))).toEqual([
      'dio_alloc_percpu_cache: cache->free_list = dio->dio_next; [load #->dio_next]',
      'dio_alloc_percpu_cache: cache->free_list = dio->dio_next; [store #->free_list]',
    ]);
    expect(stmt.every((l) => !/\[(load|store) /.test(l))).toBe(true);
    expect(acc.length).toBeGreaterThan(stmt.length);
  });

  it('an operation bracketed as one access (this_cpu_dec()) stays one step at access level', () => {
    // The pop's `cache->nr--` written as this_cpu_dec(): irq-safe, one access.
    const thisCpuDec = port('dio_alloc_percpu_cache', function* (k: Kernel): Op<Value> {
      const plain = allocPercpuWith(dio_alloc_irq_cache_splice)(k);
      // Run the port's statements, bracketing the one statement whose label is `cache->nr--;`.
      let r = plain.next();
      while (!r.done) {
        const label = r.value;
        yield label === 'cache->nr--;' ? 'this_cpu_dec(dio_cache->nr);' : label;
        if (label === 'cache->nr--;') k.beginOneAccess();
        r = plain.next();
        if (label === 'cache->nr--;') k.endOneAccess();
      }
      return r.value;
    });
    const impl = v1Variant({ name: 'this-cpu-dec', description: 'the pop with this_cpu_dec()', expectedViolation: 'nr-accuracy' }, { allocPercpu: thisCpuDec });
    const acc = allocLabels(impl, { ...ONE_ALLOC, atomicity: 'access' });
    expect(acc.filter((l) => l.includes('this_cpu_dec(dio_cache->nr);')).map((l) => l.replace(/#\d+/g, '#'))).toEqual(['dio_alloc_percpu_cache: this_cpu_dec(dio_cache->nr); [load #->nr]']);
  });

  it('replaying a statement up to its access explores what continuing its generator does (DFS with and without resume)', () => {
    const a = accessDfs();
    const b = explore({ impl: iomapV1, scope: spinRef(3, 'access'), strategy: 'dfs', resume: false });
    expect([a.verdict, a.stats.states, a.stats.transitions, a.extremes.maxCached]).toEqual([b.verdict, b.stats.states, b.stats.transitions, b.extremes.maxCached]);
    const bfs = explore({ impl: iomapV1, scope: spinRef(3, 'access') });
    expect(a.stats.states).toBe(bfs.stats.states);
    const va = explore({ impl: variant, scope: { ...ONE_ALLOC, atomicity: 'access' }, strategy: 'dfs' });
    const vb = explore({ impl: variant, scope: { ...ONE_ALLOC, atomicity: 'access' }, strategy: 'dfs', resume: false });
    expect(va.violations.map((v) => [v.id, v.steps.map((s) => s.labels.join(' | '))])).toEqual(vb.violations.map((v) => [v.id, v.steps.map((s) => s.labels.join(' | '))]));
  });

  it('the suite explores a variant that needs access level at that level, and says so', async () => {
    const r = await runSuite(variant, { layers: ['explorer'], scope: 'spin-ref' });
    expect(r.explorer!.atomicity).toBe('access');
    expect(r.findings.map((f) => f.invariant)).toContain('marked-access');
    const ported = await runSuite(iomapV1, { layers: ['explorer'], scope: { ...spinRef(2), name: 'spin-ref-2' }, atomicity: 'access' });
    expect(ported.verdict).toBe('conforms');
    expect(ported.explorer!.atomicity).toBe('access');
  });

  it('the C path: the v1 file conforms at access level with more states, and its labels name the C access', async () => {
    const file = join(repo, 'test/fixtures/c/direct-io-v1.c');
    const scope = { ...SCOPES['spin-ref']!, ops: 2, max: 2, threshold: 1, name: 'c-small' };
    const stmt = await check({ file, scopes: [scope] });
    const acc = await check({ file, scopes: [{ ...scope, atomicity: 'access' }] });
    console.log(`direct-io-v1.c: ${stmt.stats.states} states at statement level, ${acc.stats.states} at access level`);
    expect(stmt.verdict).toBe('conforms');
    expect(acc.verdict).toBe('conforms');
    expect(acc.stats.states).toBeGreaterThan(stmt.stats.states);
    // An alloc run alone: the interpreter's statement `cache->nr--;` is a load and a store of `cache->nr`.
    const { loadInput } = await import('../conformance/c/run.js');
    const l = await loadInput(file);
    const labels = allocLabels(l.impl, { ...ONE_ALLOC, profile: l.impl.profile, atomicity: 'access' }).filter((x) => x.includes('cache->nr--;'));
    expect(labels).toHaveLength(2);
    expect(labels[0]).toMatch(/^dio_alloc_percpu_cache: cache->nr--; \(direct-io-v1\.c:\d+\) \[load cache->nr\]$/);
    expect(labels[1]).toMatch(/^dio_alloc_percpu_cache: cache->nr--; \(direct-io-v1\.c:\d+\) \[store cache->nr\]$/);
  });

  it('CLI: --atomicity on explore (text and JSON say the level), a bad level is a usage error', async () => {
    const out = tempDir('atomicity-');
    // In-process (test/cli-run.ts): the entry bin/dio-cache.js calls, with its output and exit code, without a node + tsx start per run.
    const cli = async (...args: string[]) => {
      const r = await runCli(args, repo);
      return { status: r.code, stdout: r.out, stderr: r.err };
    };
    const caught = await cli('explore', '--impl', 'bitfield-counters', '--scope', 'spin-ref', '--ops', '1', '--atomicity', 'access', '--all', '--no-progress', '--out-dir', out);
    expect(caught.status).toBe(1);
    expect(caught.stdout).toMatch(/violation irq-list-hardirq-only: .*\[store #\d+->nr_irq\]/);
    // The trace document finds a cut statement in the port's source, the access beside it.
    const json = await cli('explore', '--impl', 'bitfield-counters', '--scope', 'spin-ref', '--ops', '1', '--atomicity', 'access', '--all', '--no-progress', '--out-dir', out, '--json');
    const trace = (JSON.parse(json.stdout) as { atomicity: string; violations: { invariant: string; trace: { steps: { statements: { text: string; file: string | null; line: number | null }[] }[] } }[] });
    expect(trace.atomicity).toBe('access');
    const lost = trace.violations.find((x) => x.invariant === 'irq-list-hardirq-only')!;
    const last = lost.trace.steps.at(-1)!.statements.at(-1)!;
    expect(last.text).toMatch(/^cache->nr--; \[store #\d+->nr_irq\]$/);
    expect([last.file, typeof last.line]).toEqual(['impl/variants/bitfield-counters.ts', 'number']);
    const plain = await cli('explore', '--impl', 'iomap-v1', '--scope', 'spin-ref', '--ops', '1', '--no-progress', '--json');
    expect(plain.status).toBe(0);
    const doc = JSON.parse(plain.stdout) as { verdict: string; atomicity: string; interleavings: string };
    expect([doc.verdict, doc.atomicity, doc.interleavings]).toEqual(['conforms', 'statement', 'interrupts between statements']);
    const text = await cli('explore', '--impl', 'iomap-v1', '--scope', 'spin-ref', '--ops', '1', '--atomicity', 'access', '--no-progress');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/conforms: [\d,]+ states, every interleaving up to this bound, interrupts between memory accesses/);
    const bad = await cli('explore', '--atomicity', 'instruction');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--atomicity instruction: unknown level \(known: statement, access\)/);
  });
});
