/**
 * `dio-cache list`: the implementations, scopes, profiles, kernel configs and invariants the other commands accept.
 */
import type { Command } from 'commander';
import { ALL } from '../../impl/registry.js';
import { INVARIANTS } from '../../model/invariants.js';
import { PROFILES } from '../../model/profiles.js';
import { KERNEL_CONFIGS } from '../../model/config.js';
import { SCOPES } from '../scopes.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list implementations, scopes, profiles and invariant ids')
    .action(() => {
      const out: string[] = ['implementations:'];
      for (const i of ALL) out.push(`  ${i.name.padEnd(28)} ${i.expectedViolation ? `[bad: ${i.expectedViolation}] ` : ''}${i.description}`);
      out.push('scopes:');
      for (const s of Object.values(SCOPES)) out.push(`  ${s.name.padEnd(28)} ${s.description}`);
      out.push('profiles:');
      for (const p of Object.values(PROFILES)) out.push(`  ${p.name.padEnd(28)} ${p.description}`);
      out.push('kernel configs (--config):');
      for (const c of Object.values(KERNEL_CONFIGS)) out.push(`  ${c.name.padEnd(28)} ${c.title}: ${c.description}`);
      out.push('invariants:');
      for (const v of INVARIANTS) out.push(`  ${v.id.padEnd(28)} ${v.severity === 'warning' ? '[warning] ' : ''}${v.claim}`);
      process.stdout.write(out.join('\n') + '\n');
    });
}
