/**
 * The C path on code shaped like block/bio.c's per-CPU bio cache (test/fixtures/c/bio-style.c,
 * written for this repository): a whole source file whose object and set structs come from a
 * header, the __percpu pointer inside a set reached as `xs->cache` and `rq->rq_pool->cache`,
 * `#ifdef CONFIG_` blocks in function bodies, a create helper the checker cannot run whole, and a
 * caller whose slab fallback it does not run. It conforms as the `bio` profile without a binding,
 * and C edits of it are caught with their invariant ids. The reader's and the extractor's new
 * pieces are tested on their own below.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cParser } from '../conformance/c/ast.js';
import { extract, showType } from '../conformance/c/extract.js';
import { readPostImage, resolveConfig, splitHunk } from '../conformance/c/reader.js';
import { check } from '../conformance/c/run.js';
import { UsageError } from '../conformance/cli/errors.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const FIX = fileURLToPath(new URL('./fixtures/c/', import.meta.url));
const STYLE = `${FIX}bio-style.c`;
const work = tempDir('dio-bio-');

/** bio-style.c with C edits, as a new file. */
function variant(name: string, subs: [string, string][]): string {
  let s = readFileSync(STYLE, 'utf8');
  for (const [a, b] of subs) {
    expect(s.includes(a), a).toBe(true);
    s = s.replace(a, b);
  }
  const file = join(work, `${name}.c`);
  writeFileSync(file, s);
  return file;
}

/**
 * The state count of bio-style.c on the default scopes (check-1cpu 6,355 + check-hotplug 1,212 +
 * check-preempt 2,208 + check-enomem 765 + check-migrate 3,454); 16,910 with every frame
 * fingerprinted by its read log (`--no-frame-keys`).
 */
const STYLE_STATES = 13994;

describe('C path: a bio-style source file', () => {
  it('conforms as the bio profile without a binding: MAX+2 reached, nothing stranded, every cache statement run', async () => {
    // DFS (check --dfs): the states, maxima and statements run of BFS, sooner (hit counts differ, not which are hit).
    const r = await check({ file: STYLE, strategy: 'dfs' });
    console.log(`bio-style.c: ${r.verdict}, ${r.stats.states} states, ${r.stats.seconds.toFixed(1)} s, maxCached ${r.extremes.maxCached}`);
    expect(r.input.kind).toBe('c');
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('bio');
    expect(r.stats.states).toBe(STYLE_STATES);
    expect(r.extremes).toEqual({ maxCached: 4, bound: 4, sequentialBound: 3 });
    expect(r.warnings).toEqual([]);
    expect(r.scaling).toEqual([
      { macro: 'XREQ_CACHE_MAX', from: 128, to: 2, role: 'MAX' },
      { macro: 'XREQ_CACHE_IRQ_THRESHOLD', from: 8, to: 1, role: 'THRESHOLD' },
    ]);
    const said = r.profile.inferred.join('\n');
    expect(said).toMatch(/the __percpu pointer is xreq_default_set\.cache \(a descriptor, struct xreq_set/);
    expect(said).toMatch(/prune xreq_cpu_dead\(\); link field rq_next/);
    expect(said).toMatch(/struct xreq is not defined in the file: laid out from the members the code uses/);
    expect(said).toMatch(/CONFIG_XREQ_ACCOUNTING off \(bio-style\.c:39\)/);
    expect(said).toMatch(/runs all of xreq_set_init\(\), which the checker cannot run \(unsupported C: bio-style\.c:216: function pointers/);
    expect(said).toMatch(/the site is the alloc_percpu\(\) statement of xreq_set_init\(\) \(bio-style\.c:218\)/);
    expect(said).toMatch(/slab path is __slab_xreq_alloc_percpu_cache\(\): kzalloc\(\) and xreq_alloc_percpu_cache\(\)'s own set-up after put_cpu\(\) \(xreq_init\(rq, flags\); rq->rq_pool = xs;\)/);
    expect(said).toMatch(/alloc site in xreq_alloc\(\) \(bio-style\.c:116\): xs = &xreq_default_set, flags = 0, gfp = 0/);
    const cov = r.coverage!;
    expect(cov.warnings).toEqual([]);
    const put = cov.functions.find((f) => f.name === 'xreq_put_percpu_cache')!;
    expect(put.statements.find((s) => s.text.startsWith('cache->nr_irq++;'))!.hits).toBeGreaterThan(0);
    expect(put.statements.find((s) => s.text.startsWith('xreq_free(rq);'))).toBeUndefined(); // a call is no boundary
    const prune = cov.functions.find((f) => f.name === '__xreq_alloc_cache_prune')!;
    expect(prune.statements.length).toBeGreaterThan(0);
    expect(prune.statements.filter((s) => s.hits === 0).map((s) => s.text)).toEqual([]);
  });

  const MUTANTS: [string, [string, string][], string[]][] = [
    ['the task put forgets cache->nr++', [['\t\tcache->free_list = rq;\n\t\tcache->nr++;\n', '\t\tcache->free_list = rq;\n']], ['nr-accuracy']],
    ['a softirq put takes the hardirq branch', [['} else if (in_hardirq()) {', '} else if (!in_task()) {']], ['irq-list-hardirq-only', 'refinement']],
    [
      'the splice without local_irq_save',
      [
        ['\tlocal_irq_save(flags);\n\tcache->free_list = cache->free_list_irq;', '\tcache->free_list = cache->free_list_irq;'],
        ['\tcache->nr_irq = 0;\n\tlocal_irq_restore(flags);', '\tcache->nr_irq = 0;'],
      ],
      ['irq-list-hardirq-only'],
    ],
    // The slab path boot takes objects from is the alloc's set-up after its put_cpu(): without
    // that put_cpu() it is what follows the last touch of the cache (it was an exit 2 at boot).
    // Nothing else stores to xreq_default_set.cache: it stays NULL (was a synthesised initcall, conforms).
    ['the set-up helper loses its alloc_percpu()', [['\t\txs->cache = alloc_percpu(struct xreq_alloc_cache);\n', '\n']], ['crash']],
    ['the hit path forgets put_cpu()', [['\tcache->nr--;\n\tput_cpu();\n\n\txreq_init(rq, flags);', '\tcache->nr--;\n\n\txreq_init(rq, flags);']], ['context-balance']],
  ];
  for (const [what, subs, ids] of MUTANTS) {
    it(`${what}: ${ids.join(', ')}`, async () => {
      const r = await check({ file: variant(what.replace(/\W+/g, '-'), subs) });
      expect(r.verdict).toBe('violation');
      for (const id of ids) expect(r.violations.map((v) => v.id)).toContain(id);
    });
  }

  it('the prune forgets the irq list (no splice after the first pass): a hardirq-completed object is left on the dead CPU, and the warning says the prune ran', async () => {
    const r = await check({ file: variant('prune-no-irq-list', [['\tif (!READ_ONCE(cache->free_list)) {\n\t\txreq_alloc_irq_cache_splice(cache);', '\tif (READ_ONCE(cache->free_list)) {\n\t\txreq_alloc_irq_cache_splice(cache);']]) });
    expect(r.verdict).toBe('conforms');
    const w = r.warnings.find((x) => x.id === 'hotplug-stranding')!;
    expect(w.scope.name).toBe('check-hotplug');
    expect(w.message).toBe('cpu1 went offline and its hotplug callback ran, yet 1 object(s) are left on its lists: the prune misses them, and they are stranded until it comes back');
  });

  it('a file with the set API but no instance: the checker makes one, same state space', async () => {
    const file = variant('no-instance', [
      ['struct xreq_set xreq_default_set;\n', ''],
      [readFileSync(STYLE, 'utf8').slice(readFileSync(STYLE, 'utf8').indexOf('static int __init xreq_module_init')), ''],
    ]);
    const r = await check({ file });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.inferred.join('\n')).toMatch(/the __percpu pointer is the cache field of the struct xreq_set xreq_alloc_percpu_cache\(\) is given .*the checker makes one, __xreq_set/);
    expect(r.stats.states).toBe(STYLE_STATES);
  });

  it('the irq list added as a plain diff (first hunk inside a comment), with a binding for the helpers outside the hunks', async () => {
    const r = await check({ file: `${FIX}bio-style-irq.diff`, bindingFile: `${FIX}bio-style-irq.binding.json` });
    expect(r.input.kind).toBe('diff');
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('bio');
    expect(r.extremes.maxCached).toBe(4);
    expect(r.warnings).toEqual([]);
  });

  it('a refused construct in a helper names the way the cache gets there, and how to replace it', async () => {
    const file = variant('switch-in-uninit', [['\trq->rq_private = NULL;\n}', '\tswitch (rq->rq_flags) {\n\tdefault:\n\t\tbreak;\n\t}\n\trq->rq_private = NULL;\n}']]);
    const e = await check({ file }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^unsupported C: switch-in-uninit\.c:\d+: a switch statement: .*\(in xreq_uninit\(\), reached through /);
    expect((e as Error).message).toMatch(/the binding entry that avoids it: "functions": \{"xreq_put_percpu_cache": "C text"\}, a definition of xreq_put_percpu_cache\(\) that does not call xreq_uninit\(\)/);
  });

  it('unknown functions and header constants are listed together, up front', async () => {
    const file = variant('unknown-names', [['\trq->rq_private = NULL;\n}', '\trq->rq_private = NULL;\n\txreq_poison(rq, XREQ_POISON);\n}']]);
    const e = await check({ file }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/unknown function xreq_poison\(\) at unknown-names\.c:\d+: .*; unknown identifier XREQ_POISON at unknown-names\.c:\d+: /);
  });
});

describe('reader and extractor pieces a whole kernel file needs', () => {
  const lines = (text: string) => text.split('\n').map((t, i) => ({ text: t, file: 'x.c', line: i + 1 }));

  it('#if on CONFIG_ options only: SMP/hotplug/lockdep on, the rest off; any other condition is left alone', () => {
    const notes: string[] = [];
    const src = ['a', '#ifdef CONFIG_BLK_CGROUP', 'b', '#else', 'c', '#endif', '#if IS_ENABLED(CONFIG_SMP) && !defined(CONFIG_FOO)', 'd', '#endif', '#ifdef __KERNEL__', 'e', '#endif'];
    const out = resolveConfig(lines(src.join('\n')), notes).map((l) => l.text);
    expect(out).toEqual(['a', '', '', '', 'c', '', '', 'd', '', '#ifdef __KERNEL__', 'e', '#endif']);
    expect(notes).toEqual(['CONFIG_BLK_CGROUP off (x.c:2)', 'CONFIG_SMP on (x.c:7)', 'CONFIG_FOO off (x.c:7)']);
  });

  it('a hunk that starts on a continued signature line is at file scope after that function', () => {
    const h = {
      file: 'x.c',
      section: 'struct bio *blk_next_bio(struct bio *bio, struct block_device *bdev,',
      lines: lines(['\t\tunsigned int nr_pages)', '{', '\treturn bio;', '}', '', 'static int f(void)', '{', '\treturn 0;', '}'].join('\n')),
    };
    const s = splitHunk(h);
    expect(s.fragments.map((f) => [f.edge, f.lines.length])).toEqual([['head', 4]]);
    expect(s.complete.map((l) => l.text).join('\n')).toBe(['', 'static int f(void)', '{', '\treturn 0;', '}'].join('\n'));
  });

  it('structs the file uses but does not define get the members it uses, typed from what is stored', async () => {
    const src = [
      'struct cache { struct obj *free_list; };',
      'static struct cache *get(struct set *s) { return per_cpu_ptr(s->pcpu, 0); }',
      'static void set_pool(struct obj *o, struct set *s) { o->pool = s; o->it.pos = 0; }',
      'static struct cache *via(struct obj *o) { return per_cpu_ptr(o->pool->pcpu, 0); }',
      'static void init(struct set *s) { s->pcpu = alloc_percpu(struct cache); }',
    ].join('\n');
    const prog = extract(await cParser(), readPostImage('x.c', src, 'c'));
    const show = (n: string) => [...prog.structs.get(n)!.fields].map(([f, x]) => `${f}:${showType(x.type)}`);
    expect(prog.structs.get('set')!.implicit).toBe(true);
    expect(show('set')).toEqual(['pcpu:struct cache *']);
    expect(show('obj')).toEqual(['pool:struct set *', 'it:struct obj.it']);
    expect(show('obj.it')).toEqual(['pos:long']);
    expect(prog.structs.get('cache')!.implicit).toBeUndefined();
  });
});
