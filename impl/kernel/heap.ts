/**
 * What reaches what in a World: the objects a pointer names anywhere (statics, heap cells, the
 * operations in progress), the freed objects nothing can touch again (dropped so that they do not
 * split states), live objects nothing reaches (an initcall's leak), whether two objects are
 * interchangeable, and the order the held and in-flight sets are kept in.
 */
import { isPtr, ptrId, type Value } from './values.js';
import { flatObj, GHOST_ID_SHIFT, type Frame, type World } from './world.js';

/**
 * Live heap objects that nothing reaches from the statics (following pointers in cells): after an
 * initcall that failed, what its error path should have freed. Only boot worlds have no frames.
 */
export function unreachableLive(w: World): number[] {
  const seen = new Set<number>();
  const todo: number[] = [];
  const visit = (v: Value) => {
    if (!isPtr(v)) return;
    const id = ptrId(v);
    if (!seen.has(id) && w.heap[id]) {
      seen.add(id);
      todo.push(id);
    }
  };
  for (const k in w.globals) visit(w.globals[k]!);
  while (todo.length) {
    const f = flatObj(w.heap[todo.pop()!]!);
    for (let j = 4; j < f.length; j += 2) visit(f[j]!);
  }
  const out: number[] = [];
  for (let id = 1; id < w.heap.length; id++) if (w.heap[id] && !w.heap[id]!.freed && !seen.has(id)) out.push(id);
  return out;
}

/** Ids of the objects a pointer names anywhere but in the held and in-flight sets. */
export function namedIds(w: World): Set<number> {
  const ids = new Set<number>();
  // Cell values: every other entry of the flattened form from index 4 (gcFreed reads it alike).
  for (const o of w.heap) if (o) addIds(ids, flatObj(o), 4, 2);
  for (const k in w.globals) {
    const v = w.globals[k]!;
    if (isPtr(v)) ids.add(ptrId(v));
  }
  for (const t of w.tasks) if (t.frame) frameIds(ids, t.frame);
  for (const c of w.cpus) {
    if (c.softirq) frameIds(ids, c.softirq);
    if (c.hardirq) frameIds(ids, c.hardirq);
  }
  return ids;
}

// Module-level rather than closures in namedIds(): enabled() runs it for most stored states.
function addIds(ids: Set<number>, vs: readonly Value[], from: number, stride: number): void {
  for (let j = from; j < vs.length; j += stride) {
    const v = vs[j]!;
    if (isPtr(v)) ids.add(ptrId(v));
  }
}

/** What an operation in progress names: its arguments, the values it read, the object it popped. */
function frameIds(ids: Set<number>, f: Frame): void {
  addIds(ids, f.args, 0, 1);
  addIds(ids, f.reads, 0, 1);
  if (f.ghost >>> GHOST_ID_SHIFT) ids.add(f.ghost >>> GHOST_ID_SHIFT);
}

/**
 * The same object but for its id: type, origin (with size and kmemleak state), freed flag and
 * cells; or the same value where there is no object. Two held dios that differ only in their
 * kmemleak state are not interchangeable: freeing one or the other leads to different states.
 */
export function sameContent(w: World, a: Value, b: Value): boolean {
  const ha = w.heap[ptrId(a)];
  const hb = w.heap[ptrId(b)];
  if (!ha || !hb) return !ha && !hb && a === b;
  const fa = flatObj(ha);
  const fb = flatObj(hb);
  if (fa.length !== fb.length) return false;
  for (let i = 0; i < fa.length; i++) if (fa[i] !== fb[i]) return false;
  return true;
}

/** Freed objects nothing points to can never be touched again: drop them so they do not split states. */
export function gcFreed(w: World): void {
  const heap = w.heap;
  let freed: number[] | null = null;
  for (let id = 1; id < heap.length; id++) if (heap[id]?.freed) (freed ??= []).push(id);
  if (!freed) return;
  // Only the freed ids matter: mark which of them something still points to.
  const f = freed;
  const live = new Uint8Array(f.length);
  // Cell values of live objects: every other entry of the flattened form from index 4.
  for (const o of heap) if (o && !o.freed) markAll(f, live, flatObj(o), 4, 2);
  for (const k in w.globals) mark(f, live, w.globals[k]!);
  for (const t of w.tasks) {
    markAll(f, live, t.held, 0, 1);
    if (t.frame) {
      markAll(f, live, t.frame.args, 0, 1);
      markAll(f, live, t.frame.reads, 0, 1);
    }
  }
  markAll(f, live, w.inflight, 0, 1);
  for (const c of w.cpus) {
    if (c.softirq) {
      markAll(f, live, c.softirq.args, 0, 1);
      markAll(f, live, c.softirq.reads, 0, 1);
    }
    if (c.hardirq) {
      markAll(f, live, c.hardirq.args, 0, 1);
      markAll(f, live, c.hardirq.reads, 0, 1);
    }
  }
  for (let i = 0; i < f.length; i++) if (!live[i]) heap[f[i]!] = undefined;
  while (heap.length > 1 && heap[heap.length - 1] === undefined) heap.pop();
}

/** Marks live[i] for each freed id f[i] that a pointer among vs[from], vs[from + stride]... names. */
function markAll(f: number[], live: Uint8Array, vs: readonly Value[], from: number, stride: number): void {
  for (let j = from; j < vs.length; j += stride) mark(f, live, vs[j]!);
}

function mark(f: number[], live: Uint8Array, v: Value): void {
  if (isPtr(v)) {
    const i = f.indexOf(ptrId(v));
    if (i >= 0) live[i] = 1;
  }
}

/**
 * Held and in-flight objects are sets, hashed as such (fingerprint.ts): kept in ascending order,
 * the order the checker offers their choices in (and which of two equal objects `distinct` keeps)
 * is a function of the state itself, never of the path that reached it. Otherwise two paths to
 * one state could continue differently, and which of them a search kept would change what it
 * finds next (the parallel BFS keeps whichever worker's insert wins).
 */
export function insertSorted(a: Value[], v: Value): void {
  let i = a.length;
  while (i > 0 && a[i - 1]! > v) i--;
  a.splice(i, 0, v);
}

export function removeOne(a: Value[], v: Value): void {
  const i = a.indexOf(v);
  if (i < 0) return;
  // Shifted by hand: splice() builds the array of what it removed, on every start and interrupt.
  for (let j = i + 1; j < a.length; j++) a[j - 1] = a[j]!;
  a.length--;
}
