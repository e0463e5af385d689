/**
 * CPU symmetry: CPUs that play the same role in a scope are interchangeable, and so are tasks
 * (every task of a scope runs the same workload; only where each starts differs, which is state).
 * A world is fingerprinted as the least serialisation of its images (Fingerprinter.images): one
 * per permutation of the CPUs, each with the tasks in a canonical order.
 *
 * What an image renames with the CPUs: the order of `World.cpus`, each task's CPU, the cells of
 * every __percpu map (CPU c's instance moves to slot π(c): the objects themselves are then named
 * in the new order by the object symmetry), and the CPU numbers in the read logs of operations in
 * progress (the positions the Kernel marked, Frame.cpuReads). With the tasks: their order and
 * each CPU's `current`.
 *
 * Soundness: every image describes a state isomorphic to the world (the transition relation does
 * not name a CPU or a task: System.enabled() and step() treat them alike), so equal least
 * serialisations mean isomorphic states, whatever order the tasks were put in; a worse order only
 * stores more states. Two things would break the isomorphism, and rule the symmetry out:
 * - hotplug: only CPUs other than 0 go offline, their tasks move to CPU 0, and the first of them
 *   becomes its current task (System.step): CPU 0 and the task order are special;
 * - a CPU number kept in memory (a `dio->cpu = smp_processor_id()` to send the object home
 *   later): a cell holds a plain number, which cannot be told from a counter, and it would not be
 *   renamed. No port or variant of the registry does this (their sources store only pointers, the
 *   cache counters and constants). Compiled C is read for it (conformance/c/cpu-numbers.ts,
 *   Implementation.cpuSymmetry): the CLI refuses the symmetry for C that keeps or computes with a
 *   CPU number, and warns when it is asked for on a module from outside the registry
 *   (cpuSymmetryVerdict()). The symmetry is off unless asked for (explore.ts: `cpuSymmetry`;
 *   `--cpu-symmetry` of explore and check).
 * A CPU number read into an operation's locals is renamed (Frame.cpuReads); a frame that indexes
 * per_cpu_ptr() by a loop counter is not, but then its image is not a state the code can reach
 * (its replay would read another CPU's instance than its log says), so it equals no stored
 * state's serialisation and merges nothing.
 *
 * Counterexamples and the witness of the largest total are concrete paths (the search keeps the
 * worlds it reached, not the images), so they replay as before. The largest total is the same;
 * which CPU it is reported on (ExploreResult.extremes.perCpu) is up to the permutation.
 */
import { PTR_BASE, type Value } from '../../impl/kernel/values.js';
import { GHOST_ID_SHIFT, newHeapObj, type Frame, type HeapObj, type Task, type World } from '../../impl/kernel/world.js';
import type { Implementation } from '../../impl/interface.js';
import { ALL } from '../../impl/registry.js';
import type { Scope } from '../system.js';

/** Largest CPU count whose permutations are all tried (4! = 24 images); above it only task order. */
const MAX_PERMUTED_CPUS = 4;

/** Whether CPU symmetry holds for a scope: more than one CPU or task, and no hotplug. */
export function cpuSymmetryApplies(scope: Scope): boolean {
  return !scope.hotplug && (scope.cpus > 1 || scope.taskCpus.length > 1);
}

/** The images of a world to fingerprint, for a scope CPU symmetry applies to. */
export function cpuImages(scope: Scope): (w: World) => World[] {
  const perms = scope.cpus <= MAX_PERMUTED_CPUS ? permutations(scope.cpus) : [Array.from({ length: scope.cpus }, (_, i) => i)];
  return (w: World) => {
    const cands: Image[] = [];
    for (let i = 0; i < perms.length; i++) images(w, perms[i]!, i === 0, cands);
    if (cands.length < 2) return cands.map(materialise);
    // Only the images whose outline (below) is least are serialised: the canonical form is the
    // least (outline, serialisation), still a function of the world's isomorphism class, and
    // most images are told apart by their outline alone, which costs no serialisation, and no
    // world either: an image becomes one (its heap with the per-CPU maps renamed) only if kept.
    let best: number[] | null = null;
    let keep: Image[] = [];
    for (const x of cands) {
      const o = outline(x);
      const d = best === null ? -1 : compareWords(o, best);
      if (d < 0) {
        best = o;
        keep = [x];
      } else if (d === 0) keep.push(x);
    }
    return keep.map(materialise);
  };
}

/** One CPU permutation of a world, before its tasks are put in an order. */
interface Renamed {
  w: World;
  pi: number[];
  identity: boolean;
  /** inv[s]: the CPU of the world that goes to slot s. */
  inv: number[];
  /** Built the first time an image of this permutation is kept: the CPUs in their new slots with their interrupt frames renamed, ... */
  cpus: World['cpus'] | null;
  /** ... the tasks with their CPUs renamed, in the world's order, ... */
  moved: Task[] | null;
  /** ... and the heap with the per-CPU maps renamed. */
  heap: World['heap'] | null;
}

/** An image: a permutation of the CPUs and an order of the tasks (ord[i]: the task put at i). */
interface Image {
  r: Renamed;
  ord: number[];
  /** newIndex[old]: where task `old` goes. */
  newIndex: number[];
}

/** What an image says without its objects: each CPU's flags and current task, each task's key. */
function outline(x: Image): number[] {
  // Read off the world itself: slot s holds CPU inv[s], and a task's CPU keeps its object.
  const out: number[] = [];
  const { w, pi, inv } = x.r;
  for (let s = 0; s < inv.length; s++) {
    const c = w.cpus[inv[s]!]!;
    out.push((c.online ? 1 : 0) | (c.irqsOff ? 2 : 0) | (c.softirq ? 4 : 0) | (c.hardirq ? 8 : 0) | ((c.spec ?? 0) << 4), currentIn(x, c));
  }
  for (let i = 0; i < x.ord.length; i++) {
    const t = w.tasks[x.ord[i]!]!;
    const c = w.cpus[t.cpu];
    out.push(taskKeyAt(t, pi[t.cpu] ?? t.cpu, c !== undefined && currentIn(x, c) === i ? 1 : 0));
  }
  return out;
}

/**
 * A CPU's current task as the image numbers it. This and the helpers of images() are module
 * functions and methods, not closures made per call: tsx compiles with esbuild's keepNames, which
 * wraps every named closure in a __name() call (an Object.defineProperty) each time it is made,
 * and these run for every image of every state (it was a sixth of a CPU-symmetric search's time).
 */
function currentIn(x: Image, c: World['cpus'][number]): number {
  return c.current >= 0 ? x.newIndex[c.current]! : c.current;
}

/** The image as a world to serialise. */
function materialise(x: Image): World {
  const r = x.r;
  if (r.heap === null || r.cpus === null || r.moved === null) {
    const { w, pi, identity } = r;
    const cpus = new Array<World['cpus'][number]>(w.cpus.length);
    for (let c = 0; c < w.cpus.length; c++) cpus[pi[c]!] = identity ? w.cpus[c]! : { ...w.cpus[c]!, softirq: renameFrame(w.cpus[c]!.softirq, pi), hardirq: renameFrame(w.cpus[c]!.hardirq, pi) };
    r.cpus = cpus;
    r.moved = w.tasks.map((t) => (identity ? t : { ...t, cpu: pi[t.cpu] ?? t.cpu, frame: renameFrame(t.frame, pi) }));
    r.heap = w.heap;
    if (!identity) {
      const heap = w.heap.slice();
      for (let id = 1; id < heap.length; id++) {
        const o = heap[id];
        if (o && o.type === '__percpu' && !o.freed) heap[id] = renameMap(o, pi);
      }
      r.heap = heap;
    }
  }
  const cs = r.cpus.slice();
  for (let c = 0; c < cs.length; c++) {
    const cur = cs[c]!.current;
    if (cur >= 0 && x.newIndex[cur] !== cur) cs[c] = { ...cs[c]!, current: x.newIndex[cur]! };
  }
  const moved = r.moved;
  return { ...r.w, heap: r.heap, cpus: cs, tasks: x.ord.map((i) => moved[i]!) };
}

function compareWords(a: number[], b: number[]): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function permutations(n: number): number[][] {
  if (n <= 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1))
    for (let at = p.length; at >= 0; at--) {
      const q = p.slice();
      q.splice(at, 0, n - 1);
      out.push(q);
    }
  // The identity first: it is tried first and wins ties.
  out.sort((a, b) => {
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return 0;
  });
  return out;
}

/**
 * The images of `w` with CPU c renamed pi[c], appended to `out`: the tasks sorted by what they
 * are (CPU, whether running, progress, the scalars of the operation in progress), and, where
 * that does not order two of them, in every order of the tied ones. The sort key reads nothing
 * an isomorphism changes, so every isomorphic world yields the same serialisations: the least
 * of them is a canonical form (up to the object symmetry's own).
 */
function images(w: World, pi: number[], identity: boolean, out: Image[]): void {
  const n = w.cpus.length;
  const inv = new Array<number>(n);
  for (let c = 0; c < n; c++) inv[pi[c]!] = c;
  // The tasks as they will be in the image (their CPUs and the CPU numbers their frames read
  // renamed), without building them: only a kept image is built (materialise()).
  const t = new TaskOrder(w, pi, identity);
  const order = w.tasks.map((_, i) => i).sort((a, b) => t.cmp(a, b) || a - b);
  const r: Renamed = { w, pi, identity, inv, cpus: null, moved: null, heap: null };
  for (const ord of tieOrders(order, t)) {
    const newIndex = new Array<number>(ord.length);
    ord.forEach((old, i) => (newIndex[old] = i));
    out.push({ r, ord, newIndex });
  }
}

/** How images() orders the tasks of one CPU permutation: by their keys, then their frames as renamed. */
class TaskOrder {
  private readonly keys: number[];

  constructor(
    private readonly w: World,
    private readonly pi: number[],
    private readonly identity: boolean,
  ) {
    const tasks = w.tasks;
    this.keys = new Array<number>(tasks.length);
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]!;
      const c = w.cpus[t.cpu];
      this.keys[i] = taskKeyAt(t, pi[t.cpu] ?? t.cpu, c !== undefined && c.current === i ? 1 : 0);
    }
  }

  private frameOf(i: number): Frame | null {
    return this.identity ? this.w.tasks[i]!.frame : renameFrame(this.w.tasks[i]!.frame, this.pi);
  }

  cmp(a: number, b: number): number {
    return this.keys[a]! - this.keys[b]! || compareFrames(this.frameOf(a), this.frameOf(b));
  }

  /** Tied tasks without objects (no frame, nothing held) serialise alike in either order. */
  plain(i: number): boolean {
    const t = this.w.tasks[i]!;
    return t.frame === null && t.held.length === 0;
  }
}

/**
 * `order`, and every order that permutes runs of elements `t` ties (a handful of tasks), except
 * runs of plain ones, which every order serialises alike.
 */
function tieOrders(order: number[], t: TaskOrder): number[][] {
  // Most states tie no two tasks, or only ones without objects: then `order` is the only one.
  let ties = false;
  for (let i = 0; i + 1 < order.length && !ties; i++) ties = t.cmp(order[i]!, order[i + 1]!) === 0 && !(t.plain(order[i]!) && t.plain(order[i + 1]!));
  if (!ties) return [order];
  let outs: number[][] = [[]];
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && t.cmp(order[i]!, order[j]!) === 0) j++;
    const run = order.slice(i, j);
    const runs = run.length === 1 || run.every((x) => t.plain(x)) ? [run] : allOrders(run);
    const next: number[][] = [];
    for (const o of outs) for (const r of runs) next.push(o.concat(r));
    outs = next;
    i = j;
  }
  return outs;
}

function allOrders(xs: number[]): number[][] {
  if (xs.length <= 1) return [xs];
  const out: number[][] = [];
  xs.forEach((x, i) => {
    for (const rest of allOrders([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/**
 * Renamed maps by map object and permutation: a map is written at boot and then only read, and
 * heap objects are copy-on-write, so every image of every state shares one renamed copy (and its
 * flattened form, which the fingerprint then computes once).
 */
const RENAMED = new WeakMap<HeapObj, Map<number[], HeapObj>>();

/** A __percpu map with CPU c's instance in slot pi[c]. */
function renameMap(o: HeapObj, pi: number[]): HeapObj {
  let byPi = RENAMED.get(o);
  if (!byPi) RENAMED.set(o, (byPi = new Map()));
  let r = byPi.get(pi);
  if (!r) byPi.set(pi, (r = renameMapOnce(o, pi)));
  return r;
}

function renameMapOnce(o: HeapObj, pi: number[]): HeapObj {
  const cells: Record<number, Value> = {};
  for (const k in o.cells) {
    const off = +k;
    const c = Math.floor(off / 8);
    cells[off % 8 === 0 && c < pi.length ? pi[c]! * 8 : off] = o.cells[off]!;
  }
  return newHeapObj(o.type, o.freed, o.origin, cells, o.size, o.kmemleak);
}

function renameFrame(f: Frame | null, pi: number[]): Frame | null {
  if (!f || !f.cpuReads) return f;
  const reads = f.reads.slice();
  for (const at of f.cpuReads) {
    const v = reads[at]!;
    if (v >= 0 && v < pi.length) reads[at] = pi[v]!;
  }
  return { ...f, reads };
}

/** A task's sort key, with `cpu` the CPU it has in the image. */
function taskKeyAt(t: Task, cpu: number, running: number): number {
  const f = t.frame;
  return ((cpu * 2 + running) * 64 + Math.min(t.opsDone, 63)) * 64 * 64 + (f ? 1 + Math.min(f.steps, 62) : 0) * 64 + Math.min(t.held.length, 63);
}

const GHOST_FLAGS = (1 << GHOST_ID_SHIFT) - 1;

/** Frames by their scalar content (pointers are renamed later, so only their presence counts). */
function compareFrames(a: Frame | null, b: Frame | null): number {
  if (!a || !b) return (a ? 1 : 0) - (b ? 1 : 0);
  if (a.op !== b.op) return a.op < b.op ? -1 : 1;
  const d = a.preempt - b.preempt || a.irqSaved - b.irqSaved || (a.ghost & GHOST_FLAGS) - (b.ghost & GHOST_FLAGS) || a.reads.length - b.reads.length || a.args.length - b.args.length;
  if (d) return d;
  for (let i = 0; i < a.reads.length; i++) {
    const x = a.reads[i]!;
    const y = b.reads[i]!;
    const px = x >= PTR_BASE;
    const py = y >= PTR_BASE;
    if (px !== py) return px ? 1 : -1;
    if (!px && x !== y) return x - y;
  }
  return 0;
}

/**
 * Whether a search takes CPU symmetry: only when asked for (`cpuSymmetry`: it halves the states
 * of the 2-CPU scopes for about 1.2 times the time per state, docs/performance.md, but it is sound
 * only for code that keeps no CPU number in memory, which code from outside the registry may do),
 * never without the object symmetry, nor where it does not hold (cpuSymmetryApplies).
 */
export function cpuSymmetryOn(o: { impl: Implementation; scope: Scope; symmetry?: boolean; cpuSymmetry?: boolean }): boolean {
  return o.symmetry !== false && o.cpuSymmetry === true && cpuSymmetryApplies(o.scope);
}

/** Whether an implementation is one of the registry's (checked to keep no CPU number in memory). */
export function registryCode(impl: Implementation): boolean {
  return ALL.includes(impl);
}

/**
 * What `--cpu-symmetry` asked for on `impl` calls for: `refuse`, the code keeps a CPU number the
 * symmetry cannot rename (read off compiled C: Implementation.cpuSymmetry); `note`, it is not
 * known (a module from outside the registry); neither, the symmetry holds.
 */
export function cpuSymmetryVerdict(impl: Implementation): { refuse?: string; note?: string } {
  if (impl.cpuSymmetry?.ok === false) return { refuse: `--cpu-symmetry: ${impl.name} keeps a CPU number that CPU symmetry cannot rename (${impl.cpuSymmetry.why}); run without it` };
  if (impl.cpuSymmetry?.ok || registryCode(impl)) return {};
  return { note: `note: --cpu-symmetry renames the CPU numbers ${impl.name} reads, not any it keeps in memory (a field holding smp_processor_id()); with such code, drop it` };
}
