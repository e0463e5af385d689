/**
 * `dio-cache statechart` (placeholder until its issue lands: it fails loudly rather than pretending).
 */
import type { Command } from 'commander';
import { UsageError } from './errors.js';

export function registerStatechart(program: Command): void {
  program
    .command('statechart')
    .description('not implemented yet')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('statechart is not implemented yet');
    });
}
