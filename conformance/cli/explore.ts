/**
 * `dio-cache explore` (placeholder until its issue lands: it fails loudly rather than pretending).
 */
import type { Command } from 'commander';
import { UsageError } from './errors.js';

export function registerExplore(program: Command): void {
  program
    .command('explore')
    .description('not implemented yet')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('explore is not implemented yet');
    });
}
