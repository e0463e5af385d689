/**
 * The C parser (tree-sitter's C grammar, WebAssembly build) and a plain-object copy of its tree.
 * The interpreter walks the copy: every property read on a tree-sitter node crosses into
 * WebAssembly, and the explorer re-runs each operation from its start at every step.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node, type TreeCursor } from 'web-tree-sitter';
import type { SrcLine } from './reader.js';

/** A syntax node: type, source text, named children, the fields that matter, and its post-image line. */
export interface N {
  t: string;
  text: string;
  /** Operator token for binary/unary/update/assignment/field/pointer expressions. */
  op: string;
  kids: N[];
  f: Record<string, N>;
  /** `direct-io.c:123` of the node's first line. */
  at: string;
  file: string;
  line: number;
  error: boolean;
}

let parser: Parser | null = null;

export async function cParser(): Promise<Parser> {
  if (parser) return parser;
  await Parser.init();
  const require = createRequire(import.meta.url);
  const C = await Language.load(require.resolve('tree-sitter-c/tree-sitter-c.wasm'));
  parser = new Parser();
  parser.setLanguage(C);
  return parser;
}

/**
 * Kernel annotations the grammar does not know, blanked to spaces so columns and lines stay put.
 * `__percpu` is remembered by the extractor from the raw text.
 */
const ANNOTATIONS =
  /\b(__percpu|__init|__exit|__rcu|__user|__iomem|__read_mostly|__cold|__always_inline|noinline|__must_check|__maybe_unused|__initdata|__ro_after_init)\b/g;
const EXPORTS = /^\s*(EXPORT_SYMBOL(_GPL)?|module_init|module_exit|fs_initcall|late_initcall|subsys_initcall|core_initcall)\s*\(\s*\w+\s*\)\s*;\s*$/;

/**
 * The CPU iterators of include/linux/cpumask.h, as the loops they expand to. Every simulated CPU
 * is possible and present; the online ones are those the scope has not taken down, so the online
 * variants test cpu_online() per CPU (a statement boundary, as the mask read is in the kernel).
 */
const CPU_ITERATORS =
  /\bfor_each_(possible|present|online)_cpu\s*\(\s*(\w+)\s*\)|\bfor_each_cpu\s*\(\s*(\w+)\s*,\s*&?\s*(?:__)?cpu_(possible|present|online)_mask\s*\)/g;
/** container_of(ptr, struct T, member) and its list aliases take a type: blank `struct` so the argument parses as T. */
const CONTAINER_OF = /(\b(?:container_of(?:_const)?|list_entry|list_first_entry|hlist_entry|hlist_entry_safe)\s*\([^;]*?,\s*)struct(\s+\w+\s*,)/g;

const DEFINE_PER_CPU = /^(\s*)(?:static\s+)?DEFINE_PER_CPU(?:_ALIGNED|_SHARED_ALIGNED)?\s*\(\s*((?:struct\s+)?\w+)\s*,\s*(\w+)\s*\)(?=\s*[;=])/;
/** `DEFINE_PER_CPU(T, name)` on this raw line: T, else null. */
export function definePerCpu(raw: string): string | null {
  const m = DEFINE_PER_CPU.exec(raw);
  return m ? m[2]!.replace(/^struct\s+/, '') : null;
}

const SCOPED_GUARD = /\bscoped_guard\s*\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)/g;

export function sanitize(text: string): string {
  if (EXPORTS.test(text)) return ' '.repeat(text.length);
  return (
    text
      .replace(ANNOTATIONS, (m) => ' '.repeat(m.length))
      // `alloc_percpu(struct x)` takes a type, which is no C expression: make it `sizeof(struct x)`.
      .replace(/\balloc_percpu\s*\(\s*((?:struct\s+)?\w+)\s*\)/g, 'alloc_percpu(sizeof($1))')
      .replace(CPU_ITERATORS, (_m, kind: string | undefined, v1: string | undefined, v2: string | undefined, kind2: string | undefined) => {
        const v = v1 ?? v2!;
        const loop = `for (${v} = 0; ${v} < nr_cpu_ids; ${v}++)`;
        return (kind ?? kind2) === 'online' ? `${loop} if (cpu_online(${v}))` : loop;
      })
      .replace(CONTAINER_OF, (_m, head: string, tail: string) => `${head}      ${tail}`)
      // DEFINE_PER_CPU(T, name) is a per-CPU variable; the checker holds it as a __percpu pointer
      // (set at boot, see build.ts), so `&name` in per_cpu_ptr()/this_cpu_ptr() is that pointer.
      .replace(DEFINE_PER_CPU, (_m, lead: string, type: string, name: string) => `${lead}static ${type} *${name}`)
      .replace(/&\s*per_cpu\s*\(\s*(\w+)\s*,\s*((?:[^()]|\([^()]*\))*?)\s*\)/g, 'per_cpu_ptr(&$1, $2)')
      .replace(/\bper_cpu\s*\(\s*(\w+)\s*,\s*((?:[^()]|\([^()]*\))*?)\s*\)\s*\./g, 'per_cpu_ptr(&$1, $2)->')
      // scoped_guard(cls, args) body is a for loop around body in cleanup.h; as one here, run by interp.ts.
      .replace(SCOPED_GUARD, (_m, args: string) => `for (__scoped_guard(${args});;)`)
      // min_t(type, a, b) is min(a, b) once both are converted: drop the type argument.
      .replace(/\b(min|max)_t\s*\(\s*[\w\s]+?\s*,/g, '$1(')
  );
}

const OP_NODES = new Set(['binary_expression', 'unary_expression', 'update_expression', 'assignment_expression', 'field_expression', 'pointer_expression']);
const FIELDS = ['name', 'body', 'type', 'declarator', 'value', 'condition', 'consequence', 'alternative', 'left', 'right', 'argument', 'function', 'arguments', 'field', 'label', 'parameters', 'initializer', 'update', 'size'];

const FIELD_NAMES = new Set(FIELDS);

/**
 * Copies a tree-sitter node (and its subtree) into plain objects, mapping rows to `lines`. One
 * cursor walks the tree and names each child's field as it passes (asking every node for each of
 * FIELDS by name was most of a build's parse time); a field is its first child of that name, as
 * childForFieldName() answers, and the same object as the child when the child is named.
 */
export function copyTree(node: Node, lines: readonly SrcLine[]): N {
  const cursor = node.walk();
  try {
    return copyAt(cursor, lines);
  } finally {
    cursor.delete();
  }
}

function copyAt(cur: TreeCursor, lines: readonly SrcLine[]): N {
  const row = cur.startPosition.row;
  const src = lines[row] ?? lines[lines.length - 1];
  const type = cur.nodeType;
  const n: N = {
    t: type,
    text: cur.nodeText,
    op: '',
    kids: [],
    f: {},
    at: src ? `${src.file.split('/').pop()}:${src.line}` : '?',
    file: src?.file ?? '?',
    line: src?.line ?? 0,
    error: cur.currentNode.hasError || cur.nodeIsMissing,
  };
  let fields: Record<string, N> | null = null;
  /** The `operator` field's token, the first unnamed child's, and whether the first child is named (prefix or postfix ++/--). */
  let operator: string | null = null;
  let firstUnnamed: string | null = null;
  let firstNamed: boolean | null = null;
  if (cur.gotoFirstChild()) {
    do {
      const named = cur.nodeIsNamed;
      const ctype = cur.nodeType;
      firstNamed ??= named;
      if (!named) firstUnnamed ??= ctype;
      const fname = cur.currentFieldName;
      if (fname === 'operator') operator ??= ctype;
      const field = fname !== null && FIELD_NAMES.has(fname) && !(fields && fname in fields) ? fname : null;
      if (named && ctype !== 'comment') {
        const k = copyAt(cur, lines);
        n.kids.push(k);
        if (field) (fields ??= {})[field] = k;
      } else if (field) (fields ??= {})[field] = copyAt(cur, lines);
    } while (cur.gotoNextSibling());
    cur.gotoParent();
  }
  // In FIELDS order, as the fields were always read.
  if (fields) for (const f of FIELDS) if (fields[f]) n.f[f] = fields[f];
  if (OP_NODES.has(type)) {
    n.op = operator ?? firstUnnamed ?? '';
    // Prefix vs postfix for ++/--: remember which side the operator is on.
    if (type === 'update_expression') n.op = (firstNamed === false ? 'pre' : 'post') + n.op;
  }
  return n;
}

export function parseLines(p: Parser, lines: readonly SrcLine[]): N {
  const tree = p.parse(lines.map((l) => sanitize(l.text)).join('\n'));
  if (!tree) throw new Error('tree-sitter returned no tree');
  const n = copyTree(tree.rootNode, lines);
  tree.delete();
  return n;
}

/** The first ERROR or MISSING node under n, for a parse-error message. */
export function firstError(n: N): N | null {
  if (n.t === 'ERROR') return n;
  for (const k of n.kids) {
    const e = firstError(k);
    if (e) return e;
  }
  return n.error && n.kids.every((k) => !k.error) ? n : null;
}

export function walk(n: N, fn: (n: N) => void): void {
  fn(n);
  for (const k of n.kids) walk(k, fn);
}

/** One line of source for labels: whitespace collapsed, cut at 100 characters. */
export function oneLine(text: string): string {
  const s = text.replace(/\/\*.*?\*\//g, '').replace(/\s+/g, ' ').trim();
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}
