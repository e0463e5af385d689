/**
 * `dio-cache explore`: every interleaving of a scope against one implementation, and
 * `dio-cache replay FILE`: re-run a counterexample from its replay file.
 */
import type { Command } from 'commander';
import { getProfile, PROFILES, reachableCapBound } from '../../model/profiles.js';
import { invariant, type InvariantId } from '../../model/invariants.js';
import { cpuSymmetryVerdict } from '../explorer/cpu-symmetry.js';
import { pool } from '../explorer/protocol.js';
import { exploreAsync, type ExploreResult, type FoundViolation, type Progress } from '../explorer/explore.js';
import type { StatechartCoverage } from '../explorer/types.js';
import { loadImplementation, readReplay, replay, writeReplay } from '../explorer/replay.js';
import { kernelEvents, renderTrace, runChoices } from '../explorer/trace.js';
import { SCOPES, scopeWith } from '../scopes.js';
import { KERNEL_CONFIG_NAMES, kernelConfig, type KernelConfigName } from '../../model/config.js';
import { System, type Scope } from '../system.js';
import { atomicityText, type Atomicity } from '../../impl/kernel/runtime.js';
import type { Implementation } from '../../impl/interface.js';
import { EXIT_USAGE, EXIT_VIOLATION, exitCodeFor, int, UsageError } from './errors.js';
import { onInterrupt } from './interrupt.js';
import { DEFAULT_OUT_DIR, doneLine, progressLine, replayPath, stopWords, warnReplayOut } from './output.js';
import { exploreShardResult, RESULT_OUT_HELP, SHARD_HELP, SHARD_SPLIT_HELP, shardFlags, shardLines, writeShardResult } from './merge.js';
import { cBuildOf, HTML_FLAG, HTML_HELP, replayTrace, violationTrace, witnessTrace, writeHtml } from '../report/cli.js';

interface ExploreFlags {
  impl: string;
  scope: string;
  cpus?: string;
  tasks?: string;
  ops?: string;
  profile?: string;
  max?: string;
  threshold?: string;
  preemptions?: string;
  allocFailures?: string;
  config?: string;
  atomicity?: string;
  bfs?: boolean;
  dfs?: boolean;
  symmetry: boolean;
  por?: boolean;
  cpuSymmetry?: boolean;
  frameKeys?: boolean;
  json?: boolean;
  replayOut?: string;
  outDir?: string;
  maxStates?: string;
  maxSeconds?: string;
  maxMemory?: string;
  all?: boolean;
  full?: boolean;
  showMax?: boolean;
  listScopes?: boolean;
  progress: boolean;
  workers?: string;
  html?: string;
  shard?: string;
  shardSplit?: string;
  resultOut?: string;
}

/** `--config`'s help, shared by explore, check and test. */
export const CONFIG_HELP = `kernel configuration: ${KERNEL_CONFIG_NAMES.join(' or ')} (rt: PREEMPT_RT, device interrupts complete in irq threads, softirqs in task context, no slab call with preemption or irqs off; default: !PREEMPT_RT)`;

/** `--config NAME`, checked. */
/** `--cpu-symmetry` on `impl` (explore and check): refused (exit 2) for code it cannot rename, a note where that is not known. */
export function takeCpuSymmetry(impl: Implementation): void {
  const v = cpuSymmetryVerdict(impl);
  if (v.refuse) throw new UsageError(v.refuse);
  if (v.note) process.stderr.write(`${v.note}\n`);
}

export function parseConfig(v: string | undefined): KernelConfigName | undefined {
  if (v === undefined) return undefined;
  if (!(KERNEL_CONFIG_NAMES as string[]).includes(v)) throw new UsageError(`--config ${v}: unknown kernel configuration (known: ${KERNEL_CONFIG_NAMES.join(', ')})`);
  return v as KernelConfigName;
}

/** `--atomicity`'s help, shared by explore, check and test. */
export const ATOMICITY_HELP =
  'where interrupts, preemptions and other CPUs may come in: statement (between C statements, the default) or access (also between the shared-memory loads and stores of one statement: `cache->nr++` is a load and a store)';

/** `--atomicity LEVEL`, checked. */
export function parseAtomicity(v: string | undefined): Atomicity | undefined {
  if (v === undefined) return undefined;
  if (v !== 'statement' && v !== 'access') throw new UsageError(`--atomicity ${v}: unknown level (known: statement, access)`);
  return v;
}

/** ` (config rt)` after a verdict word when the scope runs on a configuration other than the default. */
export function configTag(s: Pick<Scope, 'config'> | undefined): string {
  return s?.config && s.config !== 'default' ? ` (config ${s.config})` : '';
}

export function describeScope(s: Scope): string {
  const tasks = s.taskCpus.map((c, i) => `task${i}@cpu${c}`).join(' ');
  return (
    `${s.name}: ${s.cpus} CPU${s.cpus > 1 ? 's' : ''}, ${tasks}, ${s.ops} ops each (${s.taskOps.join('/')}), ` +
    `${s.inflight} in flight, prefill ${s.prefill}, completions by ${s.completers.join('/')}${s.atomicIrq ? ' (atomic handlers)' : ''}, ` +
    `${s.preemptions} preemption${s.preemptions === 1 ? '' : 's'}${s.migration && s.preemptions > 0 ? ' with migration' : ''}${s.hotplug ? ', hotplug' : ''}, ` +
    `profile ${s.profile}, MAX ${s.max}, THRESHOLD ${s.threshold}` +
    (s.allocFailures ? `, up to ${s.allocFailures} failing allocation${s.allocFailures === 1 ? '' : 's'}` : '') +
    (s.config && s.config !== 'default' ? `, kernel ${kernelConfig(s.config).title} (config ${s.config}: completions by hardirq run in irq threads)` : '') +
    (s.atomicity === 'access' ? ', atomicity access (every shared-memory load and store is an interleaving point)' : '')
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function costLine(v: FoundViolation): string {
  const ev = kernelEvents(v.steps);
  const m = v.minimised;
  const from = m && (m.from.interrupts !== m.to.interrupts || m.from.preemptions !== m.to.preemptions || m.from.steps !== m.to.steps)
    ? ` (minimised from ${m.from.interrupts} interrupts, ${m.from.preemptions} preemptions, ${m.from.steps} steps${m.complete ? '' : '; minimisation budget ran out'})`
    : m && !m.complete ? ' (minimisation budget ran out)' : '';
  return `${ev} kernel-level events: ${v.interrupts ?? 0} interrupts, ${v.preemptions ?? 0} preemptions, ${v.steps.length} steps${from}`;
}

export function registerExplore(program: Command): void {
  program
    .command('explore')
    .description('explore every interleaving of a scope (BFS by default), checking every invariant at every step')
    .option('--impl <name|path>', 'implementation: a name from `dio-cache list` or a TS/JS module', 'iomap-v1')
    .option('--scope <name>', 'named scope (--list-scopes)', 'spin-ref')
    .option('--cpus <n>', 'CPUs (one task per CPU unless --tasks)')
    .option('--tasks <n>', 'tasks, placed round-robin over the CPUs')
    .option('--ops <k>', 'operations per task')
    .option('--profile <name>', `profile (${Object.keys(PROFILES).join(', ')}); default: the implementation's`)
    .option('--max <m>', 'the cache cap MAX')
    .option('--threshold <t>', 'the splice THRESHOLD')
    .option('--preemptions <n>', 'how many times a task with work left may be taken off its CPU (preempted, or migrated with the scope\'s migration)')
    .option('--alloc-failures <n>', 'allocations (kmalloc, kzalloc, kmem_cache_alloc, alloc_percpu) that may return NULL in one run (default 0)')
    .option('--config <name>', CONFIG_HELP)
    .option('--atomicity <level>', ATOMICITY_HELP)
    .option('--bfs', 'breadth-first: the first counterexample is a shortest one (default)')
    .option('--dfs', 'depth-first: no frontier to keep, faster on a big scope; a counterexample is minimised as with BFS (fewest interrupts, preemptions, steps)')
    .option('--no-symmetry', 'do not canonicalise object identities before hashing (nor CPUs and tasks)')
    .option('--cpu-symmetry', 'canonicalise interchangeable CPUs and tasks too, where the scope has no hotplug: half the states on 2 CPUs for about 1.2x the time per state (off by default: code that keeps a CPU number in memory is not supported)')
    .option('--no-cpu-symmetry', 'do not canonicalise CPUs and tasks (the default)')
    .option('--por', 'partial-order reduction on multi-CPU scopes (sound; falls back to the full search if a step touches another CPU\'s per-CPU data; one thread only; off by default: it saves few states on the named scopes)')
    .option('--no-por', 'no partial-order reduction (the default)')
    .option('--no-frame-keys', 'for C (--impl FILE): fingerprint each operation in progress by every value it read, not by where it is and what its locals hold (more states, the same verdicts)')
    .option('--json', 'print one JSON object')
    .option('--out-dir <dir>', `where to write the replay files, one per violation (default: ./${DEFAULT_OUT_DIR}/)`)
    .option('--replay-out <file>', 'deprecated (use --out-dir): the replay file of the first violation')
    .option('--max-states <n>', 'stop after this many states (the verdict is then incomplete, exit 3)')
    .option('--max-seconds <s>', 'stop after this many seconds (the verdict is then incomplete, exit 3)')
    .option('--max-memory <mb>', 'stop when the process uses more than this many MiB (the verdict is then incomplete, exit 3)')
    .option('--all', 'keep exploring after a violation: one counterexample per invariant id')
    .option('--full', 'print every statement of a counterexample, not one line per context run')
    .option('--show-max', 'print the shortest trace that reaches the largest nr + nr_irq (the soft-cap witness)')
    .option(HTML_FLAG, HTML_HELP)
    .option('--workers <n>', 'worker threads for the BFS, or with --dfs the DFS (default 1; one per core pays on a large scope)')
    .option('--shard <i/n>', SHARD_HELP)
    .option('--shard-split <k>', SHARD_SPLIT_HELP)
    .option('--result-out <file>', RESULT_OUT_HELP)
    .option('--no-progress', 'no progress lines on stderr')
    .option('--list-scopes', 'list the named scopes and exit')
    .action(async (f: ExploreFlags) => {
      if (f.listScopes) {
        for (const s of Object.values(SCOPES)) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
        return;
      }
      if (f.bfs && f.dfs) throw new UsageError('--bfs and --dfs exclude each other');
      const base = SCOPES[f.scope];
      if (!base) throw new UsageError(`--scope ${f.scope}: unknown scope (known: ${Object.keys(SCOPES).join(', ')})`);
      // The worker threads load tsx and the checker while this thread loads the implementation (a
      // parallel DFS runs its worker 0 on this thread: one thread fewer).
      const early = int('workers', f.workers, 1);
      if (early !== undefined && early > 1) pool.prewarm(f.dfs ? early - 1 : early);
      const { impl, ref } = await loadImplementation(f.impl);
      const profile = f.profile ?? impl.profile;
      if (!PROFILES[profile]) throw new UsageError(`--profile ${profile}: unknown profile (known: ${Object.keys(PROFILES).join(', ')})`);
      const cpus = int('cpus', f.cpus, 1);
      const scope = scopeWith(base, {
        ...(cpus !== undefined ? { cpus } : {}),
        ...(f.tasks !== undefined ? { tasks: int('tasks', f.tasks, 1)! } : {}),
        ...(f.ops !== undefined ? { ops: int('ops', f.ops, 0)! } : {}),
        ...(f.max !== undefined ? { max: int('max', f.max, 0)! } : {}),
        ...(f.threshold !== undefined ? { threshold: int('threshold', f.threshold, 0)! } : {}),
        ...(f.preemptions !== undefined ? { preemptions: int('preemptions', f.preemptions, 0)! } : {}),
        ...(f.allocFailures !== undefined ? { allocFailures: int('alloc-failures', f.allocFailures, 0)! } : {}),
        ...(f.config !== undefined ? { config: parseConfig(f.config)! } : {}),
        ...(f.atomicity !== undefined ? { atomicity: parseAtomicity(f.atomicity)! } : {}),
        profile,
      });
      const maxStates = int('max-states', f.maxStates, 1);
      const maxSeconds = int('max-seconds', f.maxSeconds, 1);
      const maxMemoryMb = int('max-memory', f.maxMemory, 1);
      const workers = int('workers', f.workers, 1) ?? 1;
      const shard = shardFlags(f, workers);
      warnReplayOut(f.replayOut);
      if (f.cpuSymmetry) takeCpuSymmetry(impl);
      const intr = onInterrupt();
      // Progress goes to stderr in JSON mode too (stdout holds only the JSON document).
      const showProgress = f.progress;
      let last: Progress | null = null;
      intr.lastWords(() => {
        const p = last ?? { states: 0, transitions: 0, depth: 0, seconds: 0 };
        if (f.json) process.stdout.write(JSON.stringify({ verdict: 'incomplete', impl: impl.name, scope, complete: false, stoppedBy: 'signal', partial: true, stats: { states: p.states, transitions: p.transitions, depth: p.depth, seconds: p.seconds } }) + '\n');
        else process.stdout.write(`incomplete: quit by a second Ctrl-C after ${fmt(p.states)} distinct states, depth ${p.depth} (the last progress figures; no report)\n`);
      });
      let r: ExploreResult;
      try {
        r = await exploreAsync({
          impl,
          scope,
          strategy: f.dfs ? 'dfs' : 'bfs',
          symmetry: f.symmetry,
          ...(f.cpuSymmetry !== undefined ? { cpuSymmetry: f.cpuSymmetry } : {}),
          ...(f.por !== undefined ? { por: f.por } : {}),
          ...(f.frameKeys === false ? { frameKeys: false } : {}),
          all: !!f.all,
          signal: intr.signal,
          workers,
          load: { ref },
          ...(shard ? { shard } : {}),
          ...(maxStates ? { maxStates } : {}),
          ...(maxSeconds ? { maxSeconds } : {}),
          ...(maxMemoryMb ? { maxMemoryMb } : {}),
          progress: (p) => {
            if (p.phase !== 'minimise') last = p;
            if (showProgress) process.stderr.write(`  ${progressLine('', p)}\n`);
          },
        });
      } finally {
        intr.dispose();
      }
      if (showProgress) process.stderr.write(`  ${doneLine('', r.stats, r.verdict, r.stoppedBy)}\n`);
      const replayFiles: string[] = [];
      r.violations.forEach((v, i) => {
        const path = replayPath(f, i, impl.name, v.id);
        writeReplay(path, { impl: ref, scope, choices: v.steps.map((s) => s.choice), invariant: v.id, message: v.message });
        replayFiles.push(path);
      });
      if (shard && f.resultOut) {
        const bound = reachableCapBound({ ...getProfile(scope.profile, { max: scope.max, threshold: scope.threshold }), ...(scope.config ? { config: scope.config } : {}) });
        writeShardResult(f.resultOut, exploreShardResult(r, { implName: impl.name, ref, scope, spec: shard, strategy: f.dfs ? 'dfs' : 'bfs', symmetry: f.symmetry, all: !!f.all, ...(maxStates ? { maxStates } : {}), ...(f.frameKeys === false ? { frameKeys: false } : {}), ...(f.cpuSymmetry ? { cpuSymmetry: true } : {}), bound }));
      }
      // The trace documents (docs/trace-schema.md) of --json and --html; C input gives its post-image lines.
      const cb = (f.json || f.html) && r.verdict !== 'error' ? await cBuildOf(ref, {}) : null;
      if (f.json) {
        const out = {
          verdict: r.verdict,
          impl: impl.name,
          config: scope.config ?? 'default',
          notJudged: kernelConfig(scope.config).notJudged,
          atomicity: scope.atomicity ?? 'statement',
          interleavings: atomicityText(scope.atomicity),
          scope,
          complete: r.complete,
          ...(r.verdict === 'incomplete' ? { partial: true } : {}),
          ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
          ...(r.error ? { error: r.error, message: `${impl.name}: ${r.error}` } : {}),
          ...(r.shard ? { shard: r.shard } : {}),
          violations: r.violations.map((v, i) => ({
            invariant: v.id,
            message: v.message,
            steps: v.steps,
            interrupts: v.interrupts,
            preemptions: v.preemptions,
            kernelEvents: kernelEvents(v.steps),
            ...(v.minimised ? { minimised: v.minimised } : {}),
            replayFile: replayFiles[i],
            trace: violationTrace(impl, scope, v, ref, cb, !!f.full),
          })),
          warnings: r.warnings.map((v) => ({ invariant: v.id, message: v.message, steps: v.steps })),
          stats: r.stats,
          extremes: { maxCached: r.extremes.maxCached, perCpu: r.extremes.perCpu, bound: reachableCapBound({ ...getProfile(scope.profile, { max: scope.max, threshold: scope.threshold }), ...(scope.config ? { config: scope.config } : {}) }), witnesses: r.extremes.witnesses },
          ...(f.showMax && r.verdict !== 'error' ? { maxWitness: witnessTrace(impl, scope, r, ref, cb, !!f.full) } : {}),
        };
        process.stdout.write(JSON.stringify(out) + '\n');
      } else {
        process.stdout.write(textReport(r, impl.name, scope, replayFiles, !!f.full).join('\n') + '\n');
        if (r.shard) process.stdout.write(shardLines(r.shard).join('\n') + '\n');
        if (f.showMax) process.stdout.write(maxWitness(new System(impl, scope), r, !!f.full).join('\n') + '\n');
      }
      if (f.html && r.verdict !== 'error')
        await writeHtml(f.html, r.violations[0] ? violationTrace(impl, scope, r.violations[0], ref, cb, !!f.full) : witnessTrace(impl, scope, r, ref, cb, !!f.full));
      if (r.verdict === 'error') {
        // The JSON document (verdict "error") is out already; the message goes to stderr as for any usage error.
        if (!f.json) throw new UsageError(`${impl.name}: ${r.error ?? 'the scope could not be booted'}`);
        process.stderr.write(`dio-cache: ${impl.name}: ${r.error ?? 'the scope could not be booted'}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      process.exitCode = exitCodeFor(r.verdict, r.stoppedBy, intr.interrupted);
    });
}

/** The shortest path to the largest total found, rendered like a counterexample. */
function maxWitness(sys: System, r: ExploreResult, full: boolean): string[] {
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  if (!w || w.choices.length === 0) return [`no step raised nr + nr_irq above its boot value ${r.extremes.maxCached}`];
  const run = runChoices(sys, w.choices);
  return [
    '',
    `shortest trace to nr + nr_irq = ${w.value} on cpu${w.cpu} (${kernelEvents(run.steps)} kernel-level events, ${run.steps.length} steps):`,
    ...renderTrace(run.steps, null, full).map((l) => `  ${l}`),
  ];
}

/**
 * The statechart's coverage by the run: the transitions of the observed vocabulary some explored
 * step took. Those none took are listed (all with --full, else the first few): either the scope is
 * too small to reach them, or the machine allows more than the implementation does.
 */
export function statechartLines(c: StatechartCoverage, full: boolean): string[] {
  const out = [`statechart: ${c.taken} of ${c.total} transitions taken by some step (model/machine.ts, the observed vocabulary)`];
  const shown = full ? c.untaken : c.untaken.slice(0, 6);
  for (const id of shown) out.push(`  not taken: ${id}`);
  if (shown.length < c.untaken.length) out.push(`  ... and ${c.untaken.length - shown.length} more (--full lists them)`);
  return out;
}

function textReport(r: ExploreResult, implName: string, scope: Scope, replayFiles: string[], full: boolean): string[] {
  const s = r.stats;
  const out: string[] = [];
  out.push(`${implName} on ${describeScope(scope)}`);
  out.push(
    `${fmt(s.states)} states, ${fmt(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(2)} s, ${fmt(s.statesPerSecond)} states/s, ` +
      `${s.bytesPerState.toFixed(0)} bytes/state (${s.strategy.toUpperCase()}${s.workers > 1 ? ` on ${s.workers} worker threads` : ''}, symmetry ${s.symmetry ? 'on' : 'off'}${s.cpuSymmetry ? ', CPU symmetry on' : ''}${s.por ? `, partial-order reduction: ${s.por.fellBack ? `fell back to the full search (${s.por.fellBack})` : `${fmt(s.por.reduced)} states expanded by one step`}` : ''})`,
  );
  const bound = reachableCapBound({ ...getProfile(scope.profile, { max: scope.max, threshold: scope.threshold }), ...(scope.config ? { config: scope.config } : {}) });
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  out.push(
    `largest nr + nr_irq on a quiescent CPU: ${r.extremes.maxCached}${r.extremes.perCpu.length > 1 ? ` (per CPU: ${r.extremes.perCpu.join(', ')})` : ''} (MAX ${scope.max}${r.extremes.maxCached > scope.max ? ` + ${r.extremes.maxCached - scope.max}` : ''}; the ${scope.profile} bound is ${bound})` +
      (w && w.choices.length ? `, first reached on cpu${w.cpu} after ${w.choices.length} steps` : ''),
  );
  for (const n of kernelConfig(scope.config).notJudged) out.push(`note: ${n}`);
  if (r.statechart) out.push(...statechartLines(r.statechart, full));
  for (const v of r.warnings) out.push(`warning ${v.id}: ${v.message} (after ${v.steps.length} steps)`);
  r.violations.forEach((v, i) => {
    out.push('');
    out.push(`violation ${v.id}: ${v.message}`);
    out.push(`  ${invariant(v.id as InvariantId).claim}`);
    out.push(`  counterexample: ${costLine(v)}`);
    out.push(...renderTrace(v.steps, { id: v.id, message: v.message }, full).map((l) => `  ${l}`));
    out.push(`  replay: dio-cache replay ${replayFiles[i]}`);
  });
  out.push('');
  if (r.verdict === 'error') out.push(`error: ${r.error}`);
  else if (r.verdict === 'violation')
    out.push(`violation${configTag(scope)}: ${r.violations.map((v) => v.id).join(', ')} (${fmt(s.states)} states explored${r.complete ? '' : r.stoppedBy === 'violation' ? ', search stopped at the first violation' : `, then ${stopWords(r.stoppedBy)}`})`);
  else if (r.verdict === 'conforms' && r.shard)
    out.push(`this shard's part conforms: ${fmt(s.states)} states, shard ${r.shard.index}/${r.shard.count} of scope ${describeScope(scope)}; only \`dio-cache merge\` of every shard says whether every interleaving conforms`);
  else if (r.verdict === 'conforms') out.push(`conforms${configTag(scope)}: ${fmt(s.states)} states, every interleaving up to this bound, ${atomicityText(scope.atomicity)} (scope ${describeScope(scope)})`);
  else out.push(`incomplete${configTag(scope)}: no violation in ${fmt(s.states)} states (depth ${s.depth}), but ${stopWords(r.stoppedBy)} before every interleaving was seen: this is no proof`);
  return out;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('re-run a counterexample from its replay file (written by explore) and print the identical trace')
    .argument('<file>', 'a replay file')
    .option('--json', 'print one JSON object')
    .option('--full', 'print every statement')
    .option(HTML_FLAG, 'write the trace as one self-contained HTML page')
    .action(async (file: string, f: { json?: boolean; full?: boolean; html?: string }) => {
      const rf = readReplay(file);
      const { impl } = await loadImplementation(rf.impl, { ...(rf.binding ? { binding: rf.binding } : {}), ...(rf.roles ? { roles: rf.roles } : {}), ...(rf.site ? { site: rf.site } : {}) });
      const r = replay(impl, rf);
      if (r.diverged) throw new UsageError(`${file}: choice ${r.diverged.at} is not enabled (only ${r.diverged.enabled} choices there): the implementation or scope changed`);
      const doc = f.json || f.html ? replayTrace(impl, rf, r.violation, file, await cBuildOf(rf.impl, rf), !!f.full) : null;
      if (f.json) process.stdout.write(JSON.stringify({ verdict: r.violation ? 'violation' : 'conforms', reproduced: !!r.violation, invariant: rf.invariant, message: r.violation?.message ?? null, steps: r.steps, interrupts: r.interrupts, preemptions: r.preemptions, trace: doc }) + '\n');
      else {
        const lines = f.full ? renderTrace(r.steps, r.violation, true) : r.lines;
        process.stdout.write(
          [`${impl.name} on ${describeScope(rf.scope)}`, `replaying ${rf.choices.length} choices from ${file}`, ...lines, '', r.violation ? `reproduced: ${r.violation.id}: ${r.violation.message}` : `not reproduced: ${rf.invariant} does not break at the end of this path`].join('\n') + '\n',
        );
      }
      if (f.html && doc) await writeHtml(f.html, doc);
      process.exitCode = r.violation ? EXIT_VIOLATION : 2;
    });
}
