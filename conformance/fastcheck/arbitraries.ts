/**
 * What one run is made of: how many objects boot in flight, and the command arbitraries with their
 * weights. Their order and shapes fix what a seed, a run path and a replayPath mean: changing them
 * changes every printed counterexample's replay.
 */
import fc from 'fast-check';
import { AllocBurst, CompleteBurst, FillTo, Schedule, TaskRelease, type Cmd } from './commands.js';
import { Interrupted, RaceAtCap } from './interrupted.js';
import type { PutCtx } from './model.js';

/** Boot-time objects in flight (allocated without interleaving, as System.initial does). */
export const SMALL_BOOT = { min: 8, max: 48 };
/** Enough in flight to fill one CPU past MAX from completions alone. */
export const capBoot = (max: number) => ({ min: max + 12, max: max + 48 });

export function commandArbs(cpus: number, tasks: number, cap: boolean): fc.Arbitrary<Cmd>[] {
  const cpu = fc.nat({ max: cpus - 1 });
  const burst = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 2, arbitrary: fc.integer({ min: 5, max: 24 }) });
  const ctx = fc.constantFrom<PutCtx>('hardirq', 'softirq', 'task');
  const arbs: fc.Arbitrary<Cmd>[] = [
    fc.tuple(cpu, burst).map(([c, n]) => new AllocBurst(c, n)),
    fc.tuple(cpu, fc.constantFrom<'free' | 'submit'>('free', 'submit', 'submit'), burst, fc.nat()).map(([c, op, n, at]) => new TaskRelease(c, op, n, at)),
    fc.tuple(cpu, ctx, burst).map(([c, x, n]) => new CompleteBurst(c, x, n)),
    fc.tuple(cpu, fc.constantFrom<PutCtx>('hardirq'), fc.integer({ min: 10, max: 40 })).map(([c, x, n]) => new CompleteBurst(c, x, n)),
    fc.tuple(cpu, fc.nat({ max: tasks - 1 })).map(([c, t]) => new Schedule(c, t)),
    fc
      .tuple(cpu, fc.constantFrom<'alloc' | 'free'>('alloc', 'free'), fc.integer({ min: 1, max: 16 }), fc.constantFrom<'hardirq' | 'softirq'>('hardirq', 'hardirq', 'softirq'), fc.nat())
      .map(([c, op, k, irq, at]) => new Interrupted(c, op, k, irq, at)),
  ];
  // Cap runs: one hardirq burst brings a CPU within a few objects of MAX; the other commands then
  // cross it one operation at a time, interrupted or not.
  if (cap) {
    const fill = fc.tuple(cpu, fc.integer({ min: -2, max: 3 })).map(([c, off]) => new FillTo(c, off));
    // A task put interrupted by a hardirq put near its cap check: at total = MAX both cache (MAX+2).
    const race = fc.tuple(cpu, fc.integer({ min: 1, max: 8 }), fc.nat()).map(([c, k, at]) => new RaceAtCap(c, k, at));
    arbs.push(fill, fill, race);
  }
  return arbs;
}

export interface RunInput {
  boot: number;
  cmds: Iterable<Cmd>;
}
