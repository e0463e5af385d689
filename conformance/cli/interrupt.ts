/**
 * Ctrl-C for the long commands (explore, check, test): the first SIGINT stops the search, which
 * then reports what it found so far with the verdict `incomplete` and exits 130.
 *
 * A wrapper (`npm run`, `npx`, the tsx CLI) relays the terminal's SIGINT to a process that
 * already got it from the terminal, so one Ctrl-C can arrive twice within milliseconds: a second
 * SIGINT within a second of the first is the same Ctrl-C. A later one means "quit now": the
 * `lastWords` callback prints the figures of the last progress snapshot, and the process exits 130.
 */
import { EXIT_INTERRUPTED } from './errors.js';

/** The same Ctrl-C, relayed: ignored. */
const RELAY_MS = 1000;

export interface Interrupt {
  signal: AbortSignal;
  /** True once SIGINT arrived. */
  readonly interrupted: boolean;
  /** What to print if a second Ctrl-C quits before the report is ready. */
  lastWords(f: () => void): void;
  dispose(): void;
}

export function onInterrupt(quiet = false): Interrupt {
  const ac = new AbortController();
  let at = 0;
  let words: (() => void) | null = null;
  const handler = () => {
    const now = Date.now();
    if (!at) {
      at = now;
      if (!quiet) process.stderr.write('\ninterrupted: finishing with what was found so far (Ctrl-C again to quit at once)\n');
      ac.abort();
      return;
    }
    if (now - at < RELAY_MS) return;
    try {
      words?.();
    } finally {
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on('SIGINT', handler);
  return {
    signal: ac.signal,
    get interrupted() {
      return at !== 0;
    },
    lastWords(f) {
      words = f;
    },
    dispose() {
      process.off('SIGINT', handler);
    },
  };
}
