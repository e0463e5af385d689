/**
 * `dio-cache test` (placeholder until its issue lands: it fails loudly rather than pretending).
 */
import type { Command } from 'commander';
import { UsageError } from './errors.js';

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('not implemented yet')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('test is not implemented yet');
    });
}
