/**
 * `dio-cache check` (placeholder until its issue lands: it fails loudly rather than pretending).
 */
import type { Command } from 'commander';
import { UsageError } from './errors.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('not implemented yet')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('check is not implemented yet');
    });
}
