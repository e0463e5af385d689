/**
 * Extraction: the C entities the cache needs, from the parsed post-image. Struct layouts get byte
 * offsets by the x86-64 rules (pointer and long 8, int 4, natural alignment); types the patch does
 * not define are opaque bytes of a plausible size; a struct whose definition starts outside a
 * hunk (`@@ ... @@ struct iomap_dio {`) keeps the members the hunk shows after an opaque prefix.
 */
import type { StructDecl } from '../../impl/kernel/primitives.js';
import { UsageError } from '../errors.js';
import { definePerCpu, firstError, oneLine, parseLines, walk, type N } from './ast.js';
import type { Parser } from 'web-tree-sitter';
import { partialStructMembers, type PostImage, type SrcLine } from './reader.js';

export type CType =
  | { k: 'int'; size: number; name: string }
  | { k: 'ptr'; to: CType }
  | { k: 'struct'; name: string }
  | { k: 'void' }
  | { k: 'array'; of: CType; n: number }
  | { k: 'opaque'; name: string; size: number };

export interface Field {
  off: number;
  type: CType;
}

export interface Layout {
  name: string;
  size: number;
  align: number;
  fields: Map<string, Field>;
  /** The definition is partial (started before the hunk): unknown members sit in an opaque prefix. */
  partial: boolean;
  at: string;
  /**
   * The file uses the struct but does not define it (a header's: block/bio.c's struct bio and
   * struct bio_set): its layout is made up of the members the code uses, in order of first use.
   */
  implicit?: boolean;
}

export interface CFunction {
  name: string;
  ret: CType;
  params: { name: string; type: CType }[];
  body: N;
  node: N;
  at: string;
}

export interface Macro {
  name: string;
  params: string[] | null;
  /** The replacement text and its parse (an expression, or a statement for do { } while (0)). */
  text: string;
  expr: N | null;
  stmt: N | null;
  at: string;
}

export interface Static {
  name: string;
  type: CType;
  percpu: boolean;
  /** Set for `DEFINE_PER_CPU(T, name)`: the type T, allocated per CPU at boot. */
  perCpuVar?: string;
  init: N | null;
  at: string;
  /** Declared on a line the patch adds (every line of a C file counts as added). */
  added?: boolean;
}

export interface Program {
  structs: Map<string, Layout>;
  macros: Map<string, Macro>;
  statics: Map<string, Static>;
  functions: Map<string, CFunction>;
  /** Typedef name -> type, for the typedefs the patch defines. */
  typedefs: Map<string, CType>;
  post: PostImage;
  root: N;
  parser: Parser;
}

/** Sizes of kernel scalar typedefs a cache is likely to use. */
const SCALARS: Record<string, number> = {
  char: 1, bool: 1, _Bool: 1, u8: 1, s8: 1, __u8: 1,
  short: 2, u16: 2, s16: 2, __u16: 2,
  int: 4, unsigned: 4, u32: 4, s32: 4, __u32: 4, gfp_t: 4, atomic_t: 4, blk_opf_t: 4, blk_status_t: 1, fmode_t: 4, float: 4,
  long: 8, u64: 8, s64: 8, __u64: 8, size_t: 8, ssize_t: 8, loff_t: 8, sector_t: 8, uintptr_t: 8, intptr_t: 8, phys_addr_t: 8, atomic64_t: 8, atomic_long_t: 8, double: 8, ptrdiff_t: 8,
};

export const INT: CType = { k: 'int', size: 4, name: 'int' };
export const LONG: CType = { k: 'int', size: 8, name: 'long' };
export const VOIDP: CType = { k: 'ptr', to: { k: 'void' } };

export function showType(t: CType): string {
  switch (t.k) {
    case 'int':
      return t.name;
    case 'ptr':
      return `${showType(t.to)} *`;
    case 'struct':
      return `struct ${t.name}`;
    case 'void':
      return 'void';
    case 'array':
      return `${showType(t.of)}[${t.n}]`;
    case 'opaque':
      return t.name;
  }
}

export class Types {
  private anon = 0;
  constructor(readonly structs: Map<string, Layout>, readonly typedefs: Map<string, CType>, private readonly macroValue: (name: string) => number | null) {}

  /** The type a specifier node (primitive_type, struct_specifier, type_identifier...) names. */
  base(n: N | undefined): CType {
    if (!n) return INT;
    switch (n.t) {
      case 'primitive_type': {
        if (n.text === 'void') return { k: 'void' };
        return { k: 'int', size: SCALARS[n.text] ?? 4, name: n.text };
      }
      case 'sized_type_specifier':
        return { k: 'int', size: /\blong\b/.test(n.text) ? 8 : /\bshort\b/.test(n.text) ? 2 : /\bchar\b/.test(n.text) ? 1 : 4, name: oneLine(n.text) };
      case 'struct_specifier':
      case 'union_specifier': {
        const name = n.f.name?.text ?? `__anon${++this.anon}`;
        if (n.f.body) this.define(name, n, n.t === 'union_specifier', false);
        return { k: 'struct', name };
      }
      case 'enum_specifier':
        return INT;
      case 'type_identifier': {
        const td = this.typedefs.get(n.text);
        if (td) return td;
        const s = SCALARS[n.text];
        return s !== undefined ? { k: 'int', size: s, name: n.text } : { k: 'opaque', name: n.text, size: 8 };
      }
      case 'macro_type_specifier':
        return { k: 'opaque', name: n.text, size: 8 };
      default:
        return { k: 'opaque', name: n.text, size: 8 };
    }
  }

  /** Applies a declarator to a base type: returns the declared name and its full type. */
  declare(base: CType, d: N | undefined): { name: string; type: CType } {
    let t = base;
    let cur = d;
    while (cur) {
      switch (cur.t) {
        case 'identifier':
        case 'field_identifier':
        case 'type_identifier':
          return { name: cur.text, type: t };
        case 'pointer_declarator':
        case 'abstract_pointer_declarator':
          t = { k: 'ptr', to: t };
          cur = cur.f.declarator;
          break;
        case 'array_declarator':
        case 'abstract_array_declarator': {
          const sz = cur.f.size ? this.constInt(cur.f.size) : 0;
          t = { k: 'array', of: t, n: sz };
          cur = cur.f.declarator;
          break;
        }
        case 'init_declarator':
          cur = cur.f.declarator;
          break;
        case 'function_declarator':
          cur = cur.f.declarator;
          break;
        case 'parenthesized_declarator':
          cur = cur.kids[0];
          break;
        default:
          return { name: '', type: t };
      }
    }
    return { name: '', type: t };
  }

  /** `type_descriptor` (casts, sizeof) to a type. */
  descriptor(n: N): CType {
    return this.declare(this.base(n.f.type), n.f.declarator).type;
  }

  private constInt(n: N): number {
    if (n.t === 'number_literal') return parseInt(n.text, n.text.startsWith('0x') ? 16 : 10) || 0;
    if (n.t === 'identifier') return this.macroValue(n.text) ?? 0;
    return 0;
  }

  sizeOf(t: CType): number {
    switch (t.k) {
      case 'int':
        return t.size;
      case 'ptr':
        return 8;
      case 'void':
        return 1;
      case 'array':
        return t.n * this.sizeOf(t.of);
      case 'opaque':
        return t.size;
      case 'struct':
        return this.structs.get(t.name)?.size ?? 8;
    }
  }

  alignOf(t: CType): number {
    switch (t.k) {
      case 'int':
        return t.size;
      case 'ptr':
      case 'opaque':
        return 8;
      case 'void':
        return 1;
      case 'array':
        return this.alignOf(t.of);
      case 'struct':
        return this.structs.get(t.name)?.align ?? 8;
    }
  }

  /** Lays out a struct or union body; anonymous members are promoted into the parent. */
  define(name: string, spec: N, union: boolean, partial: boolean, prefix = 0): Layout {
    const existing = this.structs.get(name);
    if (existing && !existing.partial) return existing;
    const l: Layout = { name, size: 0, align: 1, fields: new Map(), partial, at: spec.at };
    this.structs.set(name, l);
    let off = prefix;
    const place = (fname: string, t: CType) => {
      const a = this.alignOf(t);
      const at = union ? 0 : Math.ceil(off / a) * a;
      l.fields.set(fname, { off: at, type: t });
      l.align = Math.max(l.align, a);
      off = union ? Math.max(off, this.sizeOf(t)) : at + this.sizeOf(t);
    };
    for (const fd of spec.f.body?.kids ?? []) {
      if (fd.t !== 'field_declaration') continue;
      const base = this.base(fd.f.type);
      const decls = fd.kids.filter((k) => k !== fd.f.type && /declarator|field_identifier/.test(k.t));
      if (decls.length === 0 && base.k === 'struct') {
        // Anonymous struct/union member: its fields belong to the parent at its offset.
        const inner = this.structs.get(base.name);
        // `struct x;` with no body known here (text a garbled hunk left in a struct): no member.
        if (!inner) continue;
        const a = inner.align;
        const at = union ? 0 : Math.ceil(off / a) * a;
        for (const [fname, fld] of inner.fields) l.fields.set(fname, { off: at + fld.off, type: fld.type });
        l.align = Math.max(l.align, a);
        off = union ? Math.max(off, inner.size) : at + inner.size;
        continue;
      }
      for (const d of decls) {
        const { name: fname, type } = this.declare(base, d);
        if (fname) place(fname, type);
      }
    }
    l.size = Math.ceil(Math.max(off, 1) / l.align) * l.align;
    return l;
  }
}

/** Bytes assumed for the members of a partial struct that the hunk does not show. */
export const PARTIAL_PREFIX = 64;

function evalConst(text: string): number | null {
  const t = text.trim().replace(/^\((.*)\)$/, '$1').trim();
  if (/^-?\d+[uUlL]*$/.test(t)) return parseInt(t, 10);
  if (/^0x[0-9a-fA-F]+[uUlL]*$/.test(t)) return parseInt(t, 16);
  return null;
}

/** Parses the post-image and extracts everything the interpreter needs. */
export function extract(parser: Parser, post: PostImage): Program {
  const root = parseLines(parser, post.complete);
  const structs = new Map<string, Layout>();
  const typedefs = new Map<string, CType>();
  const macros = new Map<string, Macro>();
  const statics = new Map<string, Static>();
  const functions = new Map<string, CFunction>();

  // Macros first: array sizes and constants may use them.
  const parseSnippet = (text: string, at: N, asStmt: boolean): N | null => {
    const wrap = asStmt ? `void __m(void) { ${text}; }` : `void __m(void) { __x = (${text}); }`;
    const line = { text: wrap, file: at.file, line: at.line };
    const r = parseLines(parser, [line]);
    if (firstError(r)) return null;
    const body = r.kids[0]?.f.body;
    if (asStmt) return body?.kids[0] ?? null;
    return body?.kids[0]?.kids[0]?.f.right?.kids[0] ?? null;
  };
  walk(root, (n) => {
    if (n.t !== 'preproc_def' && n.t !== 'preproc_function_def') return;
    const name = n.f.name?.text ?? '';
    const text = (n.f.value?.text ?? '').replace(/\\\n/g, ' ').trim();
    const params = n.t === 'preproc_function_def' ? (n.f.parameters?.kids ?? []).map((k) => k.text) : null;
    const isStmt = /^do\b/.test(text) || /^\{/.test(text);
    macros.set(name, { name, params, text, expr: text && !isStmt ? parseSnippet(text, n, false) : null, stmt: isStmt ? parseSnippet(text, n, true) : null, at: n.at });
  });
  const macroValue = (name: string) => {
    const m = macros.get(name);
    return m && !m.params ? evalConst(m.text) : null;
  };
  const types = new Types(structs, typedefs, macroValue);

  // Structs, wherever they are defined (also inside declarations and typedefs).
  walk(root, (n) => {
    if ((n.t === 'struct_specifier' || n.t === 'union_specifier') && n.f.body && n.f.name) types.define(n.f.name.text, n, n.t === 'union_specifier', false);
  });
  // Partial structs: `@@ ... @@ struct NAME {` with the hunk starting inside the body.
  for (const fr of post.fragments) {
    const m = /^(?:typedef\s+)?struct\s+(\w+)\s*\{\s*$/.exec(fr.section);
    if (!m || fr.edge !== 'head' || structs.has(m[1]!)) continue;
    const members = partialStructMembers(fr);
    const lines: SrcLine[] = [{ text: `struct ${m[1]} {`, file: fr.file, line: members[0]?.line ?? 0 }, ...members, { text: '};', file: fr.file, line: 0 }];
    const r = parseLines(parser, lines);
    const spec = r.kids.find((k) => k.t === 'struct_specifier');
    if (spec && !firstError(r)) types.define(m[1]!, spec, false, true, PARTIAL_PREFIX);
  }

  for (const n of root.kids) {
    if (n.t === 'type_definition') {
      const base = types.base(n.f.type);
      for (const d of n.kids.filter((k) => k !== n.f.type)) {
        const { name, type } = types.declare(base, d);
        if (name) typedefs.set(name, type);
      }
    }
    if (n.t === 'declaration') {
      const base = types.base(n.f.type);
      for (const d of n.kids.filter((k) => k.t === 'init_declarator' || k.t === 'pointer_declarator' || k.t === 'identifier' || k.t === 'array_declarator')) {
        const { name, type } = types.declare(base, d);
        if (!name || d.t === 'function_declarator') continue;
        const raw = post.complete.find((l) => l.line === n.line && l.file === n.file)?.text ?? n.text;
        const perCpuVar = definePerCpu(raw);
        statics.set(name, {
          name,
          type,
          percpu: /__percpu/.test(raw) || /__percpu/.test(n.text) || !!perCpuVar,
          ...(perCpuVar ? { perCpuVar } : {}),
          init: d.t === 'init_declarator' ? d.f.value ?? null : null,
          at: n.at,
          added: post.added.has(`${n.file}:${n.line}`),
        });
      }
    }
    if (n.t === 'function_definition' && n.f.body) {
      const base = types.base(n.f.type);
      const { name, type } = types.declare(base, n.f.declarator);
      let fd = n.f.declarator;
      while (fd && fd.t !== 'function_declarator') fd = fd.f.declarator ?? fd.kids[0];
      const params: CFunction['params'] = [];
      for (const p of fd?.f.parameters?.kids ?? []) {
        if (p.t !== 'parameter_declaration') continue;
        const r = types.declare(types.base(p.f.type), p.f.declarator);
        if (r.name) params.push(r);
      }
      if (name) functions.set(name, { name, ret: type, params, body: n.f.body, node: n, at: n.at });
    }
  }
  implicitStructs(structs, statics, functions, types);
  return { structs, macros, statics, functions, typedefs, post, root, parser };
}

/** Calls whose value has the type of their first argument (per-CPU accessors, annotations). */
const SAME_TYPE_CALLS = new Set(['per_cpu_ptr', 'this_cpu_ptr', 'raw_cpu_ptr', 'get_cpu_ptr', 'READ_ONCE', 'data_race', 'likely', 'unlikely']);
const CONTAINER_CALLS = new Set(['container_of', 'container_of_const', 'list_entry', 'hlist_entry', 'hlist_entry_safe']);

/**
 * Layouts for the structs the code uses through a pointer but does not define (a whole source
 * file includes them from headers): a member per field name the code uses, in order of first use,
 * its type read from what is stored into it or what it is stored into (`bio->bi_pool = bs;`,
 * `bs->cache = alloc_percpu(struct bio_alloc_cache);`), else a long. A member used with `.`
 * (`bio->bi_iter.bi_size`) is itself such a struct. The offsets are made up, which is sound as
 * long as the code never depends on them: nothing in it can, since it does not know them either.
 */
function implicitStructs(structs: Map<string, Layout>, statics: Map<string, Static>, functions: Map<string, CFunction>, types: Types): void {
  const made = new Map<string, { fields: Map<string, CType | null>; at: string }>();
  const unknownStruct = (t: CType | null): string | null => {
    if (!t || t.k !== 'struct') return null;
    if (made.has(t.name)) return t.name;
    return structs.has(t.name) ? null : t.name;
  };
  const fieldType = (sname: string, field: string): CType | null => {
    const m = made.get(sname);
    if (m) return m.fields.get(field) ?? null;
    return structs.get(sname)?.fields.get(field)?.type ?? null;
  };
  const scopes = new Map<CFunction, Map<string, CType>>();
  for (const f of functions.values()) {
    const env = new Map<string, CType>();
    for (const p of f.params) env.set(p.name, p.type);
    walk(f.body, (x) => {
      if (x.t !== 'declaration') return;
      const base = types.base(x.f.type);
      for (const d of x.kids) {
        if (d === x.f.type || !/declarator|identifier/.test(d.t)) continue;
        const { name, type } = types.declare(base, d);
        if (name && !env.has(name)) env.set(name, type);
      }
    });
    scopes.set(f, env);
  }
  const typeOf = (n: N | undefined, env: Map<string, CType>): CType | null => {
    if (!n) return null;
    switch (n.t) {
      case 'parenthesized_expression':
        return typeOf(n.kids[0], env);
      case 'identifier':
        return env.get(n.text) ?? statics.get(n.text)?.type ?? null;
      case 'cast_expression':
        return n.f.type ? types.descriptor(n.f.type) : null;
      case 'pointer_expression': {
        const t = typeOf(n.f.argument, env);
        if (!t) return null;
        return n.op === '&' ? { k: 'ptr', to: t } : t.k === 'ptr' ? t.to : null;
      }
      case 'subscript_expression': {
        const t = typeOf(n.f.argument, env);
        return t?.k === 'ptr' ? t.to : t?.k === 'array' ? t.of : null;
      }
      case 'field_expression': {
        const t = typeOf(n.f.argument, env);
        const st = n.op === '->' ? (t?.k === 'ptr' ? t.to : null) : t;
        return st?.k === 'struct' ? fieldType(st.name, n.f.field?.text ?? '') : null;
      }
      case 'call_expression': {
        const name = n.f.function?.text ?? '';
        const args = n.f.arguments?.kids ?? [];
        if (SAME_TYPE_CALLS.has(name)) return typeOf(args[0], env);
        if (CONTAINER_CALLS.has(name) && args[1]?.t === 'identifier') return { k: 'ptr', to: { k: 'struct', name: args[1].text } };
        if (name === 'alloc_percpu' && args[0]?.t === 'sizeof_expression' && args[0].f.type) return { k: 'ptr', to: types.descriptor(args[0].f.type) };
        return functions.get(name)?.ret ?? null;
      }
      default:
        return null;
    }
  };
  /** The implicit member `n` names (through per-CPU accessors and parentheses), if its type is still open. */
  const openMember = (n: N | undefined, env: Map<string, CType>): { s: string; f: string } | null => {
    while (n && (n.t === 'parenthesized_expression' || (n.t === 'call_expression' && SAME_TYPE_CALLS.has(n.f.function?.text ?? '')))) n = n.t === 'call_expression' ? n.f.arguments?.kids[0] : n.kids[0];
    if (!n || n.t !== 'field_expression') return null;
    const t = typeOf(n.f.argument, env);
    const st = n.op === '->' ? (t?.k === 'ptr' ? t.to : null) : t;
    const s = unknownStruct(st);
    const f = n.f.field?.text ?? '';
    return s && made.get(s)?.fields.get(f) === null ? { s, f } : null;
  };
  const useful = (t: CType | null): t is CType => !!t && (t.k === 'ptr' || t.k === 'struct' || t.k === 'int');
  // Three passes reach a fixpoint for chains like bio->bi_pool->cache.
  for (let pass = 0; pass < 3; pass++) {
    for (const [f, env] of scopes) {
      walk(f.body, (x) => {
        // `hlist_entry_safe(node, struct xreq_set, cpuhp_dead)` names a member too.
        if (x.t === 'call_expression' && CONTAINER_CALLS.has(x.f.function?.text ?? '')) {
          const [, t, m] = x.f.arguments?.kids ?? [];
          const s = t?.t === 'identifier' ? unknownStruct({ k: 'struct', name: t.text }) : null;
          if (s && m?.t === 'identifier') {
            const e = made.get(s) ?? { fields: new Map<string, CType | null>(), at: x.at };
            made.set(s, e);
            if (!e.fields.has(m.text)) e.fields.set(m.text, null);
          }
          return;
        }
        if (x.t === 'field_expression') {
          const t = typeOf(x.f.argument, env);
          const st = x.op === '->' ? (t?.k === 'ptr' ? t.to : null) : t;
          const s = unknownStruct(st);
          const field = x.f.field?.text ?? '';
          if (!s || !field) return;
          const m = made.get(s) ?? { fields: new Map<string, CType | null>(), at: x.at };
          made.set(s, m);
          if (!m.fields.has(field)) m.fields.set(field, null);
        }
      });
      walk(f.body, (x) => {
        // A member used as a struct (`bio->bi_iter.bi_size`) is one.
        if (x.t === 'field_expression' && x.op === '.') {
          const inner = openMember(x.f.argument, env);
          if (inner) made.get(inner.s)!.fields.set(inner.f, { k: 'struct', name: `${inner.s}.${inner.f}` });
        }
        let l: N | undefined;
        let r: N | undefined;
        let declared: CType | null = null;
        if (x.t === 'assignment_expression' && x.op === '=') {
          l = x.f.left;
          r = x.f.right;
        } else if (x.t === 'init_declarator' && x.f.value) {
          r = x.f.value;
          declared = types.declare(INT, x).name ? env.get(types.declare(INT, x).name) ?? null : null;
        } else return;
        const rm = openMember(r, env);
        const lt = declared ?? typeOf(l, env);
        if (rm && useful(lt)) made.get(rm.s)!.fields.set(rm.f, lt);
        const lm = openMember(l, env);
        const rt = typeOf(r, env);
        if (lm && useful(rt)) made.get(lm.s)!.fields.set(lm.f, rt);
      });
    }
  }
  // Lay out, nested members first.
  const lay = (name: string): Layout => {
    const have = structs.get(name);
    if (have) return have;
    const m = made.get(name)!;
    const l: Layout = { name, size: 0, align: 8, fields: new Map(), partial: true, implicit: true, at: m.at };
    let off = 0;
    for (const [f, t0] of m.fields) {
      const t = t0 ?? LONG;
      if (t.k === 'struct' && made.has(t.name)) lay(t.name);
      const a = types.alignOf(t);
      off = Math.ceil(off / a) * a;
      l.fields.set(f, { off, type: t });
      off += Math.max(types.sizeOf(t), 1);
    }
    l.size = Math.max(8, Math.ceil(off / 8) * 8);
    structs.set(name, l);
    return l;
  };
  for (const name of made.keys()) lay(name);
}

/** StructDecls for the Kernel (kzalloc/alloc_percpu zero these offsets; the abstraction finds fields). */
export function structDecls(p: Program): StructDecl[] {
  return [...p.structs.values()].map((l) => ({ name: l.name, size: l.size, fields: Object.fromEntries([...l.fields].map(([f, x]) => [f, x.off])) }));
}

/** Throws a UsageError naming the first parse error inside `fn`. */
export function requireParsed(fn: CFunction): void {
  const e = firstError(fn.node);
  if (!e) return;
  const near = oneLine(e.text).slice(0, 60);
  // An iterator macro other than the for_each_*_cpu ones sanitize() expands reads as no C.
  const iter = /\b(\w*for_each\w*)\s*\(/.exec(near);
  const hint = iter ? ` (unsupported C: the iterator macro ${iter[1]}() is not one the checker expands; write the loop out, or use for_each_possible_cpu/for_each_online_cpu/for_each_present_cpu)` : '';
  throw new UsageError(`C does not parse: ${e.at}: in ${fn.name}(), near '${near}'${hint}`);
}
