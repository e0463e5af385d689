/**
 * Errors a user can cause. The CLI prints their message alone (no stack) and exits 2.
 * A conformance failure is not an error: it exits 1 with a report.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_CONFORMS = 0;
export const EXIT_VIOLATION = 1;
export const EXIT_USAGE = 2;
