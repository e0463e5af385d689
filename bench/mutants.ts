/**
 * A mutation survey of the seed patch: where is `dio-cache check` blind?
 *
 * Generates a fixed list of single mutations of the C the seed patch adds (the three cache
 * functions, the initcall, the call sites in `__iomap_dio_rw()`/`iomap_dio_complete()`, the
 * macros): delete one statement, swap two adjacent statements, flip one comparison, drop one
 * READ_ONCE()/WRITE_ONCE(), get_cpu()/put_cpu() → raw_smp_processor_id()/nothing in one function,
 * in_task() ↔ in_hardirq(), local_irq_save/restore → nothing, free_list ↔ free_list_irq (and
 * nr ↔ nr_irq) in one statement, ++ ↔ -- (and += ↔ -=), MAX/THRESHOLD ± 1 at a use or a definition.
 * Each mutant is the seed email with that one edit to its `+` lines and the hunk headers
 * recounted (as test/fixtures/c/make-fixtures.py does), written to dio-cache-out/mutants/ID.patch
 * so that any row can be checked again by hand (`dio-cache check dio-cache-out/mutants/ID.patch
 * --scope ...`). Then `check()` runs each on the default scopes (CHECK_SCOPES) with a time budget
 * and the script prints one row per mutant and the summary: caught (exit 1), survived (conforms),
 * input error (exit 2), incomplete (budget spent before every scope ran), checker error (anything
 * else thrown: a bug of the checker). No randomness: the list is the same on every run.
 *
 *   npx tsx bench/mutants.ts [--budget S] [--only REGEX] [--list] [--write-only]
 *
 * `--budget` is seconds per mutant (default 60). `--only` checks the mutants whose id matches.
 * `--list` prints the mutants without writing or checking them; `--write-only` writes the patches
 * and stops. Results go to dio-cache-out/mutants/results.json too. Ctrl-C stops after the current
 * mutant's check (which it interrupts) and prints what was found so far. Run it at `nice -n 10`
 * on a shared machine: about 10 s a mutant on one core.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check } from '../conformance/c/run.js';
import { UsageError } from '../conformance/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const OUT = join(ROOT, 'dio-cache-out/mutants');
/** The profile the checker infers for the seed. */
const SEED_PROFILE = 'iomap-v1';
/** The post-image file name the checker prints in `file:line`. */
const FILE = 'direct-io.c';

// ---------------------------------------------------------------------------------------------
// The seed as lines, with its hunks

interface Hunk {
  /** Index of the `@@` line. */
  header: number;
  /** Body lines: [from, to). */
  from: number;
  to: number;
  oldStart: number;
  oldCount: number;
  newStart: number;
  section: string;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/;

function hunksOf(lines: readonly string[]): Hunk[] {
  const hunks: Hunk[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = HUNK.exec(lines[i]!);
    if (!m) continue;
    const oldCount = Number(m[2] ?? 1);
    const newCount = Number(m[4] ?? 1);
    let old = 0;
    let nw = 0;
    let j = i + 1;
    // The counts say where the body ends (the mail's `-- ` signature would read as a removal).
    while (old < oldCount || nw < newCount) {
      const c = lines[j]![0];
      if (c === '-') old++;
      else if (c === '+') nw++;
      else if (c === ' ' || lines[j] === '') (old++, nw++);
      else throw new Error(`seed hunk at line ${i + 1}: unexpected line ${j + 1}`);
      j++;
    }
    hunks.push({ header: i, from: i + 1, to: j, oldStart: Number(m[1]), oldCount, newStart: Number(m[3]), section: m[5]! });
    i = j - 1;
  }
  return hunks;
}

/** An edit of the seed: original line index → the lines that replace it (none: deleted). */
type Edit = Map<number, string[]>;

/** The seed with `edit` applied and every hunk header recounted. */
function render(lines: readonly string[], hunks: readonly Hunk[], edit: Edit): string {
  const out: string[] = [];
  let shift = 0;
  let h = 0;
  for (let i = 0; i < lines.length; i++) {
    const hk = hunks[h];
    if (hk && i === hk.header) {
      const body: string[] = [];
      for (let j = hk.from; j < hk.to; j++) body.push(...(edit.get(j) ?? [lines[j]!]));
      let nw = 0;
      let old = 0;
      for (const l of body) {
        if (l[0] === '+') nw++;
        else if (l[0] === '-') old++;
        else (nw++, old++);
      }
      if (old !== hk.oldCount) throw new Error('an edit touched a line of the pre-image');
      out.push(`@@ -${hk.oldStart},${hk.oldCount} +${hk.oldStart + shift},${nw} @@${hk.section}`);
      shift += nw - old;
      out.push(...body);
      i = hk.to - 1;
      h++;
      continue;
    }
    out.push(...(edit.get(i) ?? [lines[i]!]));
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Statements of the added C (the seed's style: one statement a line, K&R braces)

interface Stmt {
  /** Line indices in the seed, inclusive. */
  start: number;
  end: number;
  kind: 'decl' | 'simple' | 'if';
  /** The blocks (or single-statement bodies) of an if chain. */
  blocks: Stmt[][];
}

interface Region {
  /** Short name used in mutant ids. */
  name: string;
  /** The C function the lines belong to. */
  fn: string;
  /** Added lines of the region, seed indices in order. */
  lines: number[];
  /** Top-level statements, split into runs that no label or blank-free boundary joins. */
  body: Stmt[][];
}

const text = (lines: readonly string[], i: number) => lines[i]!.slice(1);
const trim = (lines: readonly string[], i: number) => text(lines, i).trim();

/** Index of the line where the brace opened on line `i` (its last `{`) closes. */
function closeOf(lines: readonly string[], i: number): number {
  let depth = 0;
  for (let j = i; ; j++) {
    const t = text(lines, j);
    // On the opening line count from its last `{` (a `} else {` line opens after closing).
    const from = j === i ? t.lastIndexOf('{') : 0;
    for (let k = from; k < t.length; k++) {
      if (t[k] === '{') depth++;
      else if (t[k] === '}' && --depth === 0) return j;
    }
  }
}

/**
 * The statements in seed lines [from, to), which must all be added lines. A label ends a run:
 * statements on either side of one are not swapped (the label would move with neither).
 */
function parseRuns(lines: readonly string[], from: number, to: number): Stmt[][] {
  const runs: Stmt[][] = [[]];
  let i = from;
  while (i < to) {
    if (lines[i]![0] !== '+') throw new Error(`line ${i + 1} is not an added line`);
    const t = trim(lines, i);
    if (t === '' || t.startsWith('/*') || t.startsWith('//')) {
      i++;
      continue;
    }
    if (/^\w+:$/.test(t)) {
      runs.push([]);
      i++;
      continue;
    }
    const s = parseOne(lines, i);
    runs[runs.length - 1]!.push(s);
    i = s.end + 1;
  }
  return runs.filter((r) => r.length);
}

function parseOne(lines: readonly string[], i: number): Stmt {
  const t = trim(lines, i);
  if (/^if\s*\(/.test(t)) {
    const blocks: Stmt[][] = [];
    if (!t.endsWith('{')) {
      const body = parseOne(lines, i + 1);
      return { start: i, end: body.end, kind: 'if', blocks: [[body]] };
    }
    let open = i;
    for (;;) {
      const close = closeOf(lines, open);
      blocks.push(parseRuns(lines, open + 1, close).flat());
      const c = trim(lines, close);
      if (/^}\s*else\b/.test(c) && c.endsWith('{')) open = close;
      else return { start: i, end: close, kind: 'if', blocks };
    }
  }
  let j = i;
  while (!trim(lines, j).endsWith(';')) j++;
  const decl = /^(struct\s+\w+|unsigned\s+long|unsigned|int|long)\s+\**\w+;$/.test(t);
  return { start: i, end: j, kind: decl ? 'decl' : 'simple', blocks: [] };
}

function allStmts(runs: Stmt[][]): Stmt[] {
  const out: Stmt[] = [];
  const visit = (s: Stmt) => {
    out.push(s);
    for (const b of s.blocks) for (const x of b) visit(x);
  };
  for (const r of runs) for (const s of r) visit(s);
  return out;
}

/** Sibling runs: the top-level runs and every block of every if. */
function siblingRuns(runs: Stmt[][]): Stmt[][] {
  const out: Stmt[][] = [];
  const visit = (r: Stmt[]) => {
    out.push(r);
    for (const s of r) for (const b of s.blocks) visit(b);
  };
  for (const r of runs) visit(r);
  return out;
}

/** The regions: each cache function's body, and each hunk's added lines in a caller or the initcall. */
function regionsOf(lines: readonly string[], hunks: readonly Hunk[]): Region[] {
  const regions: Region[] = [];
  const short: Record<string, string> = {
    dio_alloc_irq_cache_splice: 'splice',
    dio_alloc_percpu_cache: 'alloc',
    dio_put_percpu_cache: 'put',
    iomap_dio_complete: 'complete',
    __iomap_dio_rw: 'rw',
    iomap_dio_init: 'init',
  };
  for (const h of hunks) {
    // The function a hunk's lines belong to: the one they define, else the one git names.
    let inFn: string | null = null;
    for (let i = h.from; i < h.to; i++) {
      if (lines[i]![0] !== '+') continue;
      const t = text(lines, i);
      const def = /^static\s.*?\b(\w+)\(.*\)$/.exec(t);
      if (def && lines[i + 1] === '+{') {
        const close = closeOf(lines, i + 1);
        const fn = def[1]!;
        const body = parseRuns(lines, i + 2, close);
        const ls: number[] = [];
        for (let j = i + 2; j < close; j++) ls.push(j);
        regions.push({ name: short[fn] ?? fn, fn, lines: ls, body });
        i = close;
        continue;
      }
      if (inFn === null) inFn = /\b(\w+)\s*\(/.exec(h.section)?.[1] ?? '?';
      // A run of added lines inside the hunk's function: a call site or the initcall.
      if (h.header === hunks[0]!.header) continue; // the struct member, macros, static: definitions, not statements
      let j = i;
      while (j < h.to && lines[j]![0] === '+') j++;
      const base = short[inFn] ?? inFn;
      const n = regions.filter((r) => r.fn === inFn).length;
      const ls: number[] = [];
      for (let k = i; k < j; k++) ls.push(k);
      regions.push({ name: n ? `${base}${n + 1}` : base, fn: inFn, lines: ls, body: parseRuns(lines, i, j) });
      i = j - 1;
    }
  }
  return regions;
}

// ---------------------------------------------------------------------------------------------
// Mutants

interface Mutant {
  id: string;
  op: string;
  /** `file:line` (the seed's post-image) of the first line changed. */
  at: string;
  before: string;
  after: string;
  edit: Edit;
}

/** Post-image line numbers of the seed's added and context lines. */
function postLines(lines: readonly string[], hunks: readonly Hunk[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const h of hunks) {
    let n = h.newStart;
    for (let i = h.from; i < h.to; i++) if (lines[i]![0] !== '-') m.set(i, n++);
  }
  return m;
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
const snippet = (lines: readonly string[], s: Stmt) => {
  const first = trim(lines, s.start);
  return s.end > s.start ? `${first} … (${s.end - s.start + 1} lines)` : first;
};

/** Occurrences of `re` in `t` that `ok` accepts: [index, match]. */
function occurrences(t: string, re: RegExp, ok: (t: string, i: number, m: string) => boolean = () => true): [number, string][] {
  const out: [number, string][] = [];
  for (const m of t.matchAll(new RegExp(re.source, 'g'))) if (ok(t, m.index, m[0])) out.push([m.index, m[0]]);
  return out;
}

/** The end of the balanced parenthesis opened at `open`. */
function closeParen(t: string, open: number): number {
  let d = 0;
  for (let k = open; k < t.length; k++) {
    if (t[k] === '(') d++;
    else if (t[k] === ')' && --d === 0) return k;
  }
  throw new Error(`unbalanced: ${t}`);
}

function mutantsOf(lines: readonly string[], hunks: readonly Hunk[]): Mutant[] {
  const post = postLines(lines, hunks);
  const at = (i: number) => `${FILE}:${post.get(i)}`;
  const regions = regionsOf(lines, hunks);
  const out: Mutant[] = [];
  const counter = new Map<string, number>();
  const add = (op: string, region: string, m: Omit<Mutant, 'id' | 'op'>) => {
    const key = `${op}-${region}`;
    const n = (counter.get(key) ?? 0) + 1;
    counter.set(key, n);
    out.push({ id: `${key}-${n}`, op, ...m });
  };
  /** One line's text replaced (the `+` kept). */
  const lineEdit = (i: number, t: string): Edit => new Map([[i, [`+${t}`]]]);

  for (const r of regions) {
    // Delete one statement (an if with everything it guards).
    for (const s of allStmts(r.body)) {
      const e: Edit = new Map();
      for (let i = s.start; i <= s.end; i++) e.set(i, []);
      add('delete', r.name, { at: at(s.start), before: snippet(lines, s), after: '(deleted)', edit: e });
    }
    // Swap two adjacent statements of one block (two declarations: always equivalent, not made).
    for (const run of siblingRuns(r.body))
      for (let k = 0; k + 1 < run.length; k++) {
        const a = run[k]!;
        const b = run[k + 1]!;
        if (a.kind === 'decl' && b.kind === 'decl') continue;
        const e: Edit = new Map();
        const la: string[] = [];
        const lb: string[] = [];
        for (let i = a.start; i <= a.end; i++) (la.push(lines[i]!), e.set(i, []));
        for (let i = b.start; i <= b.end; i++) (lb.push(lines[i]!), e.set(i, []));
        e.set(a.start, lb);
        e.set(b.start, la);
        add('swap', r.name, { at: at(a.start), before: `${snippet(lines, a)} ; ${snippet(lines, b)}`, after: `${snippet(lines, b)} ; ${snippet(lines, a)}`, edit: e });
      }
  }

  // Token edits, line by line, over the regions' lines and the macro definitions.
  const tokenLines: { i: number; region: string }[] = [];
  for (const r of regions) for (const i of r.lines) tokenLines.push({ i, region: r.name });
  for (let i = hunks[0]!.from; i < hunks[0]!.to; i++) if (/^\+#define\s/.test(lines[i]!)) tokenLines.push({ i, region: 'macro' });
  tokenLines.sort((x, y) => x.i - y.i);
  const FLIP: Record<string, string> = { '>': '>=', '>=': '>', '<': '<=', '<=': '<', '==': '!=', '!=': '==' };
  for (const { i, region } of tokenLines) {
    const t = text(lines, i);
    if (/^\s*(\/\*|\/\/)/.test(t)) continue;
    const edit = (op: string, pos: number, len: number, by: string) => {
      const nt = t.slice(0, pos) + by + t.slice(pos + len);
      add(op, region, { at: at(i), before: t.trim(), after: nt.trim(), edit: lineEdit(i, nt) });
    };
    // Comparisons, not `->`, `>>`, `<<`.
    for (const [p, m] of occurrences(t, /[<>]=?|[=!]=/, (s, k, m) => {
      if (m === '>' && (s[k - 1] === '-' || s[k - 1] === '>' || s[k + 1] === '>')) return false;
      if (m === '<' && (s[k - 1] === '<' || s[k + 1] === '<')) return false;
      return true;
    }))
      edit('flip', p, m.length, FLIP[m]!);
    for (const [p] of occurrences(t, /\bREAD_ONCE\(/)) {
      const close = closeParen(t, p + 'READ_ONCE'.length);
      edit('unwrap', p, close + 1 - p, t.slice(p + 'READ_ONCE('.length, close));
    }
    for (const [p] of occurrences(t, /\bWRITE_ONCE\(/)) {
      const close = closeParen(t, p + 'WRITE_ONCE'.length);
      const [lhs, ...rhs] = t.slice(p + 'WRITE_ONCE('.length, close).split(',');
      edit('unwrap', p, close + 1 - p, `${lhs!.trim()} = ${rhs.join(',').trim()}`);
    }
    for (const [p, m] of occurrences(t, /\bin_(task|hardirq)\(\)/)) edit('context', p, m.length, m === 'in_task()' ? 'in_hardirq()' : 'in_task()');
    for (const [p, m] of occurrences(t, /\+\+|--|[+-]=/)) edit('incdec', p, m.length, { '++': '--', '--': '++', '+=': '-=', '-=': '+=' }[m]!);
    // MAX/THRESHOLD off by one: at a use, and at the definition (which the checker rescales).
    const def = /^#define\s+(DIO_ALLOC_CACHE_\w+)\s+(\d+)/.exec(t);
    if (def) {
      const p = t.lastIndexOf(def[2]!);
      for (const d of [1, -1]) edit('offbyone', p, def[2]!.length, String(Number(def[2]) + d));
    } else
      for (const [p, m] of occurrences(t, /\bDIO_ALLOC_CACHE_(MAX|THRESHOLD)\b/)) for (const d of ['+ 1', '- 1']) edit('offbyone', p, m.length, `(${m} ${d})`);
    // free_list ↔ free_list_irq (and nr ↔ nr_irq) in this one statement line.
    const swapWords = (op: string, a: string, b: string) => {
      const re = new RegExp(`\\b(${a}|${b})\\b`, 'g');
      if (!re.test(t)) return;
      const nt = t.replace(re, (w) => (w === a ? b : a));
      add(op, region, { at: at(i), before: t.trim(), after: nt.trim(), edit: lineEdit(i, nt) });
    };
    if (region !== 'macro') {
      swapWords('lists', 'free_list', 'free_list_irq');
      swapWords('counters', 'nr', 'nr_irq');
    }
  }

  // Whole-function edits.
  for (const r of regions) {
    const gets = r.lines.filter((i) => /\bget_cpu\(\)/.test(lines[i]!));
    const puts = r.lines.filter((i) => /^\s*put_cpu\(\);\s*$/.test(text(lines, i)));
    if (gets.length) {
      const e: Edit = new Map();
      for (const i of gets) e.set(i, [lines[i]!.replace(/\bget_cpu\(\)/g, 'raw_smp_processor_id()')]);
      for (const i of puts) e.set(i, []);
      add('nopreempt', r.name, { at: at(gets[0]!), before: `get_cpu() / ${puts.length} × put_cpu()`, after: 'raw_smp_processor_id() / nothing', edit: e });
    }
    const irq = r.lines.filter((i) => /^\s*local_irq_(save|restore)\(\w+\);\s*$/.test(text(lines, i)));
    if (irq.length) {
      const e: Edit = new Map(irq.map((i) => [i, []]));
      add('noirqsave', r.name, { at: at(irq[0]!), before: 'local_irq_save(flags) … local_irq_restore(flags)', after: 'nothing', edit: e });
    }
    const ctx = r.lines.filter((i) => /\bin_(task|hardirq)\(\)/.test(lines[i]!));
    if (ctx.length > 1) {
      const e: Edit = new Map(ctx.map((i) => [i, [lines[i]!.replace(/\bin_(task|hardirq)\(\)/g, (w) => (w === 'in_task()' ? 'in_hardirq()' : 'in_task()'))]]));
      add('context', r.name, { at: at(ctx[0]!), before: 'in_task() … in_hardirq()', after: 'in_hardirq() … in_task()', edit: e });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checking

type Outcome = 'caught' | 'survived' | 'input error' | 'incomplete' | 'checker error';

interface Row {
  id: string;
  op: string;
  at: string;
  before: string;
  after: string;
  outcome: Outcome;
  ids: string[];
  warnings: string[];
  coverageWarnings: number;
  /** The profile the checker judged it against (the seed's is iomap-v1), and the largest nr + nr_irq it reached. */
  profile: string;
  maxCached: number;
  states: number;
  seconds: number;
  message?: string;
}

function parseArgs(argv: string[]) {
  const o = { budget: 60, only: null as RegExp | null, list: false, writeOnly: false };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const val = () => {
      const v = argv[++k];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--budget') {
      o.budget = Number(val());
      if (!(o.budget > 0)) fail('--budget: seconds per mutant, a positive number');
    } else if (a === '--only') {
      const v = val();
      try {
        o.only = new RegExp(v);
      } catch {
        fail(`--only ${v}: not a regular expression`);
      }
    } else if (a === '--list') o.list = true;
    else if (a === '--write-only') o.writeOnly = true;
    else fail(`unknown flag ${a} (flags: --budget S, --only REGEX, --list, --write-only)`);
  }
  return o;
}

function fail(m: string): never {
  process.stderr.write(`mutants: ${m}\n`);
  process.exit(2);
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function printTable(rows: readonly Row[]): void {
  console.log(`${pad('mutant', 22)} ${pad('at', 16)} ${pad('change', 70)} ${pad('verdict', 13)} ${pad('ids', 34)} ${pad('states', 7)} s`);
  for (const r of rows) {
    const change = `${r.before} → ${r.after}`;
    const ids =
      r.outcome === 'input error' || r.outcome === 'checker error'
        ? (r.message ?? '').slice(0, 60)
        : `${r.ids.join(',')}${r.profile && r.profile !== SEED_PROFILE ? `${r.ids.length ? ' ' : ''}(as ${r.profile})` : ''}`;
    console.log(`${pad(r.id, 22)} ${pad(r.at, 16)} ${pad(change.length > 70 ? `${change.slice(0, 69)}…` : change, 70)} ${pad(r.outcome, 13)} ${pad(ids, 34)} ${pad(String(r.states), 7)} ${r.seconds.toFixed(1)}`);
  }
}

function summary(rows: readonly Row[], total: number): void {
  const by = (o: Outcome) => rows.filter((r) => r.outcome === o).length;
  const caught = by('caught');
  const survived = by('survived');
  const scored = caught + survived;
  console.log(
    `\n${rows.length}/${total} mutants checked: ${caught} caught, ${survived} survived, ${by('input error')} input error, ${by('incomplete')} incomplete, ${by('checker error')} checker error` +
      (scored ? ` (caught ${((100 * caught) / scored).toFixed(0)}% of those with a verdict)` : ''),
  );
  const ops = [...new Set(rows.map((r) => r.op))];
  for (const op of ops) {
    const rs = rows.filter((r) => r.op === op);
    console.log(`  ${pad(op, 10)} ${rs.length} checked: ${rs.filter((r) => r.outcome === 'caught').length} caught, ${rs.filter((r) => r.outcome === 'survived').length} survived, ${rs.filter((r) => r.outcome === 'input error').length} input error, ${rs.filter((r) => r.outcome === 'incomplete').length} incomplete`);
  }
  const surv = rows.filter((r) => r.outcome === 'survived');
  if (surv.length) {
    console.log('\nsurvivors (check each again with a bigger scope: npx tsx conformance/cli/main.ts check dio-cache-out/mutants/ID.patch --scope ...):');
    for (const r of surv)
      console.log(`  ${r.id}: ${r.at}: ${r.before} → ${r.after}${r.profile !== SEED_PROFILE ? ` (judged as ${r.profile})` : ''}${r.coverageWarnings ? ` (${r.coverageWarnings} coverage warnings)` : ''}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const seedText = readFileSync(SEED, 'utf8');
  const lines = seedText.split('\n');
  const hunks = hunksOf(lines);
  // The renderer with no edit must give the seed back byte for byte.
  if (render(lines, hunks, new Map()) !== seedText) throw new Error('render(seed) differs from the seed');
  const all = mutantsOf(lines, hunks);
  const ids = new Set(all.map((m) => m.id));
  if (ids.size !== all.length) throw new Error('duplicate mutant ids');
  const chosen = all.filter((m) => !o.only || o.only.test(m.id));
  if (o.list) {
    for (const m of chosen) console.log(`${pad(m.id, 22)} ${pad(m.at, 16)} ${m.before} → ${m.after}`);
    console.log(`${chosen.length} of ${all.length} mutants`);
    return;
  }
  mkdirSync(OUT, { recursive: true });
  const files = new Map<string, string>();
  for (const m of chosen) {
    const patch = render(lines, hunks, m.edit);
    if (patch === seedText) throw new Error(`${m.id}: no change`);
    // ASCII only: the checker reads the mail as latin1.
    const header = `Mutant of the seed patch (bench/mutants.ts): ${m.id}\nEdit: ${m.at}: ${oneLine(m.before).replace(/…/g, '...')} -> ${oneLine(m.after).replace(/…/g, '...')}\n\n`;
    const file = join(OUT, `${m.id}.patch`);
    writeFileSync(file, header + patch);
    files.set(m.id, file);
  }
  process.stderr.write(`${chosen.length} of ${all.length} mutants written to ${relative(process.cwd(), OUT) || '.'}/\n`);
  if (o.writeOnly) return;

  const ac = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: finishing with what was found so far (Ctrl-C again to quit)\n');
    ac.abort();
  });

  // The seed first: every verdict below is relative to its conforming on the same scopes.
  const seed = await check({ file: SEED, maxSeconds: o.budget * 3 });
  if (seed.verdict !== 'conforms') fail(`the seed itself does not conform (${seed.verdict}: ${seed.violations.map((v) => v.id).join(', ')})`);
  if (seed.profile.name !== SEED_PROFILE) fail(`the seed is judged as ${seed.profile.name}, not ${SEED_PROFILE}: the survey's baseline has changed`);
  const seedWarnings = seed.warnings.map((w) => w.id);
  process.stderr.write(`seed: conforms, ${seed.stats.states} states, ${seed.stats.seconds.toFixed(1)} s; warnings ${seedWarnings.join(', ') || 'none'}\n`);

  const rows: Row[] = [];
  const t0 = performance.now();
  for (const m of chosen) {
    if (interrupted) break;
    const file = files.get(m.id)!;
    const t = performance.now();
    const base = { id: m.id, op: m.op, at: m.at, before: oneLine(m.before), after: oneLine(m.after) };
    let row: Row;
    try {
      const r = await check({ file, maxSeconds: o.budget, signal: ac.signal });
      const outcome: Outcome = r.verdict === 'violation' ? 'caught' : r.verdict === 'conforms' ? 'survived' : 'incomplete';
      row = {
        ...base,
        outcome,
        ids: [...new Set(r.violations.map((v) => v.id))],
        warnings: r.warnings.map((w) => w.id).filter((w) => !seedWarnings.includes(w)),
        coverageWarnings: r.coverage?.warnings.length ?? 0,
        profile: r.profile.name,
        maxCached: r.extremes.maxCached,
        states: r.stats.states,
        seconds: (performance.now() - t) / 1000,
      };
    } catch (e) {
      const usage = e instanceof UsageError;
      row = {
        ...base,
        outcome: usage ? 'input error' : 'checker error',
        ids: [],
        warnings: [],
        coverageWarnings: 0,
        profile: '',
        maxCached: 0,
        states: 0,
        seconds: (performance.now() - t) / 1000,
        message: oneLine(e instanceof Error ? e.message : String(e)),
      };
    }
    rows.push(row);
    const n = rows.length;
    const eta = ((performance.now() - t0) / 1000 / n) * (chosen.length - n);
    process.stderr.write(`[${n}/${chosen.length}] ${m.id}: ${row.outcome}${row.ids.length ? ` (${row.ids.join(', ')})` : ''}${row.message ? ` (${row.message.slice(0, 100)})` : ''} ${row.seconds.toFixed(1)} s; about ${Math.round(eta)} s left\n`);
  }
  printTable(rows);
  summary(rows, chosen.length);
  writeFileSync(join(OUT, 'results.json'), JSON.stringify({ budget: o.budget, seed: { states: seed.stats.states, warnings: seedWarnings }, rows }, null, 2) + '\n');
  process.stderr.write(`results: ${relative(process.cwd(), join(OUT, 'results.json'))}\n`);
}

await main();
