/**
 * Kernel C constructs the C path must accept, as real revisions of the patch (v2 and v3 as posted,
 * block/bio.c whose code they copy) and plausible edits of them use them: the CPU iterators,
 * likely/unlikely, WARN_ON/BUG_ON, container_of/offsetof, min_t, inline helpers, IS_ERR/ERR_PTR,
 * kzalloc/kmem_cache_*, the __percpu pointer kept in a kmalloc'd descriptor; and those it refuses
 * (the address of a local, struct values, function pointers, an unknown iterator macro) with the
 * construct and its line, exit 2, before any exploring.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cHarness } from './c-harness.js';
import { runCli } from './cli-run.js';
import { KernelFault } from '../impl/kernel/primitives.js';
import { mkPtr } from '../impl/kernel/values.js';
import { UsageError } from '../conformance/cli/errors.js';
import type { TV } from '../conformance/c/interp.js';
import { check, CHECK_SCOPES } from '../conformance/c/run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/c/');
/** The seed patch as posted, shipped unchanged (fixtures/seed/README.md). */
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const work = tempDir('dio-constructs-');

/** Small scopes: 3 ops reach the splice, the cap and MAX+1 with `>=`; 2 ops are enough for a construct to run. */
const SCOPES3 = [{ ...CHECK_SCOPES[0]!, ops: 3 }, CHECK_SCOPES[1]!];
const SCOPES2 = [{ ...CHECK_SCOPES[0]!, ops: 2 }, CHECK_SCOPES[1]!];
/** v3 as posted on SCOPES3, checked once: its own test and the static-descriptor comparison read it. */
let v3Checked: ReturnType<typeof check> | undefined;
const checkV3 = (): ReturnType<typeof check> => (v3Checked ??= check({ file: `${FIX}v3-as-posted.patch`, scopes: SCOPES3 }));

describe('the revisions as posted', () => {
  it('v3 (20260115021108.1913695-1): the __percpu pointer in a kmalloc\'d descriptor, conforms as iomap-v3', async () => {
    const r = await checkV3();
    console.log(`v3-as-posted: ${r.verdict}, ${r.stats.states} states, ${r.stats.seconds.toFixed(1)} s`);
    expect(r.input.kind).toBe('email');
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v3');
    expect(r.profile.inferred.join('\n')).toMatch(/the __percpu pointer is dio_pcpu_cache_list->cache/);
    expect(r.profile.inferred.join('\n')).toMatch(/alloc pcpu_cache_list_alloc\(\), put pcpu_cache_list_free\(\), splice irq_cache_splice\(\), create pcpu_cache_list_create\(\); link field next/);
    expect(r.scaling.map((s) => `${s.macro} ${s.from}->${s.to}`)).toEqual(['DIO_ALLOC_CACHE_MAX 256->2', 'PCPU_CACHE_IRQ_THRESHOLD 16->1']);
    expect(r.extremes.maxCached).toBe(3);
    expect(r.warnings.map((w) => w.id)).toEqual(['hotplug-stranding']);
    expect(r.coverage!.warnings).toEqual([]);
  });

  it('v2 (20260114074113.151089-1): kmalloc(GFP_KERNEL) before put_cpu() is might-sleep, at its line', async () => {
    const r = await check({ file: `${FIX}v2-as-posted.patch`, scopes: SCOPES3 });
    expect(r.verdict).toBe('violation');
    expect(r.violations.map((v) => v.id)).toEqual(['might-sleep']);
    const v = r.violations[0]!;
    expect(v.message).toMatch(/pcpu_cache_list_alloc: BUG: sleeping function called from invalid context: kmalloc\(GFP_KERNEL\) with preemption disabled/);
    expect(v.steps.at(-1)!.labels.join('\n')).toMatch(/cache_element = kmalloc\(PCPU_CACHE_ELEMENT_SIZE\(pcpu_cache_list\), GFP_KERNEL\); \(direct-io\.c:134\)/);
  });
});

describe('fixtures in the v3-generic.diff shape', () => {
  it('v3-foreach.diff: for_each_possible_cpu in the create helper, conforms as iomap-v3', async () => {
    const r = await check({ file: `${FIX}v3-foreach.diff`, scopes: SCOPES3 });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v3');
    expect(r.extremes.maxCached).toBe(3);
  });

  it('v2-generic-sleeps.diff: the sleeping allocation inside get_cpu()', async () => {
    const file = `${FIX}v2-generic-sleeps.diff`;
    const expected = /^Expected violation: (\S+)$/m.exec(readFileSync(file, 'utf8'))![1]!;
    const r = await check({ file, scopes: SCOPES3 });
    expect(r.verdict).toBe('violation');
    expect(r.profile.name).toBe('iomap-v3');
    expect(r.violations.map((v) => v.id)).toEqual([expected]);
  });

  it('the CLI exits 0 and 1 on them', async () => {
    // In-process (test/cli-run.ts): the entry bin/dio-cache.js calls, without a process start.
    const cli = (f: string) => runCli(['check', `${FIX}${f}`, '--no-progress', '--scope', 'check-1cpu', '--ops', '3'], work);
    expect((await cli('v3-foreach.diff')).code).toBe(0);
    const r = await cli('v2-generic-sleeps.diff');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/violation might-sleep: /);
  });
});

// ---- one construct at a time, as an edit of v3-generic.diff ----------------------------------------

const BASE = readFileSync(`${FIX}v3-generic.diff`, 'utf8');
const LOOP = '+\tfor (cpu = 0; cpu < nr_cpu_ids; cpu++) {';

/** v3-generic.diff with line-for-line replacements (hunk lengths stay right). */
function variant(name: string, subs: [string, string][]): string {
  let text = BASE;
  for (const [a, b] of subs) {
    if (!text.includes(a)) throw new Error(`${name}: '${a}' is not in v3-generic.diff`);
    expect(b.split('\n')).toHaveLength(a.split('\n').length);
    text = text.replace(a, b);
  }
  const file = join(work, `${name}.diff`);
  writeFileSync(file, text);
  return file;
}

const ACCEPTED: [string, [string, string][]][] = [
  ['for_each_possible_cpu', [[LOOP, '+\tfor_each_possible_cpu(cpu) {']]],
  ['for_each_online_cpu', [[LOOP, '+\tfor_each_online_cpu(cpu) {']]],
  ['for_each_present_cpu', [[LOOP, '+\tfor_each_present_cpu(cpu) {']]],
  ['for_each_cpu(cpu, cpu_possible_mask)', [[LOOP, '+\tfor_each_cpu(cpu, cpu_possible_mask) {']]],
  ['likely/unlikely', [['+\tif (!cache->free_list) {\n+\t\tif (READ_ONCE', '+\tif (unlikely(!cache->free_list)) {\n+\t\tif (READ_ONCE'], ['+\tif (in_task()) {', '+\tif (likely(in_task())) {']]],
  ['WARN_ON', [['if (WARN_ON_ONCE(cache->free_list))', 'if (WARN_ON(cache->free_list))']]],
  ['BUG_ON', [['+\tif (WARN_ON_ONCE(cache->free_list))\n+\t\treturn;', '+\tBUG_ON(cache->free_list);\n+']]],
  [
    'container_of',
    [['+\t((struct pcpu_cache_element *)((unsigned long)(ptr) - sizeof(struct pcpu_cache_element)))', '+\tcontainer_of((void *)(ptr), struct pcpu_cache_element, payload)']],
  ],
  ['offsetof', [['((void *)((unsigned long)(elem) + sizeof(struct pcpu_cache_element)))', '((void *)((unsigned long)(elem) + offsetof(struct pcpu_cache_element, payload)))']]],
  ['static inline / __always_inline', [['+static void pcpu_cache_list_splice(', '+static inline void pcpu_cache_list_splice('], ['+static void *pcpu_cache_list_alloc(', '+static __always_inline void *pcpu_cache_list_alloc(']]],
  ['kzalloc', [['elem = kmalloc(sizeof(struct pcpu_cache_element) + size, GFP_KERNEL);', 'elem = kzalloc(sizeof(struct pcpu_cache_element) + size, GFP_KERNEL);']]],
  ['min_t / INT_MAX', [['+\tif (READ_ONCE(cache->nr_irq) + cache->nr >= cache->max_nr)', '+\tif (min_t(int, READ_ONCE(cache->nr_irq) + cache->nr, INT_MAX) >= cache->max_nr)']]],
  ['data_race', [['+\t\tif (READ_ONCE(cache->nr_irq) >= cache->irq_thresh)', '+\t\tif (data_race(cache->nr_irq) >= cache->irq_thresh)']]],
  [
    'IS_ERR/ERR_PTR',
    [
      ['+\tif (!elem)\n+\t\treturn NULL;\n+\treturn pcpu_cache_payload(elem);', '+\tif (!elem)\n+\t\treturn ERR_PTR(-ENOMEM);\n+\treturn pcpu_cache_payload(elem);'],
      [' \tif (!dio)\n \t\treturn ERR_PTR(-ENOMEM);\n \n \tdio->iocb', ' \tif (IS_ERR(dio))\n \t\treturn dio;\n \n \tdio->iocb'],
    ],
  ],
];

describe('constructs the C path accepts', () => {
  for (const [name, subs] of ACCEPTED) {
    it(name, async () => {
      const r = await check({ file: variant(name.replace(/\W+/g, '-'), subs), scopes: SCOPES2 });
      expect(r.verdict).toBe('conforms');
      expect(r.profile.name).toBe('iomap-v3');
    });
  }

  it('BUG_ON that fires is a crash of the code under test', async () => {
    const file = variant('bug-on-fires', [['+\tcache = per_cpu_ptr(cache_list, get_cpu());\n+\tif (READ_ONCE(cache->nr_irq) + cache->nr >=', '+\tcache = per_cpu_ptr(cache_list, get_cpu());\n+\tBUG_ON(cache->nr); if (READ_ONCE(cache->nr_irq) + cache->nr >=']]);
    const r = await check({ file, scopes: SCOPES2 });
    expect(r.verdict).toBe('violation');
    expect(r.violations.map((v) => v.id)).toContain('crash');
    expect(r.violations.find((v) => v.id === 'crash')!.message).toMatch(/kernel BUG: BUG_ON\(cache->nr\) at direct-io\.c:\d+/);
  });
});

/** Recounts each hunk header's lengths after an edit that adds or removes lines. */
function recount(text: string): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@ -(\d+),\d+ \+(\d+),\d+ @@(.*)$/.exec(lines[i]!);
    if (!m) continue;
    let old = 0;
    let neu = 0;
    for (let j = i + 1; j < lines.length && !/^(@@|diff |-- $)/.test(lines[j]!); j++) {
      const l = lines[j]!;
      if (l.startsWith('+')) neu++;
      else if (l.startsWith('-')) old++;
      else if (l.startsWith(' ')) (old++, neu++);
    }
    lines[i] = `@@ -${m[1]},${old} +${m[2]},${neu} @@${m[3]}`;
  }
  return lines.join('\n');
}

describe('the descriptor as a static struct, initialised in place', () => {
  it('`static struct pcpu_cache_list dio_pcpu_cache_list;` passed as &dio_pcpu_cache_list: the v3 state space, conforms', async () => {
    let s = readFileSync(`${FIX}v3-as-posted.patch`, 'utf8');
    const subs: [string, string][] = [
      [
        '+static struct pcpu_cache_list *pcpu_cache_list_create(int max_nr, size_t size)\n+{\n+\tstruct pcpu_cache_list *pcpu_cache_list;\n+\n+\tpcpu_cache_list = kmalloc(sizeof(struct pcpu_cache_list), GFP_KERNEL);\n+\tif (!pcpu_cache_list)\n+\t\treturn NULL;\n+\n',
        '+static int pcpu_cache_list_init(struct pcpu_cache_list *pcpu_cache_list, int max_nr, size_t size)\n+{\n',
      ],
      ['+\tif (!pcpu_cache_list->cache) {\n+\t\tkfree(pcpu_cache_list);\n+\t\treturn NULL;\n+\t}\n+\treturn pcpu_cache_list;\n+}', '+\tif (!pcpu_cache_list->cache)\n+\t\treturn -ENOMEM;\n+\treturn 0;\n+}'],
      ['+\tkfree(pcpu_cache_list);\n+}', '+}'],
      ['+static struct pcpu_cache_list *dio_pcpu_cache_list;', '+static struct pcpu_cache_list dio_pcpu_cache_list;'],
      ['+\tpcpu_cache_list_free(dio, dio_pcpu_cache_list);', '+\tpcpu_cache_list_free(dio, &dio_pcpu_cache_list);'],
      ['+\tdio = pcpu_cache_list_alloc(dio_pcpu_cache_list);', '+\tdio = pcpu_cache_list_alloc(&dio_pcpu_cache_list);'],
      ['+\tpcpu_cache_list_free(dio, dio_pcpu_cache_list);', '+\tpcpu_cache_list_free(dio, &dio_pcpu_cache_list);'],
      [
        '+\tdio_pcpu_cache_list = pcpu_cache_list_create(DIO_ALLOC_CACHE_MAX, sizeof(struct iomap_dio));\n+\tif (!dio_pcpu_cache_list)\n+\t\treturn -ENOMEM;',
        '+\tif (pcpu_cache_list_init(&dio_pcpu_cache_list, DIO_ALLOC_CACHE_MAX, sizeof(struct iomap_dio)))\n+\t\treturn -ENOMEM;',
      ],
    ];
    for (const [a, b] of subs) {
      expect(s.includes(a), a).toBe(true);
      s = s.replace(a, b);
    }
    const file = join(work, 'static-descriptor.patch');
    writeFileSync(file, recount(s));
    const r = await check({ file, scopes: SCOPES3 });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v3');
    expect(r.profile.inferred.join('\n')).toMatch(/the __percpu pointer is dio_pcpu_cache_list\.cache .*create pcpu_cache_list_init\(\)/s);
    const v3 = await checkV3();
    expect(r.stats.states).toBe(v3.stats.states);
  });
});

describe('a bio-style hotplug prune added to v3', () => {
  it('__bio_alloc_cache_prune() shape before the alloc, -1U, cpuhp registration in the create helper: recognised, nothing stranded', async () => {
    const prune = [
      '+static int __pcpu_cache_prune(struct pcpu_cache *cache, unsigned int nr)',
      '+{',
      '+\tunsigned int i = 0;',
      '+\tstruct pcpu_cache_element *elem;',
      '+',
      '+\twhile ((elem = cache->free_list) != NULL) {',
      '+\t\tcache->free_list = elem->next;',
      '+\t\tcache->nr--;',
      '+\t\tkfree(elem);',
      '+\t\tif (++i == nr)',
      '+\t\t\tbreak;',
      '+\t}',
      '+\treturn i;',
      '+}',
      '+',
      '+static void pcpu_cache_prune(struct pcpu_cache *cache, unsigned int nr)',
      '+{',
      '+\tnr -= __pcpu_cache_prune(cache, nr);',
      '+\tif (!READ_ONCE(cache->free_list)) {',
      '+\t\tirq_cache_splice(cache);',
      '+\t\t__pcpu_cache_prune(cache, nr);',
      '+\t}',
      '+}',
      '+',
      '',
    ].join('\n');
    const dead = ['+', '+static int dio_cpu_dead(unsigned int cpu)', '+{', '+\tstruct pcpu_cache *cache = per_cpu_ptr(dio_pcpu_cache_list->cache, cpu);', '+', '+\tpcpu_cache_prune(cache, -1U);', '+\treturn 0;', '+}', ''].join('\n');
    let s = readFileSync(`${FIX}v3-as-posted.patch`, 'utf8');
    const subs: [string, string][] = [
      ['+static void *pcpu_cache_list_alloc(', `${prune}+static void *pcpu_cache_list_alloc(`],
      ['+static struct pcpu_cache_list *dio_pcpu_cache_list;\n', `+static struct pcpu_cache_list *dio_pcpu_cache_list;\n${dead}`],
      ['+\t}\n+\treturn pcpu_cache_list;\n+}', '+\t}\n+\tcpuhp_setup_state_nocalls(CPUHP_IOMAP_DIO_DEAD, "fs/iomap:dead", NULL, dio_cpu_dead);\n+\treturn pcpu_cache_list;\n+}'],
    ];
    for (const [a, b] of subs) {
      expect(s.includes(a), a).toBe(true);
      s = s.replace(a, b);
    }
    const file = join(work, 'v3-with-prune.patch');
    writeFileSync(file, recount(s));
    const r = await check({ file, scopes: [CHECK_SCOPES[1]!] });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.inferred).toContain('hotplug prune dio_cpu_dead()');
    expect(r.profile.inferred.join('\n')).toMatch(/alloc pcpu_cache_list_alloc\(\)/);
    expect(r.warnings).toEqual([]);
    expect(r.coverage!.functions.find((f) => f.name === '__pcpu_cache_prune')!.statements.find((x) => x.text.startsWith('kfree(elem);'))!.hits).toBeGreaterThan(0);
  });
});

describe('a DEFINE_PER_CPU variable instead of alloc_percpu', () => {
  it('per_cpu_ptr(&v, cpu), get_cpu_ptr/put_cpu_ptr(&v), per_cpu(v, cpu).field: the seed\'s state space, conforms', async () => {
    let s = readFileSync(SEED, 'utf8');
    const subs: [string, string][] = [
      ['+static struct dio_alloc_cache __percpu *dio_cache;', '+static DEFINE_PER_CPU(struct dio_alloc_cache, dio_cache);'],
      ['+\tcache = per_cpu_ptr(dio_cache, get_cpu());\n+\tif (!cache->free_list) {', '+\tcache = per_cpu_ptr(&dio_cache, get_cpu());\n+\tif (!per_cpu(dio_cache, smp_processor_id()).free_list) {'],
      ['+\tcache = per_cpu_ptr(dio_cache, get_cpu());', '+\tcache = get_cpu_ptr(&dio_cache);'],
      ['+\tput_cpu();\n+\treturn;\n+out_free:\n+\tput_cpu();', '+\tput_cpu_ptr(&dio_cache);\n+\treturn;\n+out_free:\n+\tput_cpu_ptr(&dio_cache);'],
      // No initcall line: the variable exists from boot.
      ['+\tdio_cache = alloc_percpu(struct dio_alloc_cache);\n+\tif (!dio_cache)\n+\t\treturn -ENOMEM;', '+\n+\n+'],
    ];
    for (const [a, b] of subs) {
      expect(s.includes(a), a).toBe(true);
      s = s.replace(a, b);
    }
    const file = join(work, 'define-per-cpu.patch');
    writeFileSync(file, s);
    const r = await check({ file, scopes: SCOPES3 });
    expect(r.verdict).toBe('conforms');
    expect(r.profile.name).toBe('iomap-v1');
    expect(r.extremes.maxCached).toBe(4);
    const seed = await check({ file: SEED, scopes: SCOPES3 });
    expect(r.stats.states).toBe(seed.stats.states);
  });
});

const REFUSED: [string, [string, string][], RegExp][] = [
  ['the address of a local', [['+\tunsigned long flags;', '+\tunsigned long flags, *fp = &flags;']], /unsupported C: direct-io\.c:103: taking the address of local 'flags'/],
  ['a local struct value', [['+\tstruct pcpu_cache_element *elem;\n+\n+\tcache = per_cpu_ptr(cache_list, get_cpu());\n+\tif (!cache->free_list) {', '+\tstruct pcpu_cache_element *elem, tmp;\n+\n+\tcache = per_cpu_ptr(cache_list, get_cpu());\n+\tif (!cache->free_list) {']], /unsupported C: direct-io\.c:\d+: a local struct value \('struct pcpu_cache_element tmp'\)/],
  ['a function pointer', [['+\tstruct pcpu_cache_element *elem = pcpu_cache_elem(ptr);\n+', '+\tstruct pcpu_cache_element *elem = pcpu_cache_elem(ptr);\n+\tvoid (*splice)(struct pcpu_cache_list *) = pcpu_cache_list_splice;']], /unsupported C: direct-io\.c:\d+: function pointers are not supported/],
  ['a switch statement', [['+\tstruct pcpu_cache_element *elem = pcpu_cache_elem(ptr);\n+', '+\tstruct pcpu_cache_element *elem = pcpu_cache_elem(ptr);\n+\tswitch (in_task()) { default: break; }']], /unsupported C: direct-io\.c:\d+: a switch statement: switch \(in_task\(\)\)/],
  ['an iterator macro the checker does not know', [[LOOP, '+\tfor_each_cpu_wrap(cpu, cpu_possible_mask, 0) {']], /C does not parse: direct-io\.c:93: .*unsupported C: the iterator macro for_each_cpu_wrap\(\) is not one the checker expands/],
];

describe('constructs it refuses: the construct and its line, before exploring', () => {
  for (const [name, subs, msg] of REFUSED) {
    it(name, async () => {
      const file = variant(name.replace(/\W+/g, '-'), subs);
      const e = await check({ file, scopes: SCOPES2 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(msg);
    });
  }

  it('exit 2 with one line on stderr', async () => {
    const file = join(work, 'the-address-of-a-local.diff');
    const r = await runCli(['check', file, '--no-progress'], work);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^dio-cache: unsupported C: direct-io\.c:103: taking the address of local 'flags'/);
  });
});

// ---- the primitives on their own -------------------------------------------------------------

const SRC = `
struct elem {
	long tag;
	struct elem *next;
	char payload[];
};
static int visits(void)
{
	int cpu, n = 0;

	for_each_possible_cpu(cpu)
		n += 10;
	for_each_online_cpu(cpu)
		n++;
	return n;
}
static long layout(struct elem *e)
{
	struct elem *back = container_of((void *)&e->next, struct elem, next);

	return (long)back - (long)e + offsetof(struct elem, payload) * 100 + min_t(int, 7, 3) * 1000 + max(2, 5) * 10000;
}
static int errs(void)
{
	void *p = ERR_PTR(-ENOMEM);

	if (likely(IS_ERR(p)) && !IS_ERR_OR_NULL(NULL) == 0)
		return PTR_ERR(p);
	return 0;
}
static int bug(int x)
{
	BUG_ON(x > 1);
	return WARN_ON(x == 1);
}
`;

/** `run(name, args)` → the function's value. */
async function setup() {
  const h = await cHarness(SRC, {
    obj1: { type: 'elem', freed: false, origin: 'kmalloc', cells: {} },
    cpus: [
      { online: true, irqsOff: false, current: 0, softirq: null, hardirq: null },
      { online: false, irqsOff: false, current: -1, softirq: null, hardirq: null },
    ],
  });
  return (name: string, args: TV[]) => h.run(name, args).v;
}

describe('the interpreter on the added primitives', () => {
  const e = { v: mkPtr(1), t: { k: 'ptr' as const, to: { k: 'struct' as const, name: 'elem' } } };
  const int = (v: number): TV => ({ v, t: { k: 'int', size: 4, name: 'int' } });

  it('for_each_possible_cpu visits every simulated CPU, for_each_online_cpu the online ones', async () => {
    const run = await setup();
    expect(run('visits', [])).toBe(2 * 10 + 1);
  });
  it('container_of, offsetof, min_t, max', async () => {
    const run = await setup();
    expect(run('layout', [e])).toBe(0 + 16 * 100 + 3 * 1000 + 5 * 10000);
  });
  it('ERR_PTR, IS_ERR, IS_ERR_OR_NULL, PTR_ERR, likely', async () => {
    const run = await setup();
    expect(run('errs', [])).toBe(-12);
  });
  it('BUG_ON oopses, WARN_ON returns its condition', async () => {
    const run = await setup();
    expect(run('bug', [int(0)])).toBe(0);
    expect(run('bug', [int(1)])).toBe(1);
    expect(() => run('bug', [int(2)])).toThrow(KernelFault);
  });
});

// ---- library calls with kernel semantics (direct-io-v1.c, the seed applied to a C source) -----

describe('memset() and friends on the cache\'s objects', () => {
  const SRC_V1 = readFileSync(`${FIX}direct-io-v1.c`, 'utf8');
  const ONE = [{ ...CHECK_SCOPES[0]!, ops: 2 }];
  const TASK_PUSH = '\tif (in_task()) {\n\t\tdio->dio_next = cache->free_list;\n\t\tcache->free_list = dio;\n\t\tcache->nr++;';
  const IRQ_PUSH = '\t\tlockdep_assert_irqs_disabled();\n\t\tdio->dio_next = cache->free_list_irq;';
  const edit = (name: string, a: string, b: string) => {
    expect(SRC_V1.includes(a), a).toBe(true);
    const file = join(work, `${name}.c`);
    writeFileSync(file, SRC_V1.replace(a, b));
    return file;
  };
  const refusal = (file: string) =>
    check({ file, scopes: ONE }).then(
      () => null,
      (x: unknown) => x,
    );

  it('zeroing a recycled dio before it is linked conforms; zeroing it after clobbers dio_next: the rest of the list is lost', async () => {
    const before = await check({
      file: edit('memset-before-push', TASK_PUSH, '\tif (in_task()) {\n\t\tmemset(dio, 0, sizeof(*dio));\n\t\tdio->dio_next = cache->free_list;\n\t\tcache->free_list = dio;\n\t\tcache->nr++;'),
      scopes: ONE,
    });
    expect(before.verdict).toBe('conforms');
    // The statement runs: it is a boundary of the put, hit in the search.
    const put = before.coverage!.functions.find((f) => f.name === 'dio_put_percpu_cache')!;
    expect(put.statements.find((x) => x.text.startsWith('memset(dio, 0, sizeof(*dio));'))!.hits).toBeGreaterThan(0);
    const after = await check({
      file: edit('memset-after-push', TASK_PUSH, '\tif (in_task()) {\n\t\tdio->dio_next = cache->free_list;\n\t\tcache->free_list = dio;\n\t\tmemset(dio, 0, sizeof(*dio));\n\t\tcache->nr++;'),
      scopes: ONE,
    });
    expect(after.verdict).toBe('violation');
    const ids = after.violations.map((v) => v.id);
    expect(ids).toContain('nr-accuracy');
    expect(ids).toContain('object-safety');
    expect(after.violations.find((v) => v.id === 'object-safety')!.message).toMatch(/was lost: live, but on no list/);
  });

  it('memset() with a size past the object is slab-out-of-bounds (crash), with the call, the bytes and the object', async () => {
    const r = await check({ file: edit('memset-past-end', IRQ_PUSH, '\t\tlockdep_assert_irqs_disabled();\n\t\tmemset(dio, 0, sizeof(*dio) + sizeof(long));\n\t\tdio->dio_next = cache->free_list_irq;'), scopes: ONE });
    expect(r.verdict).toBe('violation');
    const v = r.violations.find((x) => x.id === 'crash')!;
    expect(v.message).toMatch(/slab-out-of-bounds \(KASAN\): memset\(dio, 0, sizeof\(\*dio\) \+ sizeof\(long\)\) writes bytes 0\.\.95 of #\d+, a struct iomap_dio of 88 bytes/);
    // Reached by a hardirq completion's put in the search, not at boot.
    expect(v.steps.some((s) => s.who.endsWith('/hardirq'))).toBe(true);
  });

  it('a print reads its arguments: pr_err() of a field of the freed dio is a use after free', async () => {
    const r = await check({ file: edit('pr-err-after-free', '\tput_cpu();\n\tkfree(dio);\n}', '\tput_cpu();\n\tkfree(dio);\n\tpr_err("%s: freed %p\\n", __func__, dio->dio_next);\n}'), scopes: ONE });
    expect(r.verdict).toBe('violation');
    expect(r.violations.find((v) => v.id === 'object-safety')!.message).toMatch(/use after free of #\d+\+\d+: dio->dio_next/);
  });

  it('calls the checker does not model are refused before exploring, naming the call and its line', async () => {
    const fill = await refusal(edit('memset-nonzero', TASK_PUSH, TASK_PUSH.replace('\tif (in_task()) {\n', '\tif (in_task()) {\n\t\tmemset(dio, POISON_INUSE, sizeof(*dio));\n')));
    // POISON_INUSE is no constant the checker knows (a binding can define it); a literal fill is refused as such.
    expect((fill as Error).message).toMatch(/unknown identifier POISON_INUSE at memset-nonzero\.c:89/);
    const lit = await refusal(edit('memset-0x5a', TASK_PUSH, TASK_PUSH.replace('\tif (in_task()) {\n', '\tif (in_task()) {\n\t\tmemset(dio, 0x5a, sizeof(*dio));\n')));
    expect(lit).toBeInstanceOf(UsageError);
    expect((lit as Error).message).toMatch(/^unsupported C: memset-0x5a\.c:89: memset\(dio, 0x5a, sizeof\(\*dio\)\): a non-zero memset\(\) fill is not modelled/);
  });

  it('a CPU-hotplug state with a startup callback (run on every CPU that comes online) is refused, in v3\'s create helper', async () => {
    const v3 = readFileSync(`${FIX}v3-as-posted.patch`, 'utf8');
    const ret = '+\t}\n+\treturn pcpu_cache_list;\n+}';
    expect(v3.includes(ret)).toBe(true);
    const file = join(work, 'cpuhp-startup.patch');
    writeFileSync(file, recount(v3.replace(ret, '+\t}\n+\tcpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "fs/iomap:online", dio_cpu_online, NULL);\n+\treturn pcpu_cache_list;\n+}')));
    const e = await refusal(file);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^unsupported C: direct-io\.c:\d+: cpuhp_setup_state\(.*\): the startup callback dio_cpu_online is not modelled .* \(in pcpu_cache_list_create\(\)/);
  });
});
