/**
 * Current kernel style the C path runs with kernel semantics: scope-based guards
 * (include/linux/cleanup.h: guard()/scoped_guard() of irqsave, irq, preempt, rcu, local_lock*),
 * local_lock (include/linux/local_lock.h, !PREEMPT_RT) and this_cpu operations
 * (include/linux/percpu-defs.h). A guard's release is a statement boundary of its own, labelled,
 * made through the Kernel primitives so every invariant sees it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cHarness } from './c-harness.js';
import { runCli } from './cli-run.js';
import { mkPtr } from '../impl/kernel/values.js';
import { UsageError } from '../conformance/cli/errors.js';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/c/');
const work = tempDir('dio-guards-');
const SCOPES3 = [{ ...CHECK_SCOPES[0]!, ops: 3 }, CHECK_SCOPES[1]!];

const expected = (file: string) => /^ \* Expected violation: (\S+)$/m.exec(readFileSync(file, 'utf8'))?.[1];

/** Every label of every step of a report's counterexamples. */
const labelsOf = (r: Awaited<ReturnType<typeof check>>) => r.violations.flatMap((v) => v.steps.flatMap((s) => s.labels));

/** Guards on a plain struct, run outside any exploration (test/c-harness.ts). */
const SRC = `
struct s {
	int a;
	int b;
};

static int ret_in_guard(struct s *p)
{
	guard(irqsave)();
	p->a = 1;
	if (p->b)
		return p->a + 1;
	{
		guard(preempt)();
		p->b = 2;
	}
	return p->a;
}

static int break_in_scoped(struct s *p)
{
	int i;

	for (i = 0; i < 3; i++) {
		scoped_guard(irq) {
			if (i == 1)
				break;
			p->a += 1;
		}
		p->b += 1;
	}
	return 0;
}

static int goto_back(struct s *p)
{
again:
	guard(preempt)();
	p->a += 1;
	if (p->a < 3)
		goto again;
	return 0;
}

static void one_stmt(struct s *p)
{
	scoped_guard(preempt)
		p->a = 5;
	p->b = 6;
}
`;

describe('the interpreter: where a guard is released', () => {
  const obj = { v: mkPtr(1), t: { k: 'ptr' as const, to: { k: 'struct' as const, name: 's' } } };
  const setup = (cells: Record<number, number>) => cHarness(SRC, { obj1: { type: 's', freed: false, origin: 'kmalloc', cells } });

  it('guard(irqsave): released after the return value is read, as its own labelled statement; irqs back on', async () => {
    const h = await setup({ 0: 0, 4: 1 });
    const r = h.run('ret_in_guard', [obj]);
    expect(r.v).toBe(2);
    expect(r.labels).toEqual(['guard(irqsave)(); (t.c:9)', 'p->a = 1; (t.c:10)', 'if (p->b) (t.c:11)', 'return p->a + 1; (t.c:12)', '} (guard(irqsave) released: local_irq_restore) (t.c:9)']);
    expect(h.world.cpus[0]!.irqsOff).toBe(false);
  });

  it('nested guards release innermost first, the inner one at the end of its block', async () => {
    const h = await setup({ 0: 0, 4: 0 });
    const r = h.run('ret_in_guard', [obj]);
    expect(r.v).toBe(1);
    expect(r.labels.slice(3)).toEqual([
      'guard(preempt)(); (t.c:14)',
      'p->b = 2; (t.c:15)',
      '} (guard(preempt) released: preempt_enable) (t.c:14)',
      'return p->a; (t.c:17)',
      '} (guard(irqsave) released: local_irq_restore) (t.c:9)',
    ]);
    expect(h.world.cpus[0]!.irqsOff).toBe(false);
  });

  it('break inside scoped_guard ends the guard (cleanup.h\'s for loop), not the enclosing loop', async () => {
    const h = await setup({ 0: 0, 4: 0 });
    h.run('break_in_scoped', [obj]);
    // i = 0: a and b; i = 1: the break leaves the scoped_guard only, b still counts; i = 2: both.
    expect(h.world.heap[1]!.cells[0]).toBe(2);
    expect(h.world.heap[1]!.cells[4]).toBe(3);
    expect(h.world.cpus[0]!.irqsOff).toBe(false);
  });

  it('a goto back above a guard leaves its scope: released before it is taken again', async () => {
    const h = await setup({ 0: 0 });
    const r = h.run('goto_back', [obj]);
    const gp = r.labels.filter((l) => /guard\(preempt\)/.test(l));
    expect(gp).toEqual([
      'guard(preempt)(); (t.c:38)',
      '} (guard(preempt) released: preempt_enable) (t.c:38)',
      'guard(preempt)(); (t.c:38)',
      '} (guard(preempt) released: preempt_enable) (t.c:38)',
      'guard(preempt)(); (t.c:38)',
      '} (guard(preempt) released: preempt_enable) (t.c:38)',
    ]);
    expect(h.world.tasks.length).toBe(1);
  });
});

describe('the interpreter: scoped_guard with one statement', () => {
  it('released right after the statement, before the next one', async () => {
    const h = await cHarness(SRC, { obj1: { type: 's', freed: false, origin: 'kmalloc', cells: {} } });
    const r = h.run('one_stmt', [{ v: mkPtr(1), t: { k: 'ptr', to: { k: 'struct', name: 's' } } }]);
    expect(r.labels).toEqual(['scoped_guard(preempt) (t.c:47)', 'p->a = 5; (t.c:48)', '} (scoped_guard(preempt) released: preempt_enable) (t.c:47)', 'p->b = 6; (t.c:49)']);
  });
});

describe('fixtures in current kernel style', () => {
  // guard-inner-block.c's check, explored once for the two tests that read its report.
  let inner: ReturnType<typeof check> | undefined;
  const innerBlock = () => (inner ??= check({ file: `${FIX}guard-inner-block.c` }));

  it('guard-v1.c: guard(irqsave), guard(preempt), scoped_guard(preempt) with a goto out, nested scoped_guard(irqsave): conforms', async () => {
    // DFS (check --dfs) on the conforming fixtures: the verdict and the statements run of BFS, sooner.
    const r = await check({ file: `${FIX}guard-v1.c`, strategy: 'dfs' });
    console.log(`guard-v1.c: ${r.verdict}, ${r.stats.states} states`);
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v1');
    const stmts = r.coverage!.functions.flatMap((f) => f.statements.map((s) => `${f.name}: ${s.text} ×${s.hits > 0 ? 'hit' : 0}`));
    expect(stmts).toContain('dio_alloc_irq_cache_splice: } (guard(irqsave) released: local_irq_restore) (guard-v1.c:50) ×hit');
    expect(stmts).toContain('dio_alloc_percpu_cache: } (guard(preempt) released: preempt_enable) (guard-v1.c:62) ×hit');
    expect(stmts).toContain('dio_put_percpu_cache: } (scoped_guard(preempt) released: preempt_enable) (guard-v1.c:80) ×hit');
    expect(stmts).toContain('dio_put_percpu_cache: } (scoped_guard(irqsave) released: local_irq_restore) (guard-v1.c:92) ×hit');
    expect(r.coverage!.warnings).toEqual([]);
  });

  it('guard-inner-block.c: the guard released before free_list_irq is cleared, caught at that line', async () => {
    const file = `${FIX}guard-inner-block.c`;
    const r = await innerBlock();
    console.log(`guard-inner-block.c: ${r.verdict}, ${r.stats.states} states, ${r.violations.map((v) => v.id).join(', ')}`);
    expect(r.verdict).toBe('violation');
    expect(r.violations.map((v) => v.id)).toContain(expected(file));
    expect(r.violations[0]!.message).toMatch(/with irqs enabled \(dio_alloc_irq_cache_splice: cache->free_list_irq = NULL; \(guard-inner-block\.c:58\)\)/);
  });

  it('this-cpu-counters.c: __this_cpu_inc/dec, this_cpu_read/add/write on the counters: conforms', async () => {
    const r = await check({ file: `${FIX}this-cpu-counters.c`, strategy: 'dfs' });
    console.log(`this-cpu-counters.c: ${r.verdict}, ${r.stats.states} states`);
    expect(r.verdict).toBe('conforms');
    expect(r.coverage!.warnings).toEqual([]);
  });

  it('this-cpu-preemptible.c: __this_cpu_read() before get_cpu() is the DEBUG_PREEMPT splat (context-balance)', async () => {
    const file = `${FIX}this-cpu-preemptible.c`;
    const r = await check({ file });
    console.log(`this-cpu-preemptible.c: ${r.verdict}, ${r.stats.states} states, ${r.violations.map((v) => v.id).join(', ')}`);
    expect(expected(file)).toBe('context-balance');
    expect(r.violations.map((v) => v.id)).toEqual(['context-balance']);
    expect(r.violations[0]!.message).toMatch(/dio_put_percpu_cache: BUG: using __this_cpu_read\(\) in preemptible code .*this-cpu-preemptible\.c:90/);
  });

  it('local-lock.c: DEFINE_PER_CPU with INIT_LOCAL_LOCK, local_lock_irqsave in the splice: conforms', async () => {
    const r = await check({ file: `${FIX}local-lock.c`, strategy: 'dfs' });
    console.log(`local-lock.c: ${r.verdict}, ${r.stats.states} states`);
    expect(r.verdict).toBe('conforms');
    expect(r.coverage!.warnings).toEqual([]);
  });

  it('local-lock-no-irqsave.c: local_lock() is only preempt_disable() on !RT: irq-list-hardirq-only', async () => {
    const file = `${FIX}local-lock-no-irqsave.c`;
    const r = await check({ file });
    console.log(`local-lock-no-irqsave.c: ${r.verdict}, ${r.stats.states} states, ${r.violations.map((v) => v.id).join(', ')}`);
    expect(r.violations.map((v) => v.id)).toContain(expected(file));
  });

  it('the release is its own step in a counterexample trace', async () => {
    const r = await innerBlock();
    expect(labelsOf(r)).toContain('dio_alloc_irq_cache_splice: } (guard(irqsave) released: local_irq_restore) (guard-inner-block.c:55)');
  });

  it('bad-guard-class.c: guard(spinlock_irqsave) is refused up front with its line (exit 2)', async () => {
    await expect(check({ file: `${FIX}bad-guard-class.c` })).rejects.toThrow(UsageError);
    const r = await runCli(['check', `${FIX}bad-guard-class.c`, '--no-progress'], work);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unsupported C: bad-guard-class\.c:54: guard\(spinlock_irqsave\) is not supported/);
  });
});

describe('variants, one construct at a time', () => {
  const variant = (from: string, name: string, edits: [string, string][]) => {
    let s = readFileSync(`${FIX}${from}`, 'utf8');
    for (const [a, b] of edits) {
      expect(s).toContain(a);
      s = s.replace(a, b);
    }
    const f = join(work, name);
    writeFileSync(f, s);
    return f;
  };

  it('scoped_guard(local_lock_irqsave, &dio_cache.lock) in the splice: conforms', async () => {
    const f = variant('local-lock.c', 'scoped-local-lock.c', [
      ['\tlocal_lock_irqsave(&dio_cache.lock, flags);\n', '\tscoped_guard(local_lock_irqsave, &dio_cache.lock) {\n'],
      ['\tlocal_unlock_irqrestore(&dio_cache.lock, flags);\n', '\t}\n'],
    ]);
    const r = await check({ file: f, scopes: SCOPES3 });
    expect(r.verdict).toBe('conforms');
  });

  it('guard(local_lock) in the splice: irq-list-hardirq-only', async () => {
    const f = variant('local-lock.c', 'guard-local-lock.c', [
      ['\tlocal_lock_irqsave(&dio_cache.lock, flags);\n', '\tguard(local_lock)(&dio_cache.lock);\n'],
      ['\tlocal_unlock_irqrestore(&dio_cache.lock, flags);\n', ''],
    ]);
    const r = await check({ file: f, scopes: SCOPES3 });
    expect(r.violations.map((v) => v.id)).toContain('irq-list-hardirq-only');
  });

  it('guard(irq) in the splice conforms; guard(rcu) adds no statement', async () => {
    const f = variant('guard-v1.c', 'guard-irq.c', [['\tguard(irqsave)();\n', '\tguard(rcu)();\n\tguard(irq)();\n']]);
    const r = await check({ file: f, scopes: SCOPES3 });
    expect(r.verdict).toBe('conforms');
    const stmts = r.coverage!.functions.flatMap((x) => x.statements.map((s) => s.text));
    expect(stmts).toContain('} (guard(irq) released: local_irq_enable) (guard-irq.c:51)');
    expect(stmts.some((s) => /rcu/.test(s))).toBe(false);
  });

  it('raw_cpu_read while preemptible is not checked (this-cpu-preemptible.c with raw_cpu_read)', async () => {
    const f = variant('this-cpu-preemptible.c', 'raw-read.c', [['__this_cpu_read(dio_cache->nr)', 'raw_cpu_read(dio_cache->nr)']]);
    const r = await check({ file: f, scopes: SCOPES3 });
    expect(r.violations.map((v) => v.id)).not.toContain('context-balance');
  });

  it('a NULL local_lock is a crash, as lockdep\'s acquire would oops', async () => {
    const f = variant('local-lock.c', 'null-lock.c', [['\tlocal_lock_irqsave(&dio_cache.lock, flags);\n', '\tlocal_lock_irqsave((local_lock_t *)NULL, flags);\n']]);
    const r = await check({ file: f, scopes: SCOPES3 });
    expect(r.violations.map((v) => v.id)).toContain('crash');
  });
});
