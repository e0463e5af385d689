/**
 * Values in simulated kernel memory are plain numbers. Pointers are self-describing: every
 * value >= PTR_BASE is a pointer, so read logs, fingerprints and symmetry renaming need no
 * type information, and C pointer arithmetic (`(unsigned long)head + sizeof(struct h)`) works
 * on the number directly. Integers the cache uses (counters, flags, CPU ids, sizes) stay far
 * below PTR_BASE.
 */
export const NULL = 0;
export const PTR_BASE = 2 ** 24;
/** Bytes addressable inside one object; an offset past this would alias the next object id. */
export const OBJ_SPAN = 2 ** 16;

export type Value = number;

export function isPtr(v: Value): boolean {
  return v >= PTR_BASE;
}

export function mkPtr(id: number, offset = 0): Value {
  return PTR_BASE + id * OBJ_SPAN + offset;
}

export function ptrId(p: Value): number {
  return Math.floor((p - PTR_BASE) / OBJ_SPAN);
}

export function ptrOff(p: Value): number {
  return (p - PTR_BASE) % OBJ_SPAN;
}

/** Renders a value for reports: `NULL`, `#3`, `#3+16`, or the integer. */
export function showValue(v: Value | undefined): string {
  if (v === undefined) return '?';
  if (v === NULL) return 'NULL';
  if (!isPtr(v)) return String(v);
  const off = ptrOff(v);
  return off === 0 ? `#${ptrId(v)}` : `#${ptrId(v)}+${off}`;
}
