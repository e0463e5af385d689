/**
 * Exit codes. A UsageError (../errors.ts, re-exported here for the commands) exits 2 with its
 * message alone, no stack. A conformance failure is not an error: it exits 1 with a report.
 */
import { UsageError } from '../errors.js';
import type { StopReason } from '../explorer/types.js';

export { UsageError };
export type { StopReason };

export const EXIT_CONFORMS = 0;
export const EXIT_VIOLATION = 1;
export const EXIT_USAGE = 2;

/**
 * A search that did not exhaust its bound and found nothing proves nothing: its verdict is
 * `incomplete`, never `conforms`. Stopped by a budget (--max-states, --max-seconds, --max-memory,
 * or the heap running short) it exits 3; stopped by Ctrl-C (SIGINT) it exits 130, as a shell
 * reports a process that SIGINT ended. A violation found before the stop is still exit 1.
 */
export const EXIT_INCOMPLETE = 3;
export const EXIT_INTERRUPTED = 130;

/** The exit code of a verdict: 0 conforms, 1 violation, 2 error, 3 incomplete (budget), 130 incomplete (SIGINT). */
export function exitCodeFor(verdict: string, stoppedBy?: StopReason | string, interrupted = false): number {
  if (verdict === 'violation') return EXIT_VIOLATION;
  if (verdict === 'error') return EXIT_USAGE;
  if (verdict === 'conforms') return EXIT_CONFORMS;
  return interrupted || stoppedBy === 'signal' ? EXIT_INTERRUPTED : EXIT_INCOMPLETE;
}

/** A numeric flag: an integer >= min, or a UsageError naming the flag. */
export function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}
