/**
 * What `explore`, `check` and `replay` call for `--json` traces and `--html OUT`: one trace
 * document per counterexample (or the soft-cap witness), built the one way (trace-json.ts), so
 * that the page embeds exactly what `--json` prints.
 */
import { resolve } from 'node:path';
import type { Implementation } from '../../impl/interface.js';
import type { CBuild } from '../c/build.js';
import type { CheckReport } from '../c/run.js';
import type { Loaded } from '../load.js';
import { exploreAsync, type ExploreResult } from '../explorer/explore.js';
import { System, type Scope } from '../system.js';
import { writeTracePage } from './html.js';
import { buildTrace, traceJson, type TraceDoc } from './trace-json.js';

export const HTML_FLAG = '--html <file>';
export const HTML_HELP = 'write the first counterexample (or, with none, the trace to the largest nr + nr_irq) as one self-contained HTML page';

/** The document of a counterexample: its steps' choice vector re-run on the same implementation and scope. */
export function violationTrace(
  impl: Implementation,
  scope: Scope,
  v: { id: string; message: string; steps: readonly { choice: number }[] },
  ref: string,
  c?: CBuild | null,
  full = false,
): TraceDoc {
  return buildTrace({ sys: new System(impl, scope), choices: v.steps.map((s) => s.choice), violation: { id: v.id, message: v.message }, ref, c: c ?? null, full });
}

/** The document of the shortest path to the largest nr + nr_irq the search saw (`--show-max`). */
export function witnessTrace(impl: Implementation, scope: Scope, r: Pick<ExploreResult, 'extremes'>, ref: string, c?: CBuild | null, full = false): TraceDoc {
  const w = r.extremes.witnesses.find((x) => x.value === r.extremes.maxCached);
  return buildTrace({
    sys: new System(impl, scope),
    choices: w?.choices ?? [],
    violation: null,
    witness: { value: w?.value ?? r.extremes.maxCached, cpu: w?.cpu ?? 0 },
    ref,
    c: c ?? null,
    full,
  });
}

/**
 * `check` keeps no witness paths: with no counterexample, its first scope is explored again
 * (the default `check-1cpu` takes seconds) for the trace to its largest total.
 */
export async function checkWitnessTrace(impl: Implementation, scope: Scope, ref: string, c?: CBuild | null): Promise<TraceDoc> {
  const r = await exploreAsync({ impl, scope });
  return witnessTrace(impl, scope, r, ref, c);
}

/** The document of a replay file's run; a run that no longer breaks the invariant says so in its title. */
export function replayTrace(
  impl: Implementation,
  rf: { scope: Scope; choices: number[]; impl: string; invariant: string },
  violation: { id: string; message: string } | null,
  file: string,
  c: CBuild | null,
  full = false,
): TraceDoc {
  return buildTrace({
    sys: new System(impl, rf.scope),
    choices: rf.choices,
    violation,
    ref: rf.impl,
    c,
    full,
    ...(violation ? {} : { title: `replay of ${file}: ${rf.invariant} does not break at the end of this path` }),
  });
}

/** Writes the page and says where on stderr (stdout may hold the JSON document). */
export async function writeHtml(path: string, doc: TraceDoc): Promise<string> {
  const out = resolve(path);
  await writeTracePage(out, doc, traceJson(doc));
  process.stderr.write(`trace page: ${out} (${doc.kind === 'counterexample' ? `${doc.violation?.id}, ` : ''}${doc.steps.length} steps; open it in a browser, it needs no network)\n`);
  return out;
}

/** The C build of a replay file's input, for the post-image source lines (null for a module or a registry name). */
export async function cBuildOf(ref: string, rf: { binding?: string; roles?: Record<string, string> }): Promise<CBuild | null> {
  if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(ref) || !/[/.]/.test(ref)) return null;
  const { loadInput } = await import('../load.js');
  return (await loadInput(ref, rf.binding, rf.roles as Parameters<typeof loadInput>[2])).c;
}

/** `check`: the implementation a violation was found with (its call site's, if another site's run). */
function checkImpl(loaded: Loaded, site?: string): Implementation | undefined {
  return site === undefined ? loaded.impl : loaded.c?.siteRuns.find((x) => x.site === site)?.impl;
}

/** `check --json`: each violation's trace document (null for one read from the diff, which has no run). */
export function withTraces<T extends { violations: object[] }>(json: T, r: CheckReport, loaded: Loaded, full = false): T {
  json.violations.forEach((x, i) => {
    const v = r.violations[i]!;
    const impl = checkImpl(loaded, v.site);
    Object.assign(x, { trace: v.found === 'diff' || !impl ? null : violationTrace(impl, v.scope, v, loaded.ref, loaded.c, full) });
  });
  return json;
}

/** `check --html`: the first violation found by a run, or with none, the first scope's witness. */
export async function checkPageTrace(r: CheckReport, loaded: Loaded, first: Scope, full = false): Promise<TraceDoc> {
  for (const v of r.violations) {
    const impl = checkImpl(loaded, v.site);
    if (v.found !== 'diff' && impl) return violationTrace(impl, v.scope, v, loaded.ref, loaded.c, full);
  }
  return checkWitnessTrace(loaded.impl, { ...first, profile: r.profile.name }, loaded.ref, loaded.c);
}
