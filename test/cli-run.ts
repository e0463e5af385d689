/**
 * `dio-cache ARGS` run inside the test's own process, through the entry bin/dio-cache.js calls
 * (conformance/cli/main.ts `main()`): the same commands, output and exit codes, without paying a
 * node + tsx start for each. What only a process shows (signals, the bin script, PATH, a second
 * Ctrl-C's process.exit) is still run as one, in cli.test.ts, shards.test.ts and c-cli.test.ts.
 */
import { main } from '../conformance/cli/main.js';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

let busy = false;

/**
 * Runs the CLI on args in directory cwd, capturing stdout and stderr. An exception that escapes
 * main() is what node does with one: its stack on stderr and exit code 1. Runs one at a time
 * (stdout, stderr, the exit code and the directory are the process's). `onErr` hears stderr as
 * it is written (all of it so far), while the command runs: cli.test.ts interrupts a search there.
 */
export async function runCli(args: string[], cwd: string, onErr?: (err: string) => void): Promise<CliRun> {
  if (busy) throw new Error('runCli: one in-process CLI run at a time (the tests that call it must not be concurrent)');
  busy = true;
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[], hear?: (all: string) => void) =>
    ((chunk: string | Uint8Array, enc?: BufferEncoding | ((e?: Error | null) => void), cb?: (e?: Error | null) => void) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof enc === 'string' ? enc : 'utf8'));
      hear?.(into.join(''));
      const done = typeof enc === 'function' ? enc : cb;
      if (done) queueMicrotask(() => done(null));
      return true;
    }) as typeof process.stdout.write;
  const saved = { out: process.stdout.write, err: process.stderr.write, code: process.exitCode, cwd: process.cwd() };
  process.stdout.write = capture(out);
  process.stderr.write = capture(err, onErr);
  process.exitCode = undefined;
  let code: number | null;
  try {
    process.chdir(cwd);
    await main([process.execPath, 'dio-cache', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    err.push(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    code = 1;
  } finally {
    process.chdir(saved.cwd);
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exitCode = saved.code;
    busy = false;
  }
  return { code, out: out.join(''), err: err.join('') };
}
