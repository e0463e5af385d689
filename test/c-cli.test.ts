/**
 * `dio-cache check` and `dio-cache init-impl` as a user runs them: exit codes, one-line errors
 * without stack traces, the JSON report, replay of a counterexample, and the template round trip.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './cli-run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/c');
const CLI = join(ROOT, 'bin/dio-cache.js');
const work = tempDir('dio-check-');

const withFlags = (args: string[]) => [...args, ...(args[0] === 'check' ? ['--no-progress'] : [])];

/** In-process (test/cli-run.ts): the command as bin/dio-cache.js runs it, without a process start. */
const run = (...args: string[]): Promise<CliRun> => runCli(withFlags(args), work);

/** As a user runs it: node, bin/dio-cache.js and tsx, for what only a process shows (a user's .ts module loaded by a fresh process, with nothing on stderr). */
function spawnRun(...args: string[]): CliRun {
  const r = spawnSync('node', [CLI, ...withFlags(args)], { cwd: work, encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function expectUsage(r: CliRun, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.err.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^dio-cache: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
}

describe('check: bad input gets one line and exit 2', () => {
  it('prose is not a module, patch or C file', async () => expectUsage(await run('check', join(FIX, 'bad-not-c.txt')), /is not a module \(\.ts\/\.js\), a patch .* or a C file/));
  it('random bytes', async () => {
    const f = join(work, 'random.bin');
    writeFileSync(f, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256)));
    expectUsage(await run('check', f), /holds binary data/);
  });
  it('a missing file', async () => expectUsage(await run('check', join(work, 'nope.patch')), /no such file/));
  it('a patch without a per-CPU cache', async () => expectUsage(await run('check', join(FIX, 'bad-no-cache.diff')), /no per-CPU cache found/));
  it('C that does not parse', async () => expectUsage(await run('check', join(FIX, 'bad-parse.patch')), /C does not parse: direct-io\.c:10\d/));
  it('a call with no primitive names what is missing and how to provide it', async () => expectUsage(await run('check', join(FIX, 'bad-unknown-fn.patch')), /unknown function dio_poison\(\) at direct-io\.c:116: .*--binding FILE/));
  // In-process: the module is imported as the command imports it (tsx); a user's module loaded in
  // a process of its own is the template's test below (and explorer.test.ts's bad splice).
  it('a TypeScript implementation that throws', async () => expectUsage(await run('check', join(FIX, 'throws-impl.ts')), /the implementation threw TypeError/));
  it('an unknown --role', async () => expectUsage(await run('check', join(FIX, 'v3-generic.diff'), '--role', 'free=x'), /--role free=x: expected NAME=FUNCTION/));
});

describe('check: the code under test', () => {
  it('an endless loop in the C is a crash (exit 1), not a hang', async () => {
    const r = await run('check', join(FIX, 'bad-loop.patch'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/violation crash: .*did not return within 400 statements: an endless loop at direct-io\.c:94/);
  });

  it('a violation exits 1 with JSON, and its replay file reproduces it', async () => {
    const replayFile = join(work, 'splice.replay.json');
    const r = await run('check', join(FIX, 'splice-no-irqsave.patch'), '--json', '--replay-out', replayFile, '--scope', 'check-1cpu', '--ops', '3');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { verdict: string; violations: { invariant: string; message: string; steps: { labels: string[] }[] }[]; profile: { name: string }; scaling: unknown[]; coverage: unknown; stats: { states: number } };
    expect(j.verdict).toBe('violation');
    expect(j.violations[0]!.invariant).toBe('irq-list-hardirq-only');
    // The report speaks the patch's post-image lines.
    expect(j.violations[0]!.message).toMatch(/dio_alloc_irq_cache_splice: cache->free_list_irq = NULL; \(direct-io\.c:80\)/);
    expect(j.violations[0]!.steps.flatMap((s) => s.labels).join('\n')).toMatch(/dio_alloc_irq_cache_splice: cache->free_list = cache->free_list_irq; \(direct-io\.c:79\)/);
    expect(j.profile.name).toBe('iomap-v1');
    expect(j.scaling).toHaveLength(2);
    expect(j.coverage).not.toBeNull();
    expect(j.stats.states).toBeGreaterThan(0);
    const rp = await run('check', join(FIX, 'splice-no-irqsave.patch'), '--replay', replayFile);
    expect(rp.code).toBe(1);
    expect(rp.out).toMatch(/reproduced: irq-list-hardirq-only/);
    expect(JSON.parse(readFileSync(replayFile, 'utf8')).invariant).toBe('irq-list-hardirq-only');
  });
});

describe('check: every call site', () => {
  it('a second caller that kmallocs a dio and then overwrites it with the cache\'s: found in its own run, and the replay file names the site', async () => {
    // direct-io-v1.c with a second alloc site whose leftover kmalloc() is lost on every call.
    const src = readFileSync(join(FIX, 'direct-io-v1.c'), 'utf8');
    const extra = `struct iomap_dio *iomap_dio_alloc_sync(void)\n{\n\tstruct iomap_dio *dio;\n\n\tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n\tdio = dio_alloc_percpu_cache();\n\tif (!dio)\n\t\treturn NULL;\n\treturn dio;\n}\n\n`;
    const file = join(work, 'two-allocs.c');
    writeFileSync(file, src.replace('static int __init iomap_dio_init(void)', `${extra}static int __init iomap_dio_init(void)`));
    const replayFile = join(work, 'two-allocs.replay.json');
    const r = await run('check', file, '--json', '--replay-out', replayFile);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { violations: { invariant: string; message: string; site?: string; steps: unknown[] }[]; runs: { site?: string }[] };
    const site = 'alloc site in iomap_dio_alloc_sync() (two-allocs.c:141)';
    expect(j.runs.map((x) => x.site)).toContain(site);
    const v = j.violations[0]!;
    expect(v.invariant).toBe('object-safety');
    expect(v.site).toBe(site);
    expect(v.message).toMatch(/was lost/);
    expect(v.steps.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(replayFile, 'utf8')).site).toBe(site);
    const rp = await run('check', file, '--replay', replayFile);
    expect(rp.code).toBe(1);
    expect(rp.out).toMatch(/reproduced: object-safety/);
    // The main run, without the site, does not reproduce it.
    const rf = JSON.parse(readFileSync(replayFile, 'utf8')) as Record<string, unknown>;
    delete rf.site;
    writeFileSync(replayFile, JSON.stringify(rf));
    expect((await run('check', file, '--replay', replayFile)).code).not.toBe(1);
  });
});

describe('init-impl', () => {
  it('writes a template that check accepts as conforming', async () => {
    const dir = join(work, 'mine');
    const w = await run('init-impl', dir);
    expect(w.code).toBe(0);
    const src = readFileSync(join(dir, 'impl.ts'), 'utf8');
    expect(src).toMatch(/Never keep state in module variables/);
    expect(src).toMatch(/name: 'my-impl'/);
    // Through bin/dio-cache.js: the module is loaded the way a user's is (tsx), not by vitest.
    const r = spawnRun('check', join(dir, 'impl.ts'), '--ops', '3');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^my-impl \(TypeScript\/JavaScript module\)/);
    expect(r.out).toMatch(/conforms: /);
    expectUsage(await run('init-impl', dir), /impl\.ts exists; not overwriting it/);
  });
});
