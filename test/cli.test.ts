/**
 * The CLI as a user meets it (issue 12 §6): a search stopped by Ctrl-C or a budget never says
 * `conforms` and exits non-zero with what it found so far; a --json usage error is JSON on
 * stdout; the last progress line of a search agrees with its report; replay files go to one
 * output directory; and the command works through a symlink on PATH from any directory, with
 * file arguments relative to the caller's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_INCOMPLETE, EXIT_INTERRUPTED } from '../conformance/cli/errors.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin/dio-cache.js');
const FIX = join(ROOT, 'test/fixtures/c');
const work = tempDir('dio-cli-');

interface Done {
  code: number | null;
  out: string;
  err: string;
}

/**
 * In-process (test/cli-run.ts): the entry bin/dio-cache.js calls, with the same output and exit
 * code, without a node + tsx start. Three of the Ctrl-C tests (a real SIGINT to a real process,
 * one and several threads), one --json usage error and the command on PATH run as processes.
 */
function run(args: string[], cwd = work): Promise<Done> {
  return runCli(args, cwd);
}

/** As a user runs it: node, bin/dio-cache.js and tsx in a process of its own. */
function runAsync(args: string[], cwd = work): Promise<Done> {
  return new Promise((resolve) => {
    const p = spawn('node', [CLI, ...args], { cwd });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Starts the CLI, waits until stderr has a line matching `ready` (a progress line: proof that
 * the search is under way, whatever the machine's speed), then sends SIGINT.
 */
function interrupt(args: string[], ready: RegExp): Promise<Done & { sentAfter: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('node', [CLI, ...args], { cwd: work });
    let out = '';
    let err = '';
    let sentAfter = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`no line matching ${ready} within 100 s; stderr: ${err.slice(-2000)}`));
    }, 100_000);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (sentAfter) return;
      const line = err.split('\n').find((l) => ready.test(l));
      if (line) {
        sentAfter = line;
        p.kill('SIGINT');
      }
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, sentAfter });
    });
  });
}

/**
 * The same in this process (test/cli-run.ts): once stderr has a line matching `ready`, the
 * command's SIGINT handler hears the signal, at the next turn of the event loop as a real one
 * would be. What only a process shows (the signal itself, the exit of a process whose search ran
 * on worker threads) is interrupt()'s: explore with one thread, with --workers and --dfs --workers.
 */
async function interruptHere(args: string[], ready: RegExp): Promise<Done & { sentAfter: string }> {
  let sentAfter = '';
  let late = false;
  // As interrupt()'s timer: a search that never printed its line is stopped, and the test fails.
  const timer = setTimeout(() => {
    late = true;
    process.emit('SIGINT', 'SIGINT');
  }, 100_000);
  const r = await runCli(args, work, (err) => {
    if (sentAfter) return;
    const line = err.split('\n').find((l) => ready.test(l));
    if (line) {
      sentAfter = line;
      setImmediate(() => process.emit('SIGINT', 'SIGINT'));
    }
  });
  clearTimeout(timer);
  if (late) throw new Error(`no line matching ${ready} within 100 s; stderr: ${r.err.slice(-2000)}`);
  return { ...r, sentAfter };
}

const PROGRESS = /exploring: [\d,]+ distinct states so far/;
const num = (s: string) => Number(s.replace(/,/g, ''));

describe('Ctrl-C: an interrupted search is incomplete, reports what it found and exits 130', () => {
  it('explore, text', async () => {
    const r = await interrupt(['explore', '--scope', 'smp'], PROGRESS);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    expect(r.out).not.toMatch(/conforms/);
    const m = /incomplete: no violation in ([\d,]+) states \(depth (\d+)\), but interrupted \(Ctrl-C\)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    // What it found so far: the counts (at least those of the progress line it was stopped after), the maxima.
    expect(num(m![1]!)).toBeGreaterThanOrEqual(num(/([\d,]+) distinct/.exec(r.sentAfter)![1]!));
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(r.out).toMatch(/^[\d,]+ states, [\d,]+ transitions, depth \d+/m);
    expect(r.out).toMatch(/largest nr \+ nr_irq on a quiescent CPU: \d/);
  });

  it('explore --json', async () => {
    const r = await interruptHere(['explore', '--scope', 'smp', '--json'], PROGRESS);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    const j = JSON.parse(r.out) as { verdict: string; complete: boolean; stoppedBy: string; stats: { states: number; depth: number }; extremes: { maxCached: number }; violations: unknown[] };
    expect(j.verdict).toBe('incomplete');
    expect(j.complete).toBe(false);
    expect(j.stoppedBy).toBe('signal');
    expect(j.stats.states).toBeGreaterThanOrEqual(num(/([\d,]+) distinct/.exec(r.sentAfter)![1]!));
    expect(j.stats.depth).toBeGreaterThan(0);
    expect(j.extremes.maxCached).toBeGreaterThanOrEqual(0);
    expect(j.violations).toEqual([]);
  });

  it('explore --workers 2 (parallel BFS) --json', async () => {
    const r = await interrupt(['explore', '--scope', 'smp', '--workers', '2', '--json'], PROGRESS);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    const j = JSON.parse(r.out) as { verdict: string; stoppedBy: string; stats: { states: number; workers: number } };
    expect(j.verdict).toBe('incomplete');
    expect(j.stoppedBy).toBe('signal');
    expect(j.stats.workers).toBe(2);
    expect(j.stats.states).toBeGreaterThan(0);
  });

  it('explore --dfs --workers 2 (parallel DFS), text', async () => {
    const r = await interrupt(['explore', '--scope', 'smp', '--dfs', '--workers', '2'], PROGRESS);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    expect(r.out).toMatch(/incomplete: no violation in [\d,]+ states .*interrupted \(Ctrl-C\)/);
    expect(r.out).not.toMatch(/conforms/);
  });

  it('a violation found before the interrupt is still a violation: exit 1', async () => {
    // BFS meets alloc-no-nr-dec's nr-accuracy violation within its first 601 states on this scope
    // (one thread: the order is deterministic); --all keeps searching, and Ctrl-C comes after more.
    const r = await interruptHere(['explore', '--impl', 'alloc-no-nr-dec', '--scope', 'smp', '--all'], /exploring: ([2-9],\d{3}|\d{2,},\d{3}) distinct/);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/violation: nr-accuracy \([\d,]+ states explored, then interrupted \(Ctrl-C\)\)/);
  });

  it('check, text and --json', async () => {
    const file = join(FIX, 'direct-io-v1.c');
    const t = await interruptHere(['check', file, '--scope', 'smp'], PROGRESS);
    expect(t.code).toBe(EXIT_INTERRUPTED);
    expect(t.out).toMatch(/incomplete: no violation in [\d,]+ states .*interrupted \(Ctrl-C\)/);
    expect(t.out).toMatch(/^coverage:/m);
    expect(t.out).not.toMatch(/^conforms/m);
    const r = await interruptHere(['check', file, '--scope', 'smp', '--json'], PROGRESS);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    const j = JSON.parse(r.out) as { verdict: string; complete: boolean; stoppedBy: string; stats: { states: number }; coverage: { functions: unknown[] }; runs: { complete: boolean }[] };
    expect(j.verdict).toBe('incomplete');
    expect(j.complete).toBe(false);
    expect(j.stoppedBy).toBe('signal');
    expect(j.stats.states).toBeGreaterThan(0);
    expect(j.coverage.functions.length).toBeGreaterThan(0);
  });

  it('test (the suite), --json', async () => {
    const r = await interruptHere(['test', '--layers', 'explorer', '--scope', 'smp', '--json'], /explorer: exploring scope smp: \d+ distinct states/);
    expect(r.code).toBe(EXIT_INTERRUPTED);
    const j = JSON.parse(r.out) as { verdict: string; interrupted: boolean; explorer: { complete: boolean; stoppedBy: string; states: number } };
    expect(j.verdict).toBe('incomplete');
    expect(j.interrupted).toBe(true);
    expect(j.explorer.complete).toBe(false);
    expect(j.explorer.stoppedBy).toBe('signal');
    expect(j.explorer.states).toBeGreaterThan(0);
  });
});

describe('a budget that runs out: incomplete, exit 3', () => {
  it('explore --max-states, text and JSON', async () => {
    const t = await run(['explore', '--scope', 'smp-small', '--max-states', '300', '--no-progress']);
    expect(t.code, t.err).toBe(EXIT_INCOMPLETE);
    expect(t.out).toMatch(/incomplete: no violation in 300 states \(depth \d+\), but the --max-states budget ran out/);
    const j = JSON.parse((await run(['explore', '--scope', 'smp-small', '--max-states', '300', '--json', '--no-progress'])).out) as { verdict: string; stoppedBy: string; stats: { states: number } };
    expect(j).toMatchObject({ verdict: 'incomplete', stoppedBy: 'maxStates', stats: { states: 300 } });
  });

  it('explore --max-seconds', async () => {
    const r = await run(['explore', '--scope', 'smp', '--max-seconds', '1', '--json', '--no-progress']);
    expect(r.code).toBe(EXIT_INCOMPLETE);
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'incomplete', stoppedBy: 'time', complete: false });
  });

  it('check --max-states', async () => {
    const r = await run(['check', join(FIX, 'direct-io-v1.c'), '--scope', 'check-1cpu', '--max-states', '50', '--json', '--no-progress']);
    expect(r.code).toBe(EXIT_INCOMPLETE);
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'incomplete', stoppedBy: 'maxStates', complete: false });
  });
});

describe('--json: a usage or input error is a JSON document on stdout, exit 2', () => {
  // The first as a process of its own (commander's error path through bin/dio-cache.js), the rest in-process.
  const cases: [string, string[], RegExp][] = [
    ['explore: unknown option (commander)', ['explore', '--json', '--frob'], /unknown option '--frob'/],
    ['replay: unreadable file', ['replay', join(work, 'missing.replay.json'), '--json'], /not a readable replay file/],
    ['check: missing file', ['check', join(work, 'nope.patch'), '--json'], /no such file/],
    ['test: unknown implementation', ['test', '--impl', 'nope', '--json'], /unknown implementation 'nope'/],
  ];
  for (const [name, args, message] of cases)
    it(name, async () => {
      const r = await (args.includes('--frob') ? runAsync(args) : run(args));
      expect(r.code).toBe(2);
      const j = JSON.parse(r.out) as { verdict: string; message: string };
      expect(j.verdict).toBe('error');
      expect(j.message).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
});

describe('progress says what it counts, and its last line agrees with the report', () => {
  it('check: per scope, the last line is the report line', async () => {
    const r = await run(['check', join(FIX, 'direct-io-v1.c'), '--ops', '2', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { runs: { scope: { name: string }; site?: string; stats: { states: number; transitions: number; depth: number } }[] };
    for (const run of j.runs) {
      const label = `${run.scope.name}${run.site ? ` (${run.site})` : ''}`;
      const lines = r.err.split('\n').filter((l) => l.trim().startsWith(`${label}: `));
      const last = lines[lines.length - 1] ?? '';
      expect(last, r.err).toMatch(/: explored: [\d,]+ distinct states, [\d,]+ transitions, depth \d+/);
      const m = /explored: ([\d,]+) distinct states, ([\d,]+) transitions, depth (\d+)/.exec(last)!;
      expect([num(m[1]!), num(m[2]!), Number(m[3])]).toEqual([run.stats.states, run.stats.transitions, run.stats.depth]);
      // Every earlier line of the scope is an `exploring:` line with no more states than the end.
      for (const l of lines.slice(0, -1)) {
        expect(l).toMatch(PROGRESS);
        expect(num(/([\d,]+) distinct/.exec(l)![1]!)).toBeLessThanOrEqual(run.stats.states);
      }
    }
  });

  it('explore: the last line is the report line', async () => {
    const r = await run(['explore', '--scope', 'spin-ref', '--ops', '2']);
    expect(r.code).toBe(0);
    const last = r.err.trim().split('\n').pop()!;
    const m = /explored: ([\d,]+) distinct states, ([\d,]+) transitions, depth (\d+)/.exec(last)!;
    expect(m, r.err).not.toBeNull();
    expect(r.out).toContain(`${m[1]} states, ${m[2]} transitions, depth ${m[3]}`);
    expect(r.out).toMatch(new RegExp(`conforms: ${m[1]} states`));
  });
});

describe('--out-dir: every replay file in one place, and the paths printed', () => {
  it('check: two violations, two replay files in ./dio-cache-out/ by default, listed in the report', async () => {
    const cwd = tempDir('dio-out-');
    const r = await run(['check', join(FIX, 'splice-no-irqsave.patch'), '--scope', 'check-1cpu', '--ops', '3', '--json', '--no-progress'], cwd);
    expect(r.code).toBe(1);
    const files = readdirSync(join(cwd, 'dio-cache-out')).sort();
    expect(files).toEqual(['splice-no-irqsave.patch.irq-list-hardirq-only.replay.json', 'splice-no-irqsave.patch.object-safety.replay.json']);
    const j = JSON.parse(r.out) as { replayFiles: string[]; violations: { replayFile: string }[] };
    expect([...j.replayFiles].sort()).toEqual(files.map((f) => join(cwd, 'dio-cache-out', f)));
    expect(j.violations.map((v) => v.replayFile).sort()).toEqual([...j.replayFiles].sort());
    // Nothing else in the cwd.
    expect(readdirSync(cwd)).toEqual(['dio-cache-out']);
  });

  it('--replay-out still names the first file, with a deprecation line', async () => {
    const cwd = tempDir('dio-out-');
    const r = await run(['check', join(FIX, 'splice-no-irqsave.patch'), '--scope', 'check-1cpu', '--ops', '3', '--replay-out', 'first.json', '--no-progress'], cwd);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--replay-out is deprecated/);
    expect(existsSync(join(cwd, 'first.json'))).toBe(true);
    expect(readdirSync(join(cwd, 'dio-cache-out'))).toHaveLength(1);
  });

  it('explore --all: one replay file per invariant, in --out-dir', async () => {
    const dir = join(work, 'explore-out');
    const r = await run(['explore', '--impl', 'splice-no-irqsave', '--scope', 'spin-ref', '--ops', '3', '--max', '2', '--threshold', '1', '--all', '--out-dir', dir, '--no-progress']);
    expect(r.code).toBe(1);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['splice-no-irqsave.irq-list-hardirq-only.replay.json', 'splice-no-irqsave.object-safety.replay.json']);
    for (const f of files) expect(r.out).toContain(`replay: dio-cache replay ${join(dir, f)}`);
    const rp = await run(['replay', join(dir, files[0]!)]);
    expect(rp.code).toBe(1);
    expect(rp.out).toMatch(/reproduced: /);
  });
});

describe('installed on PATH: a symlink to bin/dio-cache.js, run from another directory', () => {
  it('finds its own files from its real path, and reads file arguments relative to the caller', async () => {
    // What `npm link` (or `npm install -g <checkout>`) makes: <prefix>/bin/dio-cache -> the checkout's bin/dio-cache.js.
    const prefix = tempDir('dio-prefix-');
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(CLI, join(prefix, 'bin', 'dio-cache'));
    const tree = tempDir('dio-kernel-tree-');
    mkdirSync(join(tree, 'fs', 'iomap'), { recursive: true });
    copyFileSync(join(FIX, 'splice-no-irqsave.patch'), join(tree, 'fs', 'iomap', 'my.patch'));
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH ?? ''}` };
    const r = spawnSync('dio-cache', ['check', 'fs/iomap/my.patch', '--scope', 'check-1cpu', '--ops', '3', '--out-dir', 'out', '--no-progress'], { cwd: tree, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^my\.patch \(patch, email\)/);
    expect(r.stdout).toContain(`replay: dio-cache check fs/iomap/my.patch --replay ${join(tree, 'out', 'my.patch.irq-list-hardirq-only.replay.json')}`);
    expect(JSON.parse(readFileSync(join(tree, 'out', 'my.patch.irq-list-hardirq-only.replay.json'), 'utf8')).impl).toBe(join(tree, 'fs', 'iomap', 'my.patch'));
    // The replay file, given relative to the caller's directory, too; and `list`. In-process
    // (test/cli-run.ts, run in `tree`): that the command on PATH starts from its real path is
    // the spawn's above, which imports the same files.
    const rp = await run(['check', 'fs/iomap/my.patch', '--replay', 'out/my.patch.irq-list-hardirq-only.replay.json'], tree);
    expect(rp.code).toBe(1);
    expect(rp.out).toMatch(/reproduced: irq-list-hardirq-only/);
    const list = await run(['list'], tree);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^implementations:/);
  });
});

describe('block/bio.c as shipped (test/fixtures/kernel): the docs sample checks a file in the repository', () => {
  const KERNEL = join(ROOT, 'test/fixtures/kernel');
  it('names its commit, and checks with its binding', async () => {
    expect(readFileSync(join(KERNEL, 'bio-5031e945.c'), 'utf8')).toMatch(/commit 5031e945f525bf55abd6448793db34e4af65018a/);
    const bare = await run(['check', join(KERNEL, 'bio-5031e945.c'), '--no-progress']);
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/unknown function bio_init_inline\(\).*bio_init\(\)/);
    const r = await run(['check', join(KERNEL, 'bio-5031e945.c'), '--binding', join(KERNEL, 'bio-5031e945.binding.json'), '--scope', 'check-1cpu', '--ops', '2', '--no-progress']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^profile bio:/m);
    expect(r.out).toMatch(/^conforms: /m);
  });

  it('a switch the binding lets through is refused, and the error names the binding entry that avoids it', async () => {
    const b = JSON.parse(readFileSync(join(KERNEL, 'bio-5031e945.binding.json'), 'utf8')) as { functions: Record<string, string> };
    // bvec_free() as the kernel has it: through a helper with a switch (biovec_slab()'s shape).
    b.functions.slab_of = 'static int slab_of(unsigned short nr_vecs)\n{\n\tswitch (nr_vecs) {\n\tcase 5 ... 16:\n\t\treturn 0;\n\tdefault:\n\t\treturn 1;\n\t}\n}';
    b.functions.bvec_free = 'void bvec_free(mempool_t *pool, struct bio_vec *bv, unsigned short nr_vecs)\n{\n\tif (nr_vecs > BIO_INLINE_VECS)\n\t\tBUG_ON(slab_of(nr_vecs));\n}';
    const file = join(work, 'switch.binding.json');
    writeFileSync(file, JSON.stringify(b));
    const r = await run(['check', join(KERNEL, 'bio-5031e945.c'), '--binding', file, '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unsupported C: .*a switch statement: .*\(in slab_of\(\), reached through .*bvec_free\(\); the binding entry that avoids it: "functions": \{"bvec_free": "C text"\}/);
  });
});
