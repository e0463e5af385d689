/**
 * Writes the generated documents: docs/statechart.{svg,mmd,dot,json} (the iomap-v1 statechart at
 * the kernel's constants), docs/invariants.md (the invariant registry as a table) and the table
 * between the `invariants:begin/end` markers of docs/model.md. `npm run docs` runs it;
 * test/docs-fresh.test.ts fails when a committed file differs from what this produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVARIANTS } from '../model/invariants.js';
import { renderStatechart } from './statechart.js';

export const DOCS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function invariantTable(): string[] {
  const out = ['| id | claim | kernel rule | source | severity |', '|---|---|---|---|---|'];
  for (const i of INVARIANTS) out.push(`| \`${i.id}\` | ${cell(i.claim)} | ${cell(i.kernelRule)} | ${cell(i.source)} | ${i.severity} |`);
  return out;
}

/** docs/invariants.md: one row per registry entry, in registry order. */
export function invariantsMarkdown(): string {
  const out = [
    '# Invariants',
    '',
    '<!-- Generated from model/invariants.ts by `npm run docs` (conformance/gen-docs.ts). Do not edit. -->',
    '',
    'Every step of every layer (statechart paths, fast-check, the explorer, `dio-cache check`) is judged',
    'against this registry; a failure names the id verbatim.',
    '',
    ...invariantTable(),
  ];
  return out.join('\n') + '\n';
}

const BEGIN = '<!-- invariants:begin -->';
const END = '<!-- invariants:end -->';

/** docs/model.md with its generated invariant table brought up to date (the prose is hand-written). */
export function modelMarkdown(current: string): string {
  const a = current.indexOf(BEGIN);
  const b = current.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/model.md: the markers ${BEGIN} ... ${END} are missing`);
  const table = ['<!-- Generated from model/invariants.ts by `npm run docs`. Do not edit between the markers. -->', ...invariantTable()].join('\n');
  return current.slice(0, a + BEGIN.length) + '\n' + table + '\n' + current.slice(b);
}

/** File name (relative to docs/) -> content. */
export async function generatedDocs(): Promise<Record<string, string>> {
  return {
    'statechart.mmd': await renderStatechart('mermaid'),
    'statechart.dot': await renderStatechart('dot'),
    'statechart.json': await renderStatechart('json'),
    'statechart.svg': await renderStatechart('svg'),
    'invariants.md': invariantsMarkdown(),
    'model.md': modelMarkdown(readFileSync(join(DOCS_DIR, 'model.md'), 'utf8')),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of Object.entries(await generatedDocs())) {
    writeFileSync(join(DOCS_DIR, name), text);
    process.stdout.write(`wrote docs/${name} (${text.length} bytes)\n`);
  }
}
