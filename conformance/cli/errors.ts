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

/** A numeric flag: an integer >= min, or a UsageError naming the flag. */
export function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}
