/**
 * CPU symmetry on the C path (conformance/c/cpu-numbers.ts, `check --cpu-symmetry`): read off the
 * code whether every CPU number goes where the symmetry renames it; refuse, with the line, where
 * one is kept or computed with; and with it, the same verdicts, invariants, counterexample costs
 * and maxima in fewer states, frames by key included (Frame.keyCpuFree).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFromC } from '../conformance/c/build.js';
import { check, type CheckReport } from '../conformance/c/run.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { cParser } from '../conformance/c/ast.js';
import { extract } from '../conformance/c/extract.js';
import { readPostImage } from '../conformance/c/reader.js';
import { CALL_PC } from '../impl/kernel/primitives.js';
import { Fingerprinter } from '../conformance/explorer/fingerprint.js';
import type { Frame, World } from '../impl/kernel/world.js';
import { bareKernel } from './c-harness.js';
import { MANIFEST_PATH, manifestCheckSymmetryEntries } from '../bench/manifest.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/c');
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const V1 = readFileSync(join(FIX, 'direct-io-v1.c'), 'utf8');
const tempDir = tempDirs();

const PUT_GET = '\tcache = per_cpu_ptr(dio_cache, get_cpu());\n\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)';
const INIT_RET = '\tif (!dio_cache)\n\t\treturn -ENOMEM;\n';

/** direct-io-v1.c with `from` (which must be there once) replaced. */
function variant(from: string, to: string): string {
  expect(V1.split(from)).toHaveLength(2);
  return V1.replace(from, to);
}

async function verdictOn(text: string) {
  const b = await buildFromC('direct-io-v1.c', text, 'c');
  return { cpu: b.impl.cpuSymmetry!, compiled: b.compile().js };
}

describe('where the CPU numbers go', () => {
  it('the seed and the C fixtures: straight into per_cpu_ptr()', async () => {
    const { cpu, compiled } = await verdictOn(V1);
    expect(cpu.ok).toBe(true);
    // No local holds a CPU number: no activation is marked.
    expect(compiled).not.toMatch(/k\.act\(\d+, .*, (?:true|false), true\);/);
  });

  const kept: [string, string, string, RegExp][] = [
    ['a CPU number in a local', PUT_GET, '\tcpu = get_cpu();\n\tcache = per_cpu_ptr(dio_cache, cpu);\n\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)', /direct-io-v1\.c:\d+: get_cpu\(\) whose CPU number is kept or computed with/],
    ['a CPU number in a field', '\t\tdio->dio_next = cache->free_list;\n\t\tcache->free_list = dio;', '\t\tdio->error = smp_processor_id();\n\t\tdio->dio_next = cache->free_list;\n\t\tcache->free_list = dio;', /smp_processor_id\(\) whose CPU number is kept/],
    ['a constant CPU', PUT_GET, '\tget_cpu();\n\tcache = per_cpu_ptr(dio_cache, 0);\n\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)', /per_cpu_ptr\(\) of the CPU `0`/],
    ['a CPU number as a WARN() condition', PUT_GET, `\tWARN(smp_processor_id(), "on a CPU but 0");\n${PUT_GET}`, /smp_processor_id\(\) whose CPU number is kept or computed with/],
    ['an iterator variable compared', INIT_RET, `${INIT_RET}\tfor_each_possible_cpu(cpu)\n\t\tif (cpu == 0)\n\t\t\tper_cpu_ptr(dio_cache, cpu)->nr = 0;\n`, /the CPU iterator's variable cpu is used as a number/],
  ];
  for (const [what, from, to, why] of kept)
    it(`refused: ${what}`, async () => {
      const { cpu } = await verdictOn(variant(from, to).replace('static int __init iomap_dio_init(void)\n{', 'static int __init iomap_dio_init(void)\n{\n\tint cpu;').replace('static void dio_put_percpu_cache(struct iomap_dio *dio)\n{', 'static void dio_put_percpu_cache(struct iomap_dio *dio)\n{\n\tint cpu;'));
      expect(cpu.ok).toBe(false);
      expect(cpu.why).toMatch(why);
    });

  it('taken: a CPU number printed (pr_debug), or dropped (get_cpu();)', async () => {
    const { cpu } = await verdictOn(variant(PUT_GET, `\tget_cpu();\n\tput_cpu();\n\tpr_debug("put on %d\\n", smp_processor_id());\n${PUT_GET}`));
    expect(cpu).toEqual({ ok: true, why: expect.stringMatching(/straight into a CPU argument/) });
  });

  it("a for_each_possible_cpu() loop is renamed, and its function's frames go by read log under the symmetry", async () => {
    // In the put, which runs compiled (the initcall runs interpreted, once, at boot).
    const text = variant(PUT_GET, `${PUT_GET.split('\n')[0]}\n\tfor_each_possible_cpu(cpu)\n\t\tif (per_cpu_ptr(dio_cache, cpu)->nr < 0)\n\t\t\tbreak;\n${PUT_GET.split('\n')[1]}`).replace('static void dio_put_percpu_cache(struct iomap_dio *dio)\n{', 'static void dio_put_percpu_cache(struct iomap_dio *dio)\n{\n\tint cpu;');
    const { cpu, compiled } = await verdictOn(text);
    expect(cpu.ok).toBe(true);
    expect(compiled).toMatch(/k\.act\(\d+, .*, (?:true|false), true\);/);
    const file = join(tempDir('cpu-numbers-'), 'loop.c');
    writeFileSync(file, text);
    const scopes = [scopeWith(SCOPES['smp-small']!, {})];
    const plain = await check({ file, scopes, strategy: 'dfs' });
    const sym = await check({ file, scopes, strategy: 'dfs', cpuSymmetry: true });
    expect(judged(sym)).toEqual(judged(plain));
    expect(sym.stats.states).toBeLessThan(plain.stats.states);
  });

  it('check --cpu-symmetry refuses such code with the line (exit 2), and takes the seed', async () => {
    const file = join(tempDir('cpu-numbers-'), 'kept.c');
    writeFileSync(file, variant(PUT_GET, '\tcpu = get_cpu();\n\tcache = per_cpu_ptr(dio_cache, cpu);\n\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)').replace('static void dio_put_percpu_cache(struct iomap_dio *dio)\n{', 'static void dio_put_percpu_cache(struct iomap_dio *dio)\n{\n\tint cpu;'));
    const r = await runCli(['check', file, '--cpu-symmetry', '--no-progress'], ROOT);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--cpu-symmetry: kept\.c keeps a CPU number that CPU symmetry cannot rename \(kept\.c:\d+: get_cpu\(\)/);
    const ok = await runCli(['check', file, '--scope', 'check-migrate', '--no-progress'], ROOT);
    expect(ok.code).toBe(0);
    const seed = await runCli(['check', SEED, '--cpu-symmetry', '--scope', 'smp-small', '--no-progress', '--json'], ROOT);
    expect(seed.code).toBe(0);
  });
});

describe('Kernel.keyCpuFree: whether a key may stand for its frame under CPU symmetry', () => {
  const kernel = async () => bareKernel(extract(await cParser(), readPostImage('t.c', 'static int x;\n', 'c')), [undefined], { x: 0 }).k;
  const NONE = (): void => {};

  it('yes when no activation is marked and no pending operand is a CPU read', async () => {
    const k = await kernel();
    const a = k.act(0, NONE, true);
    k.get_cpu();
    k.at(a, 1, 'cache = per_cpu_ptr(dio_cache, get_cpu());');
    expect(k.frameKey()).toBeDefined();
    expect(k.keyCpuFree).toBe(true);
  });

  it('no inside a function whose locals may hold a CPU number (a for_each_*_cpu() loop)', async () => {
    const k = await kernel();
    const a = k.act(0, NONE, true, true);
    k.at(a, 1, 'x = 1;');
    expect(k.frameKey()).toBeDefined();
    expect(k.keyCpuFree).toBe(false);
  });

  it('no when a caller read a CPU number in the statement that made the call (an operand on its stack)', async () => {
    const k = await kernel();
    const caller = k.act(0, NONE, true);
    k.at(caller, 1, 'f(per_cpu_ptr(p, get_cpu()));');
    k.get_cpu();
    caller.pc = CALL_PC + 1;
    const callee = k.act(1, NONE, false);
    k.at(callee, 2, 'x = 1;');
    expect(k.frameKey()).toBeDefined();
    expect(k.keyCpuFree).toBe(false);
    // Read before the statement began, it is no operand.
    const k2 = await kernel();
    const c2 = k2.act(0, NONE, true);
    k2.get_cpu();
    k2.at(c2, 1, 'f(p);');
    c2.pc = CALL_PC + 1;
    k2.at(k2.act(1, NONE, false), 2, 'x = 1;');
    expect(k2.frameKey()).toBeDefined();
    expect(k2.keyCpuFree).toBe(true);
  });
});

describe('the fingerprint under CPU symmetry', () => {
  it('writes a frame by its key only where the key holds no CPU number, else by its read log', async () => {
    const { world } = bareKernel(extract(await cParser(), readPostImage('t.c', 'static int x;\n', 'c')), [undefined], { x: 0 });
    const at = (key: number[], keyCpuFree: boolean): World => {
      const frame: Frame = { op: 'alloc', args: [], reads: [7, 0], steps: 2, sub: 0, preempt: 1, irqSaved: 0, irqsOffAtStart: false, ghost: 0, next: 'x = 1;', key, keyCpuFree };
      return { ...world, tasks: [{ ...world.tasks[0]!, frame }] };
    };
    // Two frames that read alike and whose keys differ (a local holding CPU 0 or CPU 1).
    const fp = new Fingerprinter(true, true);
    fp.images = (w) => [w];
    const hash = (w: World) => (fp.fingerprint(w), `${fp.hi}:${fp.lo}`);
    expect(hash(at([1, 0, 1, 1, 0], false))).toBe(hash(at([1, 0, 1, 1, 1], false)));
    expect(hash(at([1, 0, 1, 1, 0], true))).not.toBe(hash(at([1, 0, 1, 1, 1], true)));
  });
});

/** What CPU symmetry must keep: verdict, invariant ids with counterexample costs, maxima. */
function judged(r: CheckReport) {
  return {
    verdict: r.verdict,
    violations: r.violations
      .map((v) => `${v.id}${v.site ? ` (${v.site})` : ''}: ${v.steps.length} steps, ${v.steps.filter((s) => /hardirq|softirq/.test(s.who)).length} in handlers`)
      .sort(),
    maxCached: r.extremes.maxCached,
    perRun: r.runs.map((x) => [x.scope.name, x.site ?? '', x.verdict, x.maxCached]),
  };
}

describe('check --cpu-symmetry keeps every verdict', () => {
  const scopes = [scopeWith(SCOPES['smp-small']!, {}), scopeWith(SCOPES['smp-irq']!, { ops: 1 })];
  // The seed, and one variant per invariant the 2-CPU scopes catch.
  for (const f of [SEED, ...['alloc-no-nr-dec.patch', 'hardirq-pushes-task-list.patch', 'splice-no-irqsave.patch', 'put-no-cap.patch', 'local-lock-no-irqsave.c'].map((x) => join(FIX, x))]) {
    it(`${f.split('/').pop()}: the same verdict, invariants, costs and maxima on 2 CPUs, in fewer states`, async () => {
      const plain = await check({ file: f, scopes, strategy: 'dfs' });
      const sym = await check({ file: f, scopes, strategy: 'dfs', cpuSymmetry: true });
      expect(judged(sym)).toEqual(judged(plain));
      expect(sym.stats.states).toBeLessThan(plain.stats.states);
      const logs = await check({ file: f, scopes, strategy: 'dfs', cpuSymmetry: true, frameKeys: false });
      expect(judged(logs)).toEqual(judged(plain));
      expect(sym.stats.states).toBeLessThanOrEqual(logs.stats.states);
      console.log(`${f.split('/').pop()}: ${plain.verdict} ${sym.violations.map((v) => v.id).join(', ')}; ${plain.stats.states} states, ${sym.stats.states} with CPU symmetry (${logs.stats.states} by read log)`);
    });
  }

  it("conformance/manifest.json's rows of check --cpu-symmetry on the seed are this tree's counts", async () => {
    const rows = (JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as { runs: Record<string, unknown>[] }).runs.filter((r) => r.check && r.cpuSymmetry);
    const got = await manifestCheckSymmetryEntries();
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(got).toEqual(rows);
    for (const e of got) expect(e.states).toBeLessThan(e.withoutCpuSymmetryStates);
  });
});
