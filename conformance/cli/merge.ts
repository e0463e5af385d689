/**
 * Shards on the command line: `--shard I/N` and `--result-out FILE` for `explore` and `check`
 * (the result file a job runner collects), and `dio-cache merge RESULT...`, which combines the N
 * files into one verdict, maximum, set of counterexamples (written as replay files here) and, for
 * C, coverage. The split itself is conformance/explorer/shard.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { invariant, type InvariantId } from '../../model/invariants.js';
import type { CheckReport } from '../c/run.js';
import type { ExploreResult, FoundViolation } from '../explorer/explore.js';
import { writeReplay } from '../explorer/replay.js';
import {
  asShardResult,
  DEFAULT_PER_SHARD,
  MergeError,
  mergeShardResults,
  SHARD_RESULT_FORMAT,
  type MergedResult,
  type ShardFinding,
  type ShardInfo,
  type ShardReplay,
  type ShardResultFile,
  type ShardSpec,
} from '../explorer/shard.js';
import { kernelEvents } from '../explorer/trace.js';
import type { Scope } from '../system.js';
import { EXIT_USAGE, exitCodeFor, int, UsageError } from './errors.js';
import { replayPath } from './output.js';

export const SHARD_HELP = 'run shard I of N (1 <= I <= N) of the search: the same BFS prefix in every shard, then 1/N of the first level of at least N x 8 states; write the result with --result-out and combine the N files with `dio-cache merge`';
export const SHARD_SPLIT_HELP = `frontier states per shard at the split (default ${DEFAULT_PER_SHARD}): more balances the shards better, at the cost of a deeper common prefix`;
export const RESULT_OUT_HELP = `write this shard's result (${SHARD_RESULT_FORMAT} JSON) to FILE, for \`dio-cache merge\``;

/** `--shard I/N` with `--shard-split K` and `--result-out`: the spec, or undefined when not sharding. */
export function shardFlags(f: { shard?: string; shardSplit?: string; resultOut?: string }, workers?: number): ShardSpec | undefined {
  if (f.shard === undefined) {
    if (f.resultOut !== undefined) throw new UsageError('--result-out writes a shard\'s result for `dio-cache merge`: give --shard I/N too (1/1 for the whole search)');
    if (f.shardSplit !== undefined) throw new UsageError('--shard-split needs --shard I/N');
    return undefined;
  }
  const m = /^(\d+)\/(\d+)$/.exec(f.shard.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new UsageError(`--shard ${f.shard}: expected I/N with 1 <= I <= N, e.g. --shard 2/4 (a Kubernetes indexed Job: --shard $((JOB_COMPLETION_INDEX + 1))/N)`);
  if (workers !== undefined && workers > 1) throw new UsageError('--shard and --workers exclude each other: a shard is one thread; run more shards instead');
  const perShard = int('shard-split', f.shardSplit, 1) ?? DEFAULT_PER_SHARD;
  return { index, count, perShard };
}

/** sha256 of the file a result's `ref` names, so that merge can tell two versions apart. */
export function refDigest(ref: string): string | undefined {
  try {
    if (!existsSync(ref) || !statSync(ref).isFile()) return undefined;
    return createHash('sha256').update(readFileSync(ref)).digest('hex');
  } catch {
    return undefined;
  }
}

function finding(v: FoundViolation, scope: Scope, replay: ShardReplay | undefined, extra: { site?: string; found?: 'diff' } = {}): ShardFinding {
  return {
    invariant: v.id,
    message: v.message,
    scope: scope.name,
    ...(extra.site ? { site: extra.site } : {}),
    steps: v.steps.length,
    interrupts: v.interrupts ?? 0,
    preemptions: v.preemptions ?? 0,
    kernelEvents: kernelEvents(v.steps),
    ...(replay ? { replay } : {}),
    ...(extra.found ? { found: extra.found } : {}),
  };
}

const runOf = (scope: string, r: { verdict: string; complete: boolean; stoppedBy?: string | undefined; stats: ExploreResult['stats']; shard?: ShardInfo | undefined }, maxCached: number, site?: string) => ({
  scope,
  ...(site ? { site } : {}),
  verdict: r.verdict,
  complete: r.complete,
  ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
  states: r.stats.states,
  transitions: r.stats.transitions,
  depth: r.stats.depth,
  seconds: r.stats.seconds,
  maxCached,
  shard: r.shard ?? null,
});

/** An `explore` shard's result file. */
export function exploreShardResult(
  r: ExploreResult,
  m: { implName: string; ref: string; scope: Scope; spec: ShardSpec; strategy: 'bfs' | 'dfs'; symmetry: boolean; all: boolean; maxStates?: number; frameKeys?: boolean; cpuSymmetry?: boolean; bound: number },
): ShardResultFile {
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  const digest = refDigest(m.ref);
  return {
    format: SHARD_RESULT_FORMAT,
    kind: 'explore',
    shard: { index: m.spec.index, count: m.spec.count, perShard: m.spec.perShard ?? DEFAULT_PER_SHARD },
    impl: m.implName,
    ref: m.ref,
    ...(digest ? { digest } : {}),
    options: { scope: m.scope, strategy: m.strategy, symmetry: m.symmetry, all: m.all, maxStates: m.maxStates ?? null, ...(m.frameKeys === false ? { frameKeys: false } : {}), ...(m.cpuSymmetry ? { cpuSymmetry: true } : {}) },
    verdict: r.verdict,
    complete: r.complete,
    ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
    ...(r.error ? { error: r.error } : {}),
    runs: [runOf(m.scope.name, r, r.extremes.maxCached)],
    violations: r.violations.map((v) => finding(v, m.scope, { impl: m.ref, scope: m.scope, choices: v.steps.map((s) => s.choice), invariant: v.id, message: v.message })),
    warnings: r.warnings.map((v) => finding(v, m.scope, undefined)),
    extremes: { maxCached: r.extremes.maxCached, perCpu: r.extremes.perCpu, bound: m.bound, ...(w ? { witness: w } : {}) },
    seconds: r.stats.seconds,
  };
}

/** A `check` shard's result file: every scope (and call site) it explored. */
export function checkShardResult(
  r: CheckReport,
  m: { spec: ShardSpec; scopes: Scope[]; profile?: string; maxStates?: number; binding?: string; roles?: Record<string, string>; frameKeys?: boolean; cpuSymmetry?: boolean },
): ShardResultFile {
  const ref = resolve(r.ref);
  const digest = refDigest(ref);
  return {
    format: SHARD_RESULT_FORMAT,
    kind: 'check',
    shard: { index: m.spec.index, count: m.spec.count, perShard: m.spec.perShard ?? DEFAULT_PER_SHARD },
    impl: r.impl,
    ref,
    ...(digest ? { digest } : {}),
    options: { scopes: m.scopes, profile: m.profile ?? null, maxStates: m.maxStates ?? null, binding: m.binding ? refDigest(m.binding) ?? m.binding : null, roles: m.roles ?? null, ...(m.frameKeys === false ? { frameKeys: false } : {}), ...(m.cpuSymmetry ? { cpuSymmetry: true } : {}) },
    verdict: r.verdict,
    complete: r.complete,
    ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
    runs: r.runs.map((x) => runOf(x.scope.name, { ...x, stats: x.stats }, x.maxCached, x.site)),
    violations: r.violations.map((v) =>
      finding(
        v,
        v.scope,
        v.steps.length
          ? { impl: ref, scope: v.scope, choices: v.steps.map((s) => s.choice), invariant: v.id, message: v.message, ...(m.binding ? { binding: m.binding } : {}), ...(m.roles ? { roles: m.roles } : {}), ...(v.site ? { site: v.site } : {}) }
          : undefined,
        { ...(v.site ? { site: v.site } : {}), ...(v.found ? { found: v.found } : {}) },
      ),
    ),
    warnings: r.warnings.map((v) => finding(v, v.scope, undefined)),
    extremes: { maxCached: r.extremes.maxCached, bound: r.extremes.bound, sequentialBound: r.extremes.sequentialBound },
    coverage: r.coverage,
    notes: r.notes,
    ...(r.notRun?.length ? { notRun: r.notRun } : {}),
    seconds: r.stats.seconds,
  };
}

export function writeShardResult(path: string, r: ShardResultFile): void {
  try {
    writeFileSync(path, JSON.stringify(r, null, 1) + '\n');
  } catch (e) {
    throw new UsageError(`--result-out ${path}: cannot write it (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** The lines a sharded run adds to its own report: what part of the search it was. */
export function shardLines(s: ShardInfo): string[] {
  if (!s.split)
    return [`shard ${s.index}/${s.count}: no BFS level reached ${s.count * s.perShard} states, so this shard ran the whole search (${s.prefixStates.toLocaleString('en-US')} states); every shard's result is the same`];
  return [
    `shard ${s.index}/${s.count}: split at depth ${s.depth}, ${s.roots} of its ${s.frontier} states are this shard's roots; the ${s.prefixStates.toLocaleString('en-US')} states down to that level are explored by every shard`,
    `  this verdict covers this shard's part only: the scope's verdict is \`dio-cache merge\` of all ${s.count} results`,
  ];
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Reads and merges result files; a problem with the set is a UsageError. */
export function mergeFiles(files: readonly string[]): MergedResult {
  const inputs = files.map((file) => {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`${file}: not a readable shard result (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
    try {
      return { file, result: asShardResult(raw, file) };
    } catch (e) {
      if (e instanceof MergeError) throw new UsageError(e.message);
      throw e;
    }
  });
  try {
    return mergeShardResults(inputs);
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(e.message);
    throw e;
  }
}

function scopeLine(m: MergedResult): string {
  const o = m.options as { scope?: Scope; scopes?: Scope[]; strategy?: string; symmetry?: boolean };
  if (m.kind === 'explore' && o.scope) return `${m.impl} on scope ${o.scope.name} (${o.strategy?.toUpperCase()}, symmetry ${o.symmetry ? 'on' : 'off'})`;
  return `${m.impl} (check ${m.ref}) on ${(o.scopes ?? []).map((s) => s.name).join(', ')}`;
}

/** The merged report, in the words of explore's and check's reports. */
export function mergeReport(m: MergedResult, replayFiles: readonly string[]): string[] {
  const out: string[] = [];
  out.push(`${scopeLine(m)}: ${m.merged.count} shard${m.merged.count > 1 ? 's' : ''} merged`);
  for (const s of m.merged.shards)
    out.push(`  shard ${s.index}/${m.merged.count}: ${fmt(s.states)} states, ${s.seconds.toFixed(2)} s, ${s.verdict}${s.complete ? '' : ` (stopped${s.stoppedBy ? `: ${s.stoppedBy}` : ''})`}  ${s.file}`);
  for (const r of m.runs) {
    const sp = r.shard;
    const how = !sp ? 'not split (boot failed)' : sp.split ? `split at depth ${sp.depth} into ${sp.frontier} roots; the ${fmt(sp.prefixStates)} states above are in every shard's count` : 'too small to split: every shard ran all of it, counted once';
    out.push(`${r.site ? `${r.scope} (${r.site})` : r.scope}: ${fmt(r.states)} states explored (with overlap), depth ${r.depth}: ${r.verdict}${r.complete ? '' : ` (${r.stoppedBy ?? 'stopped early'})`}; ${how}`);
  }
  out.push(
    `states explored (with overlap): ${fmt(m.merged.statesWithOverlap)}, the sum over the shards: each shard has a visited set of its own, so a state reachable from the roots of two shards is counted in both; the distinct states number at least ${fmt(m.merged.statesAtLeast)} (the largest shard) and at most the sum`,
  );
  const w = m.extremes.witness;
  out.push(
    `largest nr + nr_irq on a quiescent CPU: ${m.extremes.maxCached}${m.extremes.perCpu && m.extremes.perCpu.length > 1 ? ` (per CPU: ${m.extremes.perCpu.join(', ')})` : ''} (the profile's bound is ${m.extremes.bound})` +
      (w && w.choices.length ? `, first reached on cpu${w.cpu} after ${w.choices.length} steps` : ''),
  );
  for (const n of m.notes ?? []) out.push(`note: ${n}`);
  if (m.coverage) {
    const c = m.coverage;
    out.push('coverage (all shards):');
    for (const f of c.functions) out.push(`  ${f.name}: ${f.statements.filter((s) => s.hits > 0).length}/${f.statements.length} statements, ${f.branches.length} branches reached`);
    for (const x of c.warnings) out.push(`warning coverage: ${x}`);
  }
  for (const v of m.warnings) out.push(`warning ${v.invariant}: ${v.message} (scope ${v.scope}, shard ${m.merged.foundBy[`warning ${v.invariant}`]}, after ${v.steps} steps)`);
  m.violations.forEach((v, i) => {
    out.push('');
    out.push(`violation ${v.invariant}: ${v.message}`);
    const claim = (() => {
      try {
        return invariant(v.invariant as InvariantId).claim;
      } catch {
        return '';
      }
    })();
    if (claim) out.push(`  ${claim}`);
    out.push(`  found by shard ${m.merged.foundBy[v.invariant]} in scope ${v.scope}${v.site ? ` (${v.site})` : ''}: ${v.kernelEvents} kernel-level events, ${v.interrupts} interrupts, ${v.preemptions} preemptions, ${v.steps} steps from boot`);
    if (replayFiles[i]) out.push(`  replay: dio-cache replay ${replayFiles[i]}`);
    else out.push(v.found === 'diff' ? '  (read from the diff, not explored)' : '  (at boot: before any interleaving)');
  });
  out.push('');
  const n = m.merged.count;
  if (m.verdict === 'violation') out.push(`violation: ${m.violations.map((v) => v.invariant).join(', ')} (${fmt(m.merged.statesWithOverlap)} states explored with overlap, in ${n} shards)`);
  else if (m.verdict === 'conforms') out.push(`conforms: every interleaving up to this bound, in ${n} shard${n > 1 ? 's' : ''} that each finished (${fmt(m.merged.statesWithOverlap)} states explored with overlap)`);
  else if (m.verdict === 'error') out.push(`error: ${m.error ?? 'the scope could not be booted'}`);
  else {
    const stopped = m.merged.shards.filter((s) => !s.complete).map((s) => `${s.index}${s.stoppedBy ? ` (${s.stoppedBy})` : ''}`);
    out.push(`incomplete: no violation, but shard${stopped.length > 1 ? 's' : ''} ${stopped.join(', ')} stopped before exploring every interleaving of its part: this is no proof`);
  }
  return out;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine the results of shards 1..N (explore/check --shard I/N --result-out FILE) into one verdict, maximum and set of counterexamples')
    .argument('<results...>', 'the N result files')
    .option('--json', 'print the merged result as one JSON object')
    .option('--out-dir <dir>', 'where to write the replay files of the merged counterexamples (default: ./dio-cache-out/)')
    .option('--result-out <file>', 'also write the merged result (JSON) to FILE')
    .action((files: string[], f: { json?: boolean; outDir?: string; resultOut?: string }) => {
      const m = mergeFiles(files);
      // A shard's counterexample is a choice vector from boot: written here, it replays on this machine.
      const replayFiles = m.violations.map((v) => {
        if (!v.replay) return '';
        const path = replayPath(f.outDir ? { outDir: f.outDir } : {}, 0, m.impl, v.invariant);
        writeReplay(path, v.replay);
        return path;
      });
      if (f.resultOut) writeFileSync(f.resultOut, JSON.stringify(m, null, 1) + '\n');
      if (f.json) process.stdout.write(JSON.stringify({ ...m, replayFiles: replayFiles.filter(Boolean) }) + '\n');
      else process.stdout.write(mergeReport(m, replayFiles).join('\n') + '\n');
      if (m.verdict === 'error') {
        process.stderr.write(`dio-cache: ${m.impl}: ${m.error ?? 'the scope could not be booted'}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      // A shard stopped by Ctrl-C leaves the merge incomplete, not interrupted: exit 3.
      process.exitCode = exitCodeFor(m.verdict, m.stoppedBy === 'signal' ? undefined : m.stoppedBy);
    });
}
