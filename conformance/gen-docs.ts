/**
 * Writes the generated documents: docs/statechart.{svg,mmd,dot,json} (the iomap-v1 statechart at
 * the kernel's constants), docs/invariants.md (the invariant registry as a table),
 * docs/primitives.md (the kernel primitives table) and the table between the
 * `invariants:begin/end` markers of docs/model.md. `npm run docs` runs it;
 * test/docs-fresh.test.ts fails when a committed file differs from what this produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INVARIANTS } from '../model/invariants.js';
import { PRIMITIVES, type PrimitiveDecl } from '../impl/kernel/primitive-table.js';
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

const yes = (b: boolean) => (b ? 'yes' : '');

/** docs/primitives.md: one row per primitive, in table order (`rows` other than the table only in tests). */
export function primitivesMarkdown(rows: readonly PrimitiveDecl[] = PRIMITIVES): string {
  const c = rows.filter((r) => r.paths !== 'port').length;
  const out = [
    '# Kernel primitives',
    '',
    '<!-- Generated from impl/kernel/primitive-table.ts by `npm run docs` (conformance/gen-docs.ts). Do not edit. -->',
    '',
    `Every kernel call an implementation makes is one of these ${rows.length} rows; the C path (\`dio-cache check\`) knows`,
    `the ${c} that are not \`port\`, and a C call that is neither a function or macro of the code nor one of them is`,
    'refused before exploring (exit 2) with its name and line: give a C definition in a binding file',
    '(`"functions": {"name": "C text"}`) or map it to a row here (`"aliases": {"name": "kfree"}`), and pass',
    '`--binding FILE` (checking-your-patch.md).',
    '',
    '- **point**: the kernel may switch context just after it (it sleeps, or re-enables preemption or irqs).',
    '  A port makes it the last thing in its statement; the C path makes its statement a step of its own,',
    '  so the next statement that touches shared state comes after a boundary where the switch can happen.',
    '- **pure**: the call itself reads and writes no state (its arguments may): a statement or condition',
    '  that calls only pure primitives on locals and constants is no statement boundary.',
    '- **paths**: `both`, the C spelling and a `Kernel` method the ports call; `c`, a C spelling only;',
    '  `port`, a `Kernel` method only. **runs**: the rows a C call of it runs (`local_lock_irqsave` runs',
    '  `local_irq_save`); empty when the value comes from its arguments and memory alone.',
    '- A name ending in `*` is a prefix. Arguments (numbered from #0) "not checked as names" are names or',
    '  types the C path does not read, so an identifier there need not be defined in the code.',
    '',
    '| C name | point | pure | paths | runs | example | kernel | effect |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const notes = [
      ...(r.unevaluated !== undefined ? [`arguments from #${r.unevaluated} on not checked as names`] : []),
      ...(r.opaque ? [`argument${r.opaque.length > 1 ? 's' : ''} ${r.opaque.map((i) => `#${i}`).join(', ')} not read (no object of the model)`] : []),
      ...(r.allocates ? ['a slab allocation'] : []),
      ...(r.prints ? ['a print: strings are text'] : []),
      ...(r.cpu === 'returns' ? ['returns a CPU number'] : r.cpu !== undefined ? [`argument #${r.cpu} is a CPU number`] : []),
    ];
    const effect = notes.length ? `${r.effect} (${notes.join('; ')})` : r.effect;
    out.push(
      `| \`${r.name}\` | ${yes(r.point)} | ${yes(r.pure)} | ${r.paths} | ${r.runs.map((x) => `\`${x}\``).join(', ')} | \`${cell(r.example)}\` | ${cell(r.kernel)} | ${cell(effect)} |`,
    );
  }
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
    'primitives.md': primitivesMarkdown(),
    'model.md': modelMarkdown(readFileSync(join(DOCS_DIR, 'model.md'), 'utf8')),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, text] of Object.entries(await generatedDocs())) {
    writeFileSync(join(DOCS_DIR, name), text);
    process.stdout.write(`wrote docs/${name} (${text.length} bytes)\n`);
  }
}
