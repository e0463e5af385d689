/**
 * Replay files: everything needed to re-run a counterexample, as JSON a reviewer can attach to a
 * mail. The choice vector indexes System.enabled() at each step, so it reproduces the identical
 * trace as long as the implementation and the scope are the same.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Implementation } from '../../impl/interface.js';
import { UsageError } from '../errors.js';
import { loadImplementation } from '../load.js';
import { BootError, System, type Scope } from '../system.js';
import type { TraceStep } from './types.js';
import { renderTrace, runChoices } from './trace.js';

// `--impl NAME|PATH` loading lives in ../load.ts, with `check`'s, which it can hand a patch to.
export { loadImplementation };

export const REPLAY_FORMAT = 'dio-cache-replay/1';

export interface ReplayFile {
  format: typeof REPLAY_FORMAT;
  /** A registry name, or the path of a module (absolute) exporting the implementation. */
  impl: string;
  scope: Scope;
  choices: number[];
  /** The invariant id the last step breaks. */
  invariant: string;
  message: string;
  /** C input only: the binding file and --role flags `check` used, so the same code is rebuilt. */
  binding?: string;
  roles?: Record<string, string>;
  /** C input only: the call site after the first that this run used as its alloc or put (`free site in f() (file:line)`). */
  site?: string;
}

export function defaultReplayPath(implName: string, invariant: string): string {
  return `${implName.replace(/[^A-Za-z0-9_.-]+/g, '_')}.${invariant}.replay.json`;
}

export function writeReplay(path: string, r: Omit<ReplayFile, 'format'>): void {
  writeFileSync(path, JSON.stringify({ format: REPLAY_FORMAT, ...r }, null, 2) + '\n');
}

export function readReplay(path: string): ReplayFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${path}: not a readable replay file (${e instanceof Error ? e.message : String(e)})`);
  }
  const r = raw as Partial<ReplayFile>;
  if (r.format !== REPLAY_FORMAT) throw new UsageError(`${path}: not a ${REPLAY_FORMAT} file`);
  if (typeof r.impl !== 'string' || typeof r.scope !== 'object' || !Array.isArray(r.choices) || typeof r.invariant !== 'string')
    throw new UsageError(`${path}: a replay file needs impl, scope, choices and invariant`);
  if (!r.choices.every((c) => Number.isInteger(c) && c >= 0)) throw new UsageError(`${path}: choices must be non-negative integers`);
  return r as ReplayFile;
}

export interface Replayed {
  steps: TraceStep[];
  /** The violation of the expected id at the last step, if it reproduced. */
  violation: { id: string; message: string } | null;
  /** Other error violations at the last step. */
  others: { id: string; message: string }[];
  interrupts: number;
  preemptions: number;
  lines: string[];
  diverged?: { at: number; enabled: number };
}

export function replay(impl: Implementation, file: ReplayFile): Replayed {
  const sys = new System(impl, file.scope);
  let run;
  try {
    run = runChoices(sys, file.choices);
  } catch (e) {
    if (!(e instanceof BootError)) throw e;
    // The implementation oopsed during boot: the same finding explore reported with no step.
    const violation = { id: file.invariant, message: `during boot (init, prefill and in-flight allocations, run without interleaving): ${e.message}` };
    const ok = file.choices.length === 0 && violation.message === file.message;
    return { steps: [], violation: ok ? violation : null, others: [], interrupts: 0, preemptions: 0, lines: renderTrace([], ok ? violation : null) };
  }
  const v = run.violations.find((x) => x.id === file.invariant) ?? null;
  const violation = v && { id: v.id, message: v.message };
  const res: Replayed = {
    steps: run.steps,
    violation,
    others: run.violations.filter((x) => x.id !== file.invariant && x.severity === 'error').map((x) => ({ id: x.id, message: x.message })),
    interrupts: run.interrupts,
    preemptions: run.preemptions,
    lines: renderTrace(run.steps, violation),
  };
  if (run.diverged) res.diverged = run.diverged;
  return res;
}
