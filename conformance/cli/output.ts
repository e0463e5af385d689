/**
 * What the long commands write besides their report: replay files in one output directory, and
 * progress lines on stderr that say what they count.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { doneLine, progressLine } from '../explorer/progress.js';
import { defaultReplayPath } from '../explorer/replay.js';
import { UsageError } from './errors.js';

// The progress lines are the explorer's (`check` prints them too); the commands take them from here.
export { doneLine, progressLine };

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
