/**
 * The C interpreter on its own: control flow, macros, struct layout and pointer arithmetic, run
 * against the simulated kernel memory, and its statement boundaries.
 */
import { describe, expect, it } from 'vitest';
import { cHarness } from './c-harness.js';
import { KernelFault } from '../impl/kernel/primitives.js';
import { mkPtr, NULL } from '../impl/kernel/values.js';
import type { TV as TVArg } from '../conformance/c/interp.js';

const SRC = `
#define SQ(x) ((x) * (x))
#define ADD_TO(a, b) do { (a) += (b); } while (0)
struct pair {
	int a;
	long b;
	struct inner { int x; int y; } in;
};
static int counter;

static int features(struct pair *p)
{
	int i, sum = 0;

	for (i = 0; i < 5; i++) {
		if (i == 3)
			continue;
		sum += i;
	}
	while (sum < 20)
		sum++;
	do {
		sum -= 2;
	} while (sum > 15);
	ADD_TO(sum, SQ(3));
	p->in.y = sum;
	p->a = (p->in.y > 10) ? 1 : 2;
	counter += p->a;
	if (unlikely(p->a != 1))
		goto bad;
	return (int)((unsigned long)&p->in.y - (unsigned long)p);
bad:
	return -1;
}

static struct pair *next_pair(struct pair *p)
{
	return p + 1;
}

static int reads_unset(struct pair *p)
{
	return p->b;
}
`;

const setup = () => cHarness(SRC, { obj1: { type: 'pair', freed: false, origin: 'kmalloc', cells: {} }, globals: { counter: 0 } });

describe('C interpreter', () => {
  it('lays out structs by the x86-64 rules', async () => {
    const { prog } = await setup();
    const pair = prog.structs.get('pair')!;
    expect(Object.fromEntries([...pair.fields].map(([f, x]) => [f, x.off]))).toEqual({ a: 0, b: 8, in: 16 });
    expect(prog.structs.get('inner')!.fields.get('y')!.off).toBe(4);
    expect(pair.size).toBe(24);
  });

  it('runs loops, continue, do-while, function-like macros, ?:, goto and pointer arithmetic against memory', async () => {
    const { world, run } = await setup();
    const p = { v: mkPtr(1), t: { k: 'ptr' as const, to: { k: 'struct' as const, name: 'pair' } } };
    const r = run('features', [p]);
    // 0+1+2+4 = 7, up to 20, down to 14, plus 3*3.
    expect(world.heap[1]!.cells[20]).toBe(23);
    expect(world.heap[1]!.cells[0]).toBe(1);
    expect(world.globals.counter).toBe(1);
    expect(r.v).toBe(20);
    // Statements on locals only have no boundary; those that touch memory or statics do.
    expect(r.labels.some((l) => l.startsWith('sum += i;'))).toBe(false);
    // A loop test is a boundary on every iteration (a loop on shared state must be interruptible).
    expect(r.labels.filter((l) => l === 'for (...; i < 5; ...) (t.c:15)')).toHaveLength(6);
    expect(r.labels).toContain('p->in.y = sum; (t.c:26)');
    expect(r.labels).toContain('counter += p->a; (t.c:28)');
    expect(run('next_pair', [p]).v).toBe(mkPtr(1, 24));
  });

  it('reports an uninitialised field read as the kernel fault', async () => {
    const { run } = await setup();
    const p = { v: mkPtr(1), t: { k: 'ptr' as const, to: { k: 'struct' as const, name: 'pair' } } };
    expect(() => run('reads_unset', [p])).toThrow(KernelFault);
    expect(() => run('features', [{ v: NULL, t: p.t }])).toThrow(/NULL pointer dereference: p->in.y/);
  });
});

// ---- the string and copy functions over the tracked heap ---------------------------------------

const MEM = `
struct rec {
	int a;
	long b;
	struct rec *next;
};
static struct rec *zero(struct rec *r)
{
	return memset(r, 0, sizeof(*r));
}
static void zero_tail(struct rec *r)
{
	memset(&r->b, 0, sizeof(*r) - offsetof(struct rec, b));
}
static void zero_past_end(struct rec *r)
{
	memset(r, 0, sizeof(*r) + sizeof(long));
}
static void fill(struct rec *r, int c)
{
	memset(r, c, sizeof(*r));
}
static long get_b(struct rec *r)
{
	return r->b;
}
static struct rec *get_next(struct rec *r)
{
	return r->next;
}
static void copy(struct rec *d, struct rec *s)
{
	memcpy(d, s, sizeof(*s));
}
static void copy_past_end(struct rec *d, struct rec *s)
{
	memcpy(d, s, 2 * sizeof(*s));
}
static void shift_up(struct rec *r)
{
	memmove(&r->b, r, 2 * sizeof(long));
}
static struct rec *dup(struct rec *s)
{
	return kmemdup(s, sizeof(*s), GFP_KERNEL);
}
static void none(struct rec *r)
{
	memset(r, 0, 0);
}
static int prints(struct rec *r, int bad)
{
	pr_debug("%ld\n", r->b);
	WARN(bad, "%s: %ld\n", __func__, r->b);
	pr_warn("%s: %d\n", __func__, r->a);
	return 1;
}
static void unregister(void)
{
	cpuhp_remove_state(CPUHP_REC_DEAD);
}
static void zero_char(struct rec *r)
{
	memset(r, '\\0', sizeof(*r));
}
`;

describe('memset, memcpy, memmove, kmemdup (lib/string.c, mm/util.c)', () => {
  const REC = { k: 'ptr' as const, to: { k: 'struct' as const, name: 'rec' } };
  const rec = (id: number): TVArg => ({ v: mkPtr(id), t: REC });
  const int = (v: number): TVArg => ({ v, t: { k: 'int', size: 4, name: 'int' } });
  /** #1: a 24-byte struct rec from kmalloc with a = 5 and next = #2, b never written; #2: another, b = 7. */
  const mem = async () => {
    const h = await cHarness(MEM, { obj1: { type: 'rec', freed: false, origin: 'kmalloc', cells: { 0: 5, 16: mkPtr(2) }, size: 24 } });
    h.world.heap[2] = { type: 'rec', freed: false, origin: 'kmalloc', cells: { 8: 7 }, size: 24 };
    return h;
  };

  it('memset(p, 0, n) zeroes every field in the range, pointers included, and an unwritten field then reads 0', async () => {
    const { world, run } = await mem();
    expect(() => run('get_b', [rec(1)])).toThrow(/read of uninitialised memory: r->b/);
    expect(run('zero', [rec(1)]).v).toBe(mkPtr(1));
    expect(run('get_b', [rec(1)]).v).toBe(0);
    expect(run('get_next', [rec(1)]).v).toBe(NULL);
    expect(world.heap[1]!.cells[0]).toBe(0);
  });

  it('a range inside the object leaves the fields before it alone', async () => {
    const { world, run } = await mem();
    run('zero_tail', [rec(1)]);
    expect(world.heap[1]!.cells[0]).toBe(5);
    expect(run('get_b', [rec(1)]).v).toBe(0);
    expect(run('get_next', [rec(1)]).v).toBe(NULL);
  });

  it('past the end of the allocation is slab-out-of-bounds, reported before any byte is written', async () => {
    const { world, run } = await mem();
    let fault: unknown;
    try {
      run('zero_past_end', [rec(1)]);
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(KernelFault);
    expect((fault as KernelFault).kind).toBe('wild-pointer');
    expect((fault as KernelFault).message).toBe('slab-out-of-bounds (KASAN): memset(r, 0, sizeof(*r) + sizeof(long)) writes bytes 0..31 of #1, a struct rec of 24 bytes');
    expect(world.heap[1]!.cells).toEqual({ 0: 5, 16: mkPtr(2) });
  });

  it('NULL and freed objects are the faults a load would take; n = 0 touches nothing', async () => {
    const { world, run } = await mem();
    expect(() => run('zero', [{ v: NULL, t: REC }])).toThrow(/NULL pointer dereference: memset\(r, 0, sizeof\(\*r\)\)/);
    world.heap[2]!.freed = true;
    expect(() => run('copy', [rec(1), rec(2)])).toThrow(/use after free of #2: memcpy\(d, s, sizeof\(\*s\)\)/);
    expect(() => run('dup', [rec(2)])).toThrow(/use after free of #2/);
    run('none', [{ v: NULL, t: REC }]);
    run('none', [rec(2)]);
    expect(world.heap[2]!.cells).toEqual({ 8: 7 });
  });

  it('a non-zero fill is refused naming the call and its line (cells hold whole values, not bytes); a fill of 256 is a zero byte', async () => {
    const { world, run } = await mem();
    expect(() => run('fill', [rec(1), int(0x6b)])).toThrow(/^t\.c:21: memset\(r, c, sizeof\(\*r\)\): a non-zero memset\(\) fill is not modelled.* \(the fill here is 107\)$/);
    expect(world.heap[1]!.cells).toEqual({ 0: 5, 16: mkPtr(2) });
    run('fill', [rec(1), int(256)]);
    expect(run('get_b', [rec(1)]).v).toBe(0);
  });

  it("memset(p, '\\0', n) is a zero fill: a character constant's escape is its value", async () => {
    const { run } = await mem();
    run('zero_char', [rec(1)]);
    expect(run('get_b', [rec(1)]).v).toBe(0);
  });

  it('memcpy copies every cell of the range, pointers included; a byte never written stays uninitialised', async () => {
    const { world, run } = await mem();
    run('copy', [rec(2), rec(1)]);
    expect(world.heap[2]!.cells).toEqual({ 0: 5, 16: mkPtr(2) });
    // #2's b was 7; #1's b was never written, and neither is the copy's.
    expect(() => run('get_b', [rec(2)])).toThrow(/read of uninitialised memory: r->b/);
    expect(() => run('copy_past_end', [rec(2), rec(1)])).toThrow(/^slab-out-of-bounds \(KASAN\): memcpy\(d, s, 2 \* sizeof\(\*s\)\) reads bytes 0\.\.47 of #1, a struct rec of 24 bytes$/);
  });

  it('memcpy from zeroed memory copies zeroes', async () => {
    const { world, run } = await mem();
    world.heap[1] = { type: 'rec', freed: false, origin: 'kzalloc', cells: {}, size: 24 };
    run('copy', [rec(2), rec(1)]);
    expect(run('get_b', [rec(2)]).v).toBe(0);
  });

  it('memmove reads the whole source before writing: an overlapping move lands intact', async () => {
    const { world, run } = await mem();
    world.heap[1]!.cells[8] = 6;
    run('shift_up', [rec(1)]);
    // [a=5 @0, b=6 @8] moved to @8 and @16: the 6 read before the 5 overwrote it.
    expect(world.heap[1]!.cells[8]).toBe(5);
    expect(world.heap[1]!.cells[16]).toBe(6);
    expect(world.heap[1]!.cells[0]).toBe(5);
  });

  it('prints read their arguments as the kernel does: pr_warn() always, WARN() when it fires, pr_debug() never', async () => {
    const { run } = await mem();
    // #1's b was never written: only a WARN() that fires reads it.
    expect(run('prints', [rec(1), int(0)]).v).toBe(1);
    expect(() => run('prints', [rec(1), int(1)])).toThrow(/read of uninitialised memory: r->b/);
    expect(() => run('prints', [{ v: NULL, t: REC }, int(0)])).toThrow(/NULL pointer dereference: r->a/);
  });

  it('cpuhp_remove_state(), which runs the teardown on every online CPU there and then, is refused with its line', async () => {
    const { run } = await mem();
    expect(() => run('unregister', [])).toThrow(/^t\.c:\d+: cpuhp_remove_state\(CPUHP_REC_DEAD\): cpuhp_remove_state\(\) runs the teardown callback on every online CPU/);
  });

  it('kmemdup allocates like kmalloc (bounds-checked, typed by its size) and copies', async () => {
    const { world, run } = await mem();
    const p = run('dup', [rec(1)]).v;
    expect(p).toBe(mkPtr(3));
    const o = world.heap[3]!;
    expect({ type: o.type, origin: o.origin, size: o.size, freed: o.freed, cells: o.cells }).toEqual({ type: 'rec', origin: 'kmalloc', size: 24, freed: false, cells: { 0: 5, 16: mkPtr(2) } });
    expect(() => run('copy_past_end', [rec(3), rec(2)])).toThrow(/reads bytes 0\.\.47 of #2/);
  });
});
