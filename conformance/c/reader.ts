/**
 * The reader: what did the user hand us? A TypeScript/JavaScript module, a patch as posted (an
 * email with the diff inside, possibly followed by replies that quote it), a plain unified diff,
 * or a C source file. For C it produces the post-image: the text a compiler would see after the
 * patch, as far as the hunks show it, with every line mapped back to `file:line` of the
 * post-image so that reports speak the patch's line numbers.
 *
 * A patch only shows hunks. Each hunk is split by brace depth into the complete top-level
 * constructs it contains (structs, macros, statics, whole functions: parsed as C) and the
 * fragments at its edges (the inside of a function or struct that begins or ends outside the
 * hunk): kept as lines, because the caller's allocation (`__iomap_dio_rw`) and the put in
 * `iomap_dio_complete` live in such fragments.
 */
import { UsageError } from '../errors.js';

export type InputKind = 'module' | 'email' | 'diff' | 'c';

/** One line of the post-image. */
export interface SrcLine {
  text: string;
  file: string;
  /** Post-image line number (1-based). */
  line: number;
}

/** A run of post-image lines from one hunk (or the whole file). */
export interface Hunk {
  file: string;
  /** `@@ ... @@ <section>`: the enclosing construct git named, or '' for a whole file. */
  section: string;
  lines: SrcLine[];
  /** Lines the diff removes, each at the post-image line it would have preceded. */
  removed?: SrcLine[];
}

/** Lines inside a construct (function or struct) whose start or end lies outside the hunk. */
export interface Fragment {
  file: string;
  section: string;
  /** Brace depth of the first line relative to file scope (1 = directly in a function body). */
  depth: number;
  lines: SrcLine[];
  /** 'head': the construct started before the hunk; 'tail': it ends after it. */
  edge: 'head' | 'tail';
}

export interface PostImage {
  kind: Exclude<InputKind, 'module'>;
  /** Files the patch touches (or the C file). */
  files: string[];
  /** Complete top-level C text, with one SrcLine per line (the parser's line i is lines[i]). */
  complete: SrcLine[];
  fragments: Fragment[];
  /** Lines the patch adds, `file:line` keys (a patch's own statements; all lines of a C file). */
  added: Set<string>;
  /** The `#if CONFIG_*` conditionals resolved (resolveConfig), for the report: `CONFIG_X off (bio.c:214)`. */
  config?: string[];
  /** Frees the diff removes without handing the object to anything else in the same hunk (droppedFrees). */
  droppedFrees?: DroppedFree[];
  /** Allocations the diff removes with the object then used before anything assigns it (droppedAllocsOf). */
  droppedAllocs?: DroppedAlloc[];
}

/** A `dio = kmalloc(...);` the diff removes, after which the post-image uses `dio` before assigning it. */
export interface DroppedAlloc extends DroppedFree {
  /** The first post-image line that uses the object, trimmed, and where it is. */
  use: string;
  useAt: string;
}

/** A `kfree(dio);` the diff removes, with nothing in its hunk that takes `dio` instead. */
export interface DroppedFree {
  /** The removed line, trimmed. */
  text: string;
  obj: string;
  /** `direct-io.c:214`: where the line was. */
  at: string;
  /** The function the hunk is in, as git names it. */
  section: string;
}

const MODULE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;

/**
 * An email saved from a mail client may carry its body quoted-printable (`=09` for a tab, `=3D`
 * for `=`, `=` at the end of a folded line) or base64: decoded here, so that the diff inside reads
 * as posted. `text` is read as latin1, one char per byte, and the result keeps that convention.
 */
export function decodeMail(text: string): string {
  const header = /^Content-Transfer-Encoding:[ \t]*(quoted-printable|base64)[ \t]*\r?$/im.exec(text);
  if (!header) return text;
  const diffAt = text.search(/^(diff --git |--- |\+\+\+ |@@ )/m);
  if (diffAt >= 0 && diffAt < header.index) return text;
  const blank = /\r?\n\r?\n/.exec(text.slice(header.index));
  if (!blank) return text;
  const start = header.index + blank.index + blank[0].length;
  const body = text.slice(start);
  if (header[1]!.toLowerCase() === 'base64') {
    const b64 = /^[A-Za-z0-9+/=\r\n]+/.exec(body)?.[0] ?? '';
    return text.slice(0, start) + Buffer.from(b64.replace(/\s+/g, ''), 'base64').toString('latin1') + body.slice(b64.length);
  }
  const decoded = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return text.slice(0, start) + decoded;
}

/** Decides what kind of input `text` is. `path` is only used for its extension. */
export function detectKind(path: string, text: string): InputKind {
  if (MODULE_EXT.test(path)) return 'module';
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 65536)))
    throw new UsageError(`${path} is not a module, a patch or a C file (it holds binary data)`);
  const diffAt = findDiffStart(text.split('\n'));
  if (diffAt >= 0) {
    const head = text.split('\n').slice(0, diffAt).join('\n');
    return /^(From|Subject|Date|Posted by)[: ]|\[PATCH/m.test(head) ? 'email' : 'diff';
  }
  if (/^\s*(#\s*(include|define)|struct\s+\w+\s*\{|static\s|[A-Za-z_][\w\s\*]*\([^;]*\)\s*\{?\s*$)/m.test(text)) return 'c';
  throw new UsageError(`${path} is not a module (.ts/.js), a patch (email or unified diff) or a C file`);
}

/** Index of the first line of an unquoted diff: `diff --git`, or `--- ` followed by `+++ `. */
function findDiffStart(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('diff --git ')) return i;
    if (l.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ') && /^@@ /.test(lines[i + 2] ?? '')) return i;
  }
  return -1;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$/;

/**
 * Parses the first unquoted diff in `text` (an email's replies quote it with `> `, which never
 * starts a diff line) into post-image hunks of its C files.
 */
export function parseDiff(text: string, path: string): { hunks: Hunk[]; added: Set<string>; files: string[] } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const start = findDiffStart(lines);
  if (start < 0) throw new UsageError(`${path}: no unified diff found`);
  const hunks: Hunk[] = [];
  const added = new Set<string>();
  const files: string[] = [];
  let file = '';
  let i = start;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.startsWith('+++ ')) {
      file = l.slice(4).trim().replace(/^b\//, '').split('\t')[0]!;
      if (file !== '/dev/null' && !files.includes(file)) files.push(file);
      i++;
      continue;
    }
    const m = HUNK.exec(l);
    if (!m) {
      i++;
      continue;
    }
    let oldLeft = m[2] === undefined ? 1 : Number(m[2]);
    let newLeft = m[4] === undefined ? 1 : Number(m[4]);
    let newLine = Number(m[3]);
    const h: Hunk = { file, section: (m[5] ?? '').trim(), lines: [] };
    i++;
    // A hunk ends when both counts are used up; a truncated patch ends it early.
    while (i < lines.length && (oldLeft > 0 || newLeft > 0)) {
      const t = lines[i]!;
      const c = t[0];
      if (c === ' ' || t === '') {
        h.lines.push({ text: t.slice(1), file, line: newLine++ });
        oldLeft--;
        newLeft--;
      } else if (c === '+') {
        h.lines.push({ text: t.slice(1), file, line: newLine });
        added.add(`${file}:${newLine}`);
        newLine++;
        newLeft--;
      } else if (c === '-') {
        (h.removed ??= []).push({ text: t.slice(1), file, line: newLine });
        oldLeft--;
      } else if (c === '\\') {
        /* "\ No newline at end of file" */
      } else break;
      i++;
    }
    if (/\.(c|h)$/.test(file)) hunks.push(h);
  }
  if (hunks.length === 0) throw new UsageError(`${path}: the diff has no hunks in a .c or .h file`);
  return { hunks, added, files: files.filter((f) => /\.(c|h)$/.test(f)) };
}

/**
 * Net `{`/`}` count of each line, ignoring comments, strings and character literals. A block
 * comment may span lines, so the lexer state carries over.
 */
export function braceDeltas(lines: readonly string[]): number[] {
  let inComment = false;
  return lines.map((text) => {
    let d = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (inComment) {
        if (ch === '*' && text[i + 1] === '/') {
          inComment = false;
          i++;
        }
        continue;
      }
      if (ch === '/' && text[i + 1] === '*') {
        inComment = true;
        i++;
      } else if (ch === '/' && text[i + 1] === '/') break;
      else if (ch === '"' || ch === "'") {
        for (i++; i < text.length && text[i] !== ch; i++) if (text[i] === '\\') i++;
      } else if (ch === '{') d++;
      else if (ch === '}') d--;
    }
    return d;
  });
}

/** Splits one hunk into its complete top-level text and its edge fragments. */
export function splitHunk(h: Hunk): { complete: SrcLine[]; fragments: Fragment[] } {
  const deltas = braceDeltas(h.lines.map((l) => l.text));
  let d = 0;
  let min = 0;
  const before: number[] = [];
  for (const x of deltas) {
    before.push(d);
    d += x;
    min = Math.min(min, d);
  }
  // Where the hunk starts: deep enough for every close it contains, and inside the section git
  // named when the first line is indented (kernel style puts top-level constructs in column 0).
  const firstText = h.lines.find((l) => l.text.trim() !== '');
  const indented = !!firstText && /^\s/.test(firstText.text) && h.section !== '';
  // A hunk that starts inside a signature spread over lines (`@@ ... @@ struct bio *blk_next_bio(struct
  // bio *bio, struct block_device *bdev,` and an indented parameter line) is at file scope: the
  // rest of that signature and the body after it are the head fragment.
  const opens = (t: string) => (t.match(/\(/g)?.length ?? 0) - (t.match(/\)/g)?.length ?? 0);
  // Git names the function a hunk is in by its first line, which for a long signature is cut
  // mid-list (`@@ ... @@ __iomap_dio_rw(struct kiocb *iocb, struct iov_iter *iter,`) also when
  // the hunk is deep in the body: only a first line that reads like more parameters is in it.
  const paramLine = (t: string) => !/;/.test(t) && !/^\s*(if|for|while|do|switch|return|goto|case|default|else|break|continue)\b/.test(t) && !/^\s*[\w.>-]+\s*(=|\+\+|--|\+=|-=)/.test(t);
  const inSignature = indented && opens(h.section) > 0 && min === 0 && paramLine(firstText!.text);
  const base = inSignature ? 0 : Math.max(-min, indented ? 1 : 0);
  const abs = (i: number) => before[i]! + base;
  const absAfter = (i: number) => before[i]! + deltas[i]! + base;
  const n = h.lines.length;
  let first = 0;
  while (first < n && abs(first) !== 0) first++;
  if (inSignature) {
    let depth = 0;
    let entered = false;
    first = n;
    for (let i = 0; i < n; i++) {
      depth += deltas[i]!;
      if (depth > 0) entered = true;
      if (entered && depth === 0) {
        first = i + 1;
        break;
      }
    }
  }
  let last = n - 1;
  while (last >= first && absAfter(last) !== 0) last--;
  // A declaration whose body opens after `last` (a signature spread over lines) belongs to the tail.
  const ended = (t: string) => /^\s*$|[;}]\s*$|^\s*#|\*\/\s*$/.test(t) && !/\\\s*$/.test(t);
  while (last >= first && !ended(h.lines[last]!.text)) last--;
  const fragments: Fragment[] = [];
  if (first > 0) fragments.push({ file: h.file, section: h.section, depth: inSignature ? 1 : base, lines: h.lines.slice(0, first), edge: 'head' });
  if (last + 1 < n && last + 1 >= first) {
    const tail = h.lines.slice(Math.max(last + 1, first));
    if (tail.length) fragments.push({ file: h.file, section: tail.find((l) => l.text.trim())?.text.trim() ?? '', depth: 0, lines: tail, edge: 'tail' });
  }
  return { complete: first <= last ? h.lines.slice(first, last + 1) : [], fragments };
}

/**
 * The members of a struct whose definition begins before the hunk (`@@ ... @@ struct iomap_dio {`):
 * the lines at the struct's own level after the last nested aggregate closes, up to its `};`.
 */
export function partialStructMembers(f: Fragment): SrcLine[] {
  const deltas = braceDeltas(f.lines.map((l) => l.text));
  let d = f.depth;
  let start = 0;
  for (let i = 0; i < f.lines.length; i++) {
    const after = d + deltas[i]!;
    if (after === 0) return f.lines.slice(start, i);
    if (d > 1 && after === 1) start = i + 1;
    d = after;
  }
  return f.lines.slice(start);
}

export function readPostImage(path: string, text: string, kind: Exclude<InputKind, 'module'>): PostImage {
  const file = path.split('/').pop() ?? path;
  const config: string[] = [];
  if (kind === 'c') {
    const lines = resolveConfig(
      text.split('\n').map((t, i) => ({ text: t.replace(/\r$/, ''), file, line: i + 1 })),
      config,
    );
    const added = new Set(lines.map((l) => `${file}:${l.line}`));
    return { kind, files: [file], complete: lines, fragments: [], added, config };
  }
  const { hunks, added, files } = parseDiff(text, path);
  const complete: SrcLine[] = [];
  const fragments: Fragment[] = [];
  const droppedFrees: DroppedFree[] = [];
  const droppedAllocs: DroppedAlloc[] = [];
  for (const h of hunks) {
    droppedFrees.push(...droppedFreesOf(h));
    droppedAllocs.push(...droppedAllocsOf(h));
    const s = splitHunk({ ...h, lines: resolveConfig(openComments(h.lines), config) });
    complete.push(...s.complete);
    fragments.push(...s.fragments);
  }
  return { kind, files, complete, fragments, added, config, droppedFrees, droppedAllocs };
}

/** A line without its one-line comments: what the diff readers match code against. */
function codeOf(text: string): string {
  return text.replace(/\/\*.*?\*\/|\/\/.*$/g, '');
}

const FREE_CALL = /^\s*(?:kfree|kvfree|kmem_cache_free\s*\(\s*[^,()]+\s*,|mempool_free)\s*\(?\s*(\w+)\s*[,)]/;

/**
 * A hunk that removes `kfree(dio);` and in whose post-image, from the removed line's place on, no
 * call takes `dio` as a whole argument and nothing returns or stores it: the object this path used to free is no longer
 * freed or given back (a put call deleted along with the kfree it replaced). Calls that only
 * read a member (`trace_x(dio->error)`) do not count as handing it on.
 */
export function droppedFreesOf(h: Hunk): DroppedFree[] {
  const out: DroppedFree[] = [];
  for (const r of h.removed ?? []) {
    const m = FREE_CALL.exec(r.text);
    if (!m) continue;
    const obj = m[1]!;
    const arg = new RegExp(`[(,]\\s*(?:\\([^()]*\\)\\s*)?${obj}\\s*[,)]|\\breturn\\s+${obj}\\b|=\\s*${obj}\\s*;`);
    // What runs after the removed line: the post-image from its place on (what came before it
    // in the hunk, `return dio;` above an `out_free:` label, is another path).
    if (h.lines.some((l) => l.line >= r.line && arg.test(codeOf(l.text)))) continue;
    out.push({ text: r.text.trim(), obj, at: where(r), section: h.section });
  }
  return out;
}

const ALLOC_ASSIGN = /^\s*(\w+)\s*=\s*(?:\([^()]*\)\s*)?(\w*alloc\w*)\s*\(/;

/**
 * A hunk that removes `dio = kmalloc(...);` (any `*alloc*()` call assigned to a plain name) and
 * whose post-image, from the removed line's place on, next mentions `dio` in a line that does not
 * assign it (`if (!dio)`), with nothing before that place in the hunk assigning it either: the
 * allocation went and no other took its place, so `dio` is read uninitialised (gcc's
 * -Wmaybe-uninitialized). A hunk that never mentions `dio` again says nothing either way.
 */
export function droppedAllocsOf(h: Hunk): DroppedAlloc[] {
  const out: DroppedAlloc[] = [];
  for (const r of h.removed ?? []) {
    const m = ALLOC_ASSIGN.exec(codeOf(r.text));
    if (!m) continue;
    const obj = m[1]!;
    const mention = new RegExp(`\\b${obj}\\b`);
    const assign = new RegExp(`\\b${obj}\\s*=(?!=)`);
    if (h.lines.some((l) => l.line < r.line && assign.test(codeOf(l.text)))) continue;
    const next = h.lines.find((l) => l.line >= r.line && mention.test(codeOf(l.text)));
    if (!next || assign.test(codeOf(next.text))) continue;
    out.push({ text: r.text.trim(), obj, at: where(r), section: h.section, use: next.text.trim(), useAt: where(next) });
  }
  return out;
}

/** `direct-io.c:123` for reports: the base name keeps labels short. */
export function where(l: { file: string; line: number }): string {
  return `${l.file.split('/').pop()}:${l.line}`;
}

/**
 * Kconfig options read as set: the ones the cache's concurrency is about (SMP, CPU hotplug,
 * preemption, lockdep). Every other CONFIG_ option is read as unset: the minimal configuration,
 * in which cgroup, integrity and crypto hooks (block/bio.c's bio_init()/bio_uninit()) compile away.
 */
export const CONFIG_ON: ReadonlySet<string> = new Set([
  'CONFIG_SMP', 'CONFIG_HOTPLUG_CPU', 'CONFIG_PREEMPTION', 'CONFIG_PREEMPT', 'CONFIG_PREEMPT_COUNT', 'CONFIG_PREEMPT_RT_NEEDS_BH_LOCK',
  'CONFIG_LOCKDEP', 'CONFIG_PROVE_LOCKING', 'CONFIG_TRACE_IRQFLAGS', 'CONFIG_DEBUG_PREEMPT', 'CONFIG_DEBUG_ATOMIC_SLEEP',
]);

/** The value of an `#if`/`#ifdef`/`#elif` condition over CONFIG_ options only; null for anything else. */
function configCondition(directive: string, rest: string): boolean | null {
  const on = (name: string) => CONFIG_ON.has(name);
  if (directive === 'ifdef' || directive === 'ifndef') {
    const m = /^(CONFIG_\w+)\s*(\/[*/].*)?$/.exec(rest.trim());
    if (!m) return null;
    return directive === 'ifdef' ? on(m[1]!) : !on(m[1]!);
  }
  const e = codeOf(rest)
    .replace(/\b(?:IS_ENABLED|IS_BUILTIN|IS_REACHABLE|defined)\s*\(\s*(CONFIG_\w+)\s*\)|\bdefined\s+(CONFIG_\w+)|\b(CONFIG_\w+)\b/g, (_m, a?: string, b?: string, c?: string) =>
      on((a ?? b ?? c)!) ? ' T ' : ' F ',
    )
    .trim();
  const toks = e.match(/&&|\|\||\s+|./g) ?? [];
  if (!toks.length || toks.some((t) => !/^(&&|\|\||[TF!()]|\s+)$/.test(t))) return null;
  // Only T, F, !, &&, || and parentheses remain: a boolean expression, safe to evaluate.
  return Boolean(new Function(`return (${e.replace(/T/g, 'true').replace(/F/g, 'false')});`)());
}

/**
 * Resolves the preprocessor conditionals that test only CONFIG_ options (CONFIG_ON set, the rest
 * unset): the lines of the branches not taken, and the directives themselves, become blank lines
 * (line numbers stay). A group whose condition is anything else, or that does not close within
 * `lines` (a hunk's edge), is left as it is. `notes` gets one entry per option read.
 */
export function resolveConfig(lines: readonly SrcLine[], notes: string[] = []): SrcLine[] {
  const DIRECTIVE = /^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$/;
  // Match the groups first: #if at i -> its #elif/#else lines and #endif.
  const groups = new Map<number, { parts: number[]; end: number }>();
  const stack: { start: number; parts: number[] }[] = [];
  lines.forEach((l, i) => {
    const m = DIRECTIVE.exec(l.text);
    if (!m) return;
    if (m[1]!.startsWith('if')) stack.push({ start: i, parts: [] });
    else if (m[1] === 'endif') {
      const g = stack.pop();
      if (g) groups.set(g.start, { parts: g.parts, end: i });
    } else stack[stack.length - 1]?.parts.push(i);
  });
  const out = lines.map((l) => ({ ...l }));
  const seen = new Set<string>();
  for (const [start, g] of [...groups].sort((a, b) => a[0] - b[0])) {
    const heads = [start, ...g.parts];
    const values = heads.map((i) => {
      const m = DIRECTIVE.exec(lines[i]!.text)!;
      return m[1] === 'else' ? true : configCondition(m[1] === 'elif' ? 'if' : m[1]!, m[2]!);
    });
    if (values.some((v) => v === null)) continue;
    const taken = values.indexOf(true);
    heads.forEach((h, j) => {
      const to = j + 1 < heads.length ? heads[j + 1]! : g.end;
      for (let i = h; i < to; i++) if (i === h || j !== taken) out[i]!.text = '';
      const cond = lines[h]!.text.trim();
      const names = cond.match(/CONFIG_\w+/g) ?? [];
      for (const n of names)
        if (!seen.has(n)) {
          seen.add(n);
          notes.push(`${n} ${CONFIG_ON.has(n) ? 'on' : 'off'} (${lines[h]!.file.split('/').pop()}:${lines[h]!.line})`);
        }
    });
    out[g.end]!.text = '';
  }
  return out;
}

/**
 * A hunk that starts inside a block comment (its first `*' + '/` comes before any `/' + '*`) or ends
 * inside one: those comment lines are blanked, so that the parser does not read them as code.
 */
export function openComments(lines: readonly SrcLine[]): SrcLine[] {
  const out = lines.map((l) => ({ ...l }));
  // Head: up to the first close that has no open before it.
  for (let i = 0; i < out.length; i++) {
    const t = out[i]!.text;
    const open = t.indexOf('/*');
    const close = t.indexOf('*/');
    if (open >= 0 && (close < 0 || open < close)) break;
    if (close >= 0) {
      for (let j = 0; j < i; j++) out[j]!.text = '';
      out[i]!.text = ' '.repeat(close + 2) + t.slice(close + 2);
      break;
    }
  }
  // Tail: from the last open that no close follows.
  for (let i = out.length - 1; i >= 0; i--) {
    const t = out[i]!.text;
    const open = t.lastIndexOf('/*');
    const close = t.lastIndexOf('*/');
    if (close >= 0 && (open < 0 || close > open)) break;
    if (open >= 0) {
      out[i]!.text = t.slice(0, open);
      for (let j = i + 1; j < out.length; j++) out[j]!.text = '';
      break;
    }
  }
  return out;
}
