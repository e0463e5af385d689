/**
 * What the long commands write besides their report: replay files in one output directory, and
 * progress lines on stderr that say what they count.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Progress } from '../explorer/explore.js';
import { defaultReplayPath } from '../explorer/replay.js';
import { UsageError } from './errors.js';

/** Where replay files go when --out-dir is not given (relative to the current directory). */
export const DEFAULT_OUT_DIR = 'dio-cache-out';

/**
 * The path of the replay file of the i-th violation: DIR/<impl>.<invariant>.replay.json, except
 * that the deprecated --replay-out FILE still names the first one.
 */
export function replayPath(o: { outDir?: string; replayOut?: string }, i: number, implName: string, invariant: string): string {
  if (o.replayOut && i === 0) return resolve(o.replayOut);
  const dir = resolve(o.outDir ?? DEFAULT_OUT_DIR);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new UsageError(`--out-dir ${o.outDir ?? DEFAULT_OUT_DIR}: cannot create it (${e instanceof Error ? e.message : String(e)})`);
  }
  return join(dir, basename(defaultReplayPath(implName, invariant)));
}

/** One stderr line for --replay-out, which names only the first violation's file. */
export function warnReplayOut(replayOut: string | undefined): void {
  if (replayOut) process.stderr.write('dio-cache: --replay-out is deprecated: it names only the first violation\'s replay file; --out-dir DIR writes them all to DIR\n');
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * A progress line. While exploring it counts distinct states stored so far (what the report
 * calls `states` when the search ends); a minimising line says whose counterexample is being
 * shortened, so that its pause is not mistaken for the scope's search.
 */
export function progressLine(prefix: string, p: Progress): string {
  const head = prefix ? `${prefix}: ` : '';
  if (p.phase === 'minimise')
    return `${head}minimising the ${p.invariant} counterexample (fewest interrupts, preemptions, steps) after ${fmt(p.states)} distinct states`;
  return `${head}exploring: ${fmt(p.states)} distinct states so far, ${fmt(p.transitions)} transitions, depth ${p.depth}, ${fmt(p.states / Math.max(p.seconds, 1e-9))} states/s, ${p.seconds.toFixed(1)} s`;
}

/** The last progress line of a search: the figures its report prints. */
export function doneLine(prefix: string, s: { states: number; transitions: number; depth: number; seconds: number }, verdict: string, stoppedBy?: string): string {
  const head = prefix ? `${prefix}: ` : '';
  return `${head}explored: ${fmt(s.states)} distinct states, ${fmt(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(2)} s: ${verdict}${stoppedBy && verdict !== 'violation' ? ` (stopped: ${stoppedBy})` : ''}`;
}

/** Why a search stopped early, in words. */
export function stopWords(stoppedBy: string | undefined): string {
  switch (stoppedBy) {
    case 'signal':
      return 'interrupted (Ctrl-C)';
    case 'maxStates':
      return 'the --max-states budget ran out';
    case 'time':
      return 'the --max-seconds budget ran out';
    case 'memory':
      return 'memory ran short (the --max-memory budget, or 90% of the heap)';
    case 'violation':
      return 'stopped at the first violation';
    default:
      return 'stopped early';
  }
}
