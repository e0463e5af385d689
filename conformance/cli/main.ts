/**
 * `dio-cache`: one commander program; each command lives in its own file and registers itself.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, UsageError } from './errors.js';

/**
 * Each command's registration, in the order `--help` lists them, by the file that holds it: a
 * run loads only its command's file and what that imports (`check` needs neither fast-check nor
 * the statechart's path generator), and every file when it is not one command's run (`--help`,
 * a misspelt command).
 */
const COMMANDS: readonly { names: readonly string[]; register: () => Promise<(p: Command) => void> }[] = [
  { names: ['list'], register: async () => (await import('./list.js')).registerList },
  { names: ['statechart'], register: async () => (await import('./statechart.js')).registerStatechart },
  { names: ['test'], register: async () => (await import('./test.js')).registerTest },
  { names: ['explore'], register: async () => (await import('./explore.js')).registerExplore },
  { names: ['replay'], register: async () => (await import('./explore.js')).registerReplay },
  { names: ['check', 'init-impl'], register: async () => (await import('./check.js')).registerCheck },
  { names: ['merge'], register: async () => (await import('./merge.js')).registerMerge },
];

/** A fresh program per run: commander keeps a parse's option values on its command objects. */
async function program(command: string | undefined): Promise<Command> {
  const p = new Command()
    .name('dio-cache')
    .description('Model and conformance checker for the per-CPU iomap_dio allocation cache')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  const one = COMMANDS.filter((c) => command !== undefined && c.names.includes(command));
  for (const c of one.length ? one : COMMANDS) (await c.register())(p);
  return p;
}

/**
 * Runs `dio-cache` on argv (node's form: the interpreter and the script first), writing to
 * process.stdout/stderr and setting process.exitCode. bin/dio-cache.js calls it; the tests call
 * it too, to run a command without starting a process (test/cli-run.ts).
 */
export async function main(argv: string[]): Promise<void> {
  // A JSON consumer reads stdout: an error gets a JSON document there too (the message also goes
  // to stderr, for the person at the terminal). The flag is looked for before commander parses,
  // since a usage mistake stops parsing.
  const json = argv.slice(2).includes('--json');
  const jsonError = (message: string) => {
    if (json) process.stdout.write(JSON.stringify({ verdict: 'error', message }) + '\n');
  };

  try {
    await (await program(argv[2])).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with a message already printed.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
      if (e.exitCode !== 0) jsonError(e.message.replace(/^error: /, ''));
    } else if (e instanceof UsageError) {
      process.stderr.write(`dio-cache: ${e.message}\n`);
      jsonError(e.message);
      process.exitCode = EXIT_USAGE;
    } else throw e;
  }
}

// `tsx conformance/cli/main.ts ARGS` (npm run dio-cache, npm start): this file is the entry point.
const entry = process.argv[1];
const isEntry = (() => {
  try {
    return entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (isEntry) await main(process.argv);
