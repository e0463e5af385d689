/**
 * The patch and C reader, the extractor and the role inference on malformed input: random bytes,
 * truncated and mutated copies of the seed. Each case either builds an implementation or fails
 * with a UsageError (one line for the user); never another exception, never a hang.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFromC } from '../conformance/c/build.js';
import { CHECK_SCOPES } from '../conformance/c/run.js';
import { explore } from '../conformance/explorer/explore.js';
import { detectKind } from '../conformance/c/reader.js';
import { UsageError } from '../conformance/cli/errors.js';

const SEED_TEXT = readFileSync('/work/shared/seed/iomap-dio-alloc-cache-v1.txt', 'utf8');
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
// A hang is caught by the test timeout (vitest.config.ts), not by timing each case: a time limit
// per case failed on a loaded machine (seven suites at once on two cores) with nothing wrong.

/**
 * Runs the C path's front end on `text` (and, with `run`, a few hundred states of exploration of
 * what it built); returns 'built', or the UsageError message.
 */
async function front(name: string, text: string, run = false): Promise<string> {
  try {
    const kind = detectKind(name, text);
    if (kind === 'module') return 'module';
    const b = await buildFromC(name, text, kind);
    if (run) {
      const r = explore({ impl: b.impl, scope: { ...CHECK_SCOPES[0]!, ops: 2 }, maxStates: 150 });
      expect(['conforms', 'violation', 'error']).toContain(r.verdict);
      // The interpreter may refuse odd C, but must never fail with a JavaScript error of its own.
      for (const v of r.violations) expect(v.message).not.toMatch(/the interpreter failed|the implementation threw/);
    }
    return 'built';
  } catch (e) {
    if (!(e instanceof UsageError)) throw new Error(`not a UsageError on ${JSON.stringify(text.slice(0, 200))}: ${e instanceof Error ? e.stack : String(e)}`);
    expect(e.message).not.toMatch(/\n/);
    return e.message;
  }
}

describe(`reader and extractor fuzz (seed ${seed}; FC_SEED=${seed} replays)`, () => {
  it('random text and bytes', async () => {
    console.log(`c-fuzz seed ${seed}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 400 }), fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1'))), async (t) => {
        await front('input.patch', t);
      }),
      { seed, numRuns: 60 },
    );
  });

  it('the seed truncated anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: SEED_TEXT.length }), async (n) => {
        await front('seed.patch', SEED_TEXT.slice(0, n));
      }),
      { seed, numRuns: 40 },
    );
  });

  it('a struct header cut to `struct dio_;`, its members left behind: an unnamed member of a struct defined nowhere is no member, not a TypeError (FC_SEED=376796645)', async () => {
    const l = SEED_TEXT.split('\n');
    expect(l[38]).toBe('+struct dio_alloc_cache {');
    l[38] = l[38]!.slice(0, Math.floor(l[38]!.length / 2)) + ';';
    await front('seed.patch', l.join('\n'), true);
  });

  it('the seed with lines deleted, duplicated or garbled', async () => {
    const lines = SEED_TEXT.split('\n');
    const edit = fc.record({ at: fc.integer({ min: 0, max: lines.length - 1 }), kind: fc.constantFrom('delete', 'dup', 'garble'), junk: fc.string({ maxLength: 12 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        const l = lines.slice();
        for (const e of edits) {
          const i = Math.min(e.at, l.length - 1);
          if (e.kind === 'delete') l.splice(i, 1);
          else if (e.kind === 'dup') l.splice(i, 0, l[i]!);
          else l[i] = l[i]!.slice(0, Math.floor(l[i]!.length / 2)) + e.junk;
        }
        await front('seed.patch', l.join('\n'), true);
      }),
      { seed, numRuns: 40 },
    );
  });
});
