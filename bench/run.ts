/**
 * `npm run bench`: the explorer against SPIN on the Promela reference, side by side.
 *
 *   npm run bench                      # everything (several minutes)
 *   npm run bench -- --ks 3,5          # fewer K (default 3,5,7,9; from K=9 on, symmetry on and SPIN's CANON=1 only)
 *   npm run bench -- --budget 120      # seconds per explorer run before it is stopped (default 300)
 *   npm run bench -- --no-spin         # explorer only
 *   npm run bench -- --spin-only       # SPIN only: the state counts against the published figures, the seeded bugs
 *   npm run bench -- --manifest        # also rewrite conformance/manifest.json (every port x scope, check on the seed; minutes)
 *   npm run bench -- --smp-budget 120  # seconds per run of the `smp` rows (default 120; 0 skips them)
 *   npm run bench -- --smp-target 300  # seconds for the fastest `smp` row (CPU symmetry on every core; default 300, the target; 0: --smp-budget)
 *   npm run bench -- --c-only          # only the C path rows: the seed patch compiled, interpreted, the port, and `check --dfs` end to end (--c-ks 5,7,9)
 *   npm run bench -- --oracle-k 7      # K of the statechart-oracle rows (default: the largest --ks below 9): CPU per state with and without it
 *   npm run bench -- --oracle-reps 3   # fresh processes per mode (with and without the statechart) for those rows' medians
 *   npm run bench -- --oracle-only     # only those rows
 *
 * For spin-ref K = 3, 5, 7 (and 9, symmetry on only) with iomap-v1 (the same code as the Promela's bio-style cache): states,
 * seconds to verdict, states/s and bytes/state with and without symmetry: BFS on one thread and on
 * one worker thread per core (the parallel BFS, with its speed-up over one thread), and DFS on one
 * thread (the same states; no shortest-first counterexample, but no frontier either); SPIN end to end
 * (`spin -a`, `gcc -O2`, `./pan`) on the project's Promela model of the same scope,
 * bench/spin/dio_cache.pml, with the same K, and the ratio; each SPIN count next to the figure
 * published for the Promela reference model (bench/spin/README.md), which must be the same: that is
 * what shows the two models are one. Then the four seeded Promela bugs under -DBFS against our
 * variants of the same bugs (and their published depths). Results go to stdout and
 * bench/results.json; a SPIN figure that differs from the published one sets exit code 1.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findImpl } from '../impl/registry.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { explore, exploreAsync, type ExploreResult } from '../conformance/explorer/explore.js';
import { kernelEvents } from '../conformance/explorer/trace.js';
import { SCOPES } from '../conformance/scopes.js';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { manifestEntries, MANIFEST_PATH } from './manifest.js';
import { buildFromC } from '../conformance/c/build.js';
import { decodeMail } from '../conformance/c/reader.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const KS = opt('ks', '3,5,7,9').split(',').map(Number);
/**
 * From this K on, only the runs that SPIN's CANON=1 row is compared with: symmetry on (ours) and
 * CANON=1 (SPIN). Without symmetry, K=9 is tens of millions of states on either side (SPIN's plain
 * K=7 alone is 9.4 million), minutes and gigabytes for figures the K=7 rows already give.
 */
const K_SYMMETRY_ONLY = 9;
const BUDGET_S = Number(opt('budget', '300'));

/** The project's Promela model of the spin-ref scope (bench/spin/README.md). */
const PML = join(here, 'spin', 'dio_cache.pml');

/**
 * Figures published for the Promela reference model this one was written against (pan -DSAFETY
 * -m1000000 -w27; bench/spin/README.md gives their source). States stored, by K, plain and with
 * CANON=1; and the depth of each seeded bug's shortest counterexample at K=5 under -DBFS. The
 * bench runs pan with -w22, as issue 14 names it: a table of 2^22 slots holds these state counts
 * (the counts do not depend on -w), and -w27's 2^27 slots cost seconds of page zeroing before pan
 * explores anything (4.4 s against 0.65 s at K=7 with CANON=1 on the machine of 2026-12-08).
 */
const PUBLISHED_STATES: Record<'plain' | 'canon', Record<number, number>> = {
  plain: { 3: 32_355, 5: 782_687, 7: 9_356_796 },
  canon: { 3: 3_871, 5: 42_440, 7: 308_726, 9: 1_513_493 },
};
const PUBLISHED_BUG_DEPTH: Record<string, number> = { BUG_NOIRQOFF: 85, BUG_NOEMPTY: 30, BUG_NULLPOP: 33, BUG_TASKIRQ: 43 };

interface OurRun {
  k: number;
  symmetry: boolean;
  /** Worker threads (1: the sequential search). */
  workers: number;
  strategy: 'bfs' | 'dfs';
  states: number;
  transitions: number;
  seconds: number;
  /** User + system CPU seconds of this process during the run. */
  cpuSeconds: number;
  statesPerSecond: number;
  bytesPerState: number;
  complete: boolean;
  verdict: string;
  maxCached: number;
  skipped?: string;
}

async function ours(k: number, symmetry: boolean, workers: number, strategy: 'bfs' | 'dfs' = 'bfs'): Promise<OurRun> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), BUDGET_S * 1000);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r: ExploreResult = await exploreAsync({ impl: iomapV1, scope: { ...SCOPES['spin-ref']!, ops: k }, symmetry, signal: ac.signal, workers, strategy });
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  // With workers, this process's CPU time includes theirs (worker threads are threads of it).
  return {
    k,
    symmetry,
    workers,
    strategy,
    cpuSeconds: (cu.user + cu.system) / 1e6,
    states: r.stats.states,
    transitions: r.stats.transitions,
    seconds,
    statesPerSecond: r.stats.states / seconds,
    bytesPerState: r.stats.bytesPerState,
    complete: r.complete,
    verdict: r.verdict,
    maxCached: r.extremes.maxCached,
  };
}

interface CommandRun {
  states: number;
  transitions: number;
  seconds: number;
  complete: boolean;
  verdict: string;
  maxCached: number;
}

/**
 * `node bin/dio-cache.js ARGS --json`, timed from start to exit, its replay files written to a
 * directory removed after it; null (and a line saying why) without a JSON report.
 */
function command(args: string[], budgetS = BUDGET_S): CommandRun | null {
  const outDir = mkdtempSync(join(tmpdir(), 'dio-bench-'));
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [join(here, '..', 'bin', 'dio-cache.js'), ...args, '--json', '--no-progress', '--max-seconds', String(budgetS), '--out-dir', outDir], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  rmSync(outDir, { recursive: true, force: true });
  try {
    const r = JSON.parse(child.stdout) as { verdict: string; complete: boolean; stats: { states: number; transitions: number }; extremes?: { maxCached: number } };
    return { states: r.stats.states, transitions: r.stats.transitions, seconds, complete: r.complete, verdict: r.verdict, maxCached: r.extremes?.maxCached ?? -1 };
  } catch {
    process.stdout.write(`  dio-cache ${args.join(' ')}: no JSON report (exit ${child.status}): ${child.stderr.trim().split('\n').pop() ?? ''}\n`);
    return null;
  }
}

interface SpinRun {
  k: number;
  flags: string;
  states: number | null;
  transitions: number | null;
  /** The deepest point of the search ("depth reached"); the counterexample's is `depth`. */
  depthReached: number | null;
  panSeconds: number | null;
  compileSeconds: number;
  endToEndSeconds: number;
  cpuSeconds: number;
  depth: number | null;
  error: string | null;
}

function ensureSpin(): boolean {
  if (spawnSync('spin', ['-V']).status === 0) return true;
  process.stderr.write('spin not found: apt-get install -y spin\n');
  const inst = () => spawnSync('apt-get', ['install', '-y', 'spin'], { stdio: 'ignore' }).status === 0;
  if (inst()) return true;
  spawnSync('apt-get', ['update'], { stdio: 'ignore' });
  return inst() && spawnSync('spin', ['-V']).status === 0;
}

function spin(pml: string, k: number, sflags: string[], cflags: string[], pflags: string[]): SpinRun {
  const dir = mkdtempSync(join(tmpdir(), 'dio-spin-'));
  copyFileSync(pml, join(dir, 'dio_cache.pml'));
  // One shell under /usr/bin/time: wall and CPU seconds of spin -a + gcc + pan together (the CPU
  // figure does not depend on what else the machine is doing).
  const script = [
    `spin -DK=${k} ${sflags.join(' ')} -a dio_cache.pml > spin.out 2>&1`,
    `t0=$(date +%s.%N); gcc -O2 ${cflags.join(' ')} -o pan pan.c 2> gcc.err; t1=$(date +%s.%N)`,
    `echo "$t0 $t1" > compile.txt`,
    `./pan ${pflags.join(' ')} > pan.out 2>&1; true`,
  ].join(' && ');
  const t0 = performance.now();
  spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', 'time.txt', 'bash', '-c', script], { cwd: dir, encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const out = read('pan.out');
  const num = (re: RegExp) => {
    const m = out.match(re);
    return m ? Number(m[1]) : null;
  };
  const err = out.match(/pan:\d+: (.*)/);
  const [c0, c1] = read('compile.txt').trim().split(' ').map(Number);
  const [, u, sy] = read('time.txt').trim().split('\n').pop()!.split(' ').map(Number);
  // A model SPIN refuses is a defect of bench/spin/, not a run with no figures: say what spin said.
  if (!out) process.stderr.write(`spin -DK=${k} ${sflags.join(' ')}: no pan output; spin said: ${read('spin.out').trim().split('\n').slice(0, 3).join(' / ')}\n`);
  rmSync(dir, { recursive: true, force: true });
  return {
    k,
    flags: [...sflags, ...cflags].join(' '),
    states: num(/([\d.e+]+) states, stored/),
    transitions: num(/([\d.e+]+) transitions \(= stored\+matched\)/),
    depthReached: num(/depth reached (\d+)/),
    panSeconds: num(/elapsed time ([\d.e+-]+) seconds/),
    compileSeconds: c0 !== undefined && c1 !== undefined ? c1 - c0 : 0,
    endToEndSeconds: wall,
    cpuSeconds: (u ?? 0) + (sy ?? 0),
    depth: num(/\(at depth (\d+)\)/),
    error: err ? err[1]!.trim() : null,
  };
}

const fmt = (n: number | null | undefined, d = 0) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

async function main(): Promise<void> {
  const cores = availableParallelism();
  const cpu = cpus()[0]?.model ?? 'unknown';
  process.stdout.write(`machine: ${cores} cores (${cpu}), node ${process.version}\n\n`);
  const results: { machine: { cores: number; cpu: string; node: string }; ours: OurRun[]; spin: SpinRun[]; bugs: unknown[]; date: string } = {
    machine: { cores, cpu, node: process.version },
    ours: [],
    spin: [],
    bugs: [],
    date: new Date().toISOString(),
  };

  // ---- the C path: the seed patch, compiled (compile.ts) and interpreted, against its port ------
  // The seed patch is the code impl/ports/iomap-v1.ts ports by hand: the same scope explores the
  // same states, so states/s compares running C with running the port.
  if (!flag('spin-only') && !flag('no-c') && !flag('oracle-only')) {
    const cKs = opt('c-ks', '5,7,9').split(',').map(Number);
    const seed = join(here, '..', 'test', 'fixtures', 'seed', 'iomap-dio-alloc-cache-v1.txt');
    const text = decodeMail(readFileSync(seed, 'latin1'));
    process.stdout.write('the C path on spin-ref (the seed patch as posted; BFS, 1 thread, symmetry on), against the hand-written port of the same code:\n');
    process.stdout.write('  K  runs          states   transitions   seconds   states/s   x port  complete  verdict\n');
    const cRows: Record<string, unknown>[] = [];
    for (const k of cKs) {
      const rows: { what: string; r: ExploreResult; seconds: number }[] = [];
      // compiled: frames fingerprinted by their keys (ExploreOptions.frameKeys); compiled-log: by
      // their read logs, as the interpreter's (whose states it must equal).
      // The interpreter at K=9 would take minutes to say what the K=7 row says (its ratio to compiled).
      for (const what of k >= K_SYMMETRY_ONLY ? (['port', 'compiled', 'compiled-log'] as const) : (['port', 'compiled', 'compiled-log', 'interpreted'] as const)) {
        const impl = what === 'port' ? iomapV1 : (await buildFromC(seed, text, 'email', { compiled: what !== 'interpreted' })).impl;
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), BUDGET_S * 1000);
        const t0 = performance.now();
        const r = await exploreAsync({ impl, scope: { ...SCOPES['spin-ref']!, ops: k }, symmetry: true, signal: ac.signal, workers: 1, strategy: 'bfs', frameKeys: what !== 'compiled-log' });
        clearTimeout(timer);
        rows.push({ what, r, seconds: (performance.now() - t0) / 1000 });
      }
      const port = rows[0]!;
      for (const { what, r, seconds } of rows) {
        const sps = r.stats.states / seconds;
        const vsPort = sps / (port.r.stats.states / port.seconds);
        cRows.push({ k, runs: what, states: r.stats.states, transitions: r.stats.transitions, seconds, statesPerSecond: sps, vsPort, complete: r.complete, verdict: r.verdict });
        process.stdout.write(
          `  ${k}  ${what.padEnd(11)}  ${fmt(r.stats.states).padStart(10)}  ${fmt(r.stats.transitions).padStart(12)}  ${fmt(seconds, 2).padStart(8)}  ${fmt(sps).padStart(9)}  ${vsPort.toFixed(2).padStart(6)}  ${String(r.complete).padStart(8)}  ${r.verdict}\n`,
        );
      }
      const [, keyed, comp, interp] = rows;
      if (comp && interp && comp.r.complete && interp.r.complete)
        process.stdout.write(
          `     compiled-log: ${(interp.seconds / comp.seconds).toFixed(2)}x the speed of interpreted (${comp.r.stats.states === interp.r.stats.states && comp.r.stats.transitions === interp.r.stats.transitions ? 'same states and transitions' : 'DIFFERENT states or transitions'})\n`,
        );
      if (keyed && comp && keyed.r.complete && comp.r.complete)
        process.stdout.write(
          `     frame keys: ${(100 * (1 - keyed.r.stats.states / comp.r.stats.states)).toFixed(1)}% fewer states, ${(comp.seconds / keyed.seconds).toFixed(2)}x the speed of compiled-log (${keyed.r.verdict === comp.r.verdict && keyed.r.extremes.maxCached === comp.r.extremes.maxCached ? 'same verdict and maximum' : 'DIFFERENT verdict or maximum'})\n`,
        );
      // What a user runs on their patch, end to end: `dio-cache check FILE --scope spin-ref --ops K
      // --dfs --workers N` (reading the mail, building, every call-site run, minimising).
      // As SPIN's row is `spin -a`, gcc and pan, this one is the command from start to exit (node,
      // tsx, reading the mail, building, the worker threads, every call-site run, minimising).
      // On one thread and on every core (the worker threads each build the C again: at K=7 that
      // can cost more than the second core gives back), and by read log on every core.
      for (const [workers, logs] of [[1, false], [cores, false], [cores, true]] as const) {
        const r = command(['check', seed, '--scope', 'spin-ref', '--ops', String(k), '--dfs', '--workers', String(workers), ...(logs ? ['--no-frame-keys'] : [])]);
        if (!r) continue;
        const sps = r.states / r.seconds;
        cRows.push({ k, runs: logs ? 'check-dfs-log' : 'check-dfs', workers, states: r.states, transitions: r.transitions, seconds: r.seconds, statesPerSecond: sps, complete: r.complete, verdict: r.verdict });
        process.stdout.write(
          `  ${k}  ${`dio-cache check --dfs --workers ${workers}${logs ? ' --no-frame-keys' : ''}`.padEnd(11)}  ${fmt(r.states).padStart(10)}  ${fmt(r.transitions).padStart(12)}  ${fmt(r.seconds, 2).padStart(8)}  ${fmt(sps).padStart(9)}  ${'—'.padStart(6)}  ${String(r.complete).padStart(8)}  ${r.verdict} (the command end to end, every call-site run included)\n`,
        );
      }
    }
    (results as Record<string, unknown>).cPath = cRows;
    // Printed only: bench/results.json is the whole bench's.
    if (flag('c-only')) return;
  }

  // ---- the statechart oracle's cost ------------------------------------------------------------
  // The explorer judges every step by the xstate machine (conformance/abstraction.ts, Spec). The
  // same search without it (ExploreOptions.statechart false, nothing judges refinement) shows what
  // that costs. Each strategy in a fresh process (bench/oracle-cost.ts): its first judged run pays
  // the machine's memo misses (cold), later runs share the memo (warm).
  if (!flag('spin-only') && !flag('c-only')) {
    const ok = Number(opt('oracle-k', String(Math.max(...KS.filter((x) => x < K_SYMMETRY_ONLY)))));
    process.stdout.write(`the statechart oracle, iomap-v1 on spin-ref K=${ok} (1 thread, symmetry on), each search in a fresh process: CPU per explored state and states per CPU second, with and without judging every step by the machine:
`);
    type OracleRun = { states: number; transitions: number; cpuSeconds: number; usPerState: number; verdict: string };
    const FRESH_REPS = Number(opt('oracle-reps', '3'));
    const oracleRows: Record<string, unknown>[] = [];
    for (const strategy of ['bfs', 'dfs'] as const) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'oracle-cost.ts'), String(ok), strategy, '2'], { encoding: 'utf8', cwd: join(here, '..') });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{')) {
        process.stdout.write(`  ${strategy}: bench/oracle-cost.ts failed (exit ${child.status}): ${child.stderr.trim().split('\n').pop() ?? ''}\n`);
        continue;
      }
      const o = JSON.parse(line) as { cold: OracleRun & { misses: number; missSeconds: number }; warm: OracleRun; without: OracleRun };
      const rate = (r: OracleRun) => r.states / r.cpuSeconds;
      // The change in states per CPU second against the run without: -12% is a loss.
      const change = (r: OracleRun, base: OracleRun) => {
        const pct = Math.round((rate(r) / rate(base) - 1) * 100);
        return `${pct > 0 ? '+' : pct < 0 ? '\u2212' : '\u00b1'}${Math.abs(pct)}%`;
      };
      const drop = (r: OracleRun) => change(r, o.without);
      const line2 = (label: string, r: OracleRun, extra = '') =>
        process.stdout.write(`  ${strategy}  ${label.padEnd(34)} ${fmt(r.states).padStart(9)} states  ${fmt(r.cpuSeconds, 2).padStart(6)} cpu s  ${fmt(r.usPerState, 1).padStart(5)} us/state  ${fmt(rate(r)).padStart(7)} states/cpu s${extra}\n`);
      line2('without the statechart', o.without);
      line2('judged, first run (cold memo)', o.cold, `  (${drop(o.cold)}; ${fmt(o.cold.misses)} memo misses, ${fmt(o.cold.missSeconds, 2)} s in the machine)`);
      line2('judged, warm memo', o.warm, `  (${drop(o.warm)})`);
      // One search per fresh process, as a CLI run: without and with the statechart alternately,
      // the median of each (a pair of runs on a shared 2-core machine can differ by tens of percent).
      const freshRuns: Record<'sc' | 'nosc', OracleRun[]> = { sc: [], nosc: [] };
      for (let rep = 0; rep < FRESH_REPS; rep++)
        for (const mode of ['nosc', 'sc'] as const) {
          const c = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'oracle-cost.ts'), String(ok), strategy, 'fresh', mode], { encoding: 'utf8', cwd: join(here, '..') });
          const l = c.stdout.trim().split('\n').pop() ?? '';
          if (c.status === 0 && l.startsWith('{')) freshRuns[mode].push((JSON.parse(l) as { fresh: OracleRun }).fresh);
        }
      const median = (xs: OracleRun[]): OracleRun | undefined => [...xs].sort((a, b) => a.usPerState - b.usPerState)[Math.floor((xs.length - 1) / 2)];
      const fNo = median(freshRuns.nosc);
      const fSc = median(freshRuns.sc);
      if (fNo && fSc) {
        line2(`fresh process, without (median of ${freshRuns.nosc.length})`, fNo);
        line2(`fresh process, judged (median of ${freshRuns.sc.length})`, fSc, `  (${change(fSc, fNo)} states per CPU s; the proof: ${(fSc.cpuSeconds / fNo.cpuSeconds).toFixed(2)}x the CPU seconds)`);
      }
      oracleRows.push({ k: ok, strategy, ...o, fresh: { without: freshRuns.nosc, judged: freshRuns.sc } });
    }
    process.stdout.write(`     the run without the statechart stores fewer states: nothing splits them by the machine's state (what each section could have read); best of 2 warm runs each

`);
    (results as Record<string, unknown>).oracle = oracleRows;
    // Printed only: bench/results.json is the whole bench's.
    if (flag('oracle-only')) return;
  }

  // ---- the explorer ------------------------------------------------------------------------
  const explorer = !flag('spin-only');
  /** The TS port's searches as commands, timed from start to exit (see below). */
  const commands: ({ k: number } & CommandRun)[] = [];
  (results as Record<string, unknown>).commands = commands;
  if (explorer) {
    process.stdout.write(`explorer, iomap-v1 on spin-ref: BFS and DFS, each on 1 thread and on ${cores} worker threads:\n`);
    process.stdout.write('  K  symmetry  search  workers      states   seconds  cpu s   states/s   bytes/state  complete  max nr+nr_irq\n');
  }
  const row = (r: OurRun) =>
    process.stdout.write(
      `  ${r.k}  ${r.symmetry ? 'on ' : 'off'}       ${r.strategy}     ${String(r.workers).padStart(2)}  ${fmt(r.states).padStart(12)}  ${fmt(r.seconds, 2).padStart(8)}  ${fmt(r.cpuSeconds, 1).padStart(5)}  ${fmt(r.statesPerSecond).padStart(9)}  ${fmt(r.bytesPerState, 1).padStart(12)}  ${String(r.complete).padStart(8)}  ${r.maxCached}\n`,
    );
  for (const k of explorer ? KS : []) {
    if (k >= K_SYMMETRY_ONLY) process.stdout.write(`     K=${k}: symmetry on only (SPIN's row to compare with is CANON=1)\n`);
    for (const symmetry of k >= K_SYMMETRY_ONLY ? [true] : [true, false]) {
      for (const workers of new Set([1, cores])) {
        const r = await ours(k, symmetry, workers);
        results.ours.push(r);
        row(r);
      }
      const dfs = await ours(k, symmetry, 1, 'dfs');
      results.ours.push(dfs);
      row(dfs);
      const dfsMany = cores > 1 ? await ours(k, symmetry, cores, 'dfs') : undefined;
      if (dfsMany) {
        results.ours.push(dfsMany);
        row(dfsMany);
      }
      const one = results.ours.find((x) => x.k === k && x.symmetry === symmetry && x.workers === 1 && x.strategy === 'bfs');
      const many = results.ours.find((x) => x.k === k && x.symmetry === symmetry && x.workers === cores && x.strategy === 'bfs');
      if (one && one.complete && dfs.complete)
        process.stdout.write(
          `     DFS: ${(one.seconds / dfs.seconds).toFixed(2)}x the speed of BFS on 1 thread (${one.states === dfs.states && one.transitions === dfs.transitions ? `same ${fmt(dfs.states)} states and ${fmt(dfs.transitions)} transitions` : `DIFFERENT: ${fmt(one.states)} states BFS, ${fmt(dfs.states)} DFS`})\n`,
        );
      const speedUp = (label: string, a: OurRun | undefined, b: OurRun | undefined) => {
        if (a && b && a.complete && b.complete)
          process.stdout.write(
            `     ${label}: ${(a.seconds / b.seconds).toFixed(2)}x the speed of 1 thread (${a.states === b.states && a.transitions === b.transitions ? `same ${fmt(b.states)} states and ${fmt(b.transitions)} transitions` : `DIFFERENT: ${fmt(a.states)} states with 1 thread, ${fmt(b.states)} with ${cores}`})\n`,
          );
      };
      if (cores > 1) {
        speedUp(`BFS on ${cores} workers`, one, many);
        speedUp(`DFS on ${cores} workers`, dfs, dfsMany);
      }
    }
    // As SPIN's row is `spin -a`, gcc and pan from start to exit, the TS port's row for issue 14's
    // target is the command from start to exit: node and tsx starting, every thread's JIT and
    // statechart memo cold. The rows above run in this process, warm from the ones before them.
    if (k >= 7) {
      const c = command(['explore', '--impl', 'iomap-v1', '--scope', 'spin-ref', '--ops', String(k), '--dfs', '--workers', String(cores)]);
      if (c) {
        commands.push({ k, ...c });
        process.stdout.write(`  ${k}  on        dfs     ${String(cores).padStart(2)}  ${fmt(c.states).padStart(12)}  ${fmt(c.seconds, 2).padStart(8)}  ${'—'.padStart(5)}  ${fmt(c.states / c.seconds).padStart(9)}  ${'—'.padStart(12)}  ${String(c.complete).padStart(8)}  ${c.maxCached}  (dio-cache explore --dfs --workers ${cores}: the command end to end)\n`);
      }
    }
    const best = results.ours.filter((x) => x.k === k && x.complete).sort((a, b) => b.statesPerSecond - a.statesPerSecond)[0];
    if (best) process.stdout.write(`     fastest at K=${k}: ${fmt(best.statesPerSecond)} states/s (${best.strategy.toUpperCase()}, ${best.workers === 1 ? '1 thread' : `${best.workers} workers`}, symmetry ${best.symmetry ? 'on' : 'off'})\n`);
    const on = results.ours.find((x) => x.k === k && x.symmetry && x.complete && x.strategy === 'bfs');
    const off = results.ours.find((x) => x.k === k && !x.symmetry && x.complete && x.strategy === 'bfs');
    if (on && off) process.stdout.write(`     symmetry reduction at K=${k}: ${(off.states / on.states).toFixed(2)}x fewer states\n`);
  }

  // ---- a 2-CPU scope (no SPIN counterpart) ---------------------------------------------------
  if (explorer) process.stdout.write('\nexplorer, iomap-v1 on smp-irq (2 CPUs, preemption with migration, statement-level handlers):\n');
  const smp: Record<string, number | boolean>[] = [];
  for (const [symmetry, workers] of explorer ? ([[true, 1], [true, cores], [false, 1]] as const) : []) {
    if (workers === cores && cores === 1) continue;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    // Object symmetry only (CPU and task symmetry have their own rows below), as before it existed.
    const r = await exploreAsync({ impl: iomapV1, scope: SCOPES['smp-irq']!, symmetry, workers, cpuSymmetry: false });
    const seconds = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    smp.push({ symmetry, workers, states: r.stats.states, seconds, cpuSeconds: (cu.user + cu.system) / 1e6, complete: r.complete, maxCached: r.extremes.maxCached });
    process.stdout.write(`  symmetry ${symmetry ? 'on ' : 'off'} workers ${workers}  ${fmt(r.stats.states).padStart(10)} states  ${fmt(seconds, 2)} s (${fmt((cu.user + cu.system) / 1e6, 1)} cpu s)  ${fmt(r.stats.states / seconds)} states/s  ${fmt(r.stats.bytesPerState, 1)} bytes/state  ${r.verdict}${r.complete ? '' : ' (incomplete)'}\n`);
  }
  (results as Record<string, unknown>).smpIrq = smp;

  // ---- the reductions on 2 CPUs: partial-order (por.ts), CPU and task symmetry (cpu-symmetry.ts) --
  // smp-small whole, and smp (3 tasks, migration, cross-CPU frees) within a time budget per run:
  // how far each gets, and whether it finishes.
  const SMP_BUDGET_S = Number(opt('smp-budget', '120'));
  // The fastest mode (CPU symmetry on every core) gets the target's own 5 minutes on smp, so that
  // the targets table says whether smp finishes in them, not whether it finished in the budget.
  const SMP_TARGET_S = Number(opt('smp-target', '300'));
  const reductions: Record<string, unknown>[] = [];
  if (explorer) process.stdout.write(`
explorer, iomap-v1, the 2-CPU reductions (DFS; ${SMP_BUDGET_S <= 0 ? 'smp not run (--smp-budget 0)' : `smp stopped after ${SMP_BUDGET_S} s${SMP_TARGET_S > 0 && cores > 1 ? `, or ${SMP_TARGET_S} s with CPU symmetry on ${cores} workers` : ''}`}):
`);
  const modes = [
    ['none', false, false, 1],
    ['cpu symmetry', false, true, 1],
    ['por', true, false, 1],
    ['por + cpu symmetry', true, true, 1],
    ['cpu symmetry', false, true, cores],
  ] as const;
  for (const scopeName of explorer ? ['smp-small', 'smp'] : []) {
    if (scopeName === 'smp' && SMP_BUDGET_S <= 0) continue;
    for (const [label, por, cpuSymmetry, workers] of modes) {
      if (workers === cores && cores === 1) continue;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const budget = cpuSymmetry && !por && workers === cores && cores > 1 && SMP_TARGET_S > 0 ? SMP_TARGET_S : SMP_BUDGET_S;
      const r = await exploreAsync({ impl: iomapV1, scope: SCOPES[scopeName]!, strategy: 'dfs', por, cpuSymmetry, workers, ...(scopeName === 'smp' ? { maxSeconds: budget } : {}) });
      const seconds = (performance.now() - t0) / 1000;
      const cu = process.cpuUsage(c0);
      const row = { scope: scopeName, reduction: label, workers, states: r.stats.states, transitions: r.stats.transitions, seconds, cpuSeconds: (cu.user + cu.system) / 1e6, statesPerSecond: r.stats.states / seconds, complete: r.complete, verdict: r.verdict, maxCached: r.extremes.maxCached, ...(r.stats.por ? { por: r.stats.por } : {}) };
      reductions.push(row);
      process.stdout.write(
        `  ${scopeName.padEnd(9)} ${label.padEnd(18)} workers ${workers}  ${fmt(r.stats.states).padStart(11)} states  ${fmt(r.stats.transitions).padStart(11)} transitions  ${fmt(seconds, 2).padStart(7)} s (${fmt(row.cpuSeconds, 1)} cpu s)  ${fmt(row.statesPerSecond).padStart(7)} states/s  ${r.verdict}${r.complete ? '' : ` (stopped: ${r.stoppedBy})`}  max ${r.extremes.maxCached}${r.stats.por ? `  por: ${r.stats.por.fellBack ? `fell back (${r.stats.por.fellBack})` : `${fmt(r.stats.por.reduced)} states expanded by one step`}` : ''}\n`,
      );
    }
  }
  (results as Record<string, unknown>).reductions = reductions;

  // ---- the C path on 2 CPUs: the seed through `check`, with and without CPU symmetry -------------
  // (conformance/c/cpu-numbers.ts decides that the seed lets it), and `smp` within the budget.
  const c2: Record<string, unknown>[] = [];
  if (!flag('no-c')) {
    process.stdout.write('\nC path, the seed on 2 CPUs (dio-cache check FILE --scope S --dfs [--cpu-symmetry] [--workers N], end to end; states of every run of the check):\n');
    const seedFile = join(here, '..', 'test', 'fixtures', 'seed', 'iomap-dio-alloc-cache-v1.txt');
    const runs: [string, string[], number][] = [
      ['smp-irq', [], BUDGET_S],
      ['smp-irq', ['--cpu-symmetry'], BUDGET_S],
      ...(SMP_BUDGET_S > 0 ? ([['smp', ['--cpu-symmetry', '--workers', String(cores)], SMP_BUDGET_S]] as [string, string[], number][]) : []),
    ];
    for (const [scope, extra, budget] of runs) {
      const r = command(['check', seedFile, '--scope', scope, '--dfs', ...extra], budget);
      if (!r) continue;
      c2.push({ scope, flags: extra.join(' '), ...r });
      process.stdout.write(`  ${scope.padEnd(8)} ${(extra.join(' ') || '(none)').padEnd(28)} ${fmt(r.states).padStart(11)} states  ${fmt(r.transitions).padStart(11)} transitions  ${fmt(r.seconds, 2).padStart(7)} s  ${fmt(r.states / r.seconds).padStart(7)} states/s  ${r.verdict}${r.complete ? '' : ' (stopped)'}  max ${r.maxCached}\n`);
    }
  }
  (results as Record<string, unknown>).cPath2cpu = c2;

  // ---- SPIN ----------------------------------------------------------------------------------
  if (!flag('no-spin')) {
    if (!ensureSpin()) {
      process.stdout.write('\nSPIN unavailable (apt-get install -y spin failed): no side-by-side figures\n');
      process.exitCode = 1;
    } else {
      // Same model, same counts: a difference means bench/spin/dio_cache.pml is not the model the
      // published figures were measured on (bench/spin/README.md says what would cause one).
      process.stdout.write('\nSPIN on bench/spin/dio_cache.pml (spin -DK=K [-DCANON=1] -a; gcc -O2 -DSAFETY; ./pan -m1000000 -w22) against the figures published for the Promela reference:\n');
      process.stdout.write(`  K  canon  states (this model)  published reference figure  ${'match'.padEnd(16)}  transitions  depth reached\n`);
      const timing: string[] = [];
      for (const k of KS) {
        for (const canon of k >= K_SYMMETRY_ONLY ? [1] : [0, 1]) {
          const s = spin(PML, k, canon ? ['-DCANON=1'] : [], ['-DSAFETY'], ['-m1000000', '-w22']);
          results.spin.push(s);
          const published = PUBLISHED_STATES[canon ? 'canon' : 'plain'][k];
          const verdict = published === undefined ? '(none published)' : s.states === published ? 'same' : 'DIFFERENT';
          if (verdict === 'DIFFERENT' || s.states === null) process.exitCode = 1;
          process.stdout.write(`  ${k}  ${String(canon).padEnd(5)}  ${fmt(s.states).padStart(19)}  ${fmt(published).padStart(26)}  ${verdict.padEnd(16)}  ${fmt(s.transitions).padStart(11)}  ${fmt(s.depthReached).padStart(13)}\n`);
          const o = results.ours.find((x) => x.k === k && x.symmetry && x.workers === 1 && x.strategy === 'bfs');
          const p = cores > 1 ? results.ours.find((x) => x.k === k && x.symmetry && x.workers === cores && x.strategy === 'bfs') : undefined;
          const ratio = o && o.complete ? `${(o.seconds / s.endToEndSeconds).toFixed(2)} (${(o.cpuSeconds / s.cpuSeconds).toFixed(2)})` : o ? `>${(o.seconds / s.endToEndSeconds).toFixed(1)} (ours incomplete)` : '—';
          timing.push(`  ${k}  ${canon}    ${fmt(s.states).padStart(12)}  ${fmt(s.panSeconds, 2).padStart(6)}  ${fmt(s.endToEndSeconds, 2).padStart(12)} (${fmt(s.cpuSeconds, 1)})  ${o ? `${fmt(o.seconds, 2).padStart(12)} (${fmt(o.cpuSeconds, 1)})` : '—'}   ${canon ? '' : ratio}${!canon && p ? `   ${fmt(p.seconds, 2)} s, ${(p.seconds / s.endToEndSeconds).toFixed(2)}` : ''}\n`);
        }
      }
      process.stdout.write('\nthe same SPIN runs, end to end, against the explorer:\n');
      process.stdout.write(`  K  canon      states   pan s   end-to-end s (cpu s)   ours (sym, 1 thread) s (cpu s)   ratio ours/SPIN wall (cpu)   ours (sym, ${cores} workers) s, ratio\n`);
      for (const t of timing) process.stdout.write(t);

      // ---- seeded bugs ---------------------------------------------------------------------
      const bugs: [string, string][] = [
        ['BUG_NOIRQOFF', 'splice-no-irqsave'],
        ['BUG_NOEMPTY', 'splice-nonempty'],
        ['BUG_NULLPOP', 'flat-threshold-b1'],
        ['BUG_TASKIRQ', 'task-put-irq-list'],
      ];
      process.stdout.write('\nseeded bugs, K=5, shortest counterexamples (SPIN -DBFS, its depth against the published one) vs the explorer (BFS, minimised):\n');
      for (const [bug, variant] of bugs) {
        const s = spin(PML, 5, [`-D${bug}`], ['-DSAFETY', '-DBFS'], ['-m1000000']);
        const impl = findImpl(variant);
        const published = PUBLISHED_BUG_DEPTH[bug];
        if (!s.error || s.depth !== published) process.exitCode = 1;
        let line = `  ${bug.padEnd(13)} SPIN: ${s.error ? `error "${s.error}"` : 'NO ERROR'} at depth ${s.depth ?? '—'} (published ${published ?? '—'}${s.depth === published ? ', same' : ', DIFFERENT'}; ${fmt(s.endToEndSeconds, 2)} s)`;
        const entry: Record<string, unknown> = { bug, variant, spin: s, publishedDepth: published };
        if (!impl) {
          line += `; ${variant}: MISSING from impl/registry.ts`;
          process.exitCode = 1;
        } else {
          const t0 = performance.now();
          const r = explore({ impl, scope: { ...SCOPES['spin-ref']!, ops: 5, profile: impl.profile } });
          const secs = (performance.now() - t0) / 1000;
          const v = r.violations[0];
          entry.ours = v ? { invariant: v.id, expected: impl.expectedViolation, statements: v.steps.length, kernelEvents: kernelEvents(v.steps), interrupts: v.interrupts, seconds: secs, states: r.stats.states } : { verdict: r.verdict };
          if (!v || v.id !== impl.expectedViolation) process.exitCode = 1;
          line += v
            ? `; ${variant}: ${v.id}${v.id === impl.expectedViolation ? '' : ` (expected ${impl.expectedViolation})`} after ${v.steps.length} steps = ${kernelEvents(v.steps)} kernel-level events, ${v.interrupts} interrupts (${fmt(secs, 2)} s)`
            : `; ${variant}: ${r.verdict} (no violation found)`;
        }
        results.bugs.push(entry);
        process.stdout.write(line + '\n');
      }
    }
  }

  // ---- issue 14's targets, side by side, from the rows above --------------------------------
  if (explorer) {
    const targets: { target: string; ours: string; against: string; met: boolean | null }[] = [];
    const canon = (k: number) => results.spin.find((x) => x.k === k && x.flags.includes('CANON') && x.states !== null);
    const cmd = (k: number) => commands.find((x) => x.k === k && x.complete);
    const cRows = ((results as Record<string, unknown>).cPath ?? []) as { k: number; runs: string; workers?: number; seconds: number; complete: boolean }[];
    for (const k of KS.filter((x) => x >= 7)) {
      const sp = canon(k);
      const o = cmd(k);
      // End to end, as SPIN's row is: the check command, not the in-process search rows.
      const c = cRows.filter((x) => x.k === k && x.runs === 'check-dfs' && x.complete).sort((a, b) => a.seconds - b.seconds)[0];
      const vs = sp ? `SPIN CANON=1 ${fmt(sp.endToEndSeconds, 2)} s end to end` : 'SPIN not run';
      targets.push({ target: `spin-ref K=${k}, TS port, faster than SPIN with CANON`, ours: o ? `${fmt(o.seconds, 2)} s (dio-cache explore --dfs --workers ${cores}, the command end to end)` : 'incomplete', against: vs, met: o && sp ? o.seconds < sp.endToEndSeconds : null });
      targets.push({ target: `spin-ref K=${k}, C path (the seed), faster than SPIN with CANON`, ours: c ? `${fmt(c.seconds, 2)} s (dio-cache check --dfs --workers ${c.workers ?? cores}, the command end to end)` : 'not run (--c-ks)', against: vs, met: c && sp ? c.seconds < sp.endToEndSeconds : null });
    }
    const kMax = Math.max(...KS.filter((x) => x < K_SYMMETRY_ONLY));
    const noSym = results.ours.find((x) => x.k === kMax && !x.symmetry && x.workers === 1 && x.strategy === 'dfs' && x.complete);
    if (noSym) {
      targets.push({ target: `>= 200,000 states/s on one thread (spin-ref K=${kMax}, no symmetry, DFS)`, ours: `${fmt(noSym.statesPerSecond)} states/s`, against: '200,000', met: noSym.statesPerSecond >= 200_000 });
      targets.push({ target: `<= 32 bytes/state (the same run)`, ours: `${fmt(noSym.bytesPerState, 1)} bytes/state`, against: '32', met: noSym.bytesPerState <= 32 });
    }
    const smpRuns = reductions.filter((x) => (x as { scope: string }).scope === 'smp') as { reduction: string; workers: number; seconds: number; complete: boolean; states: number; verdict: string }[];
    if (smpRuns.length) {
      const done = smpRuns.filter((x) => x.complete).sort((a, b) => a.seconds - b.seconds)[0];
      const longest = smpRuns.sort((a, b) => b.seconds - a.seconds)[0]!;
      targets.push({ target: 'smp exhaustive in under 5 minutes on 2 cores', ours: done ? `${fmt(done.seconds, 1)} s (${done.reduction}, ${done.workers} workers)` : `unfinished: ${fmt(longest.states)} states in ${fmt(longest.seconds, 0)} s (${longest.reduction}, ${longest.workers} workers), ${longest.verdict}`, against: '300 s', met: done ? done.seconds < 300 : false });
    }
    const cSmp = c2.find((x) => x.scope === 'smp') as (CommandRun & { flags: string }) | undefined;
    if (cSmp)
      targets.push({ target: 'smp exhaustive in under 5 minutes on 2 cores, the C path (check on the seed)', ours: cSmp.complete ? `${fmt(cSmp.seconds, 1)} s, ${fmt(cSmp.states)} states (${cSmp.flags})` : `unfinished: ${fmt(cSmp.states)} states in ${fmt(cSmp.seconds, 0)} s (${cSmp.flags}), ${cSmp.verdict}`, against: '300 s', met: cSmp.complete && cSmp.seconds < 300 });
    // The `check` default scope with 2 CPUs and migration, on the seed (what a user runs).
    const migrate = CHECK_SCOPES.find((x) => x.name === 'check-migrate');
    if (migrate && !flag('no-c')) {
      const seedFile = join(here, '..', 'test', 'fixtures', 'seed', 'iomap-dio-alloc-cache-v1.txt');
      const t0 = performance.now();
      const r = await check({ file: seedFile, scopes: [migrate] });
      const secs = (performance.now() - t0) / 1000;
      targets.push({ target: 'a check default scope with 2 CPUs, migration wherever preemptible, cross-CPU frees, on the seed, under 60 s', ours: `check-migrate: ${fmt(r.stats.states)} states (with its call-site runs), ${fmt(secs, 2)} s, ${r.verdict}`, against: '60 s', met: secs < 60 && r.verdict === 'conforms' });
    }
    process.stdout.write('\nissue 14\'s targets, from this run:\n');
    for (const t of targets) process.stdout.write(`  ${t.met === null ? '  ?' : t.met ? 'met' : 'NOT'}  ${t.target}: ${t.ours} (against ${t.against})\n`);
    (results as Record<string, unknown>).targets = targets;
  }

  writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\nwrote bench/results.json\n`);
  if (flag('manifest')) {
    // Every row, the slow ones too (several minutes); a line per row on stderr.
    writeFileSync(MANIFEST_PATH, JSON.stringify(await manifestEntries((line) => process.stderr.write(`  ${line}\n`)), null, 2) + '\n');
    process.stdout.write(`wrote ${MANIFEST_PATH}\n`);
  }
}

await main();
