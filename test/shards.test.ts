/**
 * Shards (`--shard I/N`, `dio-cache merge`): a scope searched as 4 independent parts must give the
 * verdict and the reachable maximum of one run, find a known-bad variant's violation with its
 * invariant id and a counterexample that replays from boot, and merge must refuse a set of
 * results that is not one whole search.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { checkShardResult, exploreShardResult } from '../conformance/cli/merge.js';
import { explore, type ExploreOptions, type ExploreResult } from '../conformance/explorer/explore.js';
import { replay, REPLAY_FORMAT } from '../conformance/explorer/replay.js';
import { MergeError, mergeShardResults, type MergedResult, type ShardResultFile } from '../conformance/explorer/shard.js';
import { runChoices } from '../conformance/explorer/trace.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Scope } from '../conformance/system.js';
import type { Implementation } from '../impl/interface.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { findImpl } from '../impl/registry.js';
import { getProfile, reachableCapBound } from '../model/profiles.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const N = 4;
const scope: Scope = { ...SCOPES['spin-ref']!, ops: 3 };
const bad = findImpl('splice-no-irqsave')!;

function shardResults(impl: Implementation, sc: Scope, o: Partial<ExploreOptions> = {}): { runs: ExploreResult[]; files: { file: string; result: ShardResultFile }[] } {
  const runs: ExploreResult[] = [];
  const files: { file: string; result: ShardResultFile }[] = [];
  for (let index = 1; index <= N; index++) {
    const r = explore({ impl, scope: sc, minimise: false, ...o, shard: { index, count: N } });
    runs.push(r);
    const bound = reachableCapBound(getProfile(sc.profile, { max: sc.max, threshold: sc.threshold }));
    files.push({
      file: `shard-${index}.json`,
      result: exploreShardResult(r, { implName: impl.name, ref: impl.name, scope: sc, spec: { index, count: N }, strategy: o.strategy ?? 'bfs', symmetry: true, all: !!o.all, bound }),
    });
  }
  return { runs, files };
}

/** One (unsharded) search of the scope, done once per implementation and shared by the tests that compare with it. */
const oneRuns = new Map<Implementation, ExploreResult>();
function oneRun(impl: Implementation): ExploreResult {
  let r = oneRuns.get(impl);
  if (!r) oneRuns.set(impl, (r = explore({ impl, scope, minimise: false })));
  return r;
}

/** The merged counterexample of `id` re-run from boot through a replay file's contents. */
function replays(impl: Implementation, m: MergedResult, id: string): boolean {
  const v = m.violations.find((x) => x.invariant === id)!;
  expect(v.replay).toBeDefined();
  const r = replay(impl, { format: REPLAY_FORMAT, ...v.replay! });
  return r.violation?.id === id && !r.diverged;
}

describe('shards: one search as 4 independent parts', () => {
  it('a conforming port: the merged verdict and maximum are one run\'s, every shard split at one level, and the parts cover the state space', () => {
    const one = oneRun(iomapV1);
    const { runs, files } = shardResults(iomapV1, scope);
    const m = mergeShardResults(files);
    expect(one.verdict).toBe('conforms');
    expect(m.verdict).toBe(one.verdict);
    expect(m.complete).toBe(true);
    expect(m.extremes.maxCached).toBe(one.extremes.maxCached);
    expect(m.extremes.perCpu).toEqual(one.extremes.perCpu);
    // The split is real: below the boot state, the same level and hash everywhere, the roots dealt out once each.
    const infos = runs.map((r) => r.shard!);
    expect(infos.every((s) => s.split && s.depth > 0 && s.frontier >= N * 8)).toBe(true);
    expect(new Set(infos.map((s) => `${s.depth}/${s.frontier}/${s.frontierHash}/${s.prefixStates}`)).size).toBe(1);
    expect(infos.reduce((a, s) => a + s.roots, 0)).toBe(infos[0]!.frontier);
    // No shard stores a state one run does not reach, and together they store at least all of them.
    for (const r of runs) expect(r.stats.states).toBeLessThanOrEqual(one.stats.states);
    expect(m.merged.statesWithOverlap).toBe(runs.reduce((a, r) => a + r.stats.states, 0));
    expect(m.merged.statesWithOverlap).toBeGreaterThanOrEqual(one.stats.states);
    expect(m.merged.statesAtLeast).toBe(Math.max(...runs.map((r) => r.stats.states)));
    // The maximum's witness is a choice vector from boot that reaches it.
    const w = m.extremes.witness!;
    const run = runChoices(new System(iomapV1, scope), w.choices);
    const c = run.abs.caches[w.cpu]!;
    expect(c.freeList.length + c.freeListIrq.length).toBe(w.value);
    expect(w.value).toBe(one.extremes.maxCached);
  });

  it('a known-bad variant: some shard finds the violation with its invariant id below the split, and the merged counterexample replays from boot', () => {
    const one = oneRun(bad);
    expect(one.verdict).toBe('violation');
    const { runs, files } = shardResults(bad, scope);
    const m = mergeShardResults(files);
    expect(m.verdict).toBe('violation');
    expect(m.violations.map((v) => v.invariant)).toEqual(one.violations.map((v) => v.id));
    const id = one.violations[0]!.id;
    const by = m.merged.foundBy[id]!;
    expect(by).toBeGreaterThanOrEqual(1);
    expect(by).toBeLessThanOrEqual(N);
    expect(runs[by - 1]!.violations.map((v) => v.id)).toContain(id);
    // Found below the split level: the vector runs through the common prefix into a shard's part.
    const v = m.violations[0]!;
    expect(v.replay!.choices.length).toBeGreaterThan(runs[by - 1]!.shard!.depth);
    expect(replays(bad, m, id)).toBe(true);
    // Some shard's part holds a shortest path: its BFS counterexample is as short as one run's.
    expect(Math.min(...runs.flatMap((r) => r.violations.filter((x) => x.id === id).map((x) => x.steps.length)))).toBe(one.violations[0]!.steps.length);
  });

  it('DFS shards: the same verdict and maximum, and a counterexample (the root\'s BFS path plus the DFS stack) that replays', () => {
    const one = oneRun(iomapV1);
    const ok = mergeShardResults(shardResults(iomapV1, scope, { strategy: 'dfs' }).files);
    expect([ok.verdict, ok.extremes.maxCached]).toEqual([one.verdict, one.extremes.maxCached]);
    const m = mergeShardResults(shardResults(bad, scope, { strategy: 'dfs' }).files);
    expect(m.verdict).toBe('violation');
    const id = m.violations[0]!.invariant;
    expect(id).toBe(oneRun(bad).violations[0]!.id);
    expect(replays(bad, m, id)).toBe(true);
  });

  it('two CPUs with partial-order reduction on: 4 shards give one run\'s verdict, maximum and violation ids (smp-small, 1 op each)', () => {
    const smp: Scope = { ...SCOPES['smp-small']!, ops: 1 };
    for (const impl of [iomapV1, findImpl('task-put-irq-list')!]) {
      const one = explore({ impl, scope: smp, minimise: false, por: true });
      expect(one.stats.por?.reduced).toBeGreaterThan(0);
      const { runs, files } = shardResults(impl, smp, { por: true });
      expect(runs.every((r) => r.shard!.split)).toBe(true);
      const m = mergeShardResults(files);
      expect([m.verdict, m.violations.map((v) => v.invariant)]).toEqual([one.verdict, one.violations.map((v) => v.id)]);
      if (one.verdict === 'conforms') expect(m.extremes.maxCached).toBe(one.extremes.maxCached);
      else expect(replays(impl, m, m.violations[0]!.invariant)).toBe(true);
    }
  });

  it('merge refuses what is not one whole search: a missing or repeated shard, other options, a different split', () => {
    const { files } = shardResults(iomapV1, { ...scope, ops: 2 });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(MergeError);
        return (e as Error).message;
      }
      throw new Error('merge accepted it');
    };
    expect(err(() => mergeShardResults(files.filter((x) => x.result.shard.index !== 3)))).toMatch(/missing shard 3\/4 \(have 1, 2, 4\)/);
    expect(err(() => mergeShardResults([...files, files[1]!]))).toMatch(/shard 2\/4 is given twice/);
    const other = { file: 'other.json', result: { ...files[0]!.result, options: { ...files[0]!.result.options, symmetry: false } } };
    expect(err(() => mergeShardResults([other, ...files.slice(1)]))).toMatch(/not shards of one search: the options/);
    const resplit = JSON.parse(JSON.stringify(files[3]!.result)) as ShardResultFile;
    resplit.runs[0]!.shard!.frontierHash = '0000000000000000';
    expect(err(() => mergeShardResults([...files.slice(0, 3), { file: 'x.json', result: resplit }]))).toMatch(/split differently/);
    // A shard that stopped early leaves the merge incomplete, never conforming.
    const stopped = JSON.parse(JSON.stringify(files[1]!.result)) as ShardResultFile;
    Object.assign(stopped, { verdict: 'incomplete', complete: false, stoppedBy: 'maxStates' });
    Object.assign(stopped.runs[0]!, { verdict: 'incomplete', complete: false, stoppedBy: 'maxStates' });
    const m = mergeShardResults([files[0]!, { file: 's.json', result: stopped }, ...files.slice(2)]);
    expect(m.verdict).toBe('incomplete');
    expect(m.complete).toBe(false);
  });

  it('check --shard on a patch: the merged verdict, maximum and coverage gaps are those of one check', async () => {
    const file = resolve(repo, 'test/fixtures/c/v3-as-posted.patch');
    const scopes = [{ ...CHECK_SCOPES[0]!, ops: 2 }];
    const one = await check({ file, scopes });
    const parts: { file: string; result: ShardResultFile }[] = [];
    for (let index = 1; index <= 2; index++) {
      const spec = { index, count: 2, perShard: 2 };
      const r = await check({ file, scopes, shard: spec });
      parts.push({ file: `c${index}.json`, result: checkShardResult(r, { spec, scopes }) });
    }
    const m = mergeShardResults(parts);
    expect(m.kind).toBe('check');
    expect(m.verdict).toBe(one.verdict);
    expect(m.extremes.maxCached).toBe(one.extremes.maxCached);
    expect(m.runs.map((r) => r.site ?? '')).toEqual(one.runs.map((r) => r.site ?? ''));
    expect(m.runs.every((r) => r.shard?.split)).toBe(true);
    expect(m.coverage!.warnings).toEqual(one.coverage!.warnings);
    expect(m.coverage!.branchGaps).toEqual(one.coverage!.branchGaps);
    expect(m.coverage!.functions.map((f) => f.statements.filter((s) => s.hits > 0).length)).toEqual(one.coverage!.functions.map((f) => f.statements.filter((s) => s.hits > 0).length));
  });

  it('the CLI: 4 shards, two of them processes of their own, and `dio-cache merge` find the variant\'s violation, whose replay file reproduces it; a missing shard is exit 2 naming it', async () => {
    const dir = tempDir('dio-shards-');
    const cli = join(repo, 'bin/dio-cache.js');
    const args = (i: number) => ['explore', '--impl', 'splice-no-irqsave', '--ops', '3', '--shard', `${i}/${N}`, '--result-out', join(dir, `s${i}.json`), '--out-dir', join(dir, `out${i}`), '--no-progress'];
    // Shards 1 and 2 as a user starts them, each a process with nothing shared; 3 and 4 meanwhile
    // in this process (test/cli-run.ts), through the same entry: their result files are what
    // merge reads either way, and two more node + tsx starts only added seconds of start-up.
    const shard = (i: number) =>
      new Promise<number>((res) => {
        const p = spawn(process.execPath, [cli, ...args(i)], { cwd: dir, stdio: 'ignore' });
        p.on('exit', (code) => res(code ?? -1));
      });
    const processes = Promise.all([1, 2].map(shard));
    const inProcess: number[] = [];
    for (const i of [3, 4]) {
      const r = await runCli(args(i), dir);
      expect(r.err).toBe('');
      inProcess.push(r.code ?? -1);
    }
    const codes = [...(await processes), ...inProcess];
    // Each shard exits on its own part's verdict: 1 where its part holds the violation, 0 where not.
    expect(codes.every((c) => c === 0 || c === 1)).toBe(true);
    expect(codes).toContain(1);
    const files = [1, 2, 3, 4].map((i) => join(dir, `s${i}.json`));
    // The shards are processes; merge and replay run in-process (test/cli-run.ts), the same entry.
    const merged = await runCli(['merge', ...files, '--json', '--out-dir', join(dir, 'merged')], dir);
    expect(merged.code).toBe(1);
    const m = JSON.parse(merged.out) as MergedResult & { replayFiles: string[] };
    const one = explore({ impl: bad, scope });
    expect(m.verdict).toBe('violation');
    expect(m.violations.map((v) => v.invariant)).toEqual(one.violations.map((v) => v.id));
    expect(m.replayFiles).toHaveLength(1);
    const rf = JSON.parse(readFileSync(m.replayFiles[0]!, 'utf8')) as { invariant: string; choices: number[] };
    expect(rf.invariant).toBe(one.violations[0]!.id);
    const again = await runCli(['replay', m.replayFiles[0]!], dir);
    expect(again.code).toBe(1);
    expect(again.out).toContain(`reproduced: ${rf.invariant}`);
    const text = await runCli(['merge', files[0]!, files[1]!, files[3]!], dir);
    expect(text.code).toBe(2);
    expect(text.err).toMatch(/missing shard 3\/4/);
    expect(text.err).not.toMatch(/\n\s+at /);
  });
});
