/**
 * The conformance suite: the three layers on one implementation, each timed, and one verdict.
 *
 * - statechart paths (conformance/paths.ts): every state and transition of the model, each path
 *   driven through the implementation at small MAX/THRESHOLD; coverage must be 100%;
 * - fast-check (conformance/fastcheck/): random command sequences at the kernel's MAX 256 and
 *   THRESHOLD 16 on two CPUs, with interrupts injected inside task operations;
 * - the explorer (conformance/explorer): every interleaving of a small scope.
 *
 * A layer that finds nothing and covers everything it should is a pass; the suite conforms when all
 * three pass. `dio-cache test` prints the result as text or JSON (conformance/cli/test.ts).
 */
import type { Implementation } from '../impl/interface.js';
import { atomicityText, type Atomicity } from '../impl/kernel/runtime.js';
import type { InvariantId } from '../model/invariants.js';
import { getProfile } from '../model/profiles.js';
import type { KernelConfigName } from '../model/config.js';
import { exploreAsync } from './explorer/explore.js';
import { runFastCheck, type FastCheckResult } from './fastcheck/index.js';
import { runPathLayer } from './paths.js';
import { SCOPES } from './scopes.js';
import type { Scope } from './system.js';

export type LayerName = 'paths' | 'fast-check' | 'explorer';
export const LAYERS: readonly LayerName[] = ['paths', 'fast-check', 'explorer'];

/** The explorer's scope when none is given: two CPUs, seconds to search (conformance/scopes.ts). */
export const DEFAULT_SCOPE = 'smp-small';

export interface SuiteOptions {
  profile?: string;
  fcRuns?: number;
  seed?: number;
  /** Replay one fast-check failure: its run path and the commands' replayPath (with its seed). */
  fcPath?: string;
  replayPath?: string;
  /** Explorer scope: a name (conformance/scopes.ts) or a scope of its own. */
  scope?: string | Scope;
  /** Layers to run (default: all three). */
  layers?: readonly LayerName[];
  /**
   * Where the explorer takes interleavings (Scope.atomicity); default: the implementation's own
   * (a known-bad variant caught only at access level says so), else between statements.
   */
  atomicity?: Atomicity;
  /**
   * The kernel configuration the explorer runs on (model/config.ts). The statechart paths and
   * fast-check model the !PREEMPT_RT contexts: with `rt`, only the explorer layer runs.
   */
  config?: KernelConfigName;
  /** Explorer state budget; a search stopped by it makes the explorer layer incomplete. */
  maxStates?: number;
  /** Minimise the explorer's counterexamples (default true; a caller that reads only the ids may skip it). */
  minimise?: boolean;
  /**
   * The explorer's search (default BFS, whose first counterexample is a shortest one); DFS
   * stores the same states when nothing is found and usually meets a violation sooner, for a
   * caller that reads only the ids.
   */
  strategy?: 'bfs' | 'dfs';
  /** Explorer time budget in seconds; a search stopped by it makes the explorer layer incomplete. */
  maxSeconds?: number;
  /** Ctrl-C: the layer running stops with what it has (the explorer at once; paths and fast-check, which run without yielding, when they end), the later ones do not start. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface SuiteFinding {
  layer: LayerName;
  invariant: InvariantId;
  message: string;
  /** How to see it again: the statechart path, fast-check's replay data, or the explorer's trace length. */
  where: string;
}

export interface PathsSummary {
  seconds: number;
  paths: number;
  states: { covered: number; total: number };
  transitions: { covered: number; total: number };
  /** Why the statechart paths cannot reach this implementation's bug, when the layer says so. */
  explorerOnly?: string;
}

export interface FastCheckSummary {
  seconds: number;
  requested: number;
  runs: number;
  seed: number;
  reachedCap: number;
  reachedThreshold: number;
  maxTotal: number;
  interrupted: number;
  concurrentOnly: number;
  crossCpuPuts: number;
  statements: number;
}

export interface ExplorerSummary {
  seconds: number;
  scope: string;
  states: number;
  transitions: number;
  depth: number;
  complete: boolean;
  /** Where interleavings were taken: between statements, or between memory accesses too. */
  atomicity: Atomicity;
  /** Why the search stopped before exhausting the scope, when it did. */
  stoppedBy?: string;
  maxCached: number;
  warnings: { invariant: string; message: string }[];
}

export interface SuiteResult {
  impl: string;
  profile: string;
  /** conforms: no layer found a violation and coverage is complete; incomplete: nothing found, but a layer fell short of its coverage. */
  verdict: 'conforms' | 'violation' | 'incomplete';
  /** Why the verdict is `incomplete`, one line per shortfall. */
  shortfalls: string[];
  /** The kernel configuration, when not the default (model/config.ts). */
  config?: KernelConfigName;
  /** Set when Ctrl-C stopped the suite: its verdict is then never `conforms`. */
  interrupted?: boolean;
  findings: SuiteFinding[];
  paths?: PathsSummary;
  fastcheck?: FastCheckSummary;
  explorer?: ExplorerSummary;
  seconds: number;
}

const pct = (c: { covered: number; total: number }) => (c.total === 0 ? 100 : (100 * c.covered) / c.total);

export async function runSuite(impl: Implementation, o: SuiteOptions = {}): Promise<SuiteResult> {
  const profile = getProfile(o.profile ?? impl.profile);
  const layers = o.layers ?? LAYERS;
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const findings: SuiteFinding[] = [];
  const shortfalls: string[] = [];
  const r: SuiteResult = { impl: impl.name, profile: profile.name, ...(o.config && o.config !== 'default' ? { config: o.config } : {}), verdict: 'conforms', shortfalls, findings, seconds: 0 };
  if (r.config && layers.some((l) => l !== 'explorer')) throw new Error(`config ${r.config}: the statechart paths and fast-check layers model the !PREEMPT_RT contexts; only the explorer layer runs on it`);

  // A layer Ctrl-C kept from starting is a shortfall of its own.
  const skipped = (layer: LayerName) => {
    if (!o.signal?.aborted) return false;
    r.interrupted = true;
    shortfalls.push(`${layer}: not run (interrupted)`);
    return true;
  };

  if (layers.includes('paths') && !skipped('paths')) {
    const t = performance.now();
    const p = await runPathLayer(impl, { profile: profile.name });
    r.paths = { seconds: (performance.now() - t) / 1000, paths: p.paths, states: p.states, transitions: p.transitions, ...(p.explorerOnly ? { explorerOnly: p.explorerOnly } : {}) };
    for (const f of p.failures) findings.push({ layer: 'paths', invariant: f.invariant, message: f.message, where: `statechart path: ${f.path}` });
    if (pct(p.states) < 100) shortfalls.push(`statechart paths cover ${p.states.covered}/${p.states.total} states`);
    if (pct(p.transitions) < 100) shortfalls.push(`statechart paths cover ${p.transitions.covered}/${p.transitions.total} transitions`);
    log(`paths: ${p.paths} paths, ${p.failures.length} failure(s), ${r.paths.seconds.toFixed(1)} s`);
  }

  if (layers.includes('fast-check') && !skipped('fast-check')) {
    const f: FastCheckResult = runFastCheck(impl, {
      profile: profile.name,
      ...(o.fcRuns !== undefined ? { numRuns: o.fcRuns } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.fcPath !== undefined ? { path: o.fcPath } : {}),
      ...(o.replayPath !== undefined ? { replayPath: o.replayPath } : {}),
      log,
    });
    r.fastcheck = {
      seconds: f.seconds,
      requested: f.requested,
      runs: f.runs,
      seed: f.seed,
      reachedCap: f.reachedCap,
      reachedThreshold: f.reachedThreshold,
      maxTotal: f.maxTotal,
      interrupted: f.interrupted,
      concurrentOnly: f.concurrentOnly,
      crossCpuPuts: f.crossCpuPuts,
      statements: f.statements,
    };
    for (const x of f.failures)
      findings.push({
        layer: 'fast-check',
        invariant: x.invariant,
        message: x.message,
        where: `${x.counterexample}\n    replay: dio-cache test --impl ${impl.name} --profile ${profile.name} --layers fast-check --seed ${x.seed} --fc-path ${x.path} --replay-path '${x.replayPath}'`,
      });
  }

  if (layers.includes('explorer') && !skipped('explorer')) {
    const base = typeof o.scope === 'object' ? o.scope : SCOPES[o.scope ?? DEFAULT_SCOPE];
    if (!base) throw new Error(`unknown scope '${String(o.scope)}' (known: ${Object.keys(SCOPES).join(', ')})`);
    const name = base.name;
    // The scope keeps its small MAX/THRESHOLD; the profile decides the protocol.
    const atomicity = o.atomicity ?? base.atomicity ?? impl.atomicity ?? 'statement';
    const scope: Scope = { ...base, profile: profile.name };
    if (atomicity === 'access') scope.atomicity = 'access';
    else delete scope.atomicity;
    if (r.config) scope.config = r.config;
    const e = await exploreAsync({
      impl,
      scope,
      ...(o.maxStates ? { maxStates: o.maxStates } : {}),
      ...(o.maxSeconds ? { maxSeconds: o.maxSeconds } : {}),
      ...(o.minimise === false ? { minimise: false } : {}),
      ...(o.strategy ? { strategy: o.strategy } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      progress: (p) =>
        log(p.phase === 'minimise' ? `explorer: minimising the ${p.invariant} counterexample` : `explorer: exploring scope ${name}: ${p.states} distinct states so far, depth ${p.depth}, ${p.seconds.toFixed(1)} s`),
    });
    if (e.stoppedBy === 'signal') r.interrupted = true;
    r.explorer = {
      seconds: e.stats.seconds,
      scope: name,
      states: e.stats.states,
      transitions: e.stats.transitions,
      depth: e.stats.depth,
      complete: e.complete,
      atomicity,
      ...(e.stoppedBy ? { stoppedBy: e.stoppedBy } : {}),
      maxCached: e.extremes.maxCached,
      warnings: e.warnings.map((w) => ({ invariant: w.id, message: w.message })),
    };
    if (e.error) findings.push({ layer: 'explorer', invariant: 'crash', message: e.error, where: `scope ${name}: boot` });
    const rerun = SCOPES[name] === base ? ` (the trace: dio-cache explore --impl ${impl.name} --scope ${name} --profile ${profile.name}${atomicity === 'access' ? ' --atomicity access' : ''})` : '';
    for (const v of e.violations) findings.push({ layer: 'explorer', invariant: v.id, message: v.message, where: `scope ${name}: a ${v.steps.length}-step trace${rerun}` });
    if (!e.complete && e.violations.length === 0) shortfalls.push(`the explorer stopped at ${e.stats.states} states (${e.stoppedBy ?? 'early'}) without finishing scope ${name}`);
    log(`explorer: explored scope ${name}: ${e.stats.states} distinct states, ${e.stats.transitions} transitions, depth ${e.stats.depth}, ${e.violations.length} violation(s), ${e.stats.seconds.toFixed(1)} s${e.complete ? '' : ` (stopped: ${e.stoppedBy ?? 'early'})`}`);
  }

  r.verdict = findings.length ? 'violation' : shortfalls.length ? 'incomplete' : 'conforms';
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}

/** The suite as text, for `dio-cache test`. */
export function renderSuite(r: SuiteResult): string {
  const out: string[] = [`dio-cache test: ${r.impl} (profile ${r.profile})`];
  const s = (x: number) => `${x.toFixed(1)} s`;
  if (r.paths) {
    const p = r.paths;
    out.push(
      `  statechart paths  ${p.paths} paths; states ${p.states.covered}/${p.states.total} (${pct(p.states).toFixed(0)}%), transitions ${p.transitions.covered}/${p.transitions.total} (${pct(p.transitions).toFixed(0)}%)  ${s(p.seconds)}`,
    );
    if (p.explorerOnly) out.push(`                    explorer-only: ${p.explorerOnly}`);
  }
  if (r.fastcheck) {
    const f = r.fastcheck;
    const runs = f.runs === f.requested ? `${f.runs} runs` : `stopped after ${f.runs} of ${f.requested} runs`;
    out.push(
      `  fast-check        ${runs}, seed ${f.seed}; past the cap in ${f.reachedCap} runs, spliced at the threshold in ${f.reachedThreshold}; max nr+nr_irq ${f.maxTotal}; ${f.interrupted} interrupted ops (${f.concurrentOnly} only a concurrent linearisation explains), ${f.crossCpuPuts} cross-CPU puts  ${s(f.seconds)}`,
    );
  }
  if (r.explorer) {
    const e = r.explorer;
    out.push(`  explorer          scope ${e.scope}, ${atomicityText(e.atomicity)}: ${e.states} states, ${e.transitions} transitions, depth ${e.depth}${e.complete ? '' : ' (incomplete)'}; max cached ${e.maxCached}  ${s(e.seconds)}`);
    for (const w of e.warnings) out.push(`                    warning [${w.invariant}] ${w.message}`);
  }
  for (const f of r.findings) {
    out.push(`  VIOLATION [${f.invariant}] (${f.layer}) ${f.message}`);
    out.push(`    ${f.where}`);
  }
  for (const x of r.shortfalls) out.push(`  INCOMPLETE ${x}`);
  out.push(`verdict: ${r.verdict === 'conforms' ? conformsLine(r) : r.verdict === 'violation' ? `VIOLATION${r.config ? ` (config ${r.config})` : ''} (${[...new Set(r.findings.map((f) => f.invariant))].join(', ')})` : r.interrupted ? 'incomplete (interrupted by Ctrl-C: no proof)' : 'incomplete (no proof)'}  (${s(r.seconds)})`);
  return out.join('\n') + '\n';
}

/** What a conforming verdict covers, layer by layer, so the claim carries its own bounds. */
function conformsLine(r: SuiteResult): string {
  const parts: string[] = [];
  if (r.paths) parts.push(`every statechart state and transition (${r.paths.paths} paths)`);
  if (r.fastcheck) parts.push(`${r.fastcheck.runs} fast-check runs at MAX 256`);
  if (r.explorer) parts.push(`${r.explorer.states} states, every interleaving of scope ${r.explorer.scope}, ${atomicityText(r.explorer.atomicity)}`);
  return `conforms${r.config ? ` (config ${r.config})` : ''}: ${parts.join('; ')}`;
}
