/**
 * The primitives table (impl/kernel/primitive-table.ts) is what every path reads: every C row's
 * example runs through the interpreter's dispatch and gives the same labels, reads, value, memory
 * and facts compiled; every `case` of the interpreter's and the compiler's primitive switches is a
 * row; the interpreter's boundary decision is the `pure` column; a `point` row's statement is a
 * step of its own with a boundary after it; every Kernel call a port makes is a `both` or `port`
 * row (or memory); a call that is no row is an input error (exit 2) naming it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cParser, walk, type N } from '../conformance/c/ast.js';
import { Compiler } from '../conformance/c/compile.js';
import { extract, Types, type Program } from '../conformance/c/extract.js';
import { Interp, newCoverage, type TV } from '../conformance/c/interp.js';
import { readPostImage } from '../conformance/c/reader.js';
import { cPrimitive, PRIMITIVES, primitiveRow, type PrimitiveDecl } from '../impl/kernel/primitive-table.js';
import { Kernel } from '../impl/kernel/primitives.js';
import { mkPtr } from '../impl/kernel/values.js';
import type { HeapObj } from '../impl/kernel/world.js';
import { runCli } from './cli-run.js';
import { bareKernel, drain } from './c-harness.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const C_ROWS = PRIMITIVES.filter((r) => r.paths !== 'port');
/** A C name for a row: its own, or a tracepoint for the `trace_*` prefix. */
const cName = (r: PrimitiveDecl) => (r.name.endsWith('*') ? `${r.name.slice(0, -1)}obj_alloc` : r.name);
/** Refused before exploring whatever their arguments (interp.ts libCallProblem): recognised, never run. */
const REFUSED = new Set(['cpuhp_remove_state', 'cpuhp_state_remove_instance']);
/** Kernel methods that are memory, statics, macros and the runtime's hooks, not kernel primitives. */
const NOT_PRIMITIVES = new Set(['load', 'store', 'loadAt', 'storeAt', 'global', 'setGlobal', 'macro', 'sizeof', 'sizeofOr', 'enter', 'leave', 'act', 'unact', 'at', 'from', 'frameKey', 'resume', 'replayAccesses', 'beginOneAccess', 'endOneAccess']);

// One function per C row: its example, then a store to a static (shared state), so that a point's
// boundary after it shows; and one per row calling it on a local only, for the purity decision.
const SRC = [
  'struct obj { struct obj *next; int x; long nr; };',
  'struct pc { int nr; long hits; local_lock_t lock; };',
  'static struct pc __percpu *pcp;',
  'static struct kmem_cache *cache;',
  'static mempool_t *pool;',
  'static int counter;',
  'static int obj_dead(unsigned int cpu)',
  '{',
  '\treturn 0;',
  '}',
  ...C_ROWS.flatMap((r, i) => [
    `static int ex${i}(struct obj *p, struct obj *q)`,
    '{',
    '\tunsigned long flags = 0;',
    '\tint cpu = 0;',
    '\tlong n = 0;',
    '\tvoid *v = NULL;',
    `\t${r.example};`,
    '\tcounter = 1;',
    '\treturn n;',
    '}',
    `static int pure${i}(int a)`,
    '{',
    `\t${cName(r)}(a);`,
    '\treturn a;',
    '}',
  ]),
  'static int unknown(struct obj *p)',
  '{',
  '\tdio_poison(p);',
  '\treturn 0;',
  '}',
].join('\n');

let program: Promise<{ prog: Program; interp: Interp; made: ReturnType<Compiler['finish']> }> | null = null;
function setup() {
  program ??= (async () => {
    const prog = extract(await cParser(), readPostImage('t.c', SRC, 'c'));
    const interp = new Interp(prog, new Types(prog.structs, prog.typedefs, () => null), newCoverage(), {}, new Set());
    const c = new Compiler(interp, 't.c');
    for (const f of prog.functions.values()) c.fnId(f);
    return { prog, interp, made: c.finish() };
  })();
  return program;
}

/** Runs fn(p, q) to its end on a fresh one-CPU kernel with two live zeroed objects, interpreted or compiled. */
async function run(fn: string, compiled: boolean) {
  const { prog, interp, made } = await setup();
  const obj = () => ({ type: 'obj', freed: false, origin: 'kmalloc', cells: { 0: 0, 8: 0, 16: 0 } as Record<number, number>, size: 24 }) as unknown as HeapObj;
  const { world, k, frame } = bareKernel(prog, [undefined, obj(), obj()], { counter: 0, pcp: 0, cache: 0, pool: 0 });
  world.globals.pcp = k.alloc_percpu('pc');
  const f = prog.functions.get(fn)!;
  const ptr = { k: 'ptr' as const, to: { k: 'struct' as const, name: 'obj' } };
  const args: TV[] = [
    { v: mkPtr(1), t: ptr },
    { v: mkPtr(2), t: ptr },
  ];
  const gen = compiled ? made.call(k, f, args, { steps: 0 }) : interp.call(k, f, args, { steps: 0 });
  const { v, labels } = drain(gen);
  return { v, labels, reads: frame.reads, globals: { ...world.globals }, heap: JSON.stringify(world.heap), facts: k.facts.map((x) => x.kind) };
}

/** The `case 'x':` labels of a method's body in a source file. */
function caseLabels(file: string, header: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  const a = src.indexOf(header);
  expect(a, `${header} in ${file}`).toBeGreaterThan(0);
  const body = src.slice(a, src.indexOf('\n  }\n', a));
  return [...body.matchAll(/case '([^']+)':/g)].map((m) => m[1]!);
}

describe('the primitives table', () => {
  it('declares each C spelling once, and what it runs are Kernel primitives of the table', () => {
    const names = PRIMITIVES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const r of PRIMITIVES) {
      for (const m of r.runs) {
        expect(primitiveRow(m)?.paths, `${r.name} runs ${m}, which must be a row a port can call`).toMatch(/^(both|port)$/);
        expect(typeof Kernel.prototype[m], `Kernel.${m}`).toBe('function');
      }
      // A port calls the method named like the row.
      if (r.paths !== 'c') expect(typeof (Kernel.prototype as unknown as Record<string, unknown>)[r.name], `Kernel.${r.name}`).toBe('function');
      // A point is where the kernel may switch: never a call the boundary analysis may skip.
      if (r.point) expect(r.pure, `${r.name} is a point, so not pure`).toBe(false);
      // An allocation may sleep (with GFP_KERNEL).
      if (r.allocates) expect(r.point, `${r.name} allocates, so is a point`).toBe(true);
    }
  });

  it('every Kernel call of the ports and variants is a row (both or port), or memory and the runtime', async () => {
    const { readdirSync } = await import('node:fs');
    const called = new Map<string, string>();
    for (const dir of ['impl/ports', 'impl/variants'])
      for (const f of readdirSync(join(ROOT, dir)).filter((x) => x.endsWith('.ts')))
        for (const m of readFileSync(join(ROOT, dir, f), 'utf8').matchAll(/\bk\.(\w+)\(/g)) called.set(m[1]!, `${dir}/${f}`);
    expect(called.size).toBeGreaterThan(20);
    for (const [name, where] of called) {
      if (NOT_PRIMITIVES.has(name)) continue;
      expect(primitiveRow(name)?.paths, `k.${name}() in ${where} is no row a port may call`).toMatch(/^(both|port)$/);
    }
  });
});

describe('the C path reads the table', () => {
  it('every case of the interpreter\'s and the compiler\'s primitive switch is a C row', () => {
    const interp = caseLabels('conformance/c/interp.ts', 'private callPrim(');
    const compiled = caseLabels('conformance/c/compile.ts', 'private prim(');
    expect(interp.length).toBeGreaterThan(80);
    expect(compiled.length).toBeGreaterThan(50);
    for (const name of [...interp, ...compiled]) expect(cPrimitive(name)?.name, `case '${name}'`).toBe(name);
  });

  it('every C row\'s example is dispatched, and runs compiled as interpreted', async () => {
    const unknown = await run('unknown', false);
    expect(unknown.v).toMatch(/fault: t\.c:\d+: dio_poison\(\) is neither a function of the patch nor a kernel primitive the checker knows/);
    let ran = 0;
    for (const [i, r] of C_ROWS.entries()) {
      const a = await run(`ex${i}`, false);
      expect(String(a.v), r.name).not.toMatch(/neither a function of the patch nor a kernel primitive|has no case for/);
      if (REFUSED.has(r.name)) expect(String(a.v), r.name).toMatch(/teardown callback/);
      else if (typeof a.v === 'number') ran++;
      const b = await run(`ex${i}`, true);
      expect(b, `${r.name}: compiled against interpreted`).toEqual(a);
    }
    // BUG() and the two refused cpuhp calls end in a fault; the rest run to their return.
    expect(ran).toBe(C_ROWS.length - 3);
  });

  it('the boundary decision is the pure column: a statement calling a pure row on a local is no boundary', async () => {
    const { prog, interp } = await setup();
    let pure = 0;
    for (const [i, r] of C_ROWS.entries()) {
      const stmt = prog.functions.get(`pure${i}`)!.body.kids.find((x: N) => x.t === 'expression_statement')!;
      let call: N | null = null;
      walk(stmt, (x) => {
        if (!call && x.t === 'call_expression') call = x;
      });
      expect((call as N | null)?.f.function?.text, r.name).toBe(cName(r));
      expect(interp.needsBoundary(stmt), `${r.name}: pure ${r.pure}`).toBe(!r.pure);
      if (r.pure) pure++;
    }
    expect(pure).toBeGreaterThan(20);
    expect(pure).toBeLessThan(C_ROWS.length / 2);
  });

  it('a point row\'s statement is a step of its own, and the next shared access comes after a boundary', async () => {
    const points = C_ROWS.filter((r) => r.point && !REFUSED.has(r.name));
    expect(points.map((r) => r.name)).toEqual(expect.arrayContaining(['put_cpu', 'preempt_enable', 'local_irq_restore', 'local_irq_enable', 'kmalloc', 'local_unlock_irqrestore']));
    for (const r of points) {
      const i = C_ROWS.indexOf(r);
      for (const compiled of [false, true]) {
        const { labels, v } = await run(`ex${i}`, compiled);
        expect(typeof v, `${r.name}: ${String(v)}`).toBe('number');
        // Labels show the statement as ast.ts rewrote it (alloc_percpu's type as a sizeof): found by its line.
        const line = SRC.split('\n').indexOf(`static int ex${i}(struct obj *p, struct obj *q)`) + 7;
        const at = labels.findIndex((l) => l.endsWith(`(t.c:${line})`));
        expect(at, `${r.name}: its statement has a boundary (${labels.join(' | ')})`).toBeGreaterThanOrEqual(0);
        expect(labels[at + 1], `${r.name}: a boundary follows it`).toMatch(/^counter = 1; \(t\.c:\d+\)$/);
      }
    }
  });

  it('a C call that is no row is an input error naming it and what to do (exit 2)', async () => {
    const dir = tempDir('dio-prim-');
    const src = readFileSync(join(ROOT, 'test/fixtures/c/local-lock.c'), 'utf8');
    expect(src).toContain('local_lock_irqsave(&dio_cache.lock, flags);');
    // spin_lock_irqsave() is a kernel call, but not one the checker models.
    writeFileSync(join(dir, 'spin.c'), src.replace('local_lock_irqsave(&dio_cache.lock, flags);', 'spin_lock_irqsave(&dio_cache.lock, flags);'));
    const r = await runCli(['check', join(dir, 'spin.c')], dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown function spin_lock_irqsave\(\) at spin\.c:\d+: not in the code and not a kernel primitive the checker knows; give a C definition in a binding file .* or map it to a primitive .*--binding FILE/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('kmem_cache_alloc(): its cache is opaque (not a name to define), its gfp is checked before exploring as kmalloc\'s', async () => {
    const dir = tempDir('dio-prim-');
    const src = readFileSync(join(ROOT, 'test/fixtures/c/direct-io-v1.c'), 'utf8');
    const line = 'dio = kmalloc(sizeof(*dio), GFP_KERNEL);';
    expect(src).toContain(line);
    // An unknown gfp flag was a crash found mid-exploration; it is an input error, as in kmalloc().
    writeFileSync(join(dir, 'bogus.c'), src.replace(line, 'dio = kmem_cache_alloc(iomap_dio_cachep, GFP_KERNEL | __GFP_BOGUS);'));
    const bad = await runCli(['check', join(dir, 'bogus.c'), '--scope', 'check-1cpu'], dir);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown identifier __GFP_BOGUS at bogus\.c:\d+: .*--binding FILE/);
    expect(bad.err).not.toMatch(/iomap_dio_cachep/);
    // The cache pointer itself, defined nowhere in the file, is not asked for.
    writeFileSync(join(dir, 'cachep.c'), src.replace(line, 'dio = kmem_cache_alloc(iomap_dio_cachep, GFP_KERNEL);'));
    const ok = await runCli(['check', join(dir, 'cachep.c'), '--scope', 'check-1cpu'], dir);
    expect(ok.err).not.toMatch(/unknown identifier/);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/conforms: [\d,]+ states/);
  });
});
