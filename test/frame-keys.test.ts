/**
 * Frames by key (Frame.key, Kernel.frameKey()): compiled C says where each of its activations is
 * and what its locals hold, and the fingerprint hashes that instead of the whole read log. What it
 * must hold: the key has the locals and a caller's pending operands, and no key is made where
 * state is out of its sight (a TypeScript port, a node handed to the interpreter); the key is a
 * function of the state (a replayed frame and a continued one get the same: BFS and DFS store the
 * same states); and the known-bad variants give the same verdicts, counterexamples and maxima
 * with and without it, in fewer states.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cParser } from '../conformance/c/ast.js';
import { Compiler } from '../conformance/c/compile.js';
import { extract, structDecls, Types } from '../conformance/c/extract.js';
import { Interp, newCoverage } from '../conformance/c/interp.js';
import { readPostImage } from '../conformance/c/reader.js';
import { check, type CheckReport } from '../conformance/c/run.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { CALL_PC, Kernel } from '../impl/kernel/primitives.js';
import { bareKernel, reachedCoverage } from './c-harness.js';
import { runCli } from './cli-run.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const FIX = join(ROOT, 'test/fixtures/c');

// walk() reads p->v, then calls leaf() in the same statement: while leaf() runs, the value read is
// an operand on walk()'s generator stack, in no local. messy() hands memset() to the interpreter.
const SRC = `
struct node { struct node *next; int v; };
static struct node *head;
static int counter;

static int leaf(struct node *q)
{
	counter = q->v;
	return 1;
}

static int walk(int n)
{
	struct node *p = head;
	int t = 0;

	t = p->v + leaf(p);
	counter = t + n;
	return t;
}

static int messy(struct node *p)
{
	counter = 1;
	memset(p, 0, sizeof(*p));
	counter = 2;
	return 0;
}
`;

async function steps(fn: string, arg: number | 'node'): Promise<{ labels: string[]; keys: ((number | undefined)[] | undefined)[]; node: number; replayed: ((number | undefined)[] | undefined)[] }> {
  const prog = extract(await cParser(), readPostImage('t.c', SRC, 'c'));
  const interp = new Interp(prog, new Types(prog.structs, prog.typedefs, () => null), newCoverage(), {}, new Set());
  const { k, world, frame } = bareKernel(prog, [undefined], { head: 0, counter: 0 });
  const node = k.kzalloc('node', 'GFP_KERNEL');
  k.storeAt(node + 8, 42, 'v');
  k.setGlobal('head', node);
  // The operation starts here: its read log is what walk() reads.
  frame.reads.length = 0;
  const c = new Compiler(interp, 't.c');
  const f = prog.functions.get(fn)!;
  c.fnId(f);
  const made = c.finish();
  const args = [{ v: arg === 'node' ? node : arg, t: f.params[0]!.type }];
  const lk = new Kernel({ world, cpu: 0, ctx: 'task', task: 0, frame }, structDecls(prog), {});
  lk.replaying = false;
  const gen = made.call(lk, f, args, { steps: 0 });
  const labels: string[] = [];
  const keys: ((number | undefined)[] | undefined)[] = [];
  for (;;) {
    const r = gen.next();
    if (r.done) break;
    labels.push(r.value);
    keys.push(lk.frameKey());
  }
  // Each place again from a fresh generator fed the read log, as a search resumes a stored frame.
  const replayed = keys.map((_, i) => {
    const rk = new Kernel({ world, cpu: 0, ctx: 'task', task: 0, frame }, structDecls(prog), {});
    rk.replaying = true;
    const g = made.call(rk, f, args, { steps: 0 });
    for (let j = 0; j <= i; j++) g.next();
    return rk.frameKey();
  });
  return { labels, keys, node, replayed };
}

/** The activations of a key: function, place, locals, and a caller's values read since its statement began. */
function acts(key: readonly (number | undefined)[]): { fn: number; pc: number; locals: (number | undefined)[]; pending: (number | undefined)[] }[] {
  const out: { fn: number; pc: number; locals: (number | undefined)[]; pending: (number | undefined)[] }[] = [];
  let i = 0;
  const n = key[i++]!;
  for (let a = 0; a < n; a++) {
    const fn = key[i++]!;
    const pc = key[i++]!;
    const nl = key[i++]!;
    const locals = key.slice(i, i + nl);
    i += nl;
    let pending: (number | undefined)[] = [];
    if (a < n - 1) {
      const ns = key[i++]!;
      pending = key.slice(i, i + ns);
      i += ns;
    }
    out.push({ fn, pc, locals, pending });
  }
  expect(i).toBe(key.length);
  return out;
}

describe('Kernel.frameKey()', () => {
  it("compiled C: every activation's place and locals, and a caller's operand read before its call", async () => {
    const { labels, keys, node } = await steps('walk', 7);
    expect(labels.length).toBeGreaterThanOrEqual(4);
    expect(keys.every((x) => x !== undefined)).toBe(true);
    const inLeaf = labels.findIndex((l) => l.startsWith('counter = q->v;'));
    expect(inLeaf).toBeGreaterThan(0);
    const chain = acts(keys[inLeaf]!);
    // The root (the wrapper that called walk), walk at its call, leaf at its statement.
    expect(chain).toHaveLength(3);
    const [, walk, leaf] = chain;
    expect(walk!.pc).toBeGreaterThanOrEqual(CALL_PC);
    expect(leaf!.pc).toBeLessThan(CALL_PC);
    // walk's n, p and t; leaf's q.
    expect(walk!.locals).toEqual(expect.arrayContaining([7, node, 0]));
    expect(leaf!.locals[0]).toBe(node);
    // p->v (42), read before the call and still to be added to leaf()'s value.
    expect(walk!.pending).toContain(42);
    // Back in walk, at its own statement: one activation under the root, nothing pending.
    const after = acts(keys[inLeaf + 1]!);
    expect(after).toHaveLength(2);
    expect(after[1]!.pc).toBeLessThan(CALL_PC);
    expect(after[1]!.locals).toEqual(expect.arrayContaining([7, node, 43]));
  });

  it('a function of the state: a generator replayed from the read log has the key the live one had', async () => {
    const { keys, replayed } = await steps('walk', 7);
    expect(keys.length).toBeGreaterThanOrEqual(4);
    expect(replayed).toEqual(keys);
  });

  it('none where the state is out of sight: a node handed to the interpreter, or no compiled C', async () => {
    const { labels, keys } = await steps('messy', 'node');
    expect(labels.length).toBeGreaterThanOrEqual(2);
    expect(keys.every((x) => x === undefined)).toBe(true);
    const prog = extract(await cParser(), readPostImage('t.c', SRC, 'c'));
    const { k } = bareKernel(prog, [undefined], {});
    expect(k.frameKey()).toBeUndefined();
  });
});

/** What the reduction must keep: everything but the counts (coverage counts are per transition). */
function kept(r: CheckReport) {
  return {
    verdict: r.verdict,
    extremes: r.extremes,
    violations: r.violations.map((v) => ({ id: v.id, message: v.message, scope: v.scope.name, steps: v.steps })),
    warnings: r.warnings.map((w) => ({ id: w.id, message: w.message })),
    runs: r.runs.map((x) => [x.scope.name, x.site ?? '', x.verdict, x.maxCached]),
    coverage: reachedCoverage(r.coverage),
  };
}

describe('frame keys in a search', () => {
  it('BFS (frames replayed) and DFS (generators continued) store the same states: the key is a function of the state', async () => {
    const scopes = [scopeWith(SCOPES['spin-ref']!, { ops: 4 })];
    const bfs = await check({ file: SEED, scopes, strategy: 'bfs' });
    const dfs = await check({ file: SEED, scopes, strategy: 'dfs' });
    const logs = await check({ file: SEED, scopes, strategy: 'bfs', frameKeys: false });
    expect(bfs.verdict).toBe('conforms');
    expect(dfs.stats.states).toBe(bfs.stats.states);
    expect(dfs.stats.transitions).toBe(bfs.stats.transitions);
    expect(bfs.stats.states).toBeLessThan(logs.stats.states);
    expect(kept(bfs)).toEqual(kept(logs));
  });

  // One per invariant they break: alloc-no-nr-dec (nr-accuracy), hardirq-pushes-task-list
  // (task-list-task-only), splice-no-irqsave (irq-list-hardirq-only), local-lock-no-irqsave.c.
  for (const f of ['alloc-no-nr-dec.patch', 'hardirq-pushes-task-list.patch', 'splice-no-irqsave.patch', 'local-lock-no-irqsave.c']) {
    it(`${f}: the same violations, counterexamples, maxima and coverage with and without frame keys`, async () => {
      const file = join(FIX, f);
      const keyed = await check({ file, strategy: 'dfs' });
      const logs = await check({ file, strategy: 'dfs', frameKeys: false });
      expect(keyed.verdict).toBe('violation');
      expect(keyed.violations.length).toBeGreaterThan(0);
      expect(kept(keyed)).toEqual(kept(logs));
      expect(keyed.stats.states).toBeLessThanOrEqual(logs.stats.states);
      console.log(`${f}: ${keyed.violations.map((v) => v.id).join(', ')}; ${keyed.stats.states} states with frame keys, ${logs.stats.states} by read log`);
    });
  }

  it('check --no-frame-keys: the read-log count, the same verdict, said in the help', async () => {
    const args = ['check', SEED, '--scope', 'spin-ref', '--ops', '3', '--dfs', '--json', '--no-progress'];
    const keyed = await runCli(args, ROOT);
    const logs = await runCli([...args, '--no-frame-keys'], ROOT);
    expect(keyed.code).toBe(0);
    expect(logs.code).toBe(0);
    const a = JSON.parse(keyed.out) as { verdict: string; stats: { states: number } };
    const b = JSON.parse(logs.out) as { verdict: string; stats: { states: number } };
    expect(b.verdict).toBe(a.verdict);
    expect(b.stats.states).toBeGreaterThan(a.stats.states);
    const help = await runCli(['check', '--help'], ROOT);
    expect(help.out).toMatch(/--no-frame-keys/);
  });
});
