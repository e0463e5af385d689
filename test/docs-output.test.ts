/**
 * The output pasted into README.md, docs/checking-your-patch.md and docs/findings.md is what the
 * code prints now: every pasted `$ dio-cache` block names its command in a marker
 * (conformance/docs-output.ts), and the cheap ones are re-run here; a state, transition or depth
 * count, a verdict line or an exit code that differs fails the test. Regenerate with `npm run docs`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allBlocks, counts, DOCS_WITH_OUTPUT, findBlocks, parseSpec, render, ROOT, type Runner } from '../conformance/docs-output.js';
import { runCli } from './cli-run.js';

/** Each block's command in-process (test/cli-run.ts): the entry bin/dio-cache.js calls, no process start. */
const inProcess: Runner = async (args, cwd) => {
  const r = await runCli(args, cwd);
  return { status: r.code, stdout: r.out, stderr: r.err };
};

describe('pasted output in the docs', () => {
  it('every pasted `$ dio-cache` block is marked with its command (or says why it cannot be regenerated)', () => {
    for (const f of DOCS_WITH_OUTPUT) {
      const lines = readFileSync(join(ROOT, f), 'utf8').split('\n');
      lines.forEach((l, i) => {
        if (!/^\$ dio-cache /.test(l) || lines[i - 1] !== '```') return;
        expect(lines[i - 2] ?? '', `${f}:${i + 1}: \`${l}\` has no <!-- output: ... --> marker above its block`).toMatch(/^<!-- output: .* -->$/);
      });
    }
  });

  it("each marked block starts with its marker's command", () => {
    const blocks = allBlocks();
    expect(blocks.length).toBeGreaterThan(5);
    for (const b of blocks) expect(b.body.split('\n')[0], `${b.file}: ${b.spec.marker}`).toBe(`$ dio-cache ${b.spec.args.join(' ')}`);
  });

  it('the marker grammar: cd, lines, first, cheap', () => {
    const s = parseSpec('cd test/fixtures/c && dio-cache check x.patch --ops 3 | lines: ^(conforms|violation) | cheap');
    expect(s).toMatchObject({ dir: 'test/fixtures/c', args: ['check', 'x.patch', '--ops', '3'], cheap: true });
    expect(s.lines!.test('conforms: 3 states')).toBe(true);
    expect(() => parseSpec('ls -l')).toThrow(/must be dio-cache/);
    expect(parseSpec('dio-cache check x.patch --replay r.json | first: dio-cache check x.patch --ops 3').first).toEqual(['check', 'x.patch', '--ops', '3']);
    expect(() => parseSpec('dio-cache list | loud')).toThrow(/unknown option 'loud'/);
    const text = 'a\n<!-- output: dio-cache list | cheap -->\n```\n$ dio-cache list\nx\n```\nb\n';
    const [b] = findBlocks('t.md', text);
    expect(text.slice(b!.start, b!.end)).toBe('$ dio-cache list\nx\n');
  });

  it('counts() picks the figures a drift would change, not the timings', () => {
    const a = counts('  1,234 states, 5,678 transitions, depth 12, 2.23 s, 4,261 states/s: conforms\nconforms: 1,234 states, every interleaving\nexit 0\n');
    const b = counts('  1,234 states, 5,678 transitions, depth 12, 9.99 s, 99 states/s: conforms\nconforms: 1,234 states, every interleaving\nexit 0\n');
    expect(a).toEqual(b);
    expect(a).toContain('exit 0');
    expect(counts('conforms: 1,235 states, every interleaving\n')).not.toEqual(counts('conforms: 1,234 states, every interleaving\n'));
  });

  for (const b of allBlocks().filter((x) => x.spec.cheap))
    it(`${b.file}: ${b.spec.marker} is fresh (npm run docs)`, async () => {
      expect(counts(b.body), `${b.file}: the pasted output of \`dio-cache ${b.spec.args.join(' ')}\` is stale: npm run docs`).toEqual(counts(await render(b.spec, inProcess)));
    });
});
