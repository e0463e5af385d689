/**
 * The sequential search (BFS or DFS) behind explore() and exploreAsync(), and what every search
 * shares: the verdict assembled from a finished search (assemble(), also called by the parallel
 * searches, which fall back to explore() on a scope they cannot split), the parent arrays and the
 * stored abstract state the BFS workers keep as this thread does. explore.ts is the front door.
 */
import type { World } from '../../impl/kernel/world.js';
import type { AbstractState } from '../../model/abstract.js';
import type { InvariantId } from '../../model/invariants.js';
import { BootError, System, type Choice, type StepReport, type Violation } from '../system.js';
import { Fingerprinter, FingerprintSet } from './fingerprint.js';
import { minimise } from './minimise.js';
import { PartialOrder, porApplies } from './por.js';
import { cpuImages, cpuSymmetryOn } from './cpu-symmetry.js';
import { DEFAULT_PER_SHARD, splitFrontier } from './shard.js';
import { runChoices } from './trace.js';
import type { ExploreOptions, ExploreResult, ExtremeWitness, FoundViolation, SearchOutcome, ShardInfo } from './types.js';

/** Fault kinds during boot and the invariant that judges them (model/invariants.ts). */
export const BOOT_FAULTS: Record<string, InvariantId> = {
  'null-deref': 'crash',
  'wild-pointer': 'crash',
  exception: 'crash',
  'no-return': 'crash',
  'replay-divergence': 'crash',
  'use-after-free': 'object-safety',
  'double-free': 'object-safety',
  'bad-free': 'object-safety',
  'uninit-read': 'object-safety',
};

export interface Open {
  w: World;
  abs: AbstractState;
  idx: number;
}

/**
 * What a stored state keeps of its abstract state for the steps out of it: `System.step` and the
 * invariants' `check(prev, next)` read only `prev.caches` (the lists before the step). Dropping
 * the per-object places keeps the BFS frontier small: surviving objects are what each young-
 * generation collection copies, and it was a fifth of the run time.
 */
const NO_OBJECTS: AbstractState['objects'] = [];
export function parentAbs(a: AbstractState): AbstractState {
  return { profile: a.profile, caches: a.caches, objects: NO_OBJECTS };
}

/** Growable parent/choice arrays: 4 + 2 bytes per stored state. */
export class Parents {
  parent = new Uint32Array(1 << 16);
  choice = new Uint16Array(1 << 16);
  n = 0;
  add(parent: number, choice: number): number {
    if (this.n === this.parent.length) {
      const p = new Uint32Array(this.n * 2);
      p.set(this.parent);
      this.parent = p;
      const c = new Uint16Array(this.n * 2);
      c.set(this.choice);
      this.choice = c;
    }
    this.parent[this.n] = parent;
    this.choice[this.n] = choice;
    return this.n++;
  }
  path(idx: number): number[] {
    const out: number[] = [];
    while (idx > 0) {
      out.push(this.choice[idx]!);
      idx = this.parent[idx]!;
    }
    return out.reverse();
  }
  get bytes(): number {
    return this.parent.byteLength + this.choice.byteLength;
  }
}

/** A state being expanded: its choices (all, or the one partial-order reduction keeps) and the next to take. */
interface Expansion {
  o: Open;
  choices: Choice[];
  i: number;
  /** Position in `choices` -> index into System.enabled(), when they differ. */
  map?: number[];
  /** Steps already run (por.ts), by position in `choices`. */
  pre?: Map<number, StepReport>;
}

/** A resumable search: `run(ms)` does up to ms milliseconds of work and says whether it finished. */
class Search {
  readonly sys: System;
  private readonly fp: Fingerprinter;
  private readonly seen = new FingerprintSet();
  private readonly parents = new Parents();
  private readonly strategy: 'bfs' | 'dfs';
  private frontier: Open[] = [];
  private next: Open[] = [];
  private fi = 0;
  private stack: Expansion[] = [];
  /** Partial-order reduction (null: off, or it does not apply to the scope). */
  readonly por: PartialOrder | null;
  private found = new Map<string, { v: Violation; choices: number[] }>();
  private warned = new Map<string, { v: Violation; choices: number[] }>();
  private transitions = 0;
  private depth = 0;
  private maxCached = 0;
  private witnesses: ExtremeWitness[] = [];
  private maxPerCpu: number[] = [];
  private peakOpen = 0;
  private stopped: ExploreResult['stoppedBy'];
  private lastProgress = 0;
  private readonly t0 = performance.now();
  private bootError?: string;
  private bootFailed = false;
  /** Expanding level by level: the BFS, or a shard's prefix before it splits. */
  private bfs: boolean;
  /** A shard: the level size that triggers the split (0 once split, or when not a shard). */
  private splitAt = 0;
  private shardInfo?: ShardInfo;
  /** A DFS shard: its roots still to search, and the BFS path to the one at the stack's base. */
  private dfsRoots: Open[] = [];
  private rootPath: number[] = [];
  done = false;

  constructor(private readonly o: ExploreOptions) {
    this.strategy = o.strategy ?? 'bfs';
    this.bfs = this.strategy === 'bfs' || !!o.shard;
    if (o.shard) {
      const perShard = o.shard.perShard ?? DEFAULT_PER_SHARD;
      this.splitAt = o.shard.count * perShard;
      this.shardInfo = { index: o.shard.index, count: o.shard.count, perShard, split: false, depth: 0, frontier: 0, roots: 0, prefixStates: 0, frontierHash: '' };
    }
    this.sys = new System(o.impl, o.scope, { resume: o.resume ?? this.strategy === 'dfs', ...(o.machine ? { machine: o.machine } : {}), ...(o.statechart === false ? { oracle: false as const } : {}) });
    this.fp = new Fingerprinter(o.symmetry !== false, o.frameKeys !== false);
    if (cpuSymmetryOn(o)) this.fp.images = cpuImages(o.scope);
    this.por = o.por === true && porApplies(o.scope) ? new PartialOrder(this.sys) : null;
    let init;
    try {
      init = this.sys.initial();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // Boot runs the implementation's own init, allocs and puts (without interleaving): if one
      // of them oopses, that is a finding about the implementation, not an input error.
      const fault = e instanceof BootError ? /failed: ([a-z-]+): /.exec(msg)?.[1] : undefined;
      const id = fault && BOOT_FAULTS[fault];
      this.bootFailed = true;
      if (id) this.found.set(id, { v: { id, severity: 'error', message: `during boot (init, prefill and in-flight allocations, run without interleaving): ${msg}` }, choices: [] });
      else this.bootError = msg;
      this.stopped = id ? 'violation' : undefined;
      this.done = true;
      return;
    }
    this.fp.fingerprint(init.world);
    this.seen.add(this.fp.hi, this.fp.lo);
    const root: Open = { w: init.world, abs: init.abs, idx: this.parents.add(0, 0) };
    this.noteExtremes(init.abs, []);
    for (const v of init.violations) this.record(v, []);
    if (this.found.size && !o.all) {
      this.stopped = 'violation';
      this.done = true;
    }
    if (this.bfs) this.frontier = [root];
    else this.stack = [this.expansion(root)];
  }

  /**
   * The choices to take out of `o`: all of System.enabled(), or the one step partial-order
   * reduction lets stand for them (por.ts), with the cycle proviso: only if the state it leads to
   * is not stored yet. `map` takes a position back to the index into enabled() (the replay
   * vector); `pre` holds the steps por.ts already ran, by position.
   */
  private expansion(o: Open): Expansion {
    const choices = this.sys.enabled(o.w);
    if (!this.por) return { o, choices, i: 0 };
    const a = this.por.ample(o.w, o.abs, choices);
    if (!a) return { o, choices, i: 0 };
    if (a.alone >= 0) {
      const r = a.reports.get(a.alone)!;
      this.fp.fingerprint(r.world);
      if (!this.seen.has(this.fp.hi, this.fp.lo)) {
        this.por.stats.reduced++;
        return { o, choices: [choices[a.alone]!], i: 0, map: [a.alone], pre: new Map([[0, r]]) };
      }
      this.por.stats.proviso++;
    }
    return { o, choices, i: 0, pre: a.reports };
  }

  /** A shard at its split level: keep its own part of the level (the rest stays in `seen`). */
  private split(): void {
    const spec = this.o.shard!;
    const { mine, hash } = splitFrontier(this.frontier, this.fp, spec);
    this.shardInfo = { ...this.shardInfo!, split: true, depth: this.depth, frontier: this.frontier.length, roots: mine.length, prefixStates: this.seen.size, frontierHash: hash };
    this.splitAt = 0;
    if (this.strategy === 'bfs') {
      this.frontier = mine;
      return;
    }
    this.bfs = false;
    this.frontier = [];
    this.dfsRoots = mine.reverse();
  }

  private pathTo(parentIdx: number, choice: number): number[] {
    if (this.bfs) {
      const p = this.parents.path(parentIdx);
      p.push(choice);
      return p;
    }
    const p = this.stack.map((f) => (f.map ? f.map[f.i - 1]! : f.i - 1));
    p[p.length - 1] = choice;
    return this.rootPath.length ? this.rootPath.concat(p) : p;
  }

  private record(v: Violation, choices: number[]): void {
    const into = v.severity === 'warning' ? this.warned : this.found;
    const had = into.get(v.id);
    if (!had || had.choices.length > choices.length) into.set(v.id, { v, choices });
  }

  private noteExtremes(abs: AbstractState, choices: number[] | (() => number[])): void {
    for (const c of abs.caches) {
      if (!c.quiescent) continue;
      const total = c.freeList.length + c.freeListIrq.length;
      if (total <= (this.maxPerCpu[c.cpu] ?? -1)) continue;
      this.maxPerCpu[c.cpu] = total;
      this.maxCached = Math.max(this.maxCached, total);
      if (total > 0) this.witnesses.push({ value: total, cpu: c.cpu, choices: typeof choices === 'function' ? choices() : choices });
    }
  }

  /** Handles one transition; returns the new Open if the target is new and may be expanded. */
  private transition(from: Open, ci: number, c: Choice, pre?: StepReport): Open | null {
    const r = pre ?? (this.por ? this.por.step(from.w, from.abs, c) : this.sys.step(from.w, from.abs, c));
    this.transitions++;
    this.noteExtremes(r.abs, () => this.pathTo(from.idx, ci));
    this.fp.fingerprint(r.world);
    // A stored state passed every invariant when it was stored (one that failed is not stored):
    // a step back into it is judged only on what the step did.
    const revisited = this.seen.has(this.fp.hi, this.fp.lo);
    let bad = false;
    for (const v of r.judge(revisited)) {
      if (v.severity === 'error') bad = true;
      this.record(v, this.pathTo(from.idx, ci));
    }
    if (bad) {
      if (!this.o.all) this.stopped = 'violation';
      return null;
    }
    if (revisited) return null;
    this.seen.add(this.fp.hi, this.fp.lo);
    const idx = this.bfs ? this.parents.add(from.idx, ci) : this.seen.size - 1;
    if (this.o.maxStates && this.seen.size >= this.o.maxStates) this.stopped = 'maxStates';
    return { w: r.world, abs: parentAbs(r.abs), idx };
  }

  /** Works for about `ms` milliseconds; returns true when the search is over. */
  run(ms: number): boolean {
    if (this.done) return true;
    const until = performance.now() + ms;
    let n = 0;
    while (!this.stopped && !this.por?.broken) {
      if ((++n & 63) === 0) {
        const now = performance.now();
        if (this.o.signal?.aborted) {
          this.stopped = 'signal';
          break;
        }
        if (this.o.progress && now - this.lastProgress >= (this.o.progressEveryMs ?? 1000)) {
          this.lastProgress = now;
          this.o.progress({ states: this.seen.size, transitions: this.transitions, depth: this.depth, seconds: (now - this.t0) / 1000 });
        }
        if (now >= until) return false;
      }
      if (this.bfs) {
        if (this.fi >= this.frontier.length) {
          if (this.next.length === 0) break;
          this.frontier = this.next;
          this.next = [];
          this.fi = 0;
          this.depth++;
          this.peakOpen = Math.max(this.peakOpen, this.frontier.length);
          if (this.splitAt && this.frontier.length >= this.splitAt) {
            this.split();
            continue;
          }
        }
        const node = this.frontier[this.fi]!;
        this.frontier[this.fi++] = undefined as unknown as Open; // let the world be collected
        const { choices, map, pre } = this.expansion(node);
        for (let i = 0; i < choices.length && !this.stopped; i++) {
          const t = this.transition(node, map ? map[i]! : i, choices[i]!, pre?.get(i));
          if (t) this.next.push(t);
        }
      } else {
        const top = this.stack[this.stack.length - 1];
        if (!top) {
          const root = this.dfsRoots.pop();
          if (!root) break;
          this.rootPath = this.parents.path(root.idx);
          this.stack.push(this.expansion(root));
          continue;
        }
        if (top.i >= top.choices.length) {
          this.stack.pop();
          continue;
        }
        const ci = top.i++;
        const pre = top.pre?.get(ci);
        if (pre) top.pre!.delete(ci);
        const t = this.transition(top.o, top.map ? top.map[ci]! : ci, top.choices[ci]!, pre);
        if (t) {
          this.stack.push(this.expansion(t));
          this.depth = Math.max(this.depth, this.rootPath.length + this.stack.length - 1);
          this.peakOpen = Math.max(this.peakOpen, this.stack.length);
        }
      }
    }
    this.done = true;
    return true;
  }

  result(): ExploreResult {
    const seconds = (performance.now() - this.t0) / 1000;
    const res = assemble(this.sys, this.o, {
      found: this.found,
      warned: this.warned,
      bootFailed: this.bootFailed,
      ...(this.bootError !== undefined ? { bootError: this.bootError } : {}),
      ...(this.stopped ? { stopped: this.stopped } : {}),
      // Unsplit, the whole search was the prefix.
      ...(this.shardInfo ? { shard: this.shardInfo.split ? this.shardInfo : { ...this.shardInfo, depth: this.depth, prefixStates: this.seen.size } } : {}),
      stats: {
        states: this.seen.size,
        transitions: this.transitions,
        depth: this.depth,
        seconds,
        bytes: this.seen.bytes + (this.strategy === 'bfs' ? this.parents.bytes : 0),
        strategy: this.strategy,
        peakOpen: this.peakOpen,
      },
      extremes: { maxCached: this.maxCached, perCpu: this.maxPerCpu.map((x) => x ?? 0), witnesses: this.witnesses },
    });
    if (this.por) res.stats.por = { ...this.por.stats };
    if (this.fp.images) res.stats.cpuSymmetry = true;
    return res;
  }
}

/**
 * A search whose partial-order reduction found its premise broken (a step touched another CPU's
 * data: por.ts) is redone without it; the result says so.
 */
export async function searchWithFallback(o: ExploreOptions, run: (s: Search) => Promise<void> | void): Promise<ExploreResult> {
  const s = new Search(o);
  await run(s);
  const broken = s.por?.broken;
  if (!broken) return s.result();
  const again = new Search({ ...o, por: false });
  await run(again);
  const r = again.result();
  r.stats.por = { reduced: 0, proviso: 0, fellBack: broken };
  return r;
}

/** The verdict, with every error counterexample minimised and every path re-run into a trace. */
export function assemble(sys: System, o: ExploreOptions, x: SearchOutcome): ExploreResult {
  const states = x.stats.states;
  const seconds = x.stats.seconds;
  const build = (m: Map<string, { v: Violation; choices: number[] }>, min: boolean): FoundViolation[] => {
    const out: FoundViolation[] = [];
    for (const { v, choices } of m.values()) {
      let vec = choices;
      let minimised: FoundViolation['minimised'];
      if (x.bootFailed) {
        out.push({ ...v, steps: [], interrupts: 0, preemptions: 0 });
        continue;
      }
      if (min && o.minimise !== false) {
        o.progress?.({ phase: 'minimise', invariant: v.id, states: x.stats.states, transitions: x.stats.transitions, depth: x.stats.depth, seconds: x.stats.seconds });
        const m2 = minimise(sys, v.id, choices, { maxStates: o.minimiseMaxStates ?? 2_000_000, symmetry: o.symmetry !== false, frameKeys: o.frameKeys !== false, signal: o.signal });
        vec = m2.choices;
        minimised = { from: m2.from, to: m2.to, complete: m2.complete };
      }
      const run = runChoices(sys, vec);
      const again = run.violations.find((y) => y.id === v.id);
      const fv: FoundViolation = { ...(again ?? v), steps: run.steps, interrupts: run.interrupts, preemptions: run.preemptions };
      if (minimised) fv.minimised = minimised;
      out.push(fv);
    }
    return out.sort((a, b) => a.steps.length - b.steps.length);
  };
  const errs = build(x.found, true);
  const res: ExploreResult = {
    verdict: x.bootError ? 'error' : errs.length ? 'violation' : x.stopped ? 'incomplete' : 'conforms',
    violations: errs,
    warnings: build(x.warned, false),
    complete: !x.stopped && !x.bootError,
    stats: {
      states,
      transitions: x.stats.transitions,
      depth: x.stats.depth,
      seconds,
      statesPerSecond: states / Math.max(seconds, 1e-9),
      bytesPerState: states ? x.stats.bytes / states : 0,
      symmetry: o.symmetry !== false,
      strategy: x.stats.strategy,
      peakOpen: x.stats.peakOpen,
      collisionOdds: (states * states) / 2 ** 65,
      workers: x.stats.workers ?? 1,
    },
    extremes: x.extremes,
  };
  if (x.stopped) res.stoppedBy = x.stopped;
  if (x.bootError) res.error = x.bootError;
  if (x.shard) res.shard = x.shard;
  if (sys.spec && !x.bootError) {
    for (const id of x.statechart ?? []) sys.spec.covered.add(id);
    const cov = sys.spec.coverage().transitions;
    res.statechart = { taken: cov.filter((t) => t.taken).length, total: cov.length, untaken: cov.filter((t) => !t.taken).map((t) => t.id) };
  }
  return res;
}

/** Explores to the end (or to the first violation, maxStates, or an already-aborted signal). */
export function explore(o: ExploreOptions): ExploreResult {
  const s = new Search(o);
  while (!s.run(1e9));
  const broken = s.por?.broken;
  if (!broken) return s.result();
  const again = new Search({ ...o, por: false });
  while (!again.run(1e9));
  const r = again.result();
  r.stats.por = { reduced: 0, proviso: 0, fellBack: broken };
  return r;
}
