/**
 * The C interpreter on its own: control flow, macros, struct layout and pointer arithmetic, run
 * against the simulated kernel memory, and its statement boundaries.
 */
import { describe, expect, it } from 'vitest';
import { cHarness } from './c-harness.js';
import { KernelFault } from '../impl/kernel/primitives.js';
import { mkPtr, NULL } from '../impl/kernel/values.js';

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
