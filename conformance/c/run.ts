/**
 * What `dio-cache check` runs: load FILE (module, patch or C), pick the scopes, explore each with
 * the shared explorer, and merge the results into one report with the profile, the scaling of
 * the cache constants and, for C, coverage in kernel terms.
 */
import type { Implementation } from '../../impl/interface.js';
import { getProfile, reachableCapBound, sequentialCapBound } from '../../model/profiles.js';
import { exploreAsync, type ExploreResult, type FoundViolation } from '../explorer/explore.js';
import { loadInput, type Loaded } from '../load.js';
import type { ShardInfo, ShardSpec } from '../explorer/shard.js';
import { SCOPES } from '../scopes.js';
import type { Scope } from '../system.js';
import { UsageError } from '../errors.js';
import { doneLine, progressLine } from '../explorer/progress.js';
import type { StatechartCoverage, StopReason } from '../explorer/types.js';
import type { CBuild } from './build.js';
import { guardStmt, scopedGuard, type Coverage } from './interp.js';
import { walk, type N } from './ast.js';
import type { InputKind } from './reader.js';
import type { RoleName } from './roles.js';

// Loading FILE lives in ../load.ts, with `--impl` loading, which hands it a patch.
export { loadInput, type Loaded };

/**
 * The default scopes of `check`. `check-1cpu` is the Promela reference's workload with MAX 2 and
 * THRESHOLD 1, so that four ops reach the splice, the cap-overflow free and MAX+2; `check-hotplug`
 * takes a CPU with cached objects offline, on either list (a stranding needs a second CPU, and a
 * prune that forgets free_list_irq needs an irq completion there first); `check-preempt` has
 * two tasks on one CPU preempt each other wherever the code is preemptible (a read of the cache
 * after put_cpu()). Nothing is in flight at boot, so interrupts come only after a task submits:
 * with two completions in flight from the start as well, block/bio.c's long preemptible
 * bio_init() took 187,001 states (34.6 s) there; that is the explorer's `preempt` scope.
 * `check-enomem` lets one allocation fail; `check-migrate` moves a task between two CPUs
 * wherever it is preemptible, with completions on either CPU.
 */
export const CHECK_SCOPES: readonly Scope[] = [
  {
    name: 'check-1cpu',
    description: '1 CPU, 1 task, 4 ops (alloc/free/submit), 4 in flight, prefill 2, MAX 2, THRESHOLD 1, hardirq and softirq completions between any two statements',
    cpus: 1,
    taskCpus: [0],
    ops: 4,
    taskOps: ['alloc', 'free', 'submit'],
    prefill: 2,
    inflight: 4,
    completers: ['hardirq', 'softirq'],
    atomicIrq: true,
    preemptions: 0,
    migration: false,
    hotplug: false,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
  },
  {
    name: 'check-hotplug',
    description: '2 CPUs, a task on each, 1 op, prefill 1 per CPU, one completion in flight (it can land on free_list_irq before cpu1 goes), cpu1 may go offline',
    cpus: 2,
    taskCpus: [0, 1],
    ops: 1,
    taskOps: ['alloc', 'free'],
    prefill: 1,
    inflight: 1,
    completers: ['hardirq', 'softirq'],
    atomicIrq: true,
    preemptions: 0,
    migration: false,
    hotplug: true,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
  },
  {
    // The explorer's `preempt` workload without its completions in flight, and one switch fewer.
    ...SCOPES['preempt']!,
    name: 'check-preempt',
    description: '1 CPU, 2 tasks that preempt each other (2 switches: away and back), 2 ops each (alloc/free/submit), nothing in flight at boot, no prefill, MAX 1, THRESHOLD 1',
    inflight: 0,
    preemptions: 2,
  },
  {
    // The explorer's `enomem` workload: the slab fallback's NULL / ERR_PTR path.
    ...SCOPES['enomem']!,
    name: 'check-enomem',
    description: '1 CPU, 1 task, 3 ops (alloc/free/submit), 1 in flight, no prefill, MAX 2, THRESHOLD 1, and one allocation that may fail: the slab fallback\'s NULL/ERR_PTR path',
  },
  {
    // "Completions might happen on a different CPU": the task's own object freed on the CPU it
    // migrated to, a completion on either CPU of an object allocated on the other. One task, so
    // that cpu1 is idle and the task may move there (and back) at every boundary where it is
    // preemptible, mid-operation too; last, so that the other scopes' findings come first.
    // THRESHOLD 2 where the others have 1: with 1, a splice of an irq list holding nothing is the
    // only thing a `>= THRESHOLD - 1` could add (bench/mutants.ts offbyone-alloc-2, findings §12).
    name: 'check-migrate',
    description: '2 CPUs, 1 task on cpu0, 3 ops (alloc/free/submit), that may migrate to the idle cpu1 and back (2 moves) at any statement boundary where it is preemptible; 1 in flight, prefill 1 per CPU, hardirq and softirq completions on either CPU (cross-CPU frees), MAX 2, THRESHOLD 2',
    cpus: 2,
    taskCpus: [0],
    ops: 3,
    taskOps: ['alloc', 'free', 'submit'],
    prefill: 1,
    inflight: 1,
    completers: ['hardirq', 'softirq'],
    atomicIrq: true,
    preemptions: 2,
    migration: true,
    hotplug: false,
    profile: 'iomap-v1',
    max: 2,
    threshold: 2,
  },
];

/** Operations per task in the run of each call site after the first (CBuild.siteRuns). */
export const SITE_RUN_OPS = 3;

export interface CoverageReport {
  functions: {
    name: string;
    statements: { at: string; text: string; hits: number }[];
    branches: { at: string; text: string; taken: number; notTaken: number }[];
  }[];
  /**
   * Every call of a cache function in the callers, driven or not: `runs` counts the explored runs
   * of its lines that got to their end (boot's are not counted); `branches` are the caller's
   * nondeterministic branches after the call, with how often each way was taken.
   */
  callSites: { fn: string; at: string; call: string; role: string; runs: number; tail: string[]; stop?: string; branches: { at: string; text: string; taken: number; notTaken: number }[] }[];
  /** Statement boundaries where an interrupt entered, most frequent first. */
  interruptsAt: { at: string; count: number }[];
  /** One line per statement never reached and per call site never driven (a pass that never ran them proves little about them). */
  warnings: string[];
  /** Branch directions never taken (`WARN_ON_ONCE` staying false is expected). */
  branchGaps: string[];
}

export interface CheckReport {
  verdict: ExploreResult['verdict'];
  input: { file: string; kind: InputKind };
  impl: string;
  profile: { name: string; inferred: string[]; overridden: boolean };
  scaling: { macro: string; from: number; to: number; role: 'MAX' | 'THRESHOLD' }[];
  /** `site`: a run of one of the other call sites (CBuild.siteRuns). */
  runs: { scope: Scope; site?: string; verdict: ExploreResult['verdict']; complete: boolean; stats: ExploreResult['stats']; maxCached: number; shard?: ShardInfo }[];
  /**
   * `found: 'diff'`: read from the diff itself (a free, or an allocation, removed with nothing in
   * its place), no trace. `site`: found with that call site as the alloc or the put; its replay
   * names it.
   */
  violations: (FoundViolation & { scope: Scope; found?: 'diff'; site?: string })[];
  warnings: (FoundViolation & { scope: Scope })[];
  stats: { states: number; transitions: number; depth: number; seconds: number; statesPerSecond: number; bytesPerState: number };
  extremes: { maxCached: number; bound: number; sequentialBound: number };
  notes: string[];
  coverage: CoverageReport | null;
  /** The statechart's coverage by every run together: a transition is untaken if no run took it. */
  statechart?: StatechartCoverage;
  complete: boolean;
  /** Why a run stopped before its bound was exhausted (the first such run's reason). */
  stoppedBy?: StopReason;
  /** Scopes (and call sites) not run at all: a budget or Ctrl-C stopped the check before them. */
  notRun: string[];
  /** For replay files: how to load the implementation again. */
  ref: string;
}

export interface CheckOptions {
  file: string;
  profile?: string;
  scopes?: Scope[];
  bindingFile?: string;
  roles?: Partial<Record<RoleName, string>>;
  maxStates?: number;
  /** Time budget of the whole check, in seconds: each exploration gets what is left. */
  maxSeconds?: number;
  /** Memory budget (MiB of resident memory) of each exploration. */
  maxMemoryMb?: number;
  progress?: (line: string) => void;
  signal?: AbortSignal;
  /** Worker threads per exploration (the parallel BFS); each rebuilds the implementation from the file. */
  workers?: number;
  /** Explore only this shard of every scope's (and call site's) search (explorer/shard.ts). */
  shard?: ShardSpec;
  /** Run the C compiled (true) or interpreted (false); unset, the C path's default. Worker threads rebuild it the same way. */
  compiled?: boolean;
  /**
   * Each exploration's order: breadth-first (the default) or depth-first, which keeps no frontier
   * and is faster on a large scope; either way a counterexample is minimised (fewest interrupts,
   * preemptions, steps), and the verdict and the maxima are the same.
   */
  strategy?: 'bfs' | 'dfs';
  /** ExploreOptions.frameKeys: false fingerprints each frame by its whole read log. */
  frameKeys?: boolean;
  /**
   * ExploreOptions.cpuSymmetry: CPUs and tasks canonicalised too, in the scopes it holds for (no
   * hotplug). The caller checks first that the code lets it (Implementation.cpuSymmetry).
   */
  cpuSymmetry?: boolean;
}

export async function check(o: CheckOptions, loaded?: Loaded): Promise<CheckReport> {
  const l = loaded ?? (await loadInput(o.file, o.bindingFile, o.roles, o.compiled !== undefined ? { compiled: o.compiled } : undefined));
  const profile = o.profile ?? l.impl.profile;
  const scopes = (o.scopes ?? CHECK_SCOPES).map((s) => ({ ...s, profile }));
  const runs: CheckReport['runs'] = [];
  const violations: CheckReport['violations'] = [];
  const warnings: CheckReport['warnings'] = [];
  let maxCached = 0;
  // The statechart transitions no run took (null until a run reports its coverage).
  const statechart: { total: number; untaken: Set<string> | null } = { total: 0, untaken: null };
  const stats = { states: 0, transitions: 0, depth: 0, seconds: 0, statesPerSecond: 0, bytesPerState: 0 };
  let complete = true;
  let stoppedBy: StopReason | undefined;
  const notRun: string[] = [];
  const t0 = performance.now();
  /** The reason to start no more explorations, if there is one. */
  const spent = (): StopReason | undefined =>
    o.signal?.aborted ? 'signal' : o.maxSeconds !== undefined && performance.now() - t0 >= o.maxSeconds * 1000 ? 'time' : undefined;
  let verdict: ExploreResult['verdict'] = 'conforms';
  /** One exploration; false when boot failed (the next scope would boot the same way). */
  const runOne = async (impl: Implementation, scope: Scope, site?: string): Promise<boolean> => {
    const at = (m: string) => (site ? `${site}: ${m}` : m);
    const label = `${scope.name}${site ? ` (${site})` : ''}`;
    const why = spent();
    if (why) {
      notRun.push(label);
      stoppedBy ??= why;
      complete = false;
      return true;
    }
    const r = await exploreAsync({
      impl,
      scope,
      // One counterexample per invariant id: a variant that breaks `cap` usually breaks
      // `refinement` first, and the reader wants both.
      all: true,
      ...(o.maxStates ? { maxStates: o.maxStates } : {}),
      ...(o.maxSeconds !== undefined ? { maxSeconds: Math.max(0.001, o.maxSeconds - (performance.now() - t0) / 1000) } : {}),
      ...(o.maxMemoryMb ? { maxMemoryMb: o.maxMemoryMb } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.shard ? { shard: o.shard } : {}),
      ...(o.strategy ? { strategy: o.strategy } : {}),
      ...(o.frameKeys === false ? { frameKeys: false } : {}),
      ...(o.cpuSymmetry ? { cpuSymmetry: true } : {}),
      // The other sites' runs are small: one thread, no implementation to rebuild in workers.
      ...(o.workers && o.workers > 1 && !site
        ? {
            workers: o.workers,
            load: { ref: l.ref, ...(o.bindingFile ? { binding: o.bindingFile } : {}), ...(o.roles ? { roles: o.roles as Record<string, string> } : {}), ...(o.compiled !== undefined ? { compiled: o.compiled } : {}) },
            ...(l.c ? { workerCoverage: (c: unknown) => mergeCoverage(l.c!.coverage, c as Coverage) } : {}),
          }
        : {}),
      ...(o.progress ? { progress: (p) => o.progress!(`  ${progressLine(label, p)}`) } : {}),
    });
    // The last line of a scope: the figures its report line prints.
    o.progress?.(`  ${doneLine(label, r.stats, r.verdict, r.stoppedBy)}`);
    if (r.stoppedBy && r.stoppedBy !== 'violation') stoppedBy ??= r.stoppedBy;
    if (r.verdict === 'error') {
      // Boot runs the code under test too (the initcall, the prefill): its own fault is a
      // violation; anything else (unsupported C, a module that throws) is the user's to fix.
      const loops = l.kind !== 'module' && /did not return within/.test(r.error ?? '');
      const m = loops ? ['', 'exception'] : /: (null-deref|wild-pointer|use-after-free|double-free|bad-free|uninit-read): /.exec(r.error ?? '');
      if (!m) throw new UsageError(`${l.impl.name}: ${at(r.error ?? 'the scope could not be booted')}`);
      const id = m[1] === 'null-deref' || m[1] === 'wild-pointer' || m[1] === 'exception' ? 'crash' : 'object-safety';
      if (!violations.some((v) => v.id === id)) violations.push({ id, severity: 'error', message: at(`at boot (${scope.name}): ${r.error}`), steps: [], scope, ...(site ? { site } : {}) } as CheckReport['violations'][number]);
      runs.push({ scope, ...(site ? { site } : {}), verdict: 'violation', complete: false, stats: r.stats, maxCached: 0 });
      verdict = 'violation';
      complete = false;
      return false;
    }
    for (const v of r.violations) {
      // A fault of the harness, not of the code under test: the interpreter cannot run this C,
      // or a TypeScript module threw or did not return.
      // The interpreter's refusal may surface at boot (the initcall, the prefill), wrapped in the
      // explorer's boot message: the construct and its line are in the last part.
      if (v.id === 'crash' && /unsupported C: /.test(v.message)) throw new UsageError(`${l.impl.name}: ${/unsupported C: .*/.exec(v.message.split('\n')[0]!)![0]}`);
      if (v.id === 'crash' && l.kind === 'module' && /the implementation threw|did not return within/.test(v.message)) throw new UsageError(`${l.impl.name}: ${v.message.split('\n')[0]}`);
      if (!violations.some((x) => x.id === v.id)) violations.push({ ...v, message: at(v.message), scope, ...(site ? { site } : {}) });
    }
    for (const v of r.warnings) if (!warnings.some((w) => w.id === v.id)) warnings.push({ ...v, scope });
    runs.push({ scope, ...(site ? { site } : {}), verdict: r.verdict, complete: r.complete, stats: r.stats, maxCached: r.extremes.maxCached, ...(r.shard ? { shard: r.shard } : {}) });
    if (r.statechart) {
      statechart.total = r.statechart.total;
      if (!statechart.untaken) statechart.untaken = new Set(r.statechart.untaken);
      else for (const t of [...statechart.untaken]) if (!r.statechart.untaken.includes(t)) statechart.untaken.delete(t);
    }
    stats.states += r.stats.states;
    stats.transitions += r.stats.transitions;
    stats.depth = Math.max(stats.depth, r.stats.depth);
    stats.seconds += r.stats.seconds;
    stats.bytesPerState = Math.max(stats.bytesPerState, r.stats.bytesPerState);
    if (scope === scopes[0] && !site) maxCached = r.extremes.maxCached;
    complete &&= r.complete;
    if (r.verdict === 'violation') verdict = 'violation';
    return true;
  };
  let booted = true;
  for (const scope of scopes) if (!(booted = await runOne(l.impl, scope))) break;
  // The other call sites, each on the first scope with fewer operations: what a caller does
  // around its call (a kfree() left above the put) shows in the first few.
  if (booted) for (const sr of l.c?.siteRuns ?? []) await runOne(sr.impl, { ...scopes[0]!, ops: Math.min(scopes[0]!.ops, SITE_RUN_OPS) }, sr.site);
  stats.statesPerSecond = stats.states / Math.max(stats.seconds, 1e-9);
  // Read from the diff: no trace, the function named as git names the hunk.
  const fromDiff = (id: 'object-safety' | 'crash', section: string, message: string) => {
    violations.push({ id, severity: 'error', message: `${section ? `${section.replace(/\s*\(.*$/, '').split(/\s+/).pop()}(): ` : ''}${message}`, steps: [], interrupts: 0, preemptions: 0, scope: scopes[0]!, found: 'diff' });
    verdict = 'violation';
  };
  for (const d of l.c?.droppedFrees ?? [])
    fromDiff('object-safety', d.section, `the patch removes \`${d.text}\` (${d.at}) and nothing in that hunk frees ${d.obj} or hands it on instead: every ${d.obj} that leaves this way is leaked. If the patch releases it elsewhere, put that call in the same hunk or check the file itself`);
  for (const d of l.c?.droppedAllocs ?? [])
    fromDiff('crash', d.section, `the patch removes \`${d.text}\` (${d.at}) and nothing assigns ${d.obj} before \`${d.use}\` (${d.useAt}) uses it: ${d.obj} is read uninitialised (gcc -Wmaybe-uninitialized), and whatever it holds is dereferenced as the object. The checker's own alloc site does not run this path`);
  const s0 = scopes[0]!;
  const prof = { ...getProfile(profile, { max: s0.max, threshold: s0.threshold }), ...(s0.config ? { config: s0.config } : {}) };
  const bound = reachableCapBound(prof);
  const seq = sequentialCapBound(prof);
  const notes: string[] = [];
  if (maxCached > seq && maxCached <= bound)
    notes.push(
      `soft cap: a CPU cached ${maxCached} objects with MAX ${s0.max} (MAX+${maxCached - s0.max}): hardirq puts inside a task put's window (after its cap test, before its nr++) read a total that does not count it yet; sequentially the bound is ${seq}`,
    );
  const c = l.c;
  const scaling: CheckReport['scaling'] = [];
  if (c) {
    const b = c.roles.binding;
    scaling.push({ macro: b.maxMacro, from: c.macros[b.maxMacro] ?? Number.NaN, to: s0.max, role: 'MAX' });
    scaling.push({ macro: b.thresholdMacro, from: c.macros[b.thresholdMacro] ?? Number.NaN, to: s0.threshold, role: 'THRESHOLD' });
  }
  // Nothing found, but not every scope ran to its end: no proof.
  if (verdict === 'conforms' && !complete) verdict = 'incomplete';
  return {
    verdict,
    ...(stoppedBy ? { stoppedBy } : {}),
    notRun,
    input: { file: o.file, kind: l.kind },
    impl: l.impl.name,
    profile: { name: profile, inferred: c ? c.roles.evidence : [`declared by the module: ${l.impl.profile}`], overridden: o.profile !== undefined && o.profile !== l.impl.profile },
    scaling,
    runs,
    violations,
    warnings,
    stats,
    extremes: { maxCached, bound, sequentialBound: seq },
    notes,
    coverage: c ? coverageReport(c) : null,
    ...(statechart.untaken ? { statechart: { taken: statechart.total - statechart.untaken.size, total: statechart.total, untaken: [...statechart.untaken] } } : {}),
    complete,
    ref: l.ref,
  };
}

/** Per cache function: every statement and branch with its count; zero counts become warnings. */
export function coverageReport(c: CBuild): CoverageReport {
  const functions: CoverageReport['functions'] = [];
  const warnings: string[] = [];
  const branchGaps: string[] = [];
  const all = [...c.coverage.stmts.values()];
  const branches = [...c.coverage.branches.values()];
  for (const name of c.cacheFns) {
    const fn = c.prog.functions.get(name);
    if (!fn) continue;
    // Every statement with a boundary, in source order, whether reached or not.
    const stmts: CoverageReport['functions'][number]['statements'] = [];
    const visit = (n: typeof fn.body) => {
      if (['expression_statement', 'return_statement', 'if_statement', 'declaration', 'while_statement', 'for_statement', 'do_statement'].includes(n.t) && c.interp.needsBoundary(n)) {
        const text = c.interp.label(n);
        const hit = all.find((s) => s.fn === name && s.text === text);
        stmts.push({ at: n.at, text, hits: hit?.hits ?? 0 });
      }
      // A guard's release is a statement of its own (interp.ts); a scoped_guard is no loop to branch on.
      const g = guardStmt(n) ?? scopedGuard(n);
      if (g && c.interp.guardReleases(g)) {
        const text = c.interp.releaseLabel(g);
        const hit = all.find((s) => s.fn === name && s.text === text);
        stmts.push({ at: n.at, text, hits: hit?.hits ?? 0 });
      }
      if (n.t === 'if_statement' || n.t === 'while_statement' || (n.t === 'for_statement' && !scopedGuard(n))) {
        const b = branches.find((x) => x.fn === name && x.at === n.at);
        const taken = b?.taken ?? 0;
        const notTaken = b?.notTaken ?? 0;
        const text = `if ${n.f.condition?.text.replace(/\s+/g, ' ') ?? ''}`;
        if (!taken) branchGaps.push(`${name}: ${text} (${n.at}) was never true`);
        if (!notTaken) branchGaps.push(`${name}: ${text} (${n.at}) was never false`);
      }
      for (const k of n.kids) visit(k);
    };
    visit(fn.body);
    for (const s of stmts) if (s.hits === 0) warnings.push(`${name}: statement never reached: ${s.text}`);
    functions.push({
      name,
      statements: stmts,
      branches: branches.filter((b) => b.fn === name).map((b) => ({ at: b.at, text: b.text, taken: b.taken, notTaken: b.notTaken })),
    });
  }
  const callSites: CoverageReport['callSites'] = [];
  for (const x of c.callSites) {
    const site = x.site;
    const runs = site ? c.coverage.sites.get(site.at) ?? 0 : 0;
    const nondet: CoverageReport['callSites'][number]['branches'] = [];
    for (const st of site?.tail ?? [])
      walkIfs(st, (n) => {
        if (!c.interp.nondetIfs.has(n)) return;
        const b = branches.find((y) => y.fn === site!.fn && y.at === n.at);
        nondet.push({ at: n.at, text: `if ${n.f.condition?.text.replace(/\s+/g, ' ') ?? ''}`, taken: b?.taken ?? 0, notTaken: b?.notTaken ?? 0 });
      });
    callSites.push({
      fn: x.fn,
      at: x.at,
      call: x.call,
      role: x.role,
      runs,
      tail: (site?.tail ?? []).map((n) => `${n.text.replace(/\s+/g, ' ')} (${n.at})`),
      ...(site?.tailStop ? { stop: `${site.tailStop.text} (${site.tailStop.at}): ${site.tailStop.why}` } : {}),
      branches: nondet,
    });
    if (!runs) warnings.push(`${x.fn}: call site never driven: ${x.call} (${x.at})${site ? '' : `: no scope runs this ${x.role} call`}`);
    for (const b of nondet) {
      if (!b.taken) warnings.push(`${x.fn}: nondeterministic branch never taken: ${b.text} (${b.at})`);
      if (!b.notTaken) warnings.push(`${x.fn}: nondeterministic branch never skipped: ${b.text} (${b.at})`);
    }
  }
  const interruptsAt = [...c.coverage.interrupts].map(([at, count]) => ({ at, count })).sort((a, b) => b.count - a.count);
  return { functions, callSites, interruptsAt, warnings, branchGaps };
}

/** Adds a worker thread's counters (parallel exploration) to this thread's. */
function mergeCoverage(into: Coverage, from: Coverage): void {
  for (const [k, v] of from.stmts) {
    const t = into.stmts.get(k);
    if (t) t.hits += v.hits;
    else into.stmts.set(k, { ...v });
  }
  for (const [k, v] of from.branches) {
    const t = into.branches.get(k);
    if (t) {
      t.taken += v.taken;
      t.notTaken += v.notTaken;
    } else into.branches.set(k, { ...v });
  }
  for (const [k, n] of from.interrupts) into.interrupts.set(k, (into.interrupts.get(k) ?? 0) + n);
  for (const [k, n] of from.sites ?? []) into.sites.set(k, (into.sites.get(k) ?? 0) + n);
}

/** Calls `f` on every `if` statement under `n`. */
function walkIfs(n: N, f: (n: N) => void): void {
  walk(n, (x) => {
    if (x.t === 'if_statement') f(x);
  });
}
