/**
 * Runs C functions of a snippet on a bare simulated kernel, outside any exploration: what the
 * interpreter tests (c-interp, c-constructs) share.
 */
import { cParser } from '../conformance/c/ast.js';
import { extract, structDecls, Types, type Program } from '../conformance/c/extract.js';
import { Interp, newCoverage, type TV } from '../conformance/c/interp.js';
import { readPostImage } from '../conformance/c/reader.js';
import { Kernel } from '../impl/kernel/primitives.js';
import type { Cpu, Frame, HeapObj, World } from '../impl/kernel/world.js';

export interface Harness {
  prog: Program;
  world: World;
  /** Runs a function to its end (one live execution); its value and the labels it yielded. */
  run(name: string, args: TV[]): { v: number; labels: string[] };
}

/** `src` as a C file; one task on cpu0; `heap[1]` and the statics and CPUs as given. */
export async function cHarness(src: string, o: { obj1: HeapObj; globals?: Record<string, number>; cpus?: Cpu[] }): Promise<Harness> {
  const prog = extract(await cParser(), readPostImage('t.c', src, 'c'));
  const interp = new Interp(prog, new Types(prog.structs, prog.typedefs, () => null), newCoverage(), {}, new Set());
  const { world, k } = bareKernel(prog, [undefined, o.obj1], o.globals ?? {}, o.cpus);
  const run = (name: string, args: TV[]) => {
    const gen = interp.call(k, prog.functions.get(name)!, args, { steps: 0 });
    const labels: string[] = [];
    for (;;) {
      const r = gen.next();
      if (r.done) return { v: r.value.v, labels };
      labels.push(r.value);
    }
  };
  return { prog, world, run };
}

/**
 * A world of one task on cpu0 (or `cpus`) with this heap and these statics, and a Kernel that
 * runs live in its alloc frame: what a test needs to call C functions or primitives directly.
 */
export function bareKernel(prog: Program, heap: (HeapObj | undefined)[], globals: Record<string, number>, cpus?: Cpu[]): { world: World; k: Kernel; frame: Frame } {
  const world: World = {
    heap,
    globals,
    cpus: cpus ?? [{ online: true, irqsOff: false, current: 0, softirq: null, hardirq: null }],
    tasks: [{ cpu: 0, opsDone: 0, held: [], frame: null }],
    inflight: [],
    preemptions: 0,
    interrupts: 0,
    allocFails: 0,
  };
  const frame: Frame = { op: 'alloc', args: [], reads: [], steps: 0, preempt: 0, irqSaved: 0, irqsOffAtStart: false, ghost: 0, next: '' };
  const k = new Kernel({ world, cpu: 0, ctx: 'task', task: 0, frame }, structDecls(prog), {});
  k.replaying = false;
  return { world, k, frame };
}

/**
 * What a check's coverage reached, without its counts: every number as whether it is above zero,
 * every list in a fixed order. A reduction that merges states (frame keys) changes how often a
 * statement ran, not whether it did.
 */
export function reachedCoverage(v: unknown): unknown {
  if (typeof v === 'number') return v > 0;
  if (Array.isArray(v)) return v.map((x) => JSON.stringify(reachedCoverage(x))).sort();
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reachedCoverage(x)]));
  return v;
}

/** Runs a C function's generator to its end: the statement labels it yielded and its value, or the fault it threw. */
export function drain(gen: Iterator<string, { v: number }>): { v: number | string; labels: string[] } {
  const labels: string[] = [];
  try {
    for (;;) {
      const r = gen.next();
      if (r.done) return { v: r.value.v, labels };
      labels.push(r.value);
    }
  } catch (e) {
    return { v: `fault: ${e instanceof Error ? e.message : String(e)}`, labels };
  }
}
