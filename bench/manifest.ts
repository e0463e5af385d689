/**
 * conformance/manifest.json: state and path counts of the small scopes, so that a change to the
 * model, a port or the explorer that changes what is explored shows in review. The test
 * (test/explorer.test.ts) recomputes these runs and compares; `npm run bench -- --manifest`
 * rewrites the file after a deliberate change.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explore } from '../conformance/explorer/explore.js';
import { SCOPES } from '../conformance/scopes.js';
import { findImpl } from '../impl/registry.js';

export const MANIFEST_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../conformance/manifest.json');

/**
 * The runs the manifest records: cheap enough for the test suite (a few seconds each). `por` and
 * `cpuSymmetry` (partial-order reduction, CPU and task symmetry) are off unless a run says so, so
 * that the other rows count the full graph (up to object symmetry) whatever the defaults are; the
 * rows with them record the reduced counts beside the full ones.
 */
export const MANIFEST_RUNS: readonly { impl: string; scope: string; ops?: number; symmetry: boolean; por?: boolean; cpuSymmetry?: boolean; atomicity?: 'access' }[] = [
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: true },
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: false },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: false },
  // Deep enough for held and in-flight dios linked by stale dio_next pointers: the count moves
  // if the symmetry reduction's canonical form changes.
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 5, symmetry: true },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, cpuSymmetry: true },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, por: true },
  { impl: 'iomap-v1', scope: 'smp-small', symmetry: true, por: true, cpuSymmetry: true },
  // Interrupts between a statement's memory accesses too (--atomicity access): beside the first row.
  { impl: 'iomap-v1', scope: 'spin-ref', ops: 3, symmetry: true, atomicity: 'access' },
];

export interface ManifestEntry {
  impl: string;
  scope: string;
  ops: number;
  symmetry: boolean;
  /** Present (true) on the rows with partial-order reduction or CPU and task symmetry. */
  por?: boolean;
  cpuSymmetry?: boolean;
  /** Present on the rows explored with interrupts between memory accesses. */
  atomicity?: 'access';
  verdict: string;
  states: number;
  transitions: number;
  depth: number;
  maxCached: number;
  /** Length of the shortest path to the largest nr + nr_irq. */
  maxCachedPath: number;
}

export function manifestEntry(run: (typeof MANIFEST_RUNS)[number]): ManifestEntry {
  const impl = findImpl(run.impl);
  if (!impl) throw new Error(`manifest: unknown implementation ${run.impl}`);
  const base = SCOPES[run.scope]!;
  const scope = { ...base, ops: run.ops ?? base.ops, ...(run.atomicity ? { atomicity: run.atomicity } : {}) };
  const r = explore({ impl, scope, symmetry: run.symmetry, por: run.por ?? false, cpuSymmetry: run.cpuSymmetry ?? false });
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  return {
    impl: run.impl,
    scope: run.scope,
    ops: scope.ops,
    symmetry: run.symmetry,
    ...(run.por ? { por: true } : {}),
    ...(run.cpuSymmetry ? { cpuSymmetry: true } : {}),
    ...(run.atomicity ? { atomicity: run.atomicity } : {}),
    verdict: r.verdict,
    states: r.stats.states,
    transitions: r.stats.transitions,
    depth: r.stats.depth,
    maxCached: r.extremes.maxCached,
    maxCachedPath: w ? w.choices.length : 0,
  };
}

export function manifestEntries(): { note: string; runs: ManifestEntry[] } {
  return {
    note: 'Recomputed by test/explorer.test.ts; regenerate with `npm run bench -- --manifest --ks 3 --no-spin` after a deliberate change.',
    runs: MANIFEST_RUNS.map(manifestEntry),
  };
}
