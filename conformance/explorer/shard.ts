/**
 * Shards: one search split into N independent processes that any job runner can start (GNU
 * parallel, a CI matrix, a Kubernetes indexed Job), each with its own visited set and a JSON
 * result file, combined afterwards by `dio-cache merge`. No process talks to another.
 *
 * The split: every shard runs the same deterministic BFS from boot to the first level d that holds
 * at least N·k states (k = `perShard`, default 8, so that each shard gets several roots and the
 * luck of one subtree evens out). That level is sorted by fingerprint and state j goes to shard
 * (j mod N) + 1. A shard then searches on (BFS or DFS) from its own roots with its visited set
 * still holding every state of depth ≤ d, its own and the others' alike.
 *
 * Why that is exhaustive: a state of BFS depth > d has a shortest path from boot whose state at
 * depth d is some shard's root, and whose later states all lie deeper than d, so none of them is
 * in that shard's seeded set: its search reaches the state. A transition out of a state above d
 * is taken by the prefix (by every shard), one out of a root by its shard. Seeded states were
 * judged when the prefix stored them, so a step into one is judged on the step alone, as a step
 * into any stored state is. What is not shared is the visited set below d: a state reachable from
 * two shards' roots is explored by both, so the shards' state counts add up to more than one
 * run's; `merge` reports that sum as states explored with overlap, never as distinct states.
 *
 * Counterexamples stay whole: under BFS the parent array runs through the prefix, and under DFS
 * the stack's choices are appended to the BFS path of the root it started from, so every choice
 * vector starts at boot and replays on one machine with `dio-cache replay`.
 */
import { createHash } from 'node:crypto';
import type { World } from '../../impl/kernel/world.js';
import type { Fingerprinter } from './fingerprint.js';
import type { ReplayFile } from './replay.js';
import type { ShardInfo, ShardSpec } from './types.js';

// Declared with the explorer's options and result, which carry them; named here too for the commands.
export type { ShardInfo, ShardSpec };

export const DEFAULT_PER_SHARD = 8;

/**
 * Sorts the split level by fingerprint and keeps this shard's states (j mod count === index - 1).
 * Nodes are returned in fingerprint order.
 */
export function splitFrontier<T extends { w: World }>(level: readonly T[], fp: Fingerprinter, spec: ShardSpec): { mine: T[]; hash: string } {
  const keyed = level.map((n) => {
    fp.fingerprint(n.w);
    return { n, hi: fp.hi >>> 0, lo: fp.lo >>> 0 };
  });
  keyed.sort((a, b) => a.hi - b.hi || a.lo - b.lo);
  const h = createHash('sha256');
  const buf = new Uint32Array(2);
  for (const k of keyed) {
    buf[0] = k.hi;
    buf[1] = k.lo;
    h.update(buf);
  }
  const mine = keyed.filter((_, j) => j % spec.count === spec.index - 1).map((k) => k.n);
  return { mine, hash: h.digest('hex').slice(0, 16) };
}

// ---- results: what a shard writes (--result-out FILE) and `dio-cache merge` reads ------------

export const SHARD_RESULT_FORMAT = 'dio-cache-shard/1';

/** One exploration of a shard: `explore` has one, `check` one per scope and call site. */
export interface ShardRun {
  scope: string;
  site?: string;
  verdict: string;
  complete: boolean;
  stoppedBy?: string;
  states: number;
  transitions: number;
  depth: number;
  seconds: number;
  maxCached: number;
  /** Null when the run could not split (boot failed). */
  shard: ShardInfo | null;
}

/** What `dio-cache replay` needs: a replay file's fields (replay.ts ReplayFile without `format`). */
export type ShardReplay = Omit<ReplayFile, 'format'>;

export interface ShardFinding {
  invariant: string;
  message: string;
  /** The scope it was found in (and the call site, for `check` on C). */
  scope: string;
  site?: string;
  steps: number;
  interrupts: number;
  preemptions: number;
  kernelEvents: number;
  /** Absent for a finding at boot or read from a diff: nothing to replay. */
  replay?: ShardReplay;
  /** `check`: read from the diff, not explored. */
  found?: 'diff';
}

/** The C path's coverage as `check --json` reports it (c/run.ts CoverageReport). */
export interface ShardCoverage {
  functions: { name: string; statements: { at: string; text: string; hits: number }[]; branches: { at: string; text: string; taken: number; notTaken: number }[] }[];
  interruptsAt: { at: string; count: number }[];
  warnings: string[];
  branchGaps: string[];
}

export interface ShardResultFile {
  format: typeof SHARD_RESULT_FORMAT;
  kind: 'explore' | 'check';
  shard: { index: number; count: number; perShard: number };
  /** The implementation's name, and what loads it (a registry name, or a path on the shard's machine). */
  impl: string;
  ref: string;
  /** sha256 of the file `ref` names (a module, a patch, a C file); absent for a registry name. */
  digest?: string;
  /** Everything that has to be the same in every shard of one search (scopes, strategy, symmetry, budgets...). */
  options: Record<string, unknown>;
  verdict: string;
  complete: boolean;
  stoppedBy?: string;
  error?: string;
  runs: ShardRun[];
  violations: ShardFinding[];
  warnings: ShardFinding[];
  extremes: { maxCached: number; perCpu?: number[]; bound: number; sequentialBound?: number; witness?: { value: number; cpu: number; choices: number[] } };
  coverage?: ShardCoverage | null;
  notes?: string[];
  /** Scopes `check` did not start (a budget or Ctrl-C came first). */
  notRun?: string[];
  seconds: number;
}

/** A merged search: the same shape, plus what each shard contributed. */
export interface MergedResult extends Omit<ShardResultFile, 'shard'> {
  merged: {
    count: number;
    shards: { index: number; file: string; verdict: string; complete: boolean; stoppedBy?: string; states: number; seconds: number }[];
    /** The sum of the shards' state counts: a state reachable from two shards' roots is counted in each. */
    statesWithOverlap: number;
    /** The largest shard's count: there are at least this many distinct states. */
    statesAtLeast: number;
    /** Per finding: the shard whose counterexample was kept. */
    foundBy: Record<string, number>;
  };
}

/** A usage problem with the set of results (missing shard, mismatched runs): the CLI exits 2. */
export class MergeError extends Error {}

const canon = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));

/** Checks a parsed file is a shard result; returns it typed. */
export function asShardResult(raw: unknown, file: string): ShardResultFile {
  const r = raw as Partial<ShardResultFile> | null;
  if (!r || typeof r !== 'object' || r.format !== SHARD_RESULT_FORMAT)
    throw new MergeError(`${file}: not a shard result (${SHARD_RESULT_FORMAT}); write one with \`explore --shard I/N --result-out FILE\` or \`check FILE --shard I/N --result-out FILE\``);
  const s = r.shard;
  if (!s || !Number.isInteger(s.index) || !Number.isInteger(s.count) || s.index < 1 || s.index > s.count || !Array.isArray(r.runs) || !Array.isArray(r.violations))
    throw new MergeError(`${file}: a shard result needs shard {index, count}, runs and violations`);
  return r as ShardResultFile;
}

const runKey = (r: { scope: string; site?: string }) => (r.site ? `${r.scope} (${r.site})` : r.scope);
const cost = (f: ShardFinding) => [f.interrupts, f.preemptions, f.steps] as const;
const cheaper = (a: ShardFinding, b: ShardFinding) => {
  const [x, y] = [cost(a), cost(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

/**
 * Combines the results of shards 1..N of one search. Throws a MergeError naming what is wrong
 * when a shard is missing or given twice, or when the results are not of one search (another
 * implementation, file contents, scope, options, or a different split). The verdict is
 * `conforms` only when every shard finished and conforms; a violation any shard found is the
 * merged verdict whatever the others say, with, per invariant id, the cheapest counterexample
 * (fewest interrupts, preemptions, steps) of any shard: each is a choice vector from boot.
 */
export function mergeShardResults(inputs: readonly { file: string; result: ShardResultFile }[]): MergedResult {
  if (inputs.length === 0) throw new MergeError('no shard results given');
  const first = inputs[0]!;
  const f0 = first.result;
  const same = (what: string, get: (r: ShardResultFile) => unknown) => {
    for (const x of inputs.slice(1))
      if (canon(get(x.result)) !== canon(get(f0)))
        throw new MergeError(`${x.file} and ${first.file} are not shards of one search: ${what} differ (${canon(get(x.result)).slice(0, 160)} vs ${canon(get(f0)).slice(0, 160)})`);
  };
  same('the commands (explore or check)', (r) => r.kind);
  same('the shard counts (N of --shard I/N)', (r) => r.shard.count);
  same('--shard-split', (r) => r.shard.perShard);
  same('the implementations', (r) => r.impl);
  same('the contents of the implementation file (sha256)', (r) => r.digest ?? null);
  same('the options (scope, bounds, strategy, symmetry, budgets)', (r) => r.options);
  const n = f0.shard.count;
  const byIndex = new Map<number, { file: string; result: ShardResultFile }>();
  for (const x of inputs) {
    const had = byIndex.get(x.result.shard.index);
    if (had) throw new MergeError(`shard ${x.result.shard.index}/${n} is given twice (${had.file}, ${x.file})`);
    byIndex.set(x.result.shard.index, x);
  }
  const missing: number[] = [];
  for (let i = 1; i <= n; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length)
    throw new MergeError(
      `missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${n}`).join(', ')} (have ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')}): a search is only as complete as all of its shards; run the missing one${missing.length > 1 ? 's' : ''} with --shard I/${n} and merge again`,
    );
  const shards = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, x]) => x);

  // Runs: every shard splits each exploration at the same level, or they did not run one search.
  const keys: string[] = [];
  for (const x of shards) for (const r of x.result.runs) if (!keys.includes(runKey(r))) keys.push(runKey(r));
  const runs: ShardRun[] = keys.map((key) => {
    const parts = shards.map((x) => ({ x, r: x.result.runs.find((y) => runKey(y) === key) }));
    const split = parts.map((p) => p.r?.shard).filter((s): s is ShardInfo => !!s && s.split);
    for (const s of split)
      if (s.frontierHash !== split[0]!.frontierHash || s.depth !== split[0]!.depth || s.frontier !== split[0]!.frontier)
        throw new MergeError(`${key}: the shards split differently (depth ${split[0]!.depth}, ${split[0]!.frontier} states, ${split[0]!.frontierHash} vs depth ${s.depth}, ${s.frontier} states, ${s.frontierHash}): they did not run the same code on the same scope`);
    const ran = parts.filter((p) => p.r).map((p) => p.r!);
    const proto = ran[0]!;
    const verdicts = ran.map((r) => r.verdict);
    const allComplete = ran.length === shards.length && ran.every((r) => r.complete);
    const unsplit = ran.length === shards.length && ran.every((r) => r.shard && !r.shard.split);
    const verdict = verdicts.includes('violation') ? 'violation' : verdicts.includes('error') ? 'error' : allComplete ? 'conforms' : 'incomplete';
    const stopped = ran.find((r) => r.stoppedBy && r.stoppedBy !== 'violation')?.stoppedBy ?? (ran.length < shards.length ? 'not run' : undefined);
    const out: ShardRun = {
      scope: proto.scope,
      ...(proto.site ? { site: proto.site } : {}),
      verdict,
      complete: allComplete,
      ...(stopped && !allComplete ? { stoppedBy: stopped } : {}),
      // Unsplit, every shard did the whole search: one shard's count is the search's.
      states: unsplit ? proto.states : ran.reduce((a, r) => a + r.states, 0),
      transitions: unsplit ? proto.transitions : ran.reduce((a, r) => a + r.transitions, 0),
      depth: Math.max(...ran.map((r) => r.depth)),
      seconds: ran.reduce((a, r) => a + r.seconds, 0),
      maxCached: Math.max(...ran.map((r) => r.maxCached)),
      shard: proto.shard ? { ...proto.shard, index: 0, roots: proto.shard.frontier } : null,
    };
    return out;
  });

  // Findings: per invariant id, the cheapest counterexample any shard found.
  const foundBy: Record<string, number> = {};
  const pick = (get: (r: ShardResultFile) => ShardFinding[], tag: string) => {
    const best = new Map<string, { f: ShardFinding; index: number }>();
    for (const x of shards)
      for (const f of get(x.result)) {
        const had = best.get(f.invariant);
        if (!had || cheaper(f, had.f) < 0) best.set(f.invariant, { f, index: x.result.shard.index });
      }
    for (const [id, b] of best) foundBy[`${tag}${id}`] = b.index;
    return [...best.values()].map((b) => b.f).sort((a, b) => a.steps - b.steps);
  };
  const violations = pick((r) => r.violations, '');
  const warnings = pick((r) => r.warnings, 'warning ');

  // Extremes: the largest total any shard saw, with the shortest witness to it.
  const maxCached = Math.max(...shards.map((x) => x.result.extremes.maxCached));
  const perCpu: number[] = [];
  for (const x of shards) (x.result.extremes.perCpu ?? []).forEach((v, i) => (perCpu[i] = Math.max(perCpu[i] ?? 0, v)));
  let witness: ShardResultFile['extremes']['witness'];
  for (const x of shards) {
    const w = x.result.extremes.witness;
    if (w && w.value === maxCached && (!witness || w.choices.length < witness.choices.length)) witness = w;
  }
  const extremes: ShardResultFile['extremes'] = {
    maxCached,
    ...(f0.extremes.perCpu ? { perCpu } : {}),
    bound: f0.extremes.bound,
    ...(f0.extremes.sequentialBound !== undefined ? { sequentialBound: f0.extremes.sequentialBound } : {}),
    ...(witness ? { witness } : {}),
  };

  const verdicts = shards.map((x) => x.result.verdict);
  const errored = shards.find((x) => x.result.verdict === 'error');
  const complete = shards.every((x) => x.result.complete) && runs.every((r) => r.complete);
  const verdict = violations.length || verdicts.includes('violation') ? 'violation' : errored ? 'error' : complete ? 'conforms' : 'incomplete';
  const stoppedBy = shards.find((x) => x.result.stoppedBy && x.result.stoppedBy !== 'violation')?.result.stoppedBy;
  const notRun = [...new Set(shards.flatMap((x) => (x.result.notRun ?? []).map((s) => `${s} (shard ${x.result.shard.index})`)))];
  const top = shards.find((x) => x.result.extremes.maxCached === maxCached)!;
  const states = shards.map((x) => x.result.runs.reduce((a, r) => a + r.states, 0));
  const result: MergedResult = {
    format: SHARD_RESULT_FORMAT,
    kind: f0.kind,
    impl: f0.impl,
    ref: f0.ref,
    ...(f0.digest ? { digest: f0.digest } : {}),
    options: f0.options,
    verdict,
    complete,
    ...(stoppedBy ? { stoppedBy } : {}),
    ...(errored?.result.error ? { error: errored.result.error } : {}),
    runs,
    violations,
    warnings,
    extremes,
    ...(f0.coverage !== undefined ? { coverage: mergeCoverage(shards.map((x) => x.result.coverage ?? null)) } : {}),
    ...(f0.notes ? { notes: top.result.notes ?? [] } : {}),
    ...(notRun.length ? { notRun } : {}),
    seconds: Math.max(...shards.map((x) => x.result.seconds)),
    merged: {
      count: n,
      shards: shards.map((x, i) => ({
        index: x.result.shard.index,
        file: x.file,
        verdict: x.result.verdict,
        complete: x.result.complete,
        ...(x.result.stoppedBy ? { stoppedBy: x.result.stoppedBy } : {}),
        states: states[i]!,
        seconds: x.result.seconds,
      })),
      statesWithOverlap: runs.reduce((a, r) => a + r.states, 0),
      statesAtLeast: Math.max(...states),
      foundBy,
    },
  };
  return result;
}

/**
 * Coverage of the C path over all shards: hits add up (the prefix every shard runs is counted
 * once per shard), and a statement or branch direction is reported missing only when no shard
 * reached it.
 */
export function mergeCoverage(parts: readonly (ShardCoverage | null)[]): ShardCoverage | null {
  const have = parts.filter((p): p is ShardCoverage => !!p);
  if (!have.length) return null;
  const base: ShardCoverage = JSON.parse(JSON.stringify(have[0])) as ShardCoverage;
  for (const p of have.slice(1)) {
    for (const fn of p.functions) {
      let into = base.functions.find((f) => f.name === fn.name);
      if (!into) base.functions.push((into = { name: fn.name, statements: [], branches: [] }));
      for (const s of fn.statements) {
        const t = into.statements.find((x) => x.at === s.at && x.text === s.text);
        if (t) t.hits += s.hits;
        else into.statements.push({ ...s });
      }
      for (const b of fn.branches) {
        const t = into.branches.find((x) => x.at === b.at && x.text === b.text);
        if (t) {
          t.taken += b.taken;
          t.notTaken += b.notTaken;
        } else into.branches.push({ ...b });
      }
    }
    for (const i of p.interruptsAt) {
      const t = base.interruptsAt.find((x) => x.at === i.at);
      if (t) t.count += i.count;
      else base.interruptsAt.push({ ...i });
    }
  }
  base.interruptsAt.sort((a, b) => b.count - a.count);
  base.warnings = base.warnings.filter((w) => have.every((p) => p.warnings.includes(w)));
  base.branchGaps = base.branchGaps.filter((g) => have.every((p) => p.branchGaps.includes(g)));
  return base;
}
