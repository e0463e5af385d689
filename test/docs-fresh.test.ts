/**
 * The generated documents are what the code produces now: docs/statechart.{svg,mmd,dot,json},
 * docs/invariants.md and docs/primitives.md (the kernel primitives table). Regenerate with
 * `npm run docs`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS_DIR, generatedDocs, primitivesMarkdown } from '../conformance/gen-docs.js';
import { PRIMITIVES } from '../impl/kernel/primitive-table.js';

const docs = await generatedDocs();

describe('generated docs are fresh', () => {
  for (const [name, text] of Object.entries(docs)) {
    it(`docs/${name} matches the code (npm run docs)`, () => {
      let committed = '';
      try {
        committed = readFileSync(join(DOCS_DIR, name), 'utf8');
      } catch {
        throw new Error(`docs/${name} is missing: run npm run docs`);
      }
      expect(committed === text, `docs/${name} is stale: run npm run docs`).toBe(true);
    });
  }
  it('docs/primitives.md has a row per primitive, and any changed column makes it stale', () => {
    const doc = docs['primitives.md']!;
    const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.map((l) => l.slice(3, l.indexOf('`', 3)))).toEqual(PRIMITIVES.map((r) => r.name));
    const committed = readFileSync(join(DOCS_DIR, 'primitives.md'), 'utf8');
    const flip = (f: (r: (typeof PRIMITIVES)[number]) => (typeof PRIMITIVES)[number]) => primitivesMarkdown(PRIMITIVES.map((r) => (r.name === 'put_cpu' ? f(r) : r)));
    expect(flip((r) => r)).toBe(committed);
    expect(flip((r) => ({ ...r, point: !r.point }))).not.toBe(committed);
    expect(flip((r) => ({ ...r, pure: !r.pure }))).not.toBe(committed);
    expect(flip((r) => ({ ...r, paths: 'c' }))).not.toBe(committed);
    expect(flip((r) => ({ ...r, runs: [] }))).not.toBe(committed);
    expect(flip((r) => ({ ...r, kernel: `${r.kernel}.` }))).not.toBe(committed);
    expect(flip((r) => ({ ...r, effect: `${r.effect}.` }))).not.toBe(committed);
  });
  it('the SVG is a parseable drawing of every region', () => {
    const svg = docs['statechart.svg']!;
    expect(svg).toMatch(/^<\?xml[^>]*>\s*<!DOCTYPE svg/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    for (const region of ['task', 'softirq', 'hardirq', 'running', 'irqs', 'taskList', 'irqList', 'capacity']) expect(svg).toContain(`${region} (region)`);
  });
});
