/**
 * The fast-check layer: at least 1,000 runs at MAX 256 / THRESHOLD 16 on the seed port, with the
 * cap and the threshold actually crossed, and failures (with the right invariant id) on known-bad
 * variants. FC_SEED replays a seed, FC_RUNS scales the runs (test/setup.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findImpl, VARIANTS } from '../impl/registry.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { runFastCheck } from '../conformance/fastcheck/index.js';

const runs = Math.max(fc.readConfigureGlobal().numRuns ?? 1000, 1000);
const log = (line: string) => console.log(line);

describe('fast-check layer', () => {
  it(`iomap-v1 conforms over ${runs} runs at the kernel's constants, crossing the threshold and the cap`, () => {
    const r = runFastCheck(iomapV1, { numRuns: runs, log });
    console.log(
      `fast-check iomap-v1: seed ${r.seed}, ${r.runs} runs in ${r.seconds.toFixed(1)} s, ${r.commands} commands, ${r.statements} statements; ` +
        `past the cap in ${r.reachedCap} runs, spliced in ${r.reachedThreshold}, held below the threshold in ${r.heldBelowThreshold}; ` +
        `max nr+nr_irq ${r.maxTotal}; ${r.interrupted} interrupted ops (${r.concurrentOnly} concurrent-only); ${r.crossCpuPuts} cross-CPU puts`,
    );
    expect(r.failures).toEqual([]);
    expect(r.runs).toBe(runs);
    expect([r.max, r.threshold, r.cpus]).toEqual([256, 16, 2]);
    // The sequences are long enough to matter: both boundaries are crossed in a share of the runs.
    expect(r.reachedThreshold).toBeGreaterThan(runs / 10);
    expect(r.heldBelowThreshold).toBeGreaterThan(runs / 10);
    expect(r.reachedCap).toBeGreaterThan(runs / 100);
    expect(r.maxTotal).toBeGreaterThanOrEqual(257);
    expect(r.crossCpuPuts).toBeGreaterThan(runs / 10);
    expect(r.interrupted).toBeGreaterThan(runs / 10);
  }, 300_000);

  // Two known-bad variants, one per kind of bug: a counter the sequential path gets wrong, and a
  // context that writes the wrong list.
  it.each([
    { name: 'alloc-no-nr-dec', id: 'nr-accuracy' },
    { name: 'hardirq-task-list', id: 'task-list-task-only' },
  ])('fails on $name with [$id]', ({ name, id }) => {
    const impl = findImpl(name);
    expect(impl, `${name} is not in impl/registry.ts (VARIANTS: ${VARIANTS.map((v) => v.name).join(', ')})`).toBeDefined();
    expect(impl!.expectedViolation).toBe(id);
    const r = runFastCheck(impl!, { numRuns: 300, log });
    expect(r.failures.length).toBe(1);
    const f = r.failures[0]!;
    expect(f.invariant).toBe(id);
    expect(f.replayPath).not.toBe('');
    // The printed seed, path and replayPath reproduce the same failure in one run.
    const again = runFastCheck(impl!, { numRuns: 1, seed: f.seed, path: f.path, replayPath: f.replayPath, shrink: false });
    expect(again.failures[0]?.invariant).toBe(id);
    expect(again.failures[0]?.message).toBe(f.message);
  });
});
