/**
 * `dio-cache`: one commander program; each command lives in its own file and registers itself.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, UsageError } from './errors.js';
import { registerStatechart } from './statechart.js';
import { registerTest } from './test.js';
import { registerExplore, registerReplay } from './explore.js';
import { registerCheck } from './check.js';
import { registerMerge } from './merge.js';
import { registerList } from './list.js';

const program = new Command()
  .name('dio-cache')
  .description('Model and conformance checker for the per-CPU iomap_dio allocation cache')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) });

registerList(program);
registerStatechart(program);
registerTest(program);
registerExplore(program);
registerReplay(program);
registerCheck(program);
registerMerge(program);

// A JSON consumer reads stdout: an error gets a JSON document there too (the message also goes
// to stderr, for the person at the terminal). The flag is looked for before commander parses,
// since a usage mistake stops parsing.
const json = process.argv.slice(2).includes('--json');
const jsonError = (message: string) => {
  if (json) process.stdout.write(JSON.stringify({ verdict: 'error', message }) + '\n');
};

try {
  await program.parseAsync(process.argv);
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
