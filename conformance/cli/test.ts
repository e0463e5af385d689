/**
 * `dio-cache test`: the conformance suite (statechart paths, fast-check, the explorer at a small
 * scope) on one implementation, with coverage, counts, per-layer times and one verdict.
 * Exit 0 conforms, 1 violation, 2 usage error, 3 incomplete (a layer fell short of its coverage or
 * its budget), 130 interrupted (Ctrl-C; what ran is reported).
 */
import type { Command } from 'commander';
import { ALL, findImpl } from '../../impl/registry.js';
import { PROFILES } from '../../model/profiles.js';
import { SCOPES } from '../scopes.js';
import { DEFAULT_SCOPE, LAYERS, renderSuite, runSuite, type LayerName } from '../suite.js';
import { exitCodeFor, UsageError } from './errors.js';
import { CONFIG_HELP, parseConfig } from './explore.js';
import { onInterrupt } from './interrupt.js';
import { ATOMICITY_HELP, parseAtomicity } from './explore.js';

interface TestOptions {
  impl: string;
  profile?: string;
  runs?: string;
  seed?: string;
  fcPath?: string;
  replayPath?: string;
  scope: string;
  layers?: string;
  config?: string;
  maxStates?: string;
  maxSeconds?: string;
  atomicity?: string;
  json?: boolean;
}

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('run the conformance suite (statechart paths, fast-check at MAX 256, the explorer at a small scope) on an implementation')
    .option('--impl <name>', 'implementation (dio-cache list)', 'iomap-v1')
    .option('--profile <name>', "model profile (default: the implementation's own)")
    .option('--runs <n>', 'fast-check runs (default 1000)')
    .option('--seed <s>', 'fast-check seed')
    .option('--fc-path <path>', 'fast-check run path of a printed failure (with --seed and --replay-path: replays it)')
    .option('--replay-path <rp>', "the commands' replayPath of a printed failure")
    .option('--scope <name>', 'explorer scope', DEFAULT_SCOPE)
    .option('--config <name>', `${CONFIG_HELP}; with rt only the explorer layer runs (the statechart and fast-check model !PREEMPT_RT)`)
    .option('--layers <list>', `comma-separated subset of ${LAYERS.join(',')}`)
    .option('--max-states <n>', 'explorer state budget (the verdict is then incomplete, exit 3)')
    .option('--max-seconds <s>', 'explorer time budget (the verdict is then incomplete, exit 3)')
    .option('--atomicity <level>', `${ATOMICITY_HELP}; for the explorer layer (default: statement, or the level a known-bad variant is caught at)`)
    .option('--json', 'print the result as JSON')
    .action(async (o: TestOptions) => {
      const impl = findImpl(o.impl);
      if (!impl) throw new UsageError(`unknown implementation '${o.impl}' (known: ${ALL.map((i) => i.name).join(', ')})`);
      if (o.profile !== undefined && !PROFILES[o.profile]) throw new UsageError(`unknown profile '${o.profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
      if (!SCOPES[o.scope]) throw new UsageError(`unknown scope '${o.scope}' (known: ${Object.keys(SCOPES).join(', ')})`);
      const runs = int('runs', o.runs, 1);
      if ((o.fcPath === undefined) !== (o.replayPath === undefined) || (o.fcPath !== undefined && o.seed === undefined))
        throw new UsageError('replaying a fast-check failure takes --seed, --fc-path and --replay-path together');
      const seed = int('seed', o.seed, -(2 ** 31));
      let layers: LayerName[] | undefined;
      if (o.layers !== undefined) {
        layers = o.layers.split(',').map((x) => x.trim()) as LayerName[];
        const bad = layers.filter((l) => !LAYERS.includes(l));
        if (bad.length || layers.length === 0) throw new UsageError(`unknown layer '${bad[0] ?? ''}' (known: ${LAYERS.join(', ')})`);
      }
      const config = parseConfig(o.config);
      if (config === 'rt') {
        if (layers && layers.some((l) => l !== 'explorer')) throw new UsageError(`--config rt runs the explorer layer only: the statechart paths and fast-check model the !PREEMPT_RT contexts (drop --layers ${o.layers})`);
        layers = ['explorer'];
      }
      const maxStates = int('max-states', o.maxStates, 1);
      const maxSeconds = int('max-seconds', o.maxSeconds, 1);
      const atomicity = parseAtomicity(o.atomicity);
      // Progress goes to stderr in JSON mode too: stdout holds only the JSON document.
      let lastLine = '';
      const progress = (line: string) => {
        lastLine = line;
        process.stderr.write(`  ${line}\n`);
      };
      const intr = onInterrupt();
      intr.lastWords(() => {
        if (o.json) process.stdout.write(JSON.stringify({ verdict: 'incomplete', impl: impl.name, interrupted: true, partial: true, lastProgress: lastLine }) + '\n');
        else process.stdout.write(`incomplete: quit by a second Ctrl-C (no report); the last progress: ${lastLine || 'none'}\n`);
      });
      const r = await runSuite(impl, {
        ...(o.profile !== undefined ? { profile: o.profile } : {}),
        ...(runs !== undefined ? { fcRuns: runs } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(o.fcPath !== undefined ? { fcPath: o.fcPath } : {}),
        ...(o.replayPath !== undefined ? { replayPath: o.replayPath } : {}),
        scope: o.scope,
        ...(layers ? { layers } : {}),
        ...(config ? { config } : {}),
        ...(maxStates ? { maxStates } : {}),
        ...(maxSeconds ? { maxSeconds } : {}),
        ...(atomicity ? { atomicity } : {}),
        signal: intr.signal,
        log: progress,
      }).finally(() => intr.dispose());
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : renderSuite(r));
      process.exitCode = exitCodeFor(r.verdict, r.explorer?.stoppedBy, !!r.interrupted);
    });
}
