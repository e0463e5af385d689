/**
 * The patch and C reader, the extractor and the role inference on malformed input: random bytes,
 * truncated and mutated copies of the seed. Each case either builds an implementation or fails
 * with a UsageError (one line for the user); never another exception, never a hang.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFromC } from '../conformance/c/build.js';
import { CHECK_SCOPES } from '../conformance/c/run.js';
import { explore } from '../conformance/explorer/explore.js';
import { replay, REPLAY_FORMAT } from '../conformance/explorer/replay.js';
import { detectKind } from '../conformance/c/reader.js';
import { UsageError } from '../conformance/cli/errors.js';

const SEED_TEXT = readFileSync(fileURLToPath(new URL('./fixtures/seed/iomap-dio-alloc-cache-v1.txt', import.meta.url)), 'utf8');
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
// A hang is caught by the test timeout (vitest.config.ts), not by timing each case: a time limit
// per case failed on a loaded machine (seven suites at once on two cores) with nothing wrong.

/** A message a user is shown: one line, and no JavaScript error of the checker's own folded into it. */
function expectOneLine(m: string | undefined): void {
  expect(m).toMatch(/^[^\n]+$/);
  expect(m).not.toMatch(/\b(TypeError|ReferenceError|RangeError|InternalError)\b|Cannot read propert|is not a function|is not iterable/);
}

/**
 * Runs the C path's front end on `text` (and, with `run`, a few hundred states of exploration of
 * what it built). What a user gets back must be something to act on: a UsageError (exit 2) with
 * one line; or a verdict, where each violation's counterexample replays (its choices re-run from
 * boot break the same invariant); or an error verdict whose message is one line. Returns 'built'
 * (and the verdict), or the UsageError message.
 */
async function front(name: string, text: string, run = false): Promise<string> {
  try {
    const kind = detectKind(name, text);
    if (kind === 'module') return 'module';
    const b = await buildFromC(name, text, kind);
    if (!run) return 'built';
    const scope = { ...CHECK_SCOPES[0]!, ops: 2 };
    const r = explore({ impl: b.impl, scope, maxStates: 150 });
    if (r.verdict === 'error') {
      // check() turns a boot that fails on anything but the code's own oops into a UsageError.
      expectOneLine(r.error);
      return `built: error: ${r.error}`;
    }
    if (r.verdict === 'violation') expect(r.violations.length).toBeGreaterThan(0);
    else expect(r.violations).toEqual([]);
    for (const v of r.violations) {
      // The interpreter may refuse odd C, but must never fail with a JavaScript error of its own.
      expect(v.message).not.toMatch(/the interpreter failed|the implementation threw/);
      expectOneLine(v.message.split('\n')[0]);
      const again = replay(b.impl, { format: REPLAY_FORMAT, impl: name, scope, choices: v.steps.map((s) => s.choice), invariant: v.id, message: v.message });
      expect(again.diverged, `${v.id}: the replay left the path`).toBeUndefined();
      expect(again.violation?.id, `${v.id} (${v.message.split('\n')[0]}) did not replay`).toBe(v.id);
    }
    return `built: ${r.verdict}${r.violations.length ? ` (${r.violations.map((v) => v.id).join(', ')})` : ''}`;
  } catch (e) {
    // This file's own failed expectation, not the checker's answer.
    if (e instanceof Error && e.name === 'AssertionError') throw e;
    if (!(e instanceof UsageError)) throw new Error(`not a UsageError on ${JSON.stringify(text.slice(0, 200))}: ${e instanceof Error ? e.stack : String(e)}`);
    expectOneLine(e.message);
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
    expect(await front('seed.patch', l.join('\n'), true)).toMatch(/^(built: |[^\n]+$)/);
  });

  it('the oracle on the outcomes it sorts: the seed conforms (within its budget), an edit that breaks it gives a counterexample that replays, a garbled line a one-line refusal', async () => {
    expect(await front('seed.patch', SEED_TEXT, true)).toMatch(/^built: (conforms|incomplete)$/);
    const nrDec = '+\tcache->nr--;\n';
    expect(SEED_TEXT.includes(nrDec)).toBe(true);
    // The alloc pops without counting: nr-accuracy, at the first alloc that hits the cache.
    expect(await front('seed.patch', SEED_TEXT.replace(nrDec, '+\t;\n'), true)).toMatch(/^built: violation \(.*nr-accuracy/);
    const garbled = await front('seed.patch', SEED_TEXT.replace('+\tcache->free_list = dio->dio_next;', '+\tcache->free_list = dio->dio_next +* ;'), true);
    expect(garbled).toMatch(/^C does not parse: direct-io\.c:\d+: /);
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
