/**
 * `dio-cache statechart`: the specification's statechart (model/machine.ts) as Mermaid, DOT, SVG
 * or JSON, drawn from the live machine (../statechart.ts renders it).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PROFILES } from '../../model/profiles.js';
import { renderStatechart, STATECHART_FORMATS, type StatechartFormat } from '../statechart.js';
import { UsageError } from './errors.js';

export function registerStatechart(program: Command): void {
  program
    .command('statechart')
    .description('print the model statechart (one CPU\'s cache and its contexts)')
    .option('--format <format>', `one of ${STATECHART_FORMATS.join(', ')}`, 'mermaid')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--profile <name>', `profile the machine is built for (${Object.keys(PROFILES).join(', ')})`, 'iomap-v1')
    .action(async (o: { format: string; output?: string; profile: string }) => {
      if (!(STATECHART_FORMATS as readonly string[]).includes(o.format))
        throw new UsageError(`unknown format '${o.format}' (known: ${STATECHART_FORMATS.join(', ')})`);
      if (!PROFILES[o.profile]) throw new UsageError(`unknown profile '${o.profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
      const text = await renderStatechart(o.format as StatechartFormat, o.profile);
      if (o.output) {
        try {
          writeFileSync(o.output, text);
        } catch (e) {
          throw new UsageError(`cannot write ${o.output}: ${(e as Error).message}`);
        }
      } else process.stdout.write(text);
    });
}
