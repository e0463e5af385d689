/**
 * 64-bit fingerprints of a whole World, optionally up to object-identity symmetry.
 *
 * The world is serialised into a reusable Int32Array and hashed twice (two 32-bit mixes). Without
 * symmetry a heap object is written as a digest cached on the object (digested()). Under
 * symmetry every object id is renamed by first appearance while the state is walked in a fixed
 * order: globals (which lead to the per-CPU map and the per-CPU caches, in CPU order, and from
 * there along the list links), each CPU's interrupt frames, each task's frame and held objects,
 * the objects in flight, then any object nothing reaches (a leak is still state). Held and
 * in-flight objects are sets: they are named in the order of their content, so two states that
 * differ only in which interchangeable object sits where serialise identically.
 *
 * Soundness does not depend on the walk being a perfect canonical form: the serialisation always
 * describes the whole state with a consistent renaming, so equal serialisations mean isomorphic
 * states. A walk that is not canonical stores more states than necessary, and makes the count
 * depend on which of two isomorphic worlds a search kept (the parallel BFS keeps whichever
 * worker's insert wins). So sets are written by individualisation and refinement (multiset())
 * with keys that see what an object points to and what points to it; where the keys still tie
 * objects that are not interchangeable (spin-ref K=8: two held dios, each the stale dio_next of
 * an in-flight one, of which only one is itself named by a held dio's dio_next), the walk
 * branches and the least serialisation is kept, so the form is canonical, not just nearly so.
 * Tests rename reachable states at random and check that the fingerprint does not change.
 *
 * An operation in progress is its read log, replayed to rebuild its generator: two frames with the
 * same log are the same frame. Compiled C says more (Frame.key, Kernel.frameKey()): where each of
 * its activations is, what its locals hold, and what a caller still to finish its statement has
 * read. A frame with a key is written by the key and by the objects its log names (each once, in
 * the order first read: the abstraction, gcFreed() and the partial-order reduction see a log only
 * as those), not by the values it read and no longer holds, which split states that go on alike
 * (spin-ref K=7 on the seed: 195,651 states by read log, 125,073 by key). Under CPU symmetry, whose
 * images rename the CPU numbers in read logs (Frame.cpuReads) but not in a key, only a key that
 * holds none stands for its frame (Frame.keyCpuFree: no local of a for_each_*_cpu() loop's
 * function, no pending operand that is a CPU read; conformance/c/cpu-numbers.ts).
 *
 * `Frame.next` is derived (a label for reports) and is not part of the state; `World.interrupts`
 * counts the path, not the state, and is left out too. `Frame.ghost` carries an object id from
 * bit GHOST_ID_SHIFT up: it is renamed with the objects.
 */
import { OBJ_SPAN, PTR_BASE } from '../../impl/kernel/values.js';
import { flatForm, flatObj, GHOST_ID_SHIFT, intern, type Flat, type Frame, type HeapObj, type World } from '../../impl/kernel/world.js';

const GHOST_SHIFT = GHOST_ID_SHIFT;
/** How far key() follows pointers to objects not named yet. */
const KEY_DEPTH = 3;
const GHOST_FLAGS = (1 << GHOST_SHIFT) - 1;
const M_OBJ = -0x7fff0001;
const M_NONE = -0x7fff0002;
const M_FRAME = -0x7fff0003;
const M_NOFRAME = -0x7fff0004;
/** A frame written by its key (Frame.key) and the objects it read, not by its read log. */
const M_KEYED = -0x7fff0005;
/** A key value that is not there (a local not assigned yet). */
const K_UNDEF = -0x7fff0006;
/** A key value written as its 64 bits: not an int32, or one that reads as a marker. */
const K_RAW = -0x7fff0007;
/** The lowest marker word: an int32 key value from here to M_OBJ is written raw. */
const M_LOWEST = -0x7fff0010;
const F64 = new Float64Array(1);
const F64_WORDS = new Int32Array(F64.buffer);
/** Whether a key value is one word as it is: an int32 that no marker word reads as. */
const ownWord = (v: number): boolean => (v | 0) === v && !(v >= M_LOWEST && v <= M_OBJ);

export class Fingerprinter {
  private buf = new Int32Array(1024);
  private n = 0;
  /** orig id -> canonical id + 1 (0: not named yet), reset after each walk. */
  private canon = new Int32Array(256);
  /** Objects named so far, in naming order; also the queue of those whose contents are still to write (from qHead). */
  private named = new Int32Array(64);
  private namedN = 0;
  private qHead = 0;
  private w!: World;
  /** Hash of the last fingerprint(): high and low 32 bits. */
  hi = 0;
  lo = 0;

  constructor(
    readonly symmetry: boolean,
    /** Write a frame by its Frame.key where it has one (ExploreOptions.frameKeys). */
    readonly keys = true,
  ) {}

  /**
   * CPU and task symmetry (cpu-symmetry.ts): the images of a world, of which the least
   * serialisation is hashed. Null: the world as it is. Only with `symmetry` (the images rename
   * the per-CPU instances, which only the object renaming then names canonically).
   */
  images: ((w: World) => World[]) | null = null;
  private best = new Int32Array(1024);

  /** Fingerprints `w` into this.hi / this.lo. */
  fingerprint(w: World): void {
    if (this.images && this.symmetry) this.serialiseLeast(this.images(w));
    else this.serialise(w);
    this.hash();
  }

  /** The least (shortest, then lexicographically first) serialisation of `ws`, left in buf. */
  private serialiseLeast(ws: World[]): void {
    this.serialise(ws[0]!);
    if (ws.length === 1) return;
    let bn = this.n;
    this.best = this.saved(this.best);
    for (let i = 1; i < ws.length; i++) {
      this.serialise(ws[i]!);
      if (!lessWords(this.buf, this.n, this.best, bn)) continue;
      bn = this.n;
      this.best = this.saved(this.best);
    }
    this.restore(this.best, bn);
  }

  /** The serialisation buf[0, n) copied into `into`, grown if it is too short: the buffer it is in. */
  private saved(into: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
    if (into.length < this.n) into = new Int32Array(Math.max(this.n, into.length * 2));
    into.set(this.buf.subarray(0, this.n));
    return into;
  }

  /** Makes `from[0, n)`, kept by saved(), the serialisation again. */
  private restore(from: Int32Array, n: number): void {
    if (this.buf.length < n) this.buf = new Int32Array(Math.max(n, this.buf.length * 2));
    this.buf.set(from.subarray(0, n));
    this.n = n;
  }

  /**
   * The serialised state (for tests and debugging): equal arrays mean isomorphic states (without
   * symmetry, heap objects appear as their 64-bit digests, so: up to a digest collision).
   */
  serialised(w: World): number[] {
    this.serialise(w);
    return Array.from(this.buf.subarray(0, this.n));
  }

  private push(v: number): void {
    if (this.n === this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.n++] = v;
  }

  private str(s: string): number {
    return intern(s);
  }

  /** Canonical id of object `id`, naming it (and queueing its contents) on first sight. */
  private name(id: number): number {
    if (id >= this.canon.length) {
      const c = new Int32Array(Math.max(id + 1, this.canon.length * 2));
      c.set(this.canon);
      this.canon = c;
    }
    let c = this.canon[id]!;
    if (c === 0) {
      c = this.namedN + 1;
      this.canon[id] = c;
      if (this.namedN === this.named.length) {
        const n = new Int32Array(this.named.length * 2);
        n.set(this.named);
        this.named = n;
      }
      this.named[this.namedN++] = id;
    }
    return c;
  }

  private val(v: number): number {
    if (v < PTR_BASE) return v | 0;
    const rel = v - PTR_BASE;
    const id = Math.floor(rel / OBJ_SPAN);
    return (PTR_BASE + this.name(id) * OBJ_SPAN + (rel - id * OBJ_SPAN)) | 0;
  }

  private obj(o: HeapObj | undefined): void {
    if (!o) {
      this.push(M_NONE);
      return;
    }
    const flat = flatObj(o);
    // Room for the whole object at once, then direct writes (this runs for every object of every state).
    while (this.n + flat.length + 2 > this.buf.length) {
      const b = new Int32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    const buf = this.buf;
    let n = this.n;
    buf[n++] = M_OBJ;
    buf[n++] = flat[0]!;
    buf[n++] = flat[1]!;
    buf[n++] = flat[2]!;
    for (let i = 3; i < flat.length; i += 2) {
      buf[n++] = flat[i]!;
      const v = flat[i + 1]!;
      // val() names objects (queue and canon only): it never writes to the buffer.
      buf[n++] = v < PTR_BASE ? v | 0 : this.val(v);
    }
    buf[n++] = M_NONE;
    this.n = n;
  }

  private drain(): void {
    const heap = this.w.heap;
    while (this.qHead < this.namedN) this.obj(heap[this.named[this.qHead++]!]);
  }

  private frame(f: Frame | null): void {
    if (!f) {
      this.push(M_NOFRAME);
      return;
    }
    this.push(M_FRAME);
    this.push(this.str(f.op));
    this.push(f.args.length);
    for (const a of f.args) this.push(this.val(a));
    // CPU symmetry renames the CPU numbers of the read log (cpuReads), not those of a key: under
    // it a frame is written by its key only where the key holds none (Frame.keyCpuFree).
    if (f.key !== undefined && this.keys && (this.images === null || f.keyCpuFree === true)) {
      this.push(M_KEYED);
      forKey(f.key, this.keyWord, this.keyVal);
      this.readIds(f.reads);
    } else {
      this.push(f.reads.length);
      for (const r of f.reads) this.push(this.val(r));
    }
    this.push(stepWord(f));
    this.push(f.preempt);
    this.push(f.irqSaved);
    this.push(f.irqsOffAtStart ? 1 : 0);
    this.push(f.ghost & GHOST_FLAGS);
    const gid = f.ghost >>> GHOST_SHIFT;
    this.push(gid === 0 ? 0 : this.name(gid));
    this.drain();
  }

  private readonly keyWord = (x: number): void => this.push(x);
  /** A local's (or a pending operand's) value: an object renamed, anything else as itself, unambiguously. */
  private readonly keyVal = (v: number | undefined): void => {
    if (v === undefined) this.push(K_UNDEF);
    else if (v >= PTR_BASE && Number.isInteger(v) && this.w.heap[Math.floor((v - PTR_BASE) / OBJ_SPAN)] !== undefined) this.push(this.val(v));
    else if (v < PTR_BASE && ownWord(v)) this.push(v);
    else this.pushRaw(v);
  };
  private pushRaw(v: number): void {
    F64[0] = v;
    this.push(K_RAW);
    this.push(F64_WORDS[0]!);
    this.push(F64_WORDS[1]!);
  }
  /** The objects a read log names, each once, in the order first read: what abstraction.ts, heap.ts and por.ts see of it. */
  private readIds(reads: readonly number[]): void {
    const start = this.n;
    for (const r of reads) {
      if (r < PTR_BASE) continue;
      const c = this.name(Math.floor((r - PTR_BASE) / OBJ_SPAN));
      let seen = false;
      for (let i = start; i < this.n; i++) if (this.buf[i] === c) seen = true;
      if (!seen) this.push(c);
    }
    this.push(this.n - start);
  }

  /**
   * A content key for ordering interchangeable objects: the object's cells with pointers to
   * already-named objects replaced by their canonical id, and pointers to unnamed ones by the key
   * of what they point to and the set that holds it (to a depth of KEY_DEPTH). Objects with equal keys keep their original
   * relative order; a placeholder for every unnamed target would tie objects that differ only in
   * what they point to (an in-flight dio whose stale dio_next names another in-flight one), and
   * the tie would then be broken by object ids: isomorphic states serialised differently, which
   * costs states and makes the count depend on which of two isomorphic worlds a search kept.
   */
  private key(v: number, depth = KEY_DEPTH): number {
    if (v < PTR_BASE) return v;
    const rel = v - PTR_BASE;
    const id = Math.floor(rel / OBJ_SPAN);
    let h = 0x9e3779b9 ^ (rel - id * OBJ_SPAN);
    if (this.canon[id] !== undefined && this.canon[id]! > 0) h = Math.imul(h ^ this.canon[id]!, 0x85ebca6b);
    const o = this.w.heap[id];
    if (!o) return h >>> 0;
    const flat = flatObj(o);
    h = Math.imul(h ^ flat[0]!, 0xcc9e2d51) ^ (flat[2] ? 7 : 3);
    for (let i = 3; i < flat.length; i += 2) {
      const k = flat[i]!;
      const c = flat[i + 1]!;
      let x: number;
      if (c < PTR_BASE) x = c;
      else {
        const r = c - PTR_BASE;
        const cid = Math.floor(r / OBJ_SPAN);
        const cn = this.canon[cid] ?? 0;
        x = cn > 0 ? 0x40000000 + cn * OBJ_SPAN + (r - cid * OBJ_SPAN) : depth > 0 ? this.key(c, depth - 1) ^ this.container(cid) ^ 0x2545f491 : 0x3fffffff;
      }
      h = Math.imul(h ^ (k * 31 + x), 0x1b873593);
      h = (h << 13) | (h >>> 19);
    }
    return h >>> 0;
  }

  /** Where an unnamed object is held: a task's set (by task), the objects in flight, or neither. */
  private container(id: number): number {
    const p = PTR_BASE + id * OBJ_SPAN;
    const w = this.w;
    for (let t = 0; t < w.tasks.length; t++) if (w.tasks[t]!.held.includes(p)) return Math.imul(t + 1, 0x27d4eb2f);
    return w.inflight.includes(p) ? 0x165667b1 : 0;
  }

  private globalsOf: World['globals'] | null = null;
  private globalNames: string[] = [];
  private globalIds: number[] = [];

  /** multiset()'s working copy of the set, reused (the sets are a handful long). */
  private mv: number[] = [];
  /**
   * multiset()'s index of the cells that point into its elements, found in one walk of the heap
   * (instead of a walk per element per round): per referring cell, the element's object id,
   * the referrer's id, the cell's field word and the offset it points at.
   */
  private refs: number[] = [];

  /** Fills `refs` for the objects `ids` (each element's object id, or -1 for a scalar). */
  private indexRefs(ids: readonly number[], n: number): void {
    const refs = this.refs;
    let r = 0;
    const heap = this.w.heap;
    for (let j = 1; j < heap.length; j++) {
      const o = heap[j];
      if (!o) continue;
      const flat = flatObj(o);
      for (let i = 3; i < flat.length; i += 2) {
        const c = flat[i + 1]!;
        if (c < PTR_BASE) continue;
        const rel = c - PTR_BASE;
        const id = Math.floor(rel / OBJ_SPAN);
        if (id === j) continue;
        for (let e = 0; e < n; e++)
          if (ids[e] === id) {
            refs[r++] = id;
            refs[r++] = j;
            refs[r++] = flat[i]!;
            refs[r++] = rel - id * OBJ_SPAN;
            break;
          }
      }
    }
    this.refsN = r;
  }
  private refsN = 0;

  /**
   * Who points at object `id`, as a sum over referring cells (order-free): the referrer's
   * canonical id if it has one, else its content key and the set it is in, with the field offset. Two objects of a
   * set with equal contents, of which another object links to one (a dio whose stale dio_next
   * names a held dio), are not interchangeable: their keys must differ. Read off the index
   * indexRefs() built for the set being written.
   */
  private inRefs(id: number): number {
    const refs = this.refs;
    let h = 0;
    for (let r = 0; r < this.refsN; r += 4) {
      if (refs[r] !== id) continue;
      const j = refs[r + 1]!;
      const cn = this.canon[j] ?? 0;
      const who = cn > 0 ? 0x51ed27 + cn : this.key(PTR_BASE + j * OBJ_SPAN, 0) ^ this.container(j);
      h = (h + Math.imul(who ^ Math.imul(refs[r + 2]! + 1, 0x9e3779b1) ^ refs[r + 3]!, 0x85ebca6b)) | 0;
    }
    return h;
  }
  private mIds: number[] = [];

  private multiset(vals: number[]): void {
    const n = vals.length;
    this.push(n);
    if (n === 0) return;
    if (n === 1) {
      this.push(this.val(vals[0]!));
      this.drain();
      return;
    }
    // Individualise and refine: write the element with the smallest key, name it and what it
    // reaches, then key the rest again. Keys read the canonical ids named so far, so of two
    // elements that tied before (two held dios with equal cells, each the stale dio_next of
    // another one), the ones linked to what was just named now differ from the others: linked
    // structures come out in one consistent order whatever their object ids. A tie left is
    // broken by position only where that cannot matter (interchangeable(): the tied elements are
    // the same, or unlinked copies of one another); any other tie is a branch point of the walk,
    // and serialise() keeps the least serialisation over its branches.
    const rest = this.mv;
    for (let i = 0; i < n; i++) rest[i] = vals[i]!;
    const ids = this.mIds;
    for (let i = 0; i < n; i++) ids[i] = vals[i]! < PTR_BASE ? -1 : Math.floor((vals[i]! - PTR_BASE) / OBJ_SPAN);
    this.indexRefs(ids, n);
    const keys = this.mKeys;
    let m = n;
    while (m > 0) {
      let best = 0;
      let bestKey = -1;
      let tied = 1;
      if (m > 1)
        for (let i = 0; i < m; i++) {
          const v = rest[i]!;
          const k = (this.key(v) ^ (v < PTR_BASE ? 0 : this.inRefs(Math.floor((v - PTR_BASE) / OBJ_SPAN)))) >>> 0;
          keys[i] = k;
          if (bestKey < 0 || k < bestKey) {
            bestKey = k;
            best = i;
            tied = 1;
          } else if (k === bestKey) tied++;
        }
      if (tied > 1 && !this.interchangeable(vals, rest, m, bestKey, best)) best = this.branch(m, bestKey, tied);
      const v = rest[best]!;
      for (let i = best; i < m - 1; i++) rest[i] = rest[i + 1]!;
      m--;
      this.push(this.val(v));
      this.drain();
    }
  }
  /** multiset()'s keys of the elements left, by position. */
  private mKeys: number[] = [];

  /**
   * A tie multiset() may break by position: the elements of `rest` keyed `bestKey` (the first at
   * `first`) are all one value, or are distinct unnamed objects with equal contents that point
   * only to named objects, at one offset, each held once in `vals`, and named by nothing else
   * (no cell of another object, no frame, no other set). Then swapping any two of them maps the
   * world onto itself and fixes everything named so far: whichever is written first, the
   * serialisation is the same.
   */
  private interchangeable(vals: readonly number[], rest: readonly number[], m: number, bestKey: number, first: number): boolean {
    const keys = this.mKeys;
    const v0 = rest[first]!;
    let same = true;
    for (let i = first + 1; i < m; i++) if (keys[i] === bestKey && rest[i] !== v0) same = false;
    if (same) return true;
    if (v0 < PTR_BASE) return false;
    const off0 = (v0 - PTR_BASE) % OBJ_SPAN;
    const o0 = this.w.heap[Math.floor((v0 - PTR_BASE) / OBJ_SPAN)];
    const f0 = o0 ? flatObj(o0) : null;
    for (let i = first; i < m; i++) {
      if (keys[i] !== bestKey) continue;
      const v = rest[i]!;
      if (v < PTR_BASE || (v - PTR_BASE) % OBJ_SPAN !== off0 || !this.unlinked(v, vals)) return false;
      const o = this.w.heap[Math.floor((v - PTR_BASE) / OBJ_SPAN)];
      if (!o || !f0) {
        if (o || f0) return false;
        continue;
      }
      const f = flatObj(o);
      if (f.length !== f0.length) return false;
      for (let j = 0; j < f.length; j++) if (f[j] !== f0[j]) return false;
    }
    return true;
  }

  /** Whether object value `v` of the set `vals` is unnamed, points only to named objects, and nothing but its one place in `vals` names it. */
  private unlinked(v: number, vals: readonly number[]): boolean {
    const id = Math.floor((v - PTR_BASE) / OBJ_SPAN);
    if ((this.canon[id] ?? 0) > 0) return false;
    const o = this.w.heap[id];
    if (o) {
      const f = flatObj(o);
      for (let i = 4; i < f.length; i += 2) {
        const c = f[i]!;
        if (c >= PTR_BASE && (this.canon[Math.floor((c - PTR_BASE) / OBJ_SPAN)] ?? 0) === 0) return false;
      }
    }
    const refs = this.refs;
    for (let r = 0; r < this.refsN; r += 4) if (refs[r] === id) return false;
    let here = 0;
    for (const x of vals) if (x >= PTR_BASE && Math.floor((x - PTR_BASE) / OBJ_SPAN) === id) here++;
    if (here !== 1) return false;
    const w = this.w;
    if (vals !== w.inflight && namesObject(w.inflight, id)) return false;
    for (const t of w.tasks) if ((vals !== t.held && namesObject(t.held, id)) || frameNames(t.frame, id)) return false;
    for (const c of w.cpus) if (frameNames(c.softirq, id) || frameNames(c.hardirq, id)) return false;
    return true;
  }

  /**
   * A tie that interchangeable() cannot break: the next branch point of the walk. Takes the
   * tied element serialise() asks for (the first on its first walk) and records how many there
   * are, so that serialise() walks again for each of the others.
   */
  private branch(m: number, bestKey: number, tied: number): number {
    const p = this.tiesN++;
    const c = p < this.forcedN ? this.tieChoice[p]! : 0;
    this.tieChoice[p] = c;
    this.tieCount[p] = tied;
    const keys = this.mKeys;
    for (let i = 0, seen = 0; i < m; i++) if (keys[i] === bestKey && seen++ === c) return i;
    throw new Error('multiset(): tie choice out of range');
  }
  /** The walk's branch points (branch()): the choice taken at each, and how many tied there. */
  private tieChoice: number[] = [];
  private tieCount: number[] = [];
  private tiesN = 0;
  /** Branch points before this one take tieChoice[p] (replayed), the later ones their first element. */
  private forcedN = 0;
  /** serialise()'s least serialisation over the branches walked so far. */
  private tieBest = new Int32Array(1024);

  /**
   * The state as words: the walk that renames objects, or serialisePlain() without symmetry.
   * With ties multiset() could not break (branch()), the least of the walks over every choice
   * at every branch point: the set of walks is the same for isomorphic worlds (keys do not read
   * object ids, and every tied element is tried), so the least is a function of the isomorphism
   * class. Most states have no branch point and are walked once.
   */
  private serialise(w: World): void {
    if (!this.symmetry) {
      this.serialisePlain(w);
      return;
    }
    this.forcedN = 0;
    this.walk(w);
    if (this.tiesN === 0) return;
    let bn = this.n;
    this.tieBest = this.saved(this.tieBest);
    for (;;) {
      // The next choice vector, depth first: the last branch point with a choice left takes it.
      let p = this.tiesN - 1;
      while (p >= 0 && this.tieChoice[p]! + 1 >= this.tieCount[p]!) p--;
      if (p < 0) break;
      this.tieChoice[p]!++;
      this.forcedN = p + 1;
      this.walk(w);
      if (!lessWords(this.buf, this.n, this.tieBest, bn)) continue;
      bn = this.n;
      this.tieBest = this.saved(this.tieBest);
    }
    this.restore(this.tieBest, bn);
  }

  /** One walk of serialise(), taking at its branch points the choices tieChoice[0, forcedN) says. */
  private walk(w: World): void {
    this.w = w;
    this.n = 0;
    this.qHead = 0;
    this.tiesN = 0;
    const gk = this.namesOf(w.globals);
    this.push(gk.length);
    for (const k of gk) {
      this.push(this.str(k));
      this.push(this.val(w.globals[k]!));
    }
    this.drain();
    for (const c of w.cpus) {
      this.push((c.online ? 1 : 0) | (c.irqsOff ? 2 : 0) | ((c.spec ?? 0) << 2));
      this.push(c.current);
      this.frame(c.softirq);
      this.frame(c.hardirq);
    }
    for (const t of w.tasks) {
      this.push(t.cpu);
      this.push(t.opsDone);
      this.frame(t.frame);
      this.multiset(t.held);
    }
    this.multiset(w.inflight);
    this.push(w.preemptions);
    this.push(w.allocFails);
    // Objects nothing reaches (leaked, or freed and still listed nowhere): named by content.
    const rest: number[] = [];
    for (let i = 1; i < w.heap.length; i++) if (w.heap[i] && (this.canon[i] ?? 0) === 0) rest.push(PTR_BASE + i * OBJ_SPAN);
    this.multiset(rest);
    for (let i = 0; i < this.namedN; i++) this.canon[this.named[i]!] = 0;
    this.namedN = 0;
  }

  /**
   * serialise() without symmetry, in the same order with the same words: object ids are the
   * identity, so no value is renamed (val() is the value itself), the held and in-flight sets are
   * written in the ascending order the world keeps them in, and the buffer is sized once up front
   * instead of checked at every word. It runs for every transition the search takes.
   */
  private serialisePlain(w: World): void {
    const heap = w.heap;
    const gk = this.namesOf(w.globals);
    let need = 8 + 3 * heap.length + 2 * gk.length + 2 * w.cpus.length + 3 * w.tasks.length + w.inflight.length;
    for (const c of w.cpus) need += frameWords(c.softirq) + frameWords(c.hardirq);
    for (const t of w.tasks) need += frameWords(t.frame) + t.held.length;
    if (this.buf.length < need) this.buf = new Int32Array(Math.max(need, this.buf.length * 2));
    const b = this.buf;
    let n = 0;
    b[n++] = heap.length;
    for (let i = 1; i < heap.length; i++) {
      const o = heap[i];
      if (!o) {
        b[n++] = M_NONE;
        continue;
      }
      const form = digested(o);
      b[n++] = M_OBJ;
      b[n++] = form.digestHi;
      b[n++] = form.digestLo;
    }
    b[n++] = gk.length;
    const ids = this.globalIds;
    for (let i = 0; i < gk.length; i++) {
      b[n++] = ids[i]!;
      b[n++] = w.globals[gk[i]!]! | 0;
    }
    for (const c of w.cpus) {
      b[n++] = (c.online ? 1 : 0) | (c.irqsOff ? 2 : 0) | ((c.spec ?? 0) << 2);
      b[n++] = c.current;
      n = plainFrame(b, n, c.softirq, this.keys);
      n = plainFrame(b, n, c.hardirq, this.keys);
    }
    for (const t of w.tasks) {
      b[n++] = t.cpu;
      b[n++] = t.opsDone;
      n = plainFrame(b, n, t.frame, this.keys);
      n = plainSet(b, n, t.held);
    }
    n = plainSet(b, n, w.inflight);
    b[n++] = w.preemptions;
    b[n++] = w.allocFails;
    this.n = n;
  }

  /** The statics' names in order; copies of a world share the object (cloneWorld), so they are kept. */
  private namesOf(globals: World['globals']): string[] {
    if (globals !== this.globalsOf) {
      this.globalsOf = globals;
      this.globalNames = Object.keys(globals).sort();
      this.globalIds = this.globalNames.map(intern);
    }
    return this.globalNames;
  }

  private hash(): void {
    const b = this.buf;
    let h1 = 0x811c9dc5 ^ this.n;
    let h2 = 0x27d4eb2f ^ Math.imul(this.n, 0x9e3779b1);
    for (let i = 0; i < this.n; i++) {
      let k = b[i]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h1 ^= k;
      h1 = (h1 << 13) | (h1 >>> 19);
      h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
      h2 = Math.imul(h2 ^ b[i]!, 0x85ebca6b);
      h2 = (h2 ^ (h2 >>> 13)) + 0x165667b1;
      h2 = (h2 << 11) | (h2 >>> 21);
    }
    this.hi = fmix1(h1) >>> 0;
    this.lo = fmix2(h2) >>> 0;
  }
}

/** Whether a set of values holds a pointer into object `id`. */
function namesObject(vals: readonly number[], id: number): boolean {
  for (const x of vals) if (x >= PTR_BASE && Math.floor((x - PTR_BASE) / OBJ_SPAN) === id) return true;
  return false;
}

/** Whether a frame names object `id`: in its arguments, its read log, its key or its ghost. */
function frameNames(f: Frame | null, id: number): boolean {
  if (!f) return false;
  if (f.ghost >>> GHOST_ID_SHIFT === id || namesObject(f.args, id) || namesObject(f.reads, id)) return true;
  return f.key !== undefined && namesObject(f.key as readonly number[], id);
}

/**
 * Walks a Frame.key (Kernel.frameKey()): its structure words (counts, functions, places) to
 * `word`, its values (locals, pending operands) to `val`.
 */
function forKey(key: readonly (number | undefined)[], word: (x: number) => void, val: (v: number | undefined) => void): void {
  let i = 0;
  const n = key[i++]!;
  word(n);
  for (let a = 0; a < n; a++) {
    word(key[i++]!);
    word(key[i++]!);
    const nl = key[i++]!;
    word(nl);
    for (let j = 0; j < nl; j++) val(key[i++]);
    if (a === n - 1) break;
    const ns = key[i++]!;
    word(ns);
    for (let j = 0; j < ns; j++) val(key[i++]);
  }
}

/** Whether a[0, an) orders before b[0, bn): shorter first, then by the first differing word. */
function lessWords(a: Int32Array, an: number, b: Int32Array, bn: number): boolean {
  if (an !== bn) return an < bn;
  for (let i = 0; i < an; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * An object's flattened form with its 64-bit digest, computed once per object version: heap
 * objects are copy-on-write, so most of a state's objects are the parent's, already digested, and
 * a step rehashes only what it wrote.
 */
function digested(o: HeapObj): Flat {
  const form = flatForm(o);
  if (!form.digested) {
    const f = form.f;
    let h1 = 0x9747b28c ^ f.length;
    let h2 = 0x5bd1e995 ^ Math.imul(f.length, 0x9e3779b1);
    for (let i = 0; i < f.length; i++) {
      const x = f[i]! | 0;
      h1 = Math.imul(h1 ^ x, 0xcc9e2d51);
      h1 = (h1 << 15) | (h1 >>> 17);
      h2 = Math.imul(h2 ^ x, 0x85ebca6b);
      h2 = (h2 << 13) | (h2 >>> 19);
      h2 = (h2 + 0x165667b1) | 0;
    }
    form.digestHi = fmix1(h1);
    form.digestLo = fmix2(h2);
    form.digested = true;
  }
  return form;
}

/**
 * Where a frame is: its statement count, and at access level how many accesses of that statement
 * ran (Frame.sub), in one word (statements stay below 2^16: runtime.ts STEP_BUDGET).
 */
function stepWord(f: Frame): number {
  const sub = f.sub ?? 0;
  return sub === 0 ? f.steps : f.steps + sub * 0x10000;
}

/** Words serialisePlain() writes for a frame (or its absence). */
function frameWords(f: Frame | null): number {
  return f ? 11 + f.args.length + f.reads.length + (f.key ? 3 * f.key.length : 0) : 1;
}

/** Where plainFrame() writes a key (forKey() takes callbacks; made once, not per frame). */
const PLAIN: { b: Int32Array; n: number } = { b: new Int32Array(0), n: 0 };
function plainWord(x: number): void {
  PLAIN.b[PLAIN.n++] = x;
}
/** Fingerprinter.keyVal() without renaming: object ids are the identity. */
function plainVal(v: number | undefined): void {
  const b = PLAIN.b;
  if (v === undefined) b[PLAIN.n++] = K_UNDEF;
  else if (ownWord(v)) b[PLAIN.n++] = v;
  else {
    F64[0] = v;
    b[PLAIN.n++] = K_RAW;
    b[PLAIN.n++] = F64_WORDS[0]!;
    b[PLAIN.n++] = F64_WORDS[1]!;
  }
}

/** Fingerprinter.frame() without renaming. */
function plainFrame(b: Int32Array, n: number, f: Frame | null, keys: boolean): number {
  if (!f) {
    b[n++] = M_NOFRAME;
    return n;
  }
  b[n++] = M_FRAME;
  b[n++] = intern(f.op);
  b[n++] = f.args.length;
  for (const a of f.args) b[n++] = a | 0;
  if (f.key !== undefined && keys) {
    b[n++] = M_KEYED;
    PLAIN.b = b;
    PLAIN.n = n;
    forKey(f.key, plainWord, plainVal);
    n = PLAIN.n;
    // The objects read, each once in the order first read (Fingerprinter.readIds()).
    const start = n;
    for (const r of f.reads) {
      if (r < PTR_BASE) continue;
      const id = Math.floor((r - PTR_BASE) / OBJ_SPAN);
      let seen = false;
      for (let i = start; i < n; i++) if (b[i] === id) seen = true;
      if (!seen) b[n++] = id;
    }
    b[n++] = n - start;
  } else {
    b[n++] = f.reads.length;
    for (const r of f.reads) b[n++] = r | 0;
  }
  b[n++] = stepWord(f);
  b[n++] = f.preempt;
  b[n++] = f.irqSaved;
  b[n++] = f.irqsOffAtStart ? 1 : 0;
  b[n++] = f.ghost & GHOST_FLAGS;
  b[n++] = f.ghost >>> GHOST_SHIFT;
  return n;
}

/** Fingerprinter.multiset() without renaming: the values in ascending order. */
function plainSet(b: Int32Array, n: number, vals: readonly number[]): number {
  b[n++] = vals.length;
  const start = n;
  for (const v of vals) {
    // The world keeps these sets sorted; an insertion sort keeps the words right if one is not.
    let j = n++;
    for (; j > start && b[j - 1]! > (v | 0); j--) b[j] = b[j - 1]!;
    b[j] = v | 0;
  }
  return n;
}

/** The final avalanche of a hash's first 32-bit lane (murmur3's fmix32). */
function fmix1(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The same for the second lane, with other constants, so that the two lanes stay independent. */
function fmix2(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  return h ^ (h >>> 15);
}

/**
 * A set of 64-bit fingerprints: open addressing with linear probing over one Uint32Array, the
 * high and low words of a slot side by side (8 bytes a slot, load factor at most 3/4): a probe
 * of a table far larger than the caches touches one line, not one in each of two arrays.
 * (0, 0) marks an empty slot, so a fingerprint of (0, 0) is stored as (0, 1).
 */
export class FingerprintSet {
  private t: Uint32Array;
  private mask: number;
  size = 0;

  constructor(capacityPow2 = 1 << 16) {
    this.t = new Uint32Array(capacityPow2 * 2);
    this.mask = capacityPow2 - 1;
  }

  get bytes(): number {
    return this.t.byteLength;
  }

  /** Adds (hi, lo); returns false if it was already present. */
  add(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1;
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) this.grow();
    return this.insert(hi >>> 0, lo >>> 0);
  }

  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1;
    hi >>>= 0;
    lo >>>= 0;
    const t = this.t;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = t[2 * i]!;
      const l = t[2 * i + 1]!;
      if (h === 0 && l === 0) return false;
      if (h === hi && l === lo) return true;
      i = (i + 1) & this.mask;
    }
  }

  private insert(hi: number, lo: number): boolean {
    const t = this.t;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = t[2 * i]!;
      const l = t[2 * i + 1]!;
      if (h === 0 && l === 0) {
        t[2 * i] = hi;
        t[2 * i + 1] = lo;
        this.size++;
        return true;
      }
      if (h === hi && l === lo) return false;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.t;
    this.t = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}

/** The shared memory of a SharedFingerprintSet, as posted to worker threads. */
export interface SharedTable {
  /** Slot i: high word at 2i, low word at 2i + 1. */
  slots: SharedArrayBuffer;
  /** [0]: states stored. */
  count: SharedArrayBuffer;
}

/**
 * The visited set of a parallel search (parallel.ts): the same open addressing over shared
 * memory, inserted into by every worker at once. A slot is claimed by a compare-and-swap on its
 * high word; the low word follows, and a reader that finds the high word it is looking for waits
 * for the low word before comparing. Neither word is ever 0 in a stored fingerprint (0 marks an
 * empty slot), so both are nudged to 1 when they are.
 *
 * It does not grow while workers insert: `add` answers FULL past 7/8 load and the worker keeps
 * the state aside; between BFS levels the main thread grows the table (`grown`) and the workers
 * retry.
 */
export class SharedFingerprintSet {
  static readonly FULL = -1;
  /** Slot i: high word at 2i, low word at 2i + 1 (FingerprintSet's layout). */
  readonly t: Int32Array;
  private readonly countA: Int32Array;
  private readonly mask: number;
  private readonly limit: number;

  constructor(readonly table: SharedTable) {
    this.t = new Int32Array(table.slots);
    this.countA = new Int32Array(table.count);
    this.mask = this.t.length / 2 - 1;
    this.limit = ((this.mask + 1) / 8) * 7;
  }

  static create(capacityPow2: number): SharedFingerprintSet {
    return new SharedFingerprintSet({
      slots: new SharedArrayBuffer(capacityPow2 * 8),
      count: new SharedArrayBuffer(4),
    });
  }

  get size(): number {
    return Atomics.load(this.countA, 0);
  }
  get capacity(): number {
    return this.mask + 1;
  }
  get bytes(): number {
    return this.t.byteLength;
  }

  /** Whether (hi, lo) is in the table (an insert under way is waited for, as add() does). */
  has(hi: number, lo: number): boolean {
    hi |= 0;
    lo |= 0;
    if (hi === 0) hi = 1;
    if (lo === 0) lo = 1;
    const t = this.t;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = Atomics.load(t, 2 * i);
      if (h === 0) return false;
      if (h === hi) {
        let l = Atomics.load(t, 2 * i + 1);
        while (l === 0) l = Atomics.load(t, 2 * i + 1);
        if (l === lo) return true;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** 1: added; 0: already present; FULL: not added, the table is too full. */
  add(hi: number, lo: number): number {
    hi |= 0;
    lo |= 0;
    if (hi === 0) hi = 1;
    if (lo === 0) lo = 1;
    if (Atomics.load(this.countA, 0) >= this.limit) return SharedFingerprintSet.FULL;
    const t = this.t;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      let h = Atomics.load(t, 2 * i);
      if (h === 0) {
        h = Atomics.compareExchange(t, 2 * i, 0, hi);
        if (h === 0) {
          Atomics.store(t, 2 * i + 1, lo);
          Atomics.add(this.countA, 0, 1);
          return 1;
        }
      }
      if (h === hi) {
        let l = Atomics.load(t, 2 * i + 1);
        // The winner of this slot has not written its low word yet: a few instructions away.
        while (l === 0) l = Atomics.load(t, 2 * i + 1);
        if (l === lo) return 0;
      }
      i = (i + 1) & this.mask;
    }
  }

  /**
   * A table `factor` times larger holding the same fingerprints. Only while no thread inserts
   * (every worker paused): the copy uses plain reads and writes.
   */
  grown(factor: number): SharedFingerprintSet {
    const g = SharedFingerprintSet.create((this.mask + 1) * factor);
    const t = g.t;
    const mask = g.mask;
    let n = 0;
    for (let j = 0; j < this.t.length; j += 2) {
      const hi = this.t[j]!;
      if (hi === 0) continue;
      const lo = this.t[j + 1]!;
      let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask;
      while (t[2 * i] !== 0) i = (i + 1) & mask;
      t[2 * i] = hi;
      t[2 * i + 1] = lo;
      n++;
    }
    g.countA[0] = n;
    return g;
  }
}
