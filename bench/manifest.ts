/**
 * conformance/manifest.json: state and path counts of explorations, so that a change to the
 * model, a port, the C path or the explorer that changes what is explored shows in review. It has
 * a row for every port (impl/registry.ts PORTS) on every named scope (conformance/scopes.ts), and
 * one for every run of `check` on the seed patch (every CHECK_SCOPES scope and every call-site
 * run), beside the first rows' symmetry and reduction variants of iomap-v1. The test
 * (test/explorer.test.ts) recomputes the cheap rows and checks that every port, scope and check
 * scope has its row; `npm run bench -- --manifest` recomputes every row and rewrites the file
 * after a deliberate change.
 */
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, CHECK_SCOPES, type CheckReport } from '../conformance/c/run.js';
import type { Loaded } from '../conformance/load.js';
import { explore } from '../conformance/explorer/explore.js';
import { SCOPES, scopeWith } from '../conformance/scopes.js';
import { findImpl } from '../impl/registry.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MANIFEST_PATH = join(ROOT, 'conformance/manifest.json');
/** The seed patch as posted (test/fixtures/seed/README.md gives its provenance): the C path's rows. */
export const MANIFEST_SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');

/** `spin-ref`'s K in the port × scope rows: its default K=5 takes seconds a port; K=3 reaches the splice and MAX+2. */
export const MANIFEST_SPIN_REF_OPS = 3;
/** The state bound of the `smp` rows (DFS): the scope has tens of millions of states. */
export const MANIFEST_SMP_MAX_STATES = 200_000;

/**
 * An exploration of a registry implementation with its own profile (as `dio-cache explore --impl
 * NAME` runs it). `por` and `cpuSymmetry` (partial-order reduction, CPU and task symmetry) are off
 * unless a run says so, so that the other rows count the full graph (up to object symmetry)
 * whatever the defaults are; the rows with them record the reduced counts beside the full ones.
 * BFS unless `strategy` says otherwise. `test: false`: too slow for the suite (over about a
 * second on 2 cores: beyond about 11,000 states), recomputed by the bench only; rows 2 and 3 are
 * larger but tested, as the other tests of test/explorer.test.ts compute them anyway.
 */
export interface ManifestRun {
  impl: string;
  scope: string;
  ops?: number;
  symmetry: boolean;
  por?: boolean;
  cpuSymmetry?: boolean;
  atomicity?: 'access';
  strategy?: 'dfs';
  maxStates?: number;
  test?: false;
}

/**
 * A run of `check()` (conformance/c/run.ts) on the seed patch: `scope` is a CHECK_SCOPES name,
 * `site` the call site of a run of another call site (CheckReport.runs[].site), which check runs
 * on its first scope. `test: false` as in ManifestRun.
 */
export interface ManifestCheckRun {
  check: 'seed';
  scope: string;
  site?: string;
  test?: false;
}

// The port × scope rows: every port of PORTS on every scope of SCOPES, object symmetry, BFS,
// spin-ref at K=3 (the first row below is iomap-v1's). Where a port has no per-CPU lists (slab,
// sheaves: profile `slab`) the scopes still apply: the tasks, interrupts, migration and hotplug
// run its alloc and put, maxCached is 0, and the verdict is recorded as any other. `smp` is
// bounded (MANIFEST_SMP_MAX_STATES, DFS): an incomplete row whose `states` is the bound, so that
// its transitions, depth and maxCached record what the first 200,000 states of a DFS reach (they
// move with the DFS's order as well as with what is reachable); slab's, with no lists, finishes
// under the bound and is complete.
const smp = (impl: string): ManifestRun => ({ impl, scope: 'smp', symmetry: true, strategy: 'dfs', maxStates: MANIFEST_SMP_MAX_STATES, test: false });
const K = MANIFEST_SPIN_REF_OPS;

/** The explorations the manifest records, in its order (test/explorer.test.ts reads rows 0-3 by index). */
export const MANIFEST_RUNS: readonly ManifestRun[] = [
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: true },
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: false },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: false },
  // Deep enough for held and in-flight dios linked by stale dio_next pointers: the count moves
  // if the symmetry reduction's canonical form changes.
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 5, symmetry: true, test: false },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, cpuSymmetry: true, test: false },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, por: true, test: false },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, por: true, cpuSymmetry: true, test: false },
  // Interrupts between a statement's memory accesses too (--atomicity access): beside the first row.
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: true, atomicity: 'access' },
  // iomap-v1's spin-ref K=3 and smp-small rows are the first and the third.
  { impl: 'iomap-v1', scope: 'preempt', symmetry: true, test: false },
  { impl: 'iomap-v1', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'iomap-v1', scope: 'enomem', symmetry: true },
  { impl: 'iomap-v1', scope: 'smp-hotplug', symmetry: true, test: false },
  smp('iomap-v1'),
  { impl: 'bio', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'bio', scope: 'smp-small', symmetry: true },
  { impl: 'bio', scope: 'preempt', symmetry: true, test: false },
  { impl: 'bio', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'bio', scope: 'enomem', symmetry: true },
  { impl: 'bio', scope: 'smp-hotplug', symmetry: true },
  smp('bio'),
  { impl: 'iomap-common', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'iomap-common', scope: 'smp-small', symmetry: true, test: false },
  { impl: 'iomap-common', scope: 'preempt', symmetry: true, test: false },
  { impl: 'iomap-common', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'iomap-common', scope: 'enomem', symmetry: true },
  { impl: 'iomap-common', scope: 'smp-hotplug', symmetry: true, test: false },
  smp('iomap-common'),
  { impl: 'bio-common', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'bio-common', scope: 'smp-small', symmetry: true },
  { impl: 'bio-common', scope: 'preempt', symmetry: true, test: false },
  { impl: 'bio-common', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'bio-common', scope: 'enomem', symmetry: true },
  { impl: 'bio-common', scope: 'smp-hotplug', symmetry: true },
  smp('bio-common'),
  { impl: 'slab', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'slab', scope: 'smp-small', symmetry: true },
  { impl: 'slab', scope: 'preempt', symmetry: true },
  { impl: 'slab', scope: 'smp-irq', symmetry: true },
  { impl: 'slab', scope: 'enomem', symmetry: true },
  { impl: 'slab', scope: 'smp-hotplug', symmetry: true },
  smp('slab'),
  { impl: 'sheaves', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'sheaves', scope: 'smp-small', symmetry: true, test: false },
  { impl: 'sheaves', scope: 'preempt', symmetry: true, test: false },
  { impl: 'sheaves', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'sheaves', scope: 'enomem', symmetry: true },
  { impl: 'sheaves', scope: 'smp-hotplug', symmetry: true, test: false },
  smp('sheaves'),
  { impl: 'iomap-v1-kmemleak', scope: 'spin-ref', ops: K, symmetry: true },
  { impl: 'iomap-v1-kmemleak', scope: 'smp-small', symmetry: true, test: false },
  { impl: 'iomap-v1-kmemleak', scope: 'preempt', symmetry: true, test: false },
  { impl: 'iomap-v1-kmemleak', scope: 'smp-irq', symmetry: true, test: false },
  { impl: 'iomap-v1-kmemleak', scope: 'enomem', symmetry: true },
  { impl: 'iomap-v1-kmemleak', scope: 'smp-hotplug', symmetry: true, test: false },
  smp('iomap-v1-kmemleak'),
];

/**
 * The C path's rows: `check` on the seed patch with its default scopes, one row per run of its
 * report, in its order (the call-site runs last, on the first scope).
 */
export const MANIFEST_CHECK_RUNS: readonly ManifestCheckRun[] = [
  { check: 'seed', scope: 'check-1cpu', test: false },
  { check: 'seed', scope: 'check-hotplug' },
  { check: 'seed', scope: 'check-preempt' },
  { check: 'seed', scope: 'check-enomem' },
  { check: 'seed', scope: 'check-migrate' },
  { check: 'seed', scope: 'check-1cpu', site: 'free site in __iomap_dio_rw() (direct-io.c:886)', test: false },
];

export interface ManifestEntry {
  impl: string;
  scope: string;
  ops: number;
  symmetry: boolean;
  /** Present where it is not the scope's own: the implementation's (iomap-v3, bio, slab). */
  profile?: string;
  /** Present (true) on the rows with partial-order reduction or CPU and task symmetry. */
  por?: boolean;
  cpuSymmetry?: boolean;
  /** Present on the rows explored with interrupts between memory accesses. */
  atomicity?: 'access';
  /** Present on the bounded DFS rows (`smp`): the search stops at maxStates, verdict `incomplete`. */
  strategy?: 'dfs';
  maxStates?: number;
  verdict: string;
  /** The ids found, where there are any (hotplug-stranding is a warning: the verdict stays `conforms`). */
  violations?: string[];
  warnings?: string[];
  states: number;
  transitions: number;
  depth: number;
  maxCached: number;
  /** Length of the shortest path to the largest nr + nr_irq (under DFS: of the first path found). */
  maxCachedPath: number;
}

/** A row of the C path: what `check` reported for one of its runs (it keeps no witness path). */
export interface ManifestCheckEntry {
  /** The input, relative to the repository, and the implementation name check gave it. */
  check: string;
  impl: string;
  scope: string;
  site?: string;
  ops: number;
  symmetry: boolean;
  /** The profile check inferred from the C. */
  profile: string;
  verdict: string;
  states: number;
  transitions: number;
  /**
   * The same run with each frame fingerprinted by its whole read log (`check --no-frame-keys`):
   * the counts without the frame-key reduction, which merges states whose operations differ only
   * in values no statement will use again (ExploreOptions.frameKeys).
   */
  readLogStates: number;
  readLogTransitions: number;
  depth: number;
  maxCached: number;
}

/** What a row is, before its counts: the fields a reviewer reads it by, in the file's order. */
export function describeRun(run: ManifestRun): Omit<ManifestEntry, 'verdict' | 'violations' | 'warnings' | 'states' | 'transitions' | 'depth' | 'maxCached' | 'maxCachedPath'> {
  const impl = findImpl(run.impl);
  if (!impl) throw new Error(`manifest: unknown implementation ${run.impl}`);
  const base = SCOPES[run.scope];
  if (!base) throw new Error(`manifest: unknown scope ${run.scope}`);
  return {
    impl: run.impl,
    scope: run.scope,
    ops: run.ops ?? base.ops,
    symmetry: run.symmetry,
    ...(impl.profile !== base.profile ? { profile: impl.profile } : {}),
    ...(run.por ? { por: true } : {}),
    ...(run.cpuSymmetry ? { cpuSymmetry: true } : {}),
    ...(run.atomicity ? { atomicity: run.atomicity } : {}),
    ...(run.strategy ? { strategy: run.strategy } : {}),
    ...(run.maxStates ? { maxStates: run.maxStates } : {}),
  };
}

/** The same for a row of the C path. */
export function describeCheckRun(run: ManifestCheckRun): Pick<ManifestCheckEntry, 'check' | 'scope' | 'site'> {
  return { check: relative(ROOT, MANIFEST_SEED), scope: run.scope, ...(run.site ? { site: run.site } : {}) };
}

export function manifestEntry(run: ManifestRun): ManifestEntry {
  const d = describeRun(run);
  const impl = findImpl(run.impl)!;
  const base = SCOPES[run.scope]!;
  // The implementation's own profile, as `dio-cache explore --impl NAME` runs it (the scopes name iomap-v1's).
  const scope = { ...base, ops: d.ops, profile: impl.profile, ...(run.atomicity ? { atomicity: run.atomicity } : {}) };
  const r = explore({
    impl,
    scope,
    symmetry: run.symmetry,
    por: run.por ?? false,
    cpuSymmetry: run.cpuSymmetry ?? false,
    ...(run.strategy ? { strategy: run.strategy } : {}),
    ...(run.maxStates ? { maxStates: run.maxStates } : {}),
  });
  if (r.verdict === 'error') throw new Error(`manifest: ${run.impl} on ${run.scope}: ${r.error}`);
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  return {
    ...d,
    verdict: r.verdict,
    ...(r.violations.length ? { violations: r.violations.map((v) => v.id) } : {}),
    ...(r.warnings.length ? { warnings: r.warnings.map((v) => v.id) } : {}),
    states: r.stats.states,
    transitions: r.stats.transitions,
    depth: r.stats.depth,
    maxCached: r.extremes.maxCached,
    maxCachedPath: w ? w.choices.length : 0,
  };
}

/**
 * The rows the manifest lacks: a port without its row on a scope (object symmetry, no reduction,
 * spin-ref at K=3, smp bounded), a check scope without its row, a call site of the seed without
 * its run's row. Empty when every port, scope and check run is recorded.
 */
export function manifestGaps(ports: readonly string[], scopes: readonly string[], checkScopes: readonly string[], sites: readonly string[]): string[] {
  const gaps: string[] = [];
  for (const impl of ports)
    for (const scope of scopes) {
      const ops = scope === 'spin-ref' ? MANIFEST_SPIN_REF_OPS : SCOPES[scope]?.ops;
      const row = MANIFEST_RUNS.find(
        (r) =>
          r.impl === impl && r.scope === scope && r.symmetry && !r.por && !r.cpuSymmetry && !r.atomicity &&
          (r.ops ?? SCOPES[scope]?.ops) === ops &&
          (scope === 'smp' ? r.maxStates === MANIFEST_SMP_MAX_STATES : r.maxStates === undefined),
      );
      if (!row) gaps.push(`${impl} on ${scope}`);
    }
  for (const scope of checkScopes) if (!MANIFEST_CHECK_RUNS.some((r) => r.scope === scope && !r.site)) gaps.push(`check on ${scope}`);
  for (const site of sites) if (!MANIFEST_CHECK_RUNS.some((r) => r.scope === checkScopes[0] && r.site === site)) gaps.push(`check on ${checkScopes[0]}: ${site}`);
  return gaps;
}

const runKey = (scope: string, site: string | undefined) => `${scope}\u0000${site ?? ''}`;

/**
 * `check` on the seed with the CHECK_SCOPES named (in CHECK_SCOPES's order; all of them by
 * default, which is what `dio-cache check` runs): a row per run of its report. The call-site runs
 * are check's runs on the first scope, so they are rows only when that is CHECK_SCOPES's first.
 */
export async function manifestCheckEntries(scopes?: readonly string[], loaded?: Loaded): Promise<ManifestCheckEntry[]> {
  const unknown = (scopes ?? []).filter((n) => !CHECK_SCOPES.some((s) => s.name === n));
  if (unknown.length) throw new Error(`manifest: unknown check scope ${unknown.join(', ')}`);
  const picked = scopes ? CHECK_SCOPES.filter((s) => scopes.includes(s.name)) : CHECK_SCOPES;
  const r = await check({ file: MANIFEST_SEED, ...(scopes ? { scopes: [...picked] } : {}) }, loaded);
  const logs = await check({ file: MANIFEST_SEED, ...(scopes ? { scopes: [...picked] } : {}), frameKeys: false }, loaded);
  const sitesCount = picked[0] === CHECK_SCOPES[0];
  return r.runs.map((_, i) => checkRow(r, logs, i)).filter((e) => !e.site || sitesCount);
}

/** Run `i` of a check on the seed as a row, with the same run of `logs` (the check by read log). */
function checkRow(r: CheckReport, logs: CheckReport, i: number): ManifestCheckEntry {
  const x = r.runs[i]!;
  const log = logs.runs[i]!;
  return {
    check: relative(ROOT, MANIFEST_SEED),
    impl: r.impl,
    scope: x.scope.name,
    ...(x.site ? { site: x.site } : {}),
    ops: x.scope.ops,
    symmetry: x.stats.symmetry,
    profile: r.profile.name,
    verdict: x.verdict,
    states: x.stats.states,
    transitions: x.stats.transitions,
    readLogStates: log.stats.states,
    readLogTransitions: log.stats.transitions,
    depth: x.stats.depth,
    maxCached: x.maxCached,
  };
}

/**
 * The C path with CPU symmetry (`check --cpu-symmetry`, conformance/c/cpu-numbers.ts): the seed on
 * the 2-CPU scopes it halves, a row per run of the check, with the counts without it beside.
 */
export const MANIFEST_CHECK_CPU_SYMMETRY: readonly { scope: string; ops?: number }[] = [{ scope: 'smp-small' }, { scope: 'smp-irq', ops: 1 }];

/** A row of the C path with CPU symmetry: a ManifestCheckEntry, and the counts without it. */
export interface ManifestCheckSymmetryEntry extends ManifestCheckEntry {
  cpuSymmetry: true;
  /** The same run without CPU symmetry (frames by key): `check` without `--cpu-symmetry`. */
  withoutCpuSymmetryStates: number;
  withoutCpuSymmetryTransitions: number;
}

/** The rows of MANIFEST_CHECK_CPU_SYMMETRY, in its order (each scope's runs: its own, then its call sites'). */
export async function manifestCheckSymmetryEntries(loaded?: Loaded): Promise<ManifestCheckSymmetryEntry[]> {
  const out: ManifestCheckSymmetryEntry[] = [];
  for (const x of MANIFEST_CHECK_CPU_SYMMETRY) {
    const scopes = [scopeWith(SCOPES[x.scope]!, x.ops !== undefined ? { ops: x.ops } : {})];
    const r = await check({ file: MANIFEST_SEED, scopes, strategy: 'dfs', cpuSymmetry: true }, loaded);
    const logs = await check({ file: MANIFEST_SEED, scopes, strategy: 'dfs', cpuSymmetry: true, frameKeys: false }, loaded);
    const plain = await check({ file: MANIFEST_SEED, scopes, strategy: 'dfs' }, loaded);
    r.runs.forEach((_, i) =>
      out.push({ ...checkRow(r, logs, i), cpuSymmetry: true, withoutCpuSymmetryStates: plain.runs[i]!.stats.states, withoutCpuSymmetryTransitions: plain.runs[i]!.stats.transitions }),
    );
  }
  return out;
}

/** The row of MANIFEST_CHECK_RUNS an entry is, or -1. */
export function checkRunIndex(e: { scope: string; site?: string }): number {
  return MANIFEST_CHECK_RUNS.findIndex((c) => runKey(c.scope, c.site) === runKey(e.scope, e.site));
}

export const MANIFEST_NOTE =
  'Every port on every named scope (spin-ref at K=3; smp bounded: an incomplete DFS of its first 200,000 states), the seed patch through `check` (one row per run, with its counts when every frame is fingerprinted by its read log: readLogStates, readLogTransitions), the seed through `check --cpu-symmetry --dfs` on smp-small and smp-irq at 1 op (cpuSymmetry rows, with the counts without it: withoutCpuSymmetryStates, withoutCpuSymmetryTransitions), and iomap-v1 with and without each reduction. The rows of bench/manifest.ts without `test: false` are recomputed by test/explorer.test.ts; regenerate every row with `npm run bench -- --manifest --ks 3 --no-spin` after a deliberate change.';

/** Every row, recomputed (minutes: the bench's `--manifest`). `progress` hears one line per row. */
export async function manifestEntries(progress?: (line: string) => void): Promise<{ note: string; runs: (ManifestEntry | ManifestCheckEntry | ManifestCheckSymmetryEntry)[] }> {
  const runs: (ManifestEntry | ManifestCheckEntry | ManifestCheckSymmetryEntry)[] = [];
  for (const run of MANIFEST_RUNS) {
    const t0 = performance.now();
    const e = manifestEntry(run);
    progress?.(`manifest: ${e.impl} ${e.scope} ops ${e.ops}${run.por ? ' por' : ''}${run.cpuSymmetry ? ' cpu-symmetry' : ''}${run.symmetry ? '' : ' no-symmetry'}${run.atomicity ? ` ${run.atomicity}` : ''}: ${e.verdict}, ${e.states} states (${((performance.now() - t0) / 1000).toFixed(2)} s)`);
    runs.push(e);
  }
  const t0 = performance.now();
  const c = await manifestCheckEntries();
  progress?.(`manifest: check on the seed, ${c.length} runs: ${c.map((e) => `${e.scope}${e.site ? ` (${e.site})` : ''} ${e.states}`).join(', ')} (${((performance.now() - t0) / 1000).toFixed(2)} s)`);
  // A run of check without a row, or a row without a run: MANIFEST_CHECK_RUNS is out of date.
  const got = c.map((e) => runKey(e.scope, e.site)).join('\n');
  const want = MANIFEST_CHECK_RUNS.map((x) => runKey(x.scope, x.site)).join('\n');
  if (got !== want)
    throw new Error(`manifest: check's runs on the seed (${c.map((e) => runKey(e.scope, e.site).replace('\u0000', ' ')).join('; ')}) are not MANIFEST_CHECK_RUNS's rows: update bench/manifest.ts`);
  runs.push(...c);
  const t1 = performance.now();
  const sym = await manifestCheckSymmetryEntries();
  progress?.(`manifest: check --cpu-symmetry on the seed: ${sym.map((e) => `${e.scope}${e.site ? ` (${e.site})` : ''} ${e.states} (${e.withoutCpuSymmetryStates} without)`).join(', ')} (${((performance.now() - t1) / 1000).toFixed(2)} s)`);
  runs.push(...sym);
  return { note: MANIFEST_NOTE, runs };
}
