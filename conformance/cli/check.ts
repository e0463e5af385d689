/**
 * `dio-cache check FILE`: a TypeScript module, a patch as posted (email), a plain unified diff, or
 * a C source file, run through the same explorer, invariants and report as `explore`. And
 * `dio-cache init-impl DIR`: a commented TypeScript template built from the v1 port.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { invariant, type InvariantId } from '../../model/invariants.js';
import { PROFILES } from '../../model/profiles.js';
import { kernelConfig } from '../../model/config.js';
import { check, CHECK_SCOPES, type CheckReport } from '../c/run.js';
import { loadInput, type Loaded } from '../load.js';
import type { RoleName } from '../c/roles.js';
import { readReplay, replay, writeReplay } from '../explorer/replay.js';
import { pool } from '../explorer/protocol.js';
import { kernelEvents, renderTrace } from '../explorer/trace.js';
import { SCOPES, scopeWith } from '../scopes.js';
import type { Scope } from '../system.js';
import { EXIT_VIOLATION, exitCodeFor, int, UsageError } from './errors.js';
import { ATOMICITY_HELP, CONFIG_HELP, configTag, describeScope, parseAtomicity, parseConfig, statechartLines, takeCpuSymmetry } from './explore.js';
import { atomicityText } from '../../impl/kernel/runtime.js';
import { onInterrupt } from './interrupt.js';
import { checkShardResult, RESULT_OUT_HELP, SHARD_HELP, SHARD_SPLIT_HELP, shardFlags, writeShardResult } from './merge.js';
import { DEFAULT_OUT_DIR, replayPath, stopWords, warnReplayOut } from './output.js';
import { checkPageTrace, HTML_FLAG, HTML_HELP, replayTrace, withTraces, writeHtml } from '../report/cli.js';
import { REPO_ROOT } from '../root.js';

interface CheckFlags {
  profile?: string;
  scope?: string;
  cpus?: string;
  ops?: string;
  max?: string;
  threshold?: string;
  preemptions?: string;
  config?: string;
  atomicity?: string;
  binding?: string;
  role: string[];
  json?: boolean;
  replayOut?: string;
  outDir?: string;
  replay?: string;
  maxStates?: string;
  maxSeconds?: string;
  maxMemory?: string;
  workers?: string;
  shard?: string;
  shardSplit?: string;
  resultOut?: string;
  full?: boolean;
  progress: boolean;
  html?: string;
  emitPort?: string;
  compiled?: boolean;
  interpret?: boolean;
  dfs?: boolean;
  frameKeys?: boolean;
  cpuSymmetry?: boolean;
}

const ROLE_NAMES: readonly RoleName[] = ['alloc', 'put', 'splice', 'create', 'prune'];

function parseRoles(list: string[]): Partial<Record<RoleName, string>> {
  const out: Partial<Record<RoleName, string>> = {};
  for (const r of list) {
    const m = /^(\w+)=(\w+)$/.exec(r);
    if (!m || !ROLE_NAMES.includes(m[1] as RoleName)) throw new UsageError(`--role ${r}: expected NAME=FUNCTION with NAME one of ${ROLE_NAMES.join(', ')}`);
    out[m[1] as RoleName] = m[2]!;
  }
  return out;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check a TS/JS module, a patch (email or unified diff) or a C file through the explorer')
    .argument('<file>', 'module, patch or C source')
    .option('--profile <name>', `override the inferred profile (${Object.keys(PROFILES).join(', ')})`)
    .option('--scope <name>', `one named scope instead of the default check scopes (${CHECK_SCOPES.map((x) => x.name).join(', ')}): one of those, or of \`explore --list-scopes\``)
    .option('--cpus <n>', 'CPUs (with --scope)')
    .option('--ops <k>', 'operations per task')
    .option('--max <m>', 'MAX the cache cap is scaled to')
    .option('--threshold <t>', 'THRESHOLD the splice threshold is scaled to')
    .option('--preemptions <n>', 'how many times a task with work left may be taken off its CPU (preempted, or migrated with the scope\'s migration)')
    .option('--config <name>', CONFIG_HELP)
    .option('--atomicity <level>', ATOMICITY_HELP)
    .option('--binding <file>', 'JSON binding: field names, roles, extra C definitions, aliases (docs/checking-your-patch.md)')
    .option('--role <name=fn>', 'name a role the checker cannot infer (alloc, put, splice, create, prune); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print one JSON object')
    .option('--out-dir <dir>', `where to write the replay files, one per violation (default: ./${DEFAULT_OUT_DIR}/)`)
    .option('--replay-out <file>', 'deprecated (use --out-dir): the replay file of the first violation')
    .option('--replay <file>', 're-run a replay file written by check against FILE and print the trace')
    .option('--max-states <n>', 'stop each exploration after this many states (the verdict is then incomplete, exit 3)')
    .option('--max-seconds <s>', 'stop the check after this many seconds (the verdict is then incomplete, exit 3)')
    .option('--max-memory <mb>', 'stop an exploration when the process uses more than this many MiB (incomplete, exit 3)')
    .option('--workers <n>', 'worker threads for each exploration (default 1; with --dfs, the DFS shares them)')
    .option('--dfs', 'explore depth-first: no frontier to keep, faster on a big scope; a counterexample is minimised as with BFS (fewest interrupts, preemptions, steps)')
    .option('--full', 'print every statement of a counterexample')
    .option(HTML_FLAG, HTML_HELP)
    .option('--shard <i/n>', SHARD_HELP)
    .option('--shard-split <k>', SHARD_SPLIT_HELP)
    .option('--result-out <file>', RESULT_OUT_HELP)
    .option('--no-progress', 'no progress lines on stderr')
    .option('--emit-port <out.ts>', 'write the C compiled to a TypeScript port (one generator per C function, the C line numbers beside each statement) and exit without exploring')
    .option('--compiled', 'run the C compiled to generators (compile.ts; the default)')
    .option('--cpu-symmetry', 'canonicalise interchangeable CPUs and tasks too, in the scopes without hotplug: about half the states on 2 CPUs; refused (exit 2) when the code keeps a CPU number anywhere but in a CPU argument (per_cpu_ptr(p, get_cpu())) or a for_each_*_cpu() loop')
    .option('--no-frame-keys', 'fingerprint each operation in progress by every value it read, not by where it is and what its locals hold (more states, the same verdicts; for comparing counts with --interpret)')
    .option('--interpret', 'run the C through the interpreter (interp.ts) instead of compiled: the same verdicts, slower')
    .action(async (file: string, f: CheckFlags) => {
      if (f.profile !== undefined && !PROFILES[f.profile]) throw new UsageError(`--profile ${f.profile}: unknown profile (known: ${Object.keys(PROFILES).join(', ')})`);
      const roles = parseRoles(f.role);
      if (f.compiled && f.interpret) throw new UsageError('--compiled and --interpret: give one of them');
      // The worker threads load tsx and the checker while this thread reads and builds FILE (a
      // parallel DFS runs its worker 0 on this thread: one thread fewer).
      const early = f.emitPort === undefined && !f.replay ? int('workers', f.workers, 1) : undefined;
      if (early !== undefined && early > 1) pool.prewarm(f.dfs ? early - 1 : early);
      const loaded = await loadInput(file, f.binding, roles, f.compiled || f.interpret ? { compiled: !!f.compiled } : undefined);
      if (f.emitPort !== undefined) return emitPort(file, loaded, f.emitPort);
      if (f.cpuSymmetry) takeCpuSymmetry(loaded.impl);
      if (f.replay) return replayAgainst(file, f.replay, loaded, !!f.json, !!f.full, f.html);
      const overrides = {
        ...(f.cpus !== undefined ? { cpus: int('cpus', f.cpus, 1)! } : {}),
        ...(f.ops !== undefined ? { ops: int('ops', f.ops, 0)! } : {}),
        ...(f.max !== undefined ? { max: int('max', f.max, 0)! } : {}),
        ...(f.threshold !== undefined ? { threshold: int('threshold', f.threshold, 0)! } : {}),
        ...(f.preemptions !== undefined ? { preemptions: int('preemptions', f.preemptions, 0)! } : {}),
      };
      const config = parseConfig(f.config);
      let scopes: Scope[];
      if (f.scope) {
        const base = SCOPES[f.scope] ?? CHECK_SCOPES.find((s) => s.name === f.scope);
        if (!base) throw new UsageError(`--scope ${f.scope}: unknown scope (known: ${[...Object.keys(SCOPES), ...CHECK_SCOPES.map((s) => s.name)].join(', ')})`);
        scopes = [scopeWith(base, overrides)];
      } else scopes = CHECK_SCOPES.map((s, i) => (i === 0 ? scopeWith(s, overrides) : scopeWith(s, { ...(overrides.max !== undefined ? { max: overrides.max } : {}), ...(overrides.threshold !== undefined ? { threshold: overrides.threshold } : {}) })));
      // Every scope of the check runs on the one kernel configuration.
      if (config !== undefined) scopes = scopes.map((s) => scopeWith(s, { config }));
      // ... and at the one atomicity.
      const atomicity = parseAtomicity(f.atomicity);
      if (atomicity !== undefined) scopes = scopes.map((s) => scopeWith(s, { atomicity }));
      const maxStates = int('max-states', f.maxStates, 1);
      const maxSeconds = int('max-seconds', f.maxSeconds, 1);
      const maxMemoryMb = int('max-memory', f.maxMemory, 1);
      const workers = int('workers', f.workers, 1);
      const shard = shardFlags(f, workers);
      warnReplayOut(f.replayOut);
      // Progress goes to stderr in JSON mode too: stdout holds only the JSON document.
      const showProgress = f.progress;
      const intr = onInterrupt();
      let lastLine = '';
      intr.lastWords(() => {
        if (f.json) process.stdout.write(JSON.stringify({ verdict: 'incomplete', input: { file }, complete: false, stoppedBy: 'signal', partial: true, lastProgress: lastLine.trim() }) + '\n');
        else process.stdout.write(`incomplete: quit by a second Ctrl-C (no report); the last progress: ${lastLine.trim() || 'none'}\n`);
      });
      let r: CheckReport;
      try {
        r = await check(
          {
            file,
            scopes,
            ...(f.profile ? { profile: f.profile } : {}),
            ...(maxStates ? { maxStates } : {}),
            ...(maxSeconds ? { maxSeconds } : {}),
            ...(maxMemoryMb ? { maxMemoryMb } : {}),
            ...(workers ? { workers } : {}),
            ...(shard ? { shard } : {}),
            ...(f.compiled || f.interpret ? { compiled: !!f.compiled } : {}),
            ...(f.dfs ? { strategy: 'dfs' as const } : {}),
            ...(f.frameKeys === false ? { frameKeys: false } : {}),
            ...(f.cpuSymmetry ? { cpuSymmetry: true } : {}),
            signal: intr.signal,
            progress: (l: string) => {
              lastLine = l;
              if (showProgress) process.stderr.write(l + '\n');
            },
          },
          loaded,
        );
      } finally {
        intr.dispose();
      }
      const replayFiles: string[] = [];
      r.violations.forEach((v) => {
        if (v.steps.length === 0) return replayFiles.push('');
        const path = replayPath(f, replayFiles.filter(Boolean).length, r.impl, v.id);
        writeReplay(path, {
          impl: resolve(r.ref),
          scope: v.scope,
          choices: v.steps.map((s) => s.choice),
          invariant: v.id,
          message: v.message,
          ...(f.binding ? { binding: resolve(f.binding) } : {}),
          ...(f.role.length ? { roles: parseRoles(f.role) as Record<string, string> } : {}),
          ...(v.site ? { site: v.site } : {}),
        });
        replayFiles.push(path);
      });
      if (shard && f.resultOut)
        writeShardResult(
          f.resultOut,
          checkShardResult(r, {
            spec: shard,
            scopes,
            ...(f.profile ? { profile: f.profile } : {}),
            ...(maxStates ? { maxStates } : {}),
            ...(f.binding ? { binding: resolve(f.binding) } : {}),
            ...(f.role.length ? { roles: parseRoles(f.role) as Record<string, string> } : {}),
            ...(f.frameKeys === false ? { frameKeys: false } : {}),
            ...(f.cpuSymmetry ? { cpuSymmetry: true } : {}),
          }),
        );
      if (f.json) process.stdout.write(JSON.stringify(withTraces(jsonReport(r, replayFiles), r, loaded, !!f.full)) + '\n');
      else process.stdout.write(textReport(r, replayFiles, !!f.full).join('\n') + '\n');
      if (shard && !f.json) {
        const s = r.runs.find((x) => x.shard)?.shard;
        if (s) process.stdout.write(`shard ${s.index}/${s.count} of every scope's search: this verdict covers this shard's parts only; the check's verdict is \`dio-cache merge\` of all ${s.count} results\n`);
      }
      if (f.html && scopes[0]) await writeHtml(f.html, await checkPageTrace(r, loaded, scopes[0], !!f.full));
      process.exitCode = exitCodeFor(r.verdict, r.stoppedBy, intr.interrupted);
    });

  program
    .command('init-impl')
    .description('write DIR/impl.ts: a commented template of an implementation, built from the v1 port')
    .argument('<dir>', 'directory to create (or an empty one)')
    .action((dir: string) => {
      const out = join(dir, 'impl.ts');
      if (existsSync(out)) throw new UsageError(`${out} exists; not overwriting it`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(out, template());
      // Outside this checkout Node would load a .ts file as CommonJS; the template is ESM.
      const pkg = join(dir, 'package.json');
      if (!existsSync(pkg)) writeFileSync(pkg, JSON.stringify({ type: 'module', private: true }, null, 2) + '\n');
      process.stdout.write(`wrote ${out}\ncheck it with: dio-cache check ${out}\n`);
    });
}

/** `--emit-port OUT.ts`: the generated port of the C the check would run, readable beside it. */
function emitPort(file: string, loaded: Loaded, out: string): void {
  if (!loaded.c) throw new UsageError(`--emit-port: ${file} is a TypeScript module, already a port; give a patch or a C file`);
  const target = resolve(out);
  if (!out || existsSync(target) && !statSync(target).isFile()) throw new UsageError(`--emit-port ${out}: not a file path (give the .ts file to write)`);
  if (!existsSync(dirname(target))) throw new UsageError(`--emit-port ${out}: no directory ${dirname(target)} (create it first)`);
  const port = loaded.c.compile();
  try {
    writeFileSync(target, port.ts);
  } catch (e) {
    throw new UsageError(`--emit-port ${out}: cannot write it (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const fns = (port.ts.match(/^ {2}function\* F_/gm) ?? []).length;
  const sites = (port.ts.match(/^ {2}function\* SITE/gm) ?? []).length;
  process.stderr.write(`wrote ${out}: ${fns} C functions, ${sites} call sites${port.fallbacks.length ? `; ${port.fallbacks.length} nodes left to the interpreter (${port.fallbacks.map((x) => x.at).join(', ')})` : ''}\n`);
}

function jsonReport(r: CheckReport, replayFiles: string[]) {
  return {
    verdict: r.verdict,
    config: r.runs[0]?.scope.config ?? 'default',
    notJudged: kernelConfig(r.runs[0]?.scope.config).notJudged,
    atomicity: r.runs[0]?.scope.atomicity ?? 'statement',
    interleavings: atomicityText(r.runs[0]?.scope.atomicity),
    impl: r.impl,
    input: r.input,
    complete: r.complete,
    ...(r.stoppedBy ? { stoppedBy: r.stoppedBy } : {}),
    ...(r.verdict === 'incomplete' ? { partial: true } : {}),
    notRun: r.notRun,
    replayFiles: replayFiles.filter(Boolean),
    violations: r.violations.map((v, i) => ({ invariant: v.id, message: v.message, steps: v.steps, kernelEvents: kernelEvents(v.steps), scope: v.scope.name, ...(v.site ? { site: v.site } : {}), replayFile: replayFiles[i] })),
    warnings: r.warnings.map((v) => ({ invariant: v.id, message: v.message, steps: v.steps, scope: v.scope.name })),
    stats: r.stats,
    extremes: r.extremes,
    profile: r.profile,
    scaling: r.scaling,
    coverage: r.coverage,
    notes: r.notes,
    runs: r.runs.map((x) => ({ scope: x.scope, ...(x.site ? { site: x.site } : {}), verdict: x.verdict, complete: x.complete, stats: x.stats, maxCached: x.maxCached })),
  };
}

function textReport(r: CheckReport, replayFiles: string[], full: boolean): string[] {
  const out: string[] = [];
  out.push(`${r.impl} (${r.input.kind === 'email' ? 'patch, email' : r.input.kind === 'diff' ? 'unified diff' : r.input.kind === 'c' ? 'C source' : 'TypeScript/JavaScript module'})`);
  out.push(`profile ${r.profile.name}${r.profile.overridden ? ' (--profile)' : ''}:`);
  for (const e of r.profile.inferred) out.push(`  ${e}`);
  if (r.scaling.length) out.push(`scaling: ${r.scaling.map((s) => `${s.macro} ${s.from} → ${s.to}`).join(', ')}`);
  for (const run of r.runs)
    out.push(
      `${run.site ? `${run.site}, ` : ''}${describeScope(run.scope)}\n  ${fmt(run.stats.states)} states, ${fmt(run.stats.transitions)} transitions, depth ${run.stats.depth}, ${run.stats.seconds.toFixed(2)} s, ${fmt(run.stats.statesPerSecond)} states/s: ${run.verdict}${run.complete ? '' : ' (stopped early)'}`,
    );
  out.push(`largest nr + nr_irq on a quiescent CPU: ${r.extremes.maxCached} (the profile's bound ${r.extremes.bound}, sequential bound ${r.extremes.sequentialBound})`);
  for (const n of r.notes) out.push(`note: ${n}`);
  for (const n of kernelConfig(r.runs[0]?.scope.config).notJudged) out.push(`note: ${n}`);
  if (r.statechart) out.push(...statechartLines(r.statechart, full));
  for (const w of r.warnings) out.push(`warning ${w.id}: ${w.message} (scope ${w.scope.name}, after ${w.steps.length} steps)`);
  if (r.coverage) {
    out.push('coverage:');
    for (const f of r.coverage.functions) {
      const hit = f.statements.filter((s) => s.hits > 0).length;
      out.push(`  ${f.name}: ${hit}/${f.statements.length} statements, ${f.branches.length} branches reached`);
    }
    // Every call of a cache function in the callers, and what of the caller's code after it ran.
    for (const x of r.coverage.callSites ?? []) {
      const ways = x.branches.map((b) => `${b.text} (${b.at}) taken ×${b.taken}, not taken ×${b.notTaken} (nondeterministic branch)`);
      out.push(
        `  call site ${x.fn}() ${x.at}: ${x.call} (${x.role}): ${x.runs ? `driven, ${fmt(x.runs)} runs` : 'NEVER DRIVEN'}${x.tail.length ? `; then ${x.tail.length} caller line${x.tail.length > 1 ? 's' : ''}` : ''}${x.stop ? `; stops before ${x.stop}` : ''}${ways.length ? `; ${ways.join('; ')}` : ''}`,
      );
    }
    const top = r.coverage.interruptsAt.slice(0, 6).map((x) => `${x.at} ×${x.count}`);
    out.push(`  interrupts entered at ${r.coverage.interruptsAt.length} statement boundaries${top.length ? `, most often: ${top.join('; ')}` : ''}`);
    for (const w of r.coverage.warnings) out.push(`warning coverage: ${w}`);
  }
  r.violations.forEach((v, i) => {
    out.push('');
    out.push(`violation ${v.id}: ${v.message}`);
    out.push(`  ${invariant(v.id as InvariantId).claim}`);
    if (v.found === 'diff') {
      // The explorer runs the checker's own sites, which do not have the statement the diff lost.
      out.push(`  found in the diff, not by exploring: ${v.id === 'crash' ? 'the allocation that would set the object is not there to run' : 'the statement that would give the object back is not there to run'}`);
      return;
    }
    out.push(`  scope ${v.scope.name}; ${kernelEvents(v.steps)} kernel-level events, ${v.steps.length} steps`);
    out.push(...renderTrace(v.steps, { id: v.id, message: v.message }, full).map((l) => `  ${l}`));
    if (replayFiles[i]) out.push(`  replay: dio-cache check ${r.input.file} --replay ${replayFiles[i]}`);
    else out.push('  (at boot: the initcall or the prefill, before any interleaving)');
  });
  out.push('');
  for (const n of r.notRun) out.push(`not run: ${n} (${stopWords(r.stoppedBy)} before it started)`);
  const written = replayFiles.filter(Boolean);
  if (written.length) out.push(`replay files: ${written.join(', ')}`);
  const tag = configTag(r.runs[0]?.scope);
  if (r.verdict === 'violation') out.push(`violation${tag}: ${r.violations.map((v) => v.id).join(', ')} (${fmt(r.stats.states)} states explored${r.stoppedBy ? `, then ${stopWords(r.stoppedBy)}` : ''})`);
  else if (r.verdict === 'conforms' && r.runs.some((x) => x.shard)) out.push(`this shard's parts conform: ${fmt(r.stats.states)} states (not a proof for every interleaving until \`dio-cache merge\` of every shard says so)`);
  else if (r.verdict === 'conforms') out.push(`conforms${tag}: ${fmt(r.stats.states)} states, every interleaving up to these bounds, ${atomicityText(r.runs[0]?.scope.atomicity)}`);
  else out.push(`incomplete${tag}: no violation in ${fmt(r.stats.states)} states (depth ${r.stats.depth}), but ${stopWords(r.stoppedBy)} before every interleaving of every scope was seen: this is no proof`);
  return out;
}

async function replayAgainst(file: string, replayFile: string, loaded: Loaded, json: boolean, full: boolean, html?: string): Promise<void> {
  const rf = readReplay(replayFile);
  // A violation found through another call site replays with that site.
  const impl = rf.site === undefined ? loaded.impl : loaded.c?.siteRuns.find((x) => x.site === rf.site)?.impl;
  if (!impl) throw new UsageError(`${replayFile}: ${file} has no ${rf.site} any more (the replay file was written against another version)`);
  const r = replay(impl, rf);
  if (r.diverged) throw new UsageError(`${replayFile}: choice ${r.diverged.at} is not enabled (only ${r.diverged.enabled} choices there): ${file} or the scope changed`);
  const doc = json || html ? replayTrace(impl, rf, r.violation, replayFile, loaded.c, full) : null;
  if (json) process.stdout.write(JSON.stringify({ verdict: r.violation ? 'violation' : 'conforms', reproduced: !!r.violation, invariant: rf.invariant, message: r.violation?.message ?? null, steps: r.steps, trace: doc }) + '\n');
  else {
    const lines = full ? renderTrace(r.steps, r.violation, true) : r.lines;
    process.stdout.write(
      [`${impl.name} on ${describeScope(rf.scope)}`, `replaying ${rf.choices.length} choices from ${replayFile}`, ...lines, '', r.violation ? `reproduced: ${r.violation.id}: ${r.violation.message}` : `not reproduced: ${rf.invariant} does not break at the end of this path`].join('\n') + '\n',
    );
  }
  if (html && doc) await writeHtml(html, doc);
  process.exitCode = r.violation ? EXIT_VIOLATION : 2;
}

/** The v1 port with its imports pointed at this checkout and a header saying what to change. */
function template(): string {
  const root = REPO_ROOT;
  const src = readFileSync(join(root, 'impl/ports/iomap-v1.ts'), 'utf8');
  const body = src
    .replace(/from '\.\.\/kernel\/([\w-]+)\.js'/g, (_m, f: string) => `from '${join(root, 'impl/kernel', f)}.ts'`)
    .replace(/from '\.\.\/interface\.js'/g, `from '${join(root, 'impl/interface')}.ts'`)
    .replace("name: 'iomap-v1',", "name: 'my-impl',")
    .replace(/description: '[^']*',/, "description: 'my revision of the per-CPU iomap_dio cache (edit me)',");
  return `/**
 * A template implementation for \`dio-cache check\`, generated by \`dio-cache init-impl\` from the
 * v1 port (impl/ports/iomap-v1.ts). Edit the functions to follow your C, then run
 *   dio-cache check ${'<this file>'}
 *
 * The rules (impl/interface.ts):
 * - Each function is a generator; every \`yield 'C statement'\` is a statement boundary where an
 *   interrupt, a preemption or another CPU may run. Yield before each C statement that touches
 *   shared state, with the statement's text: it is what counterexamples show.
 * - Reach shared state only through \`k\` (impl/kernel/primitives.ts): k.load/k.store for fields,
 *   k.global/k.setGlobal for statics, k.get_cpu()/k.put_cpu(), k.kmalloc(...), k.kfree(...)...
 *   Never keep state in module variables: the checker re-runs a generator from its start, replaying
 *   the values k returned, to resume an operation.
 * - \`structs\` gives the field offsets, \`macros\` marks the cap and the threshold ('MAX',
 *   'THRESHOLD') so the scope can scale them, and \`cache\` names the fields the checker reads.
 * - \`profile\` is the protocol variant you claim (iomap-v1: cap \`>\`, the caller allocates on a
 *   miss; iomap-v3: cap \`>=\`, the helper allocates; bio: with a hotplug prune).
 */
${body}`;
}
