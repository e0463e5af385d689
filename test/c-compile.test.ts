/**
 * The C compiled once (conformance/c/compile.ts) against the interpreter it replaces: the same
 * statements, labels, kernel calls (the read log), values and faults on a snippet that has the
 * constructs the compiler translates (goto back and forward, guards left by return and break,
 * loops with continue and break, do-while, function-like macros re-evaluating their arguments,
 * compound assignment to memory, sizeof, ?:) and ones it hands to the interpreter (this_cpu
 * operations, memset); the same verdict, counts and counterexample labels on the seed patch and
 * on v2 as posted (a violation); and `check --emit-port` writing a port with the C function names
 * and line numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cParser } from '../conformance/c/ast.js';
import { buildFromC } from '../conformance/c/build.js';
import { Compiler } from '../conformance/c/compile.js';
import { extract, Types } from '../conformance/c/extract.js';
import { Interp, newCoverage, type TV } from '../conformance/c/interp.js';
import { decodeMail, detectKind, readPostImage } from '../conformance/c/reader.js';
import { check, CHECK_SCOPES, type CheckReport } from '../conformance/c/run.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { runCli } from './cli-run.js';
import { bareKernel, drain, reachedCoverage } from './c-harness.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const V2 = join(ROOT, 'test/fixtures/c/v2-as-posted.patch');

const SNIPPET = `
struct node { struct node *next; int v; long w; };
struct pc { int hits; };
static int counter;
static struct pc __percpu *pcs;
#define TWICE(x) ((x) + (x))
#define BUMP(p) ((p)->v++)

static int helper(struct node *a, int by)
{
	a->w += by;
	return a->w > 5 ? 1 : 0;
}

static int walk(int n)
{
	struct node *a = kzalloc(sizeof(*a), GFP_KERNEL);
	int i, sum = 0, u;
	unsigned long flags;

	if (!a)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (i == 1)
			continue;
		if (i == 4)
			break;
		a->v += i;
		BUMP(a);
	}
	do {
		sum += TWICE(a->v);
	} while (sum < 20);
	local_irq_save(flags);
	counter = counter + sum;
	local_irq_restore(flags);
again:
	counter--;
	if (counter > 30)
		goto again;
	{
		guard(irqsave)();
		if (sum > 1000)
			return sum;
		counter += sum > 10 ? 1 : 2;
	}
	scoped_guard(preempt) {
		if (counter)
			break;
		counter = 7;
	}
	while (helper(a, 2) == 0)
		sum++;
	this_cpu_inc(pcs->hits);
	memset(a, 0, sizeof(*a));
	if (n > 5)
		goto out;
	kfree(a);
	return counter + sizeof(struct node) + sum;
out:
	if (n > 6)
		return u;
	kfree(a);
	return -1;
}
`;

/** Runs walk(n) to its end on a fresh one-CPU kernel, interpreted or compiled. */
async function runWalk(n: number, compiled: boolean) {
  const prog = extract(await cParser(), readPostImage('t.c', SNIPPET, 'c'));
  const cov = newCoverage();
  const interp = new Interp(prog, new Types(prog.structs, prog.typedefs, () => null), cov, {}, new Set());
  const { world, k, frame } = bareKernel(prog, [undefined], { counter: 0, pcs: 0 });
  world.globals.pcs = k.alloc_percpu('pc');
  const fn = prog.functions.get('walk')!;
  const args: TV[] = [{ v: n, t: { k: 'int', size: 4, name: 'int' } }];
  let exec: { call: Interp['call'] } = interp;
  let fallbacks: string[] = [];
  if (compiled) {
    const c = new Compiler(interp, 't.c');
    c.fnId(fn);
    const made = c.finish();
    fallbacks = made.fallbacks.map((f) => f.why);
    exec = { call: (kk, f, a, st) => made.call(kk, f, a, st) };
  }
  const gen = exec.call(k, fn, args, { steps: 0 });
  const { v, labels } = drain(gen);
  return { v, labels, reads: frame.reads, globals: { ...world.globals }, heap: JSON.stringify(world.heap), facts: k.facts.map((f) => f.kind), stmts: [...cov.stmts.values()], branches: [...cov.branches.values()], fallbacks };
}

function summary(r: CheckReport) {
  return {
    verdict: r.verdict,
    states: r.stats.states,
    transitions: r.stats.transitions,
    maxCached: r.extremes.maxCached,
    runs: r.runs.map((x) => `${x.scope.name}${x.site ? ` ${x.site}` : ''}: ${x.verdict} ${x.stats.states}/${x.stats.transitions}`),
    violations: r.violations.map((v) => ({ id: v.id, message: v.message, labels: v.steps.flatMap((s) => s.labels), steps: v.steps })),
    warnings: r.warnings.map((w) => w.id),
    coverage: r.coverage,
  };
}

async function both(file: string, scopes: CheckReport['runs'][number]['scope'][]) {
  const text = decodeMail(readFileSync(file, 'latin1'));
  const kind = detectKind(file, text) as 'email' | 'diff' | 'c';
  const out: ReturnType<typeof summary>[] = [];
  // The interpreter's frames have no key (Frame.key): the compiled C is compared with its keys off
  // for the counts, and with them on (the default) for everything the reduction must keep.
  for (const [compiled, frameKeys] of [[false, true], [true, false], [true, true]] as const) {
    const c = await buildFromC(file, text, kind, { compiled });
    expect(c.compiled !== null).toBe(compiled);
    out.push(summary(await check({ file, scopes, frameKeys }, { impl: c.impl, kind, ref: file, c })));
  }
  return { interpreted: out[0]!, compiled: out[1]!, keyed: out[2]! };
}

/**
 * What the frame-key reduction must not change: the verdict, the maximum, the counterexamples
 * and warnings, and which statements, branches, call sites and interrupt points were reached
 * (their counts count transitions, which it merges).
 */
function reached(s: ReturnType<typeof summary>) {
  return { verdict: s.verdict, maxCached: s.maxCached, violations: s.violations, warnings: s.warnings, coverage: reachedCoverage(s.coverage), runs: s.runs.map((r) => r.split(':')[0]) };
}

describe('compiled C against the interpreter, statement by statement', () => {
  for (const n of [0, 3, 5, 6, 7]) {
    it(`walk(${n}): the same labels, reads, value, memory, coverage`, async () => {
      const a = await runWalk(n, false);
      const b = await runWalk(n, true);
      expect(a.labels.length).toBeGreaterThan(10);
      expect(b).toEqual({ ...a, fallbacks: b.fallbacks });
      // What the compiler hands to the interpreter is said, and the rest is compiled.
      expect(b.fallbacks.sort()).toEqual(['primitive memset()', 'primitive this_cpu_inc()']);
    });
  }

  it('the uninitialised read and the goto out of the guard take the same paths', async () => {
    const a = await runWalk(7, false);
    expect(String(a.v)).toMatch(/fault: read of uninitialised local u at t\.c:\d+/);
    expect(a.labels.some((l) => /guard\(irqsave\) released: local_irq_restore/.test(l))).toBe(true);
    expect(a.labels.some((l) => /scoped_guard\(preempt\) released: preempt_enable/.test(l))).toBe(true);
  });
});

describe('compiled C against the interpreter, whole checks', () => {
  it('the seed patch on spin-ref at 3 operations: the same verdict, counts, maximum and coverage', async () => {
    const r = await both(SEED, [scopeWith(SCOPES['spin-ref']!, { ops: 3 })]);
    console.log(`seed spin-ref K=3: ${r.compiled.verdict}, ${r.compiled.states} states, ${r.compiled.transitions} transitions`);
    expect(r.interpreted.verdict).toBe('conforms');
    expect(r.interpreted.states).toBeGreaterThan(1000);
    expect(r.compiled).toEqual(r.interpreted);
    expect(reached(r.keyed)).toEqual(reached(r.interpreted));
    console.log(`  with frame keys: ${r.keyed.states} states, ${r.keyed.transitions} transitions`);
    expect(r.keyed.states).toBeLessThan(r.interpreted.states);
  });

  it('v2 as posted on check-1cpu: the same violation with the same counterexample labels', async () => {
    const r = await both(V2, [CHECK_SCOPES[0]!]);
    console.log(`v2 check-1cpu: ${r.compiled.verdict} ${r.compiled.violations.map((v) => `${v.id} (${v.labels.length} steps)`).join(', ')}`);
    expect(r.interpreted.verdict).toBe('violation');
    expect(r.interpreted.violations.length).toBeGreaterThan(0);
    expect(r.interpreted.violations[0]!.labels.length).toBeGreaterThan(3);
    expect(r.compiled).toEqual(r.interpreted);
    expect(reached(r.keyed)).toEqual(reached(r.interpreted));
    expect(r.keyed.states).toBeLessThan(r.interpreted.states);
  });
});

describe('check --emit-port', () => {
  const work = tempDir('dio-emit-');

  it('writes a port with the C functions, their statements and the C line numbers', async () => {
    const out = join(work, 'seed-port.ts');
    const r = await runCli(['check', SEED, '--emit-port', out, '--no-progress'], work);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/wrote .*seed-port\.ts: 3 C functions, \d+ call sites/);
    const ts = readFileSync(out, 'utf8');
    for (const fn of ['dio_alloc_percpu_cache', 'dio_put_percpu_cache', 'dio_alloc_irq_cache_splice'])
      expect(ts).toMatch(new RegExp(`/\\*\\* Port of direct-io\\.c:${fn}\\(\\) \\(direct-io\\.c:\\d+\\), compiled from the C \\*/\\n\\s*function\\* F_${fn}\\(k: Kernel`));
    // The cache's pop, with the line the post-image has it on, as the label the interpreter yields.
    expect(ts).toMatch(/"cache->free_list = dio->dio_next; \(direct-io\.c:102\)"/);
    expect(ts).toMatch(/k\.storeAt\(rt\.fa\(rt\.u\(cache_\d+, "cache", "direct-io\.c:102"\), 0\), \$v\d+, "cache->free_list"\), \$v\d+\); \/\/ l\.102/);
    expect(ts).toMatch(/continue G\d+; \/\/ goto out_free/);
  });

  it('a path it cannot write: one line, exit 2', async () => {
    const r = await runCli(['check', SEED, '--emit-port', join(work, 'no-such-dir', 'x.ts'), '--no-progress'], work);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--emit-port .*no directory .*no-such-dir/);
    const d = await runCli(['check', SEED, '--emit-port', work, '--no-progress'], work);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/--emit-port .*: not a file path/);
  });

  it('--compiled and --interpret together are refused', async () => {
    const r = await runCli(['check', SEED, '--compiled', '--interpret', '--no-progress'], work);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--compiled and --interpret: give one of them/);
  });
});
