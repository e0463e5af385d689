/**
 * `runFastCheck`: the property over one run (boot the implementation, build the model from what
 * booted, run the commands with fc.modelRun), the seed, run path and replayPath, the per-run
 * statistics totalled into the result, and the failure report.
 */
import fc from 'fast-check';
import { cacheMachine } from '../../model/machine.js';
import type { InvariantId } from '../../model/invariants.js';
import { getProfile } from '../../model/profiles.js';
import type { Implementation } from '../../impl/interface.js';
import { ptrId } from '../../impl/kernel/values.js';
import type { Scope } from '../system.js';
import { capBoot, commandArbs, SMALL_BOOT, type RunInput } from './arbitraries.js';
import { CpuModel, type FcModel, type RunStats } from './model.js';
import { FcReal } from './real.js';
import { FcViolation } from './violation.js';

export interface FastCheckOptions {
  /** Profile name (model/profiles.ts); default: the implementation's own. MAX/THRESHOLD stay the kernel's. */
  profile?: string;
  numRuns?: number;
  seed?: number;
  cpus?: number;
  /** Replay one counterexample: the `path` and `replayPath` a failure printed (with its seed). */
  path?: string;
  replayPath?: string;
  /** Shrink a failure to a short counterexample (default true). */
  shrink?: boolean;
  /** Stop generating (and shrinking) after this long; the runs done so far are reported. */
  timeLimitMs?: number;
  /** Where to print the seed and failures; default: nothing. */
  log?: (line: string) => void;
}

export interface FastCheckFailure {
  invariant: InvariantId;
  message: string;
  /** The command sequence, as fast-check prints it (with its replayPath comment). */
  counterexample: string;
  seed: number;
  /** fast-check's run path: `fc.assert(..., { seed, path })`. */
  path: string;
  /** The commands' replay path: `fc.commands(..., { replayPath })`. */
  replayPath: string;
}

export interface FastCheckResult {
  /** Runs asked for, and runs done (fewer when a run failed or a time limit stopped it). */
  requested: number;
  runs: number;
  seed: number;
  failures: FastCheckFailure[];
  /** Runs in which a task or hardirq put found the cap test failing (total past MAX). */
  reachedCap: number;
  /** Runs in which an alloc spliced free_list_irq (nr_irq reached THRESHOLD). */
  reachedThreshold: number;
  /** Runs in which an alloc missed although 0 < nr_irq < THRESHOLD. */
  heldBelowThreshold: number;
  /** Largest nr + nr_irq seen on a CPU, over all runs. */
  maxTotal: number;
  /** Interrupted task operations; of those, how many only the concurrent linearisation explains. */
  interrupted: number;
  concurrentOnly: number;
  crossCpuPuts: number;
  commands: number;
  statements: number;
  seconds: number;
  profile: string;
  max: number;
  threshold: number;
  cpus: number;
}

/**
 * Runs the layer: `numRuns` command sequences (default 1000), one in six sized to cross the cap.
 */
export function runFastCheck(impl: Implementation, o: FastCheckOptions = {}): FastCheckResult {
  const profile = getProfile(o.profile ?? impl.profile);
  const cpus = o.cpus ?? 2;
  const tasks = cpus + 1;
  const machine = cacheMachine(profile);
  const seed = o.seed ?? fc.readConfigureGlobal().seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const numRuns = o.numRuns ?? 1000;
  const log = o.log ?? (() => {});
  const scope = (boot: number): Scope => ({
    name: 'fast-check',
    description: `fast-check: ${cpus} CPUs, ${tasks} tasks, ${boot} objects in flight at boot, MAX ${profile.max}, THRESHOLD ${profile.threshold}`,
    cpus,
    taskCpus: Array.from({ length: tasks }, (_, i) => i % cpus),
    ops: Number.MAX_SAFE_INTEGER,
    taskOps: ['alloc', 'free', 'submit', 'complete'],
    prefill: 0,
    inflight: boot,
    completers: ['hardirq', 'softirq', 'task'],
    atomicIrq: false,
    preemptions: Number.MAX_SAFE_INTEGER,
    migration: true,
    hotplug: false,
    profile: profile.name,
    max: profile.max,
    threshold: profile.threshold,
  });
  const cmdOpts = { maxCommands: 40, size: 'medium' as const, ...(o.replayPath ? { replayPath: o.replayPath } : {}) };
  const arb: fc.Arbitrary<RunInput> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ boot: fc.integer(SMALL_BOOT), cmds: fc.commands(commandArbs(cpus, tasks, false), cmdOpts) }) },
    { weight: 1, arbitrary: fc.record({ boot: fc.integer(capBoot(profile.max)), cmds: fc.commands(commandArbs(cpus, tasks, true), cmdOpts) }) },
  );

  const totals = { runs: 0, cap: 0, threshold: 0, below: 0, maxTotal: 0, interrupted: 0, concurrentOnly: 0, crossCpuPuts: 0, commands: 0, statements: 0 };
  const t0 = performance.now();
  const prop = fc.property(arb, ({ boot, cmds }) => {
    const stats: RunStats = { capRefused: false, spliced: false, belowThresholdMiss: false, maxTotal: 0, crossCpuPuts: 0, interrupted: 0, concurrentOnly: 0, commands: 0 };
    let real: FcReal | undefined;
    try {
      fc.modelRun(() => {
        real = new FcReal(impl, scope(boot));
        const model: FcModel = {
          profile,
          cpus: Array.from({ length: cpus }, () => new CpuModel(machine)),
          current: real.world.cpus.map((c) => c.current),
          tasks: real.world.tasks.map((t) => ({ cpu: t.cpu, held: [] })),
          inflight: [],
          allocCpu: new Map(),
          nextId: 1,
          stats,
        };
        for (const p of real.world.inflight) {
          const id = model.nextId++;
          model.inflight.push(id);
          model.allocCpu.set(id, -1);
          real.link(ptrId(p), id);
        }
        // Booted in flight: any CPU may complete them.
        for (const cm of model.cpus) cm.adopt(...model.inflight);
        return { model, real };
      }, cmds);
    } finally {
      totals.runs++;
      if (stats.capRefused) totals.cap++;
      if (stats.spliced) totals.threshold++;
      if (stats.belowThresholdMiss) totals.below++;
      totals.maxTotal = Math.max(totals.maxTotal, stats.maxTotal);
      totals.interrupted += stats.interrupted;
      totals.concurrentOnly += stats.concurrentOnly;
      totals.crossCpuPuts += stats.crossCpuPuts;
      totals.commands += stats.commands;
      totals.statements += (real as FcReal | undefined)?.steps ?? 0;
    }
  });
  const params = {
    numRuns,
    seed,
    ...(o.path ? { path: o.path } : {}),
    ...(o.shrink === false ? { endOnFailure: true } : {}),
    ...(o.timeLimitMs ? { plugins: [fc.interruptAfterTimeLimit(o.timeLimitMs)] } : {}),
  };
  log(`fast-check: seed ${seed}, ${numRuns} runs (${profile.name}, MAX ${profile.max}, THRESHOLD ${profile.threshold}, ${cpus} CPUs)`);
  const out = fc.check(prop, params as fc.Parameters<[RunInput]>);
  const seconds = (performance.now() - t0) / 1000;

  const failures: FastCheckFailure[] = [];
  if (out.failed) {
    const err = out.errorInstance;
    const ce = out.counterexample ? fc.stringify(out.counterexample[0]) : '';
    const replayPath = /replayPath="([^"]*)"/.exec(ce)?.[1] ?? '';
    // Anything but an FcViolation is a fault of this harness, not a finding about the implementation.
    if (!(err instanceof FcViolation))
      throw new Error(`fast-check harness error (seed ${out.seed}, path "${out.counterexamplePath}"): ${err instanceof Error ? err.message : String(err)}\n  ${ce}`);
    const invariant = err.invariant;
    const message = err.message.slice(invariant.length + 2);
    failures.push({ invariant, message, counterexample: ce, seed: out.seed, path: out.counterexamplePath ?? '', replayPath });
    log(`fast-check FAILED [${invariant}] ${message}`);
    log(`  counterexample: ${ce}`);
    log(`  replay: seed ${out.seed}, path "${out.counterexamplePath}", replayPath "${replayPath}"`);
  }
  return {
    requested: numRuns,
    runs: out.numRuns,
    seed,
    failures,
    reachedCap: totals.cap,
    reachedThreshold: totals.threshold,
    heldBelowThreshold: totals.below,
    maxTotal: totals.maxTotal,
    interrupted: totals.interrupted,
    concurrentOnly: totals.concurrentOnly,
    crossCpuPuts: totals.crossCpuPuts,
    commands: totals.commands,
    statements: totals.statements,
    seconds,
    profile: profile.name,
    max: profile.max,
    threshold: profile.threshold,
    cpus,
  };
}
