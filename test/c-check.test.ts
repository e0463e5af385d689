/**
 * The C path of `dio-cache check`: the seed patch as posted conforms, every known-bad C edit of it
 * is caught with its invariant id, and the generalised revision (v3 shape) is checked without a
 * binding. Timings and state counts are printed for the report.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, CHECK_SCOPES, loadInput, type CheckReport } from '../conformance/c/run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
/** The seed patch as posted, shipped unchanged (fixtures/seed/README.md says where it comes from). */
const SEED = fileURLToPath(new URL('./fixtures/seed/iomap-dio-alloc-cache-v1.txt', import.meta.url));
const FIX = fileURLToPath(new URL('./fixtures/c/', import.meta.url));

/**
 * What the seed's check explores, all scopes and call-site runs together: the same input read
 * another way must explore exactly this (14,574 with every frame fingerprinted by its read log,
 * `--no-frame-keys`).
 */
const SEED_STATES = 10890;

/**
 * A fixture checked as it is, once per file: the tests that look at the same check (the seed's,
 * error-path-double-free's) share its report instead of exploring it again.
 */
const checked = new Map<string, Promise<CheckReport>>();
const checkOnce = (file: string): Promise<CheckReport> => {
  if (!checked.has(file)) checked.set(file, check({ file }));
  return checked.get(file)!;
};

/**
 * `check --dfs` where a test reads only what both searches find alike: the verdict, the states
 * and maxima, the invariant ids (with `all`, every one broken anywhere in a scope) and which
 * statements ran (the coverage's shape; its hit counts differ). The seed's own check, and what
 * reads a counterexample's path or message, stay the default BFS.
 */
const DFS = { strategy: 'dfs' } as const;

/**
 * Some of the default check scopes, by name, in the order given, for a test whose claim is about
 * those only (what one scope finds does not depend on the others: each is explored on its own,
 * and the call-site runs are on the first one given). Where a test names the scope that finds its
 * violation, a cheap scope that does not find it (check-hotplug) comes first, as the default
 * order puts others first, so that `v.scope.name` can still be wrong.
 */
const only = (...names: string[]) => ({ scopes: names.map((n) => CHECK_SCOPES.find((s) => s.name === n)!) });

/** Each fixture names its expected id in its header (written by make-fixtures.py). */
const BAD = [
  'splice-no-irqsave',
  'alloc-no-nr-dec',
  'softirq-puts-task-list',
  'hardirq-pushes-task-list',
  'splice-leaves-nr-irq',
  'flat-threshold-b1',
  'kmalloc-under-get-cpu',
  'put-cpu-missing-miss',
  'this-cpu-ptr-no-get-cpu',
  'cap-ignores-nr-irq',
  'error-path-double-free',
  'put-no-cap',
];

describe('C path: the seed patch', () => {
  it('conforms, with the soft cap as a note, the missing hotplug prune as a warning and full coverage', async () => {
    const r = await checkOnce(SEED);
    console.log(`seed: ${r.verdict}, ${r.stats.states} states, ${r.stats.seconds.toFixed(1)} s, maxCached ${r.extremes.maxCached}`);
    expect(r.input.kind).toBe('email');
    expect(r.verdict).toBe('conforms');
    expect(r.violations).toEqual([]);
    expect(r.profile.name).toBe('iomap-v1');
    expect(r.scaling).toEqual([
      { macro: 'DIO_ALLOC_CACHE_MAX', from: 256, to: 2, role: 'MAX' },
      { macro: 'DIO_ALLOC_CACHE_THRESHOLD', from: 16, to: 1, role: 'THRESHOLD' },
    ]);
    // MAX+2: the race of docs/kernel-rules.md §5, reached and reported, not refused.
    expect(r.extremes.maxCached).toBe(4);
    expect(r.notes.join('\n')).toMatch(/soft cap: a CPU cached 4 objects with MAX 2 \(MAX\+2\)/);
    expect(r.warnings.map((w) => w.id)).toEqual(['hotplug-stranding']);
    const cov = r.coverage!;
    expect(cov.functions.map((f) => f.name).sort()).toEqual(['dio_alloc_irq_cache_splice', 'dio_alloc_percpu_cache', 'dio_put_percpu_cache']);
    expect(cov.warnings).toEqual([]);
    const put = cov.functions.find((f) => f.name === 'dio_put_percpu_cache')!;
    // The cap-overflow free (out_free:) and the hardirq push were both executed.
    expect(put.statements.find((s) => s.text.startsWith('kfree(dio);'))!.hits).toBeGreaterThan(0);
    expect(put.statements.find((s) => s.text.startsWith('cache->nr_irq++;'))!.hits).toBeGreaterThan(0);
    expect(put.statements.every((s) => /\(direct-io\.c:\d+\)$/.test(s.text))).toBe(true);
    expect(cov.interruptsAt.some((x) => x.at.startsWith('dio_put_percpu_cache: cache->free_list = dio;'))).toBe(true);
    // Every call of the cache in the callers is listed and driven, the error path's put included,
    // and the caller's lines after it ran: its `if (ret)` both ways, as the explorer's choice.
    expect(cov.callSites.map((x) => `${x.fn} ${x.at} ${x.role} ${x.runs > 0 ? 'driven' : 'NOT DRIVEN'}`)).toEqual([
      'iomap_dio_complete direct-io.c:214 put driven',
      '__iomap_dio_rw direct-io.c:699 alloc driven',
      '__iomap_dio_rw direct-io.c:886 put driven',
    ]);
    const errorPut = cov.callSites.find((x) => x.at === 'direct-io.c:886')!;
    expect(errorPut.tail).toEqual(['if (ret) return ERR_PTR(ret); (direct-io.c:887)', 'return NULL; (direct-io.c:889)']);
    expect(errorPut.branches).toHaveLength(1);
    expect(errorPut.branches[0]!.text).toBe('if (ret)');
    expect(errorPut.branches[0]!.taken).toBeGreaterThan(0);
    expect(errorPut.branches[0]!.notTaken).toBeGreaterThan(0);
    expect(cov.callSites.find((x) => x.at === 'direct-io.c:214')!.tail).toEqual(['return ret; (direct-io.c:215)']);
    // The alloc site's next line writes a member the patch does not lay out: said, not guessed.
    expect(cov.callSites.find((x) => x.at === 'direct-io.c:699')!.stop).toMatch(/^dio->iocb = iocb; \(direct-io\.c:706\): no struct in the patch has a member 'iocb'/);
    expect(r.profile.inferred.join('\n')).toMatch(/`if \(ret\)` \(direct-io\.c:887\) is a nondeterministic branch \(the model does not compute ret\): both ways are explored/);
  });

  it('reads a C source file the same way', async () => {
    const r = await check({ file: `${FIX}direct-io-v1.c`, ...DFS });
    expect(r.input.kind).toBe('c');
    expect(r.verdict).toBe('conforms');
    expect(r.extremes.maxCached).toBe(4);
  });

  it('a whole source file: the rest of the initcall and unrelated functions are not run, nor refused', async () => {
    // As in fs/iomap/direct-io.c upstream: the initcall also allocates zero_page, and other
    // functions use constructs the interpreter refuses (switch, calls through function pointers).
    const src = readFileSync(`${FIX}direct-io-v1.c`, 'utf8')
      .replace('static int __init iomap_dio_init(void)\n{\n', 'static struct page *zero_page;\n\nstatic int __init iomap_dio_init(void)\n{\n\tzero_page = alloc_pages(GFP_KERNEL | __GFP_ZERO, IOMAP_ZERO_PAGE_ORDER);\n\tif (!zero_page)\n\t\treturn -ENOMEM;\n\n')
      .concat('\nstatic int iomap_dio_iter(struct iomap_iter *iter, struct iomap_dio *dio)\n{\n\tswitch (iter->iomap.type) {\n\tcase IOMAP_HOLE:\n\t\treturn dio->dops->end_io(iter, 0, 0, 0);\n\tdefault:\n\t\treturn -EIO;\n\t}\n}\n');
    expect(src).toContain('alloc_pages');
    const file = join(tempDir('dio-src-'), 'direct-io.c');
    writeFileSync(file, src);
    const r = await check({ file, ...DFS });
    expect(r.verdict).toBe('conforms');
    expect(r.extremes.maxCached).toBe(4);
  });
});

describe('C path: the seed as a mail client saves it', () => {
  const seed = readFileSync(SEED, 'latin1');
  const body = seed.slice(seed.indexOf('From:'));
  const mail = (enc: string, b: string) =>
    `From: guzebing <guzebing@bytedance.com>\nSubject: [PATCH] iomap: add allocation cache for iomap_dio\nMIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: ${enc}\n\n${b}`;
  // Quoted-printable as mailers write it: `=` and tabs escaped, lines folded at 76 with a soft break.
  const qp = body
    .split('\n')
    .map((l) => l.replace(/=/g, '=3D').replace(/\t/g, '=09').replace(/(.{75})(?=.)/g, '$1=\n'))
    .join('\n');
  const b64 = Buffer.from(body, 'latin1').toString('base64').replace(/(.{76})/g, '$1\n');
  for (const [enc, text] of [['quoted-printable', qp], ['base64', b64]] as const) {
    it(`a ${enc} body is decoded and conforms like the seed`, async () => {
      // Encoded: the diff's tabbed lines are no longer readable as they are.
      expect(text).not.toContain('\tstruct iomap_dio\t\t*free_list;');
      const file = join(tempDir('dio-mail-'), 'seed.eml');
      writeFileSync(file, mail(enc, text), 'latin1');
      const r = await check({ file, ...DFS });
      expect(r.verdict).toBe('conforms');
      expect(r.stats.states).toBe(SEED_STATES);
    });
  }
});

describe('C path: known-bad C edits of the seed patch', () => {
  for (const name of BAD) {
    it(`${name} is caught with its id`, async () => {
      const file = `${FIX}${name}.patch`;
      const expected = /^Expected violation: (\S+)$/m.exec(readFileSync(file, 'utf8'))![1]!;
      const t0 = performance.now();
      // Every one of these is caught on check-1cpu, the first scope (the call-site runs are on it
      // too), which is all that is asserted here; error-path-double-free's whole check is shared
      // with its own test below, which needs every scope.
      const r = name === 'error-path-double-free' ? await checkOnce(file) : await check({ file, scopes: [CHECK_SCOPES[0]!], ...DFS });
      console.log(`${name}: ${r.violations.map((v) => `${v.id} (${v.steps.length} steps)`).join(', ')}; ${r.stats.states} states, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(r.verdict).toBe('violation');
      expect(r.violations.map((v) => v.id)).toContain(expected);
      // Boot takes its objects from the caller's slab path, so every bug shows as a trace of the
      // run, B1's pop from an empty free_list included (it used to oops during boot, with no trace).
      expect(r.violations.find((v) => v.id === expected)!.steps.length).toBeGreaterThan(0);
    });
  }

  it('error-path-double-free.patch: found only by taking the caller\'s `if (ret)` after the error path\'s put, and the trace says it was a nondeterministic branch', async () => {
    const r = await checkOnce(`${FIX}error-path-double-free.patch`);
    const v = r.violations.find((x) => x.id === 'object-safety')!;
    expect(v.site).toBe('free site in __iomap_dio_rw() (direct-io.c:886)');
    const branch = v.steps.find((st) => /\(nondeterministic branch\)/.test(st.event));
    expect(branch?.event).toMatch(/takes the branch of __iomap_dio_rw: if \(ret\) \(direct-io\.c:887\) \(nondeterministic branch\)/);
    expect(v.steps.flatMap((st) => st.labels).some((l) => l.startsWith('__iomap_dio_rw: kfree(dio); (direct-io.c:888)'))).toBe(true);
    // The run of iomap_dio_complete()'s put, which this edit leaves alone, finds nothing.
    expect(r.violations.every((x) => x.site !== undefined)).toBe(true);
  });

  it('a call site no scope drives (a put left after `return ret;`) is a coverage warning, in the report and its JSON', async () => {
    const seed = readFileSync(SEED, 'utf8');
    const from = '+\tdio_put_percpu_cache(dio);\n \treturn ret;\n';
    expect(seed).toContain(from);
    const file = join(tempDir('dio-dead-'), 'dead-put.patch');
    // The hunk header's counts stay: the reader takes the lines as they come.
    writeFileSync(file, seed.replace(from, `${from}+\tdio_put_percpu_cache(dio);\n`));
    // The loader finds that no code reaches the call, so it gives it no run of its own: `runs` and
    // the warning ("no scope runs this put call") are the report's, whatever the scopes explore
    // (a call given a run would lose that ending, and its run on the first scope would count).
    // The cheapest scope, not all five.
    const r = await check({ file, ...DFS, ...only('check-hotplug') });
    const dead = r.coverage!.callSites.find((x) => x.at === 'direct-io.c:216')!;
    expect(dead.runs).toBe(0);
    expect(r.coverage!.warnings).toContain('iomap_dio_complete: call site never driven: dio_put_percpu_cache(dio); (direct-io.c:216): no scope runs this put call');
    expect(JSON.parse(JSON.stringify(r.coverage)).warnings).toContain('iomap_dio_complete: call site never driven: dio_put_percpu_cache(dio); (direct-io.c:216): no scope runs this put call');
  });

  it('bad-loop.patch: the endless loop is a crash at the first alloc, found in a few states', async () => {
    const r = await check({ file: `${FIX}bad-loop.patch` });
    const v = r.violations.find((x) => x.id === 'crash')!;
    expect(v.message).toMatch(/does not return even when nothing interrupts it.*did not return within 400 statements: an endless loop at direct-io\.c:94/);
    expect(v.steps.length).toBe(1);
    expect(r.stats.states).toBeLessThan(100);
  });
});

/**
 * Mutants from the survey (bench/mutants.ts; docs/findings.md, "A mutation survey of the seed
 * patch") that used to get the wrong answer: each is the seed with one edit, written to a
 * temporary file.
 */
describe('C path: mutants of the seed the survey found mishandled', () => {
  const seed = readFileSync(SEED, 'utf8');
  const mutant = (name: string, from: string, to: string) => {
    expect(seed.split(from)).toHaveLength(2);
    const file = join(tempDir('dio-mutant-'), `${name}.patch`);
    // The hunk header's counts stay: the reader takes the lines as they come.
    writeFileSync(file, seed.replace(from, to));
    return file;
  };

  it('delete-rw-5: the slab fallback\'s `if (!dio)` left without its body is C that does not parse (exit 2), not a pass with a synthesised alloc site', async () => {
    const file = mutant('delete-rw-5', '+\t\tif (!dio)\n+\t\t\treturn ERR_PTR(-ENOMEM);\n', '+\t\tif (!dio)\n');
    await expect(check({ file })).rejects.toThrow(/^C does not parse: direct-io\.c:702: in __iomap_dio_rw\(\), near 'if \(!dio\)' \(after the call at direct-io\.c:699/);
  });

  it('offbyone-put-2: a cap spelt `> (MAX - 1)` is the `>= MAX` cap, judged as iomap-v3 like flip-put-1\'s `>=`', async () => {
    const cap = '+\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)\n';
    const minus = await loadInput(mutant('offbyone-put-2', cap, cap.replace('> DIO_ALLOC_CACHE_MAX', '> (DIO_ALLOC_CACHE_MAX - 1)')));
    const ge = await loadInput(mutant('flip-put-1', cap, cap.replace('> DIO', '>= DIO')));
    expect(minus.impl.profile).toBe('iomap-v3');
    expect(ge.impl.profile).toBe('iomap-v3');
    expect(minus.c!.roles.evidence.join('\n')).toMatch(/free when the total >= DIO_ALLOC_CACHE_MAX \(read as '>= DIO_ALLOC_CACHE_MAX'\)/);
    expect(minus.c!.roles.binding.maxMacro).toBe('DIO_ALLOC_CACHE_MAX');
  });

  it('unwrap-alloc-1 / unwrap-put-1: a plain load of nr_irq with irqs on is marked-access; data_race() marks it as READ_ONCE() does', async () => {
    const test = '+\t\tif (READ_ONCE(cache->nr_irq) >= DIO_ALLOC_CACHE_THRESHOLD)\n';
    const cap = '+\tif (READ_ONCE(cache->nr_irq) + cache->nr > DIO_ALLOC_CACHE_MAX)\n';
    // check-enomem: every default scope finds each plain load (a hardirq put writes nr_irq in
    // each), and this one is the smallest; so the annotated load conforming there is no vacuous pass.
    const { scopes } = only('check-enomem');
    for (const [name, from, to, fn] of [
      ['unwrap-alloc-1', test, test.replace('READ_ONCE(cache->nr_irq)', 'cache->nr_irq'), 'dio_alloc_percpu_cache'],
      ['unwrap-put-1', cap, cap.replace('READ_ONCE(cache->nr_irq)', 'cache->nr_irq'), 'dio_put_percpu_cache'],
    ] as const) {
      const r = await check({ file: mutant(name, from, to), scopes });
      expect(r.violations.map((v) => v.id), name).toEqual(['marked-access']);
      expect(r.violations[0]!.message).toMatch(new RegExp(`^${fn}: plain load of cache->nr_irq: cpu0's nr_irq, which a hardirq put writes, read with irqs enabled`));
    }
    const annotated = await check({ file: mutant('data-race-alloc', test, test.replace('READ_ONCE(cache->nr_irq)', 'data_race(cache->nr_irq)')), scopes });
    expect(annotated.verdict).toBe('conforms');
  });
});

describe('C path: a generalised revision without a binding', () => {
  it('v3 shape (generic helpers, element header, kmalloc in the helper after put_cpu, cap >=) conforms as iomap-v3', async () => {
    const r = await check({ file: `${FIX}v3-generic.diff`, ...DFS });
    console.log(`v3-generic: ${r.verdict}, ${r.stats.states} states, ${r.stats.seconds.toFixed(1)} s`);
    expect(r.input.kind).toBe('diff');
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v3');
    expect(r.profile.inferred.join('\n')).toMatch(/pcpu_cache_list_alloc\(\) allocates on a miss itself/);
    expect(r.profile.inferred.join('\n')).toMatch(/>= cache->max_nr.*free when the total >= MAX/);
    // With `>=` the reachable bound is MAX+1.
    expect(r.extremes.maxCached).toBe(3);
    expect(r.scaling.map((s) => `${s.macro} ${s.from}->${s.to}`)).toEqual(['DIO_ALLOC_CACHE_MAX 256->2', 'DIO_ALLOC_CACHE_THRESHOLD 16->1']);
    expect(r.coverage!.warnings).toEqual([]);
  });
});

describe('C path: a hotplug prune is recognised', () => {
  it('the seed plus a bio-style cpu_dead callback: profile bio, nothing stranded, the prune covered', async () => {
    const r = await check({ file: `${FIX}v1-with-prune.patch`, ...DFS });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('bio');
    expect(r.profile.inferred).toContain('hotplug prune dio_cpu_dead()');
    expect(r.warnings).toEqual([]);
    const prune = r.coverage!.functions.find((f) => f.name === 'dio_cpu_dead')!;
    expect(prune.statements.find((s) => s.text.startsWith('kfree(dio);'))!.hits).toBeGreaterThan(0);
  });
});

describe('C path: a deleted statement leaves the roles recognisable', () => {
  // A mutation that deletes the statement role inference keys on (the pop's advance, the push's
  // store) is still a change to check: exit 1 with what it breaks, not exit 2 "no alloc found".
  const seed = readFileSync(SEED, 'utf8');
  const dir = tempDir('dio-mut-');
  const cases: [string, string, string][] = [
    ['alloc never advances free_list', '+\tcache->free_list = dio->dio_next;\n', 'object-safety'],
    ['the hardirq put never stores the object', '+\t\tcache->free_list_irq = dio;\n', 'object-safety'],
  ];
  for (const [what, line, id] of cases) {
    it(`${what}: ${id}`, async () => {
      expect(seed).toContain(line);
      const file = join(dir, `${id}-${what.replace(/\W+/g, '-')}.patch`);
      writeFileSync(file, seed.replace(line, '+\t;\n'));
      // The first scope, where the whole check finds it first (and every scope finds it).
      const r = await check({ file, scopes: [CHECK_SCOPES[0]!] });
      expect(r.verdict).toBe('violation');
      expect(r.violations.map((v) => v.id)).toContain(id);
    });
  }
});

describe('C path: edits of the code around the cache', () => {
  // Mutations of the patch that leave the cache functions alone but break what drives them. Each
  // of these conformed before: a synthesised initcall stood in for the deleted one, the other put
  // site stood in for the deleted one, and an edited splice was taken for the alloc (exit 2).
  const seed = readFileSync(SEED, 'utf8');
  const dir = tempDir('dio-caller-');
  const edit = async (name: string, from: string, to: string, base = seed, o: { strategy?: 'dfs'; scopes?: typeof CHECK_SCOPES[number][] } = {}) => {
    expect(base).toContain(from);
    const file = join(dir, `${name}.patch`);
    writeFileSync(file, base.replace(from, to));
    return check({ file, ...o });
  };
  // For what is read from the diff (a removed kfree() or assignment with nothing in its place):
  // no exploration makes those findings, so the smallest scope runs instead of all five.
  const FROM_DIFF = { scopes: [CHECK_SCOPES.find((x) => x.name === 'check-hotplug')!] };

  it('the put call in iomap_dio_complete() deleted with the kfree it replaced: the dio leaks (object-safety, from the diff)', async () => {
    const r = await edit('no-put-complete', '-\tkfree(dio);\n+\tdio_put_percpu_cache(dio);\n \treturn ret;', '-\tkfree(dio);\n+\n \treturn ret;', seed, FROM_DIFF);
    expect(r.verdict).toBe('violation');
    const v = r.violations.find((x) => x.id === 'object-safety')!;
    expect(v.found).toBe('diff');
    expect(v.message).toContain('iomap_dio_complete(): the patch removes `kfree(dio);`');
  });

  it('the put call on the error path deleted: the dio leaks there, though `return dio;` above the label is in the hunk', async () => {
    const r = await edit('no-put-error', '-\tkfree(dio);\n+\tdio_put_percpu_cache(dio);\n \tif (ret)', '-\tkfree(dio);\n+\n \tif (ret)', seed, FROM_DIFF);
    expect(r.violations.find((x) => x.id === 'object-safety' && x.found === 'diff')?.message).toContain('__iomap_dio_rw()');
  });

  it('no alloc_percpu() in the initcall: dio_cache stays NULL and the first per_cpu_ptr() oopses (crash at boot)', async () => {
    const r = await edit('no-alloc-percpu', '+\tdio_cache = alloc_percpu(struct dio_alloc_cache);\n', '+\n');
    expect(r.verdict).toBe('violation');
    expect(r.violations.map((v) => v.id)).toEqual(['crash']);
    expect(r.violations[0]!.message).toContain('NULL pointer dereference');
    expect(r.profile.inferred.join('\n')).toContain('dio_cache (direct-io.c:69) is never assigned');
  });

  it('the slab fallback\'s `return ERR_PTR(-ENOMEM);` lost: on check-enomem a failed kmalloc() reaches `dio->iocb = iocb;` (crash), and the seed does not', async () => {
    const from = '+\t\tif (!dio)\n+\t\t\treturn ERR_PTR(-ENOMEM);\n';
    for (const to of ['+\t\tif (!dio)\n+\t\t\t;\n', '+\n+\n']) {
      // Only check-enomem lets a kmalloc() fail; check-hotplug first, where none fails, must not find it.
      const r = await edit('no-enomem-return', from, to, seed, only('check-hotplug', 'check-enomem'));
      expect(r.verdict).toBe('violation');
      const v = r.violations.find((x) => x.id === 'crash')!;
      expect(v.scope.name).toBe('check-enomem');
      expect(v.message).toMatch(/NULL pointer dereference: dio reaches `dio->iocb = iocb;` \(direct-io.c:70\d\)/);
      expect(v.steps.some((x) => /the allocation fails \(NULL\) in __iomap_dio_rw: dio = kmalloc\(sizeof\(\*dio\), GFP_KERNEL\);/.test(x.event))).toBe(true);
    }
    const ok = await checkOnce(SEED);
    expect(ok.verdict).toBe('conforms');
    expect(ok.profile.inferred.join('\n')).toContain('the line after it, `dio->iocb = iocb;` (direct-io.c:706), dereferences dio');
    expect(ok.runs.find((x) => x.scope.name === 'check-enomem')?.verdict).toBe('conforms');
  });

  it('a removed `return ERR_PTR(-ENOMEM);` kept as context: the alloc call after it is dead code, and the check says so (exit 2) instead of driving the cache from a caller of its own', async () => {
    const from = '-\t\treturn ERR_PTR(-ENOMEM);\n+\tdio = dio_alloc_percpu_cache();';
    await expect(edit('dead-alloc-site', from, ' \t\treturn ERR_PTR(-ENOMEM);\n+\tdio = dio_alloc_percpu_cache();')).rejects.toThrow(
      /the alloc call in __iomap_dio_rw\(\) \(direct-io.c:700: `dio = dio_alloc_percpu_cache\(\);`\) can never run: `return ERR_PTR\(-ENOMEM\);` \(direct-io.c:699\) leaves the block right before it/,
    );
  });

  it('the initcall\'s NULL test inverted or deleted: init-result, at boot or when alloc_percpu() fails', async () => {
    // Boot, which every scope runs alike, and the scope where alloc_percpu() may fail, after one
    // where nothing fails (the deleted test must not be found there).
    const scopes = only('check-hotplug', 'check-enomem');
    const inverted = await edit('init-inverted', '+\tif (!dio_cache)\n+\t\treturn -ENOMEM;\n', '+\tif (dio_cache)\n+\t\treturn -ENOMEM;\n', seed, scopes);
    expect(inverted.violations.map((v) => v.id)).toEqual(['init-result']);
    expect(inverted.violations[0]!.message).toContain('the initcall returned -12 although every allocation it made succeeded');
    const deleted = await edit('init-unchecked', '+\tif (!dio_cache)\n+\t\treturn -ENOMEM;\n', '+\n+\n', seed, scopes);
    expect(deleted.violations.map((v) => v.id)).toEqual(['init-result']);
    expect(deleted.violations[0]!.message).toMatch(/with its allocation failing \(iomap_dio_init: dio_cache = alloc_percpu\(.*\), the initcall returned 0, and the first alloc then oopses: null-deref/);
    expect(deleted.violations[0]!.scope.name).toBe('check-enomem');
  });

  it('the initcall stores with WRITE_ONCE(): that is an assignment, the run is the seed\'s', async () => {
    const r = await edit('write-once-init', '+\tdio_cache = alloc_percpu(struct dio_alloc_cache);\n', '+\tWRITE_ONCE(dio_cache, alloc_percpu(struct dio_alloc_cache));\n', seed, DFS);
    expect(r.verdict).toBe('conforms');
    expect(r.stats.states).toBe(SEED_STATES);
    expect(r.profile.inferred.join('\n')).not.toMatch(/never assigned|init site: no call/);
  });

  it('the splice copies free_list onto itself: still the splice, not an alloc; the lost irq list is object-safety', async () => {
    // The first scope, where the whole check finds it first (and every scope finds it).
    const r = await edit('splice-self', '+\tcache->free_list = cache->free_list_irq;\n', '+\tcache->free_list = cache->free_list;\n', seed, { scopes: [CHECK_SCOPES[0]!] });
    expect(r.profile.inferred.join('\n')).toContain('alloc dio_alloc_percpu_cache(), put dio_put_percpu_cache()');
    expect(r.violations.map((v) => v.id)).toContain('object-safety');
  });

  it('v3 as posted without the call of pcpu_cache_list_create(): the descriptor pointer stays NULL (crash at boot), not a run of the helper\'s insides', async () => {
    const v3 = readFileSync(join(FIX, 'v3-as-posted.patch'), 'utf8');
    const r = await edit('v3-no-create', '+\tdio_pcpu_cache_list = pcpu_cache_list_create(DIO_ALLOC_CACHE_MAX, sizeof(struct iomap_dio));\n', '+\n', v3);
    expect(r.violations.map((v) => v.id)).toEqual(['crash']);
    expect(r.violations[0]!.message).toContain('NULL pointer dereference: pcpu_cache_list->cache');
  });

  it('no call of the alloc left in __iomap_dio_rw(): dio is read uninitialised (crash, from the diff), and the report says the checker drives the cache with a caller of its own', async () => {
    const r = await edit('no-alloc-call', '+\tdio = dio_alloc_percpu_cache();\n', '+\n', seed, FROM_DIFF);
    expect(r.profile.inferred.join('\n')).toContain('alloc site: no call of dio_alloc_percpu_cache() outside the cache in the patch; the checker drives it with `obj = dio_alloc_percpu_cache();');
    expect(r.verdict).toBe('violation');
    const v = r.violations.find((x) => x.found === 'diff')!;
    expect(v.id).toBe('crash');
    expect(v.message).toContain('__iomap_dio_rw(): the patch removes `dio = kmalloc(sizeof(*dio), GFP_KERNEL);` (direct-io.c:699) and nothing assigns dio before `if (!dio) {` (direct-io.c:700)');
  });

  it('v3 with its alloc call deleted: the same finding; moved above the removed kmalloc instead, no finding', async () => {
    const v3 = readFileSync(join(FIX, 'v3-as-posted.patch'), 'utf8');
    const call = '+\tdio = pcpu_cache_list_alloc(dio_pcpu_cache_list);\n';
    const r = await edit('v3-no-alloc-call', call, '+\n', v3, FROM_DIFF);
    expect(r.violations.filter((x) => x.found === 'diff').map((x) => x.id)).toEqual(['crash']);
    // The same call written above the removed line: it assigns dio before the place of the kmalloc.
    const moved = v3.replace(call, '').replace('-\tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n', call + '-\tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n');
    expect(moved).not.toBe(v3);
    // Every scope, by DFS: only the verdict (nothing found) is asserted.
    const r2 = await edit('v3-alloc-moved', v3, moved, v3, DFS);
    expect(r2.violations).toEqual([]);
  });

  it('v3\'s create helper when alloc_percpu() fails (check-enomem, its second allocation): the descriptor leaked, or freed and returned (init-result)', async () => {
    const v3 = readFileSync(join(FIX, 'v3-as-posted.patch'), 'utf8');
    const path = '+\tif (!pcpu_cache_list->cache) {\n+\t\tkfree(pcpu_cache_list);\n+\t\treturn NULL;\n+\t}\n';
    // Only check-enomem fails an allocation; check-hotplug first, where none fails, must find nothing.
    const scopes = only('check-hotplug', 'check-enomem');
    const leak = await edit('v3-init-leak', path, '+\tif (!pcpu_cache_list->cache) {\n+\n+\t\treturn NULL;\n+\t}\n', v3, scopes);
    expect(leak.violations.map((v) => v.id)).toEqual(['init-result']);
    expect(leak.violations[0]!.message).toMatch(/with its allocation #2 failing \(pcpu_cache_list_create: pcpu_cache_list->cache = alloc_percpu\(.*the initcall returned -12 but left #1 \(a struct pcpu_cache_list from kmalloc\) allocated with nothing pointing to it/);
    const uaf = await edit('v3-init-uaf', path, '+\tif (!pcpu_cache_list->cache) {\n+\t\tkfree(pcpu_cache_list);\n+\n+\t}\n', v3, scopes);
    expect(uaf.violations.map((v) => v.id)).toEqual(['init-result']);
    expect(uaf.violations[0]!.message).toMatch(/the initcall returned 0, and the first alloc then oopses: use-after-free/);
  });

  it('v3 element sizes: an element kmalloc()ed without room for its payload is slab-out-of-bounds; an element_size never stored is an uninitialised read', async () => {
    const v3 = readFileSync(join(FIX, 'v3-as-posted.patch'), 'utf8');
    // PCPU_CACHE_ELEMENT_SIZE() without `+ element_size`: the alloc hands out the byte past the header.
    const r = await edit('v3-size-no-payload', '+\t(sizeof(struct pcpu_cache_element) + pcpu_cache_list->element_size)', '+\t(sizeof(struct pcpu_cache_element))', v3);
    expect(r.violations.map((v) => v.id)).toEqual(['crash']);
    expect(r.violations[0]!.message).toContain('slab-out-of-bounds (KASAN): alloc handed out #4+8, byte 8 of an allocation of 8 bytes');
    // The descriptor from kzalloc() and its element_size never set: 0, the same finding.
    const r2 = await edit('v3-kzalloc-no-size', '+\tpcpu_cache_list = kmalloc(sizeof(struct pcpu_cache_list), GFP_KERNEL);\n+\tif (!pcpu_cache_list)\n+\t\treturn NULL;\n+\n+\tpcpu_cache_list->element_size = size;', '+\tpcpu_cache_list = kzalloc(sizeof(struct pcpu_cache_list), GFP_KERNEL);\n+\tif (!pcpu_cache_list)\n+\t\treturn NULL;\n+\n+\t;', v3);
    expect(r2.violations.map((v) => v.id)).toEqual(['crash']);
    // From kmalloc() as posted, element_size never set: the size expression reads it uninitialised.
    const r3 = await edit('v3-no-size', '+\tpcpu_cache_list->element_size = size;\n', '+\n', v3);
    expect(r3.violations.map((v) => v.id)).toEqual(['object-safety']);
    expect(r3.violations[0]!.message).toContain('read of uninitialised memory: pcpu_cache_list->element_size');
  });

  it('a kfree(dio) left above the error path\'s put: that site\'s own run finds the use after free, and names the site', async () => {
    const r = await edit('keep-kfree-error', ' out_free_dio:\n-\tkfree(dio);\n+\tdio_put_percpu_cache(dio);', ' out_free_dio:\n \tkfree(dio);\n+\tdio_put_percpu_cache(dio);');
    const site = 'free site in __iomap_dio_rw() (direct-io.c:887)';
    expect(r.profile.inferred.join('\n')).toContain(`also checked, each in a run of its own: ${site}`);
    expect(r.profile.inferred.join('\n')).toContain('free site in __iomap_dio_rw() (direct-io.c:887) starts with what the object goes through just before the call: `kfree(dio);`');
    const v = r.violations.find((x) => x.id === 'object-safety')!;
    expect(v.site).toBe(site);
    expect(v.message).toContain(`${site}: during boot`);
    expect(v.message).toContain('use-after-free');
  });

  it('a dio = kmalloc() left above the alloc that replaced it: the kmalloc\'d dio is lost (object-safety)', async () => {
    const r = await edit('keep-kmalloc', '-\tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n-\tif (!dio)', ' \tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n-\tif (!dio)');
    expect(r.profile.inferred.join('\n')).toContain('starts with what the object goes through just before the call: `dio = kmalloc(sizeof(*dio), GFP_KERNEL);`');
    expect(r.violations.map((v) => v.id)).toContain('object-safety');
    expect(r.violations.find((v) => v.id === 'object-safety')!.message).toMatch(/object #\d+ was lost/);
  });

  it('the alloc advances through dio->iocb while the put links through dio->dio_next: said, and the list walk breaks', async () => {
    // The first scope, where the whole check finds it first (and every scope finds it).
    const r = await edit('pop-iocb', '+\tcache->free_list = dio->dio_next;\n', '+\tcache->free_list = dio->iocb;\n', seed, { scopes: [CHECK_SCOPES[0]!] });
    expect(r.profile.inferred.join('\n')).toContain('dio_alloc_percpu_cache() advances free_list through ->iocb but dio_put_percpu_cache() links through ->dio_next');
    expect(r.profile.inferred.join('\n')).toContain('assumed at offset 72, after the members they show');
    expect(r.violations.map((v) => v.id)).toContain('object-safety');
  });

  it('the miss path returns cache->free_list after put_cpu() instead of NULL: another task, preempting there, pushes onto it (check-preempt)', async () => {
    // Only check-preempt has a second task on the CPU; check-hotplug first, one task per CPU, must not find it.
    const r = await edit('read-after-put-cpu', '+\t\t\tput_cpu();\n+\t\t\treturn NULL;', '+\t\t\tput_cpu();\n+\t\t\treturn cache->free_list;', seed, only('check-hotplug', 'check-preempt'));
    const v = r.violations.find((x) => x.id === 'object-safety')!;
    expect(v.scope.name).toBe('check-preempt');
    expect(v.message).toMatch(/is in two places at once: cpu0 free_list and task0/);
    expect(v.preemptions).toBeGreaterThan(0);
  });

  it('a call line doubled: the second call\'s site starts with the first (no site of its own), and what the pair does is found', async () => {
    // The first scope, where the whole check finds object-safety first (and every scope finds it).
    const first = { scopes: [CHECK_SCOPES[0]!] };
    const put = await edit('dup-put', '+\tdio_put_percpu_cache(dio);\n \treturn ret;', '+\tdio_put_percpu_cache(dio);\n+\tdio_put_percpu_cache(dio);\n \treturn ret;', seed, first);
    expect(put.profile.inferred.join('\n')).toContain('free site in iomap_dio_complete() (direct-io.c:215) starts with what the object goes through just before the call: `dio_put_percpu_cache(dio);`');
    expect(put.violations.map((v) => v.id)).toContain('object-safety');
    const alloc = await edit('dup-alloc', '+\tdio = dio_alloc_percpu_cache();\n', '+\tdio = dio_alloc_percpu_cache();\n+\tdio = dio_alloc_percpu_cache();\n', seed, first);
    expect(alloc.profile.inferred.join('\n')).not.toMatch(/also checked.*alloc site/);
    expect(alloc.violations.find((v) => v.id === 'object-safety')?.message).toMatch(/was lost/);
  });

  it('GFP modifiers: GFP_KERNEL | __GFP_ZERO conforms; v2\'s kmalloc under get_cpu() with GFP_ATOMIC | __GFP_NOWARN does not sleep', async () => {
    const r = await edit('gfp-zero', '+\t\tdio = kmalloc(sizeof(*dio), GFP_KERNEL);\n', '+\t\tdio = kmalloc(sizeof(*dio), GFP_KERNEL | __GFP_ZERO);\n', seed, DFS);
    expect(r.verdict).toBe('conforms');
    const v2 = readFileSync(join(FIX, 'v2-as-posted.patch'), 'utf8');
    // On check-hotplug, where v2 as posted (GFP_KERNEL) is might-sleep, as on every default scope.
    const hotplug = { ...DFS, ...only('check-hotplug') };
    expect((await check({ file: join(FIX, 'v2-as-posted.patch'), ...hotplug })).violations.map((v) => v.id)).toContain('might-sleep');
    const r2 = await edit('v2-atomic', '+\t\t\t\t\t\t\t\t\tGFP_KERNEL);\n', '+\t\t\t\t\t\t\t\t\tGFP_ATOMIC | __GFP_NOWARN);\n', v2, hotplug);
    expect(r2.violations.map((v) => v.id)).not.toContain('might-sleep');
  });

  it('the seed itself has no dropped free: every removed kfree(dio) has its put in the same hunk', async () => {
    const r = await checkOnce(SEED);
    expect(r.violations).toEqual([]);
  });
});
