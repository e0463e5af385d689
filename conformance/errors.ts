/**
 * Errors a user can cause: a bad flag, an input that cannot be read or parsed, an implementation
 * that cannot be loaded. The CLI prints their message alone (no stack) and exits 2 (cli/errors.ts
 * holds the exit codes). Thrown from every layer that reads user input (the C path, replay files,
 * the trace page), so it lives below all of them and below the CLI.
 * A conformance failure is not an error: it exits 1 with a report.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
