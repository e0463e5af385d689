/**
 * The generated documents are what the code produces now: docs/statechart.{svg,mmd,dot,json} and
 * docs/invariants.md. Regenerate with `npm run docs`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCS_DIR, generatedDocs } from '../conformance/gen-docs.js';

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
  it('the SVG is a parseable drawing of every region', () => {
    const svg = docs['statechart.svg']!;
    expect(svg).toMatch(/^<\?xml[^>]*>\s*<!DOCTYPE svg/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    for (const region of ['task', 'softirq', 'hardirq', 'running', 'irqs', 'taskList', 'irqList', 'capacity']) expect(svg).toContain(`${region} (region)`);
  });
});
