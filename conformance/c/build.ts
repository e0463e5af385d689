/**
 * From C to an Implementation: the pipeline `dio-cache check` runs on a patch or a C file.
 * read -> extract -> roles and profile -> the call sites that drive the cache (the caller's
 * allocation in `__iomap_dio_rw`, the put in `iomap_dio_complete`, the `alloc_percpu` in the
 * initcall: taken from the patch's own lines, synthesised only when the patch does not show them)
 * -> an Implementation whose operations are interpreted C.
 */
import type { Implementation, Op } from '../../impl/interface.js';
import type { Kernel } from '../../impl/kernel/primitives.js';
import { KernelFault } from '../../impl/kernel/primitives.js';
import { NULL, type Value } from '../../impl/kernel/values.js';
import { UsageError } from '../cli/errors.js';
import { cParser, firstError, oneLine, parseLines, walk, type N } from './ast.js';
import { extract, PARTIAL_PREFIX, requireParsed, structDecls, Types, type CFunction, type CType, type Program } from './extract.js';
import { C_PRIMITIVES, CRuntimeError, Interp, newCoverage, type Budget, type Coverage } from './interp.js';
import { readPostImage, type InputKind, type SrcLine } from './reader.js';
import { inferRoles, profileFor, reachable, type Binding, type RoleName, type Roles } from './roles.js';

/** A statement list that drives the cache from outside it, with the function it sits in. */
export interface Site {
  fn: string;
  stmts: N[];
  /** The local the object lives in (`dio`), and its type. */
  obj: string;
  objType: CType;
  synthesised: boolean;
  at: string;
}

export interface CBuild {
  impl: Implementation;
  roles: Roles;
  profile: string;
  prog: Program;
  interp: Interp;
  coverage: Coverage;
  sites: { init: Site; alloc: Site; free: Site };
  /** Functions whose statements coverage is reported for (the cache's own). */
  cacheFns: string[];
  macros: Record<string, number>;
}

export interface CBuildOptions {
  binding?: Binding;
  bindingFile?: string;
  roles?: Partial<Record<RoleName, string>>;
}

export async function buildFromC(path: string, text: string, kind: Exclude<InputKind, 'module'>, o: CBuildOptions = {}): Promise<CBuild> {
  const parser = await cParser();
  const post = readPostImage(path, text, kind);
  const b = o.binding ?? {};
  if (b.functions) {
    const file = o.bindingFile ?? 'binding';
    const extra = Object.values(b.functions).join('\n').split('\n');
    post.complete.push(...extra.map((t, i) => ({ text: t, file, line: i + 1 })));
  }
  const prog = extract(parser, post);
  let roles: Roles;
  try {
    roles = inferRoles(prog, b, o.roles ?? {});
  } catch (e) {
    // A cache the checker cannot find in code that does not parse: the parse error is the news.
    const err = firstError(prog.root);
    if (e instanceof UsageError && err) throw new UsageError(`C does not parse: ${err.at}: near '${oneLine(err.text).slice(0, 60)}' (${e.message})`);
    throw e;
  }
  const aliases = b.aliases ?? {};
  validateLayout(prog, roles);
  for (const r of Object.values(roles.fns)) if (r && prog.functions.has(r)) requireParsed(prog.functions.get(r)!);

  const types = new Types(prog.structs, prog.typedefs, () => null);
  const macros: Record<string, number> = {};
  const implMacros: Record<string, 'MAX' | 'THRESHOLD' | number> = {};
  for (const m of prog.macros.values()) {
    const v = /^\(?\s*(-?\d+)[uUlL]*\s*\)?$/.exec(m.text);
    if (!m.params && v) {
      macros[m.name] = Number(v[1]);
      implMacros[m.name] = Number(v[1]);
    }
  }
  implMacros[roles.binding.maxMacro] = 'MAX';
  implMacros[roles.binding.thresholdMacro] = 'THRESHOLD';
  const coverage = newCoverage();
  const interp = new Interp(prog, types, coverage, aliases, new Set([roles.binding.maxMacro, roles.binding.thresholdMacro]));

  const objType = objectTypeOf(prog, roles);
  const sites = {
    init: findSite(prog, roles, 'init', objType) ?? synthSite(prog, 'init', roles, objType),
    alloc: findSite(prog, roles, 'alloc', objType) ?? synthSite(prog, 'alloc', roles, objType),
    free: findSite(prog, roles, 'free', objType) ?? synthSite(prog, 'free', roles, objType),
  };
  const cacheFns = [
    ...new Set([
      roles.fns.alloc!,
      roles.fns.put!,
      ...(roles.fns.splice ? [roles.fns.splice] : []),
      ...reachable(prog, roles.fns.alloc!, aliases).map((f) => f.name),
      ...reachable(prog, roles.fns.put!, aliases).map((f) => f.name),
      ...(roles.fns.prune ? reachable(prog, roles.fns.prune, aliases).map((f) => f.name) : []),
    ]),
  ];
  // The create helper runs only when the init site calls it; when the site is a window of the
  // create function itself (v1's initcall), the rest of that function (zero_page = alloc_pages()
  // in a whole direct-io.c) never runs and is not checked.
  checkCallees(prog, interp, [...Object.values(sites).flatMap((s) => s.stmts), ...cacheFns.map((f) => prog.functions.get(f)!.body), ...(roles.fns.create && roles.fns.create !== sites.init.fn ? [prog.functions.get(roles.fns.create)!.body] : [])], aliases, o.bindingFile);

  const statics = [...prog.statics.values()];
  const runSite = function* (k: Kernel, s: Site, obj: Value | null, miss?: Budget['miss']): Op<Value> {
    k.enter(s.fn);
    const env = { vars: new Map([[s.obj, { v: obj ?? Number.NaN, t: s.objType }]]), margs: null, parent: null };
    try {
      const st: Budget = miss ? { steps: 0, miss } : { steps: 0 };
      const c = yield* interp.block(k, s.stmts, env, st, s.fn);
      k.leave();
      if (c?.k === 'ret') return c.v.v;
      if (c?.k === 'goto') throw new CRuntimeError(`${s.at}: goto ${c.label} leaves the lines the patch shows of ${s.fn}()`);
      const v = env.vars.get(s.obj)!.v;
      return Number.isNaN(v) ? NULL : v;
    } catch (e) {
      if (e instanceof KernelFault) throw e;
      // Anything else is the interpreter failing on this C, not the C failing: never a `crash`.
      const msg = e instanceof CRuntimeError ? e.message : `${s.at}: the interpreter failed on this C (${e instanceof Error ? e.message : String(e)})`;
      throw new KernelFault('exception', `unsupported C: ${msg}`);
    }
  };
  const name = path.split('/').pop() ?? path;
  const profile = profileFor(roles);
  const impl: Implementation = {
    name,
    description: `${name}: ${kind === 'c' ? 'C source' : 'patch'} checked through the C interpreter (${roles.fns.alloc}/${roles.fns.put})`,
    profile,
    structs: orderStructs(structDecls(prog), roles),
    macros: implMacros,
    objectType: objType.k === 'ptr' && objType.to.k === 'struct' ? objType.to.name : 'kmalloc',
    cache: roles.binding,
    *init(k: Kernel): Op<number> {
      // File-scope statics start zeroed (or at their initialiser), as the C loader leaves them.
      for (const s of statics) {
        let v = 0;
        try {
          // A static descriptor struct is memory, zeroed as the loader leaves .bss; the abstraction
          // knows it as the descriptor, not as an object. Other static structs are refused on use.
          if (s.type.k === 'struct') {
            if (s.name !== roles.binding.percpu || roles.binding.percpuField === undefined) v = 0;
            else if (s.init) throw new CRuntimeError(`${s.at}: the initialiser of static struct ${s.name} is not supported; set its fields in the init function`);
            else v = k.kzalloc(s.type.name, 'GFP_KERNEL');
          } else v = s.init ? interp.expr(k, s.init, { vars: new Map(), margs: null, parent: null }).v : 0;
        } catch (e) {
          if (e instanceof CRuntimeError) throw new KernelFault('exception', `unsupported C: ${e.message}`);
          throw e;
        }
        k.setGlobal(s.name, v);
      }
      const r = yield* runSite(k, sites.init, null);
      return r === NULL || r === 0 ? 0 : r;
    },
    *alloc(k: Kernel): Op<Value> {
      return yield* runSite(k, sites.alloc, null);
    },
    *free(k: Kernel, obj: Value): Op<void> {
      if (!k.replaying && !k.probing && k.ctx !== 'task') {
        const at = k.interruptedAt() || '(between operations)';
        coverage.interrupts.set(at, (coverage.interrupts.get(at) ?? 0) + 1);
      }
      yield* runSite(k, sites.free, obj);
    },
  };
  // Boot takes its objects from the slab path of the caller's own allocation site: the site run
  // with the cache's alloc answering NULL (a miss). Boot through the cache would run the code
  // under test before the search starts, where a bug in it (B1's pop from an empty list) is an
  // oops without a trace. A site that cannot allocate on a miss by itself (v2/v3 allocate in the
  // helper) returns NULL here, and boot falls back to alloc (System.initial).
  const cacheAlloc = roles.fns.alloc!;
  if (sites.alloc.stmts.some((n) => callsFunction(n, cacheAlloc, aliases))) {
    impl.fresh = function* (k: Kernel): Op<Value> {
      return yield* runSite(k, sites.alloc, null, { fn: cacheAlloc, v: NULL });
    };
  }
  if (roles.fns.prune) {
    const prune = prog.functions.get(roles.fns.prune)!;
    impl.cpuDead = function* (k: Kernel, cpu: number): Op<void> {
      const args = prune.params.map((p) => ({ v: p.type.k === 'int' ? cpu : k.global(roles.binding.percpu), t: p.type }));
      yield* interp.call(k, prune, args, { steps: 0 });
    };
  }
  return { impl, roles, profile, prog, interp, coverage, sites, cacheFns, macros };
}

/**
 * The fields the binding names must exist. A list element whose struct the patch does not show
 * (the link field was added elsewhere) becomes an opaque object with its link after the prefix.
 */
function validateLayout(p: Program, r: Roles): void {
  const cache = p.structs.get(r.cacheStruct)!;
  for (const f of [r.binding.freeList, r.binding.freeListIrq, r.binding.nr, r.binding.nrIrq])
    if (!cache.fields.has(f)) throw new UsageError(`struct ${r.cacheStruct} has no field '${f}' (check the binding's cache field names)`);
  if ([...p.structs.values()].some((l) => l.fields.has(r.binding.next))) return;
  const ret = p.functions.get(r.fns.alloc!)!.ret;
  const name = ret.k === 'ptr' && ret.to.k === 'struct' ? ret.to.name : '';
  if (!name)
    throw new UsageError(`the link field '${r.binding.next}' is in no struct the patch shows; add the struct's definition, or give it in a binding ("functions")`);
  const l = p.structs.get(name) ?? { name, size: 0, align: 8, fields: new Map(), partial: true, at: '(not in the patch)' };
  l.fields.set(r.binding.next, { off: PARTIAL_PREFIX, type: { k: 'ptr', to: { k: 'struct', name } } });
  l.size = Math.max(l.size, PARTIAL_PREFIX + 8);
  l.partial = true;
  p.structs.set(name, l);
  r.evidence.push(`struct ${name} is not in the patch: assumed opaque, with its link field ${r.binding.next} at offset ${PARTIAL_PREFIX}`);
}

/** The Kernel's abstraction finds a field in the first struct that has it: the cache's own first. */
function orderStructs(decls: ReturnType<typeof structDecls>, r: Roles) {
  const first = decls.filter((d) => d.name === r.cacheStruct || r.binding.next in d.fields);
  return [...first, ...decls.filter((d) => !first.includes(d))];
}

function objectTypeOf(p: Program, r: Roles): CType {
  const alloc = p.functions.get(r.fns.alloc!)!;
  if (alloc.ret.k === 'ptr' && alloc.ret.to.k === 'struct') return alloc.ret;
  // A generic helper returns void *: the payload's type is whatever the caller declares.
  if (!p.structs.has('__payload'))
    p.structs.set('__payload', { name: '__payload', size: PARTIAL_PREFIX * 2, align: 8, fields: new Map(), partial: true, at: '(payload)' });
  return { k: 'ptr', to: { k: 'struct', name: '__payload' } };
}

/** Source regions to search for call sites: fragments and complete functions, each with its function name. */
function regions(p: Program): { fn: string; lines: SrcLine[] }[] {
  const out: { fn: string; lines: SrcLine[] }[] = [];
  for (const f of p.post.fragments) {
    const m = /(\w+)\s*\(/.exec(f.section);
    out.push({ fn: m?.[1] ?? '(fragment)', lines: f.lines });
  }
  for (const f of p.functions.values()) {
    const lines = p.post.complete.filter((l) => l.file === f.node.file && l.line >= f.node.line && l.line <= f.node.line + f.node.text.split('\n').length - 1);
    out.push({ fn: f.name, lines });
  }
  return out;
}

/**
 * Finds the statement that calls `target` (or assigns the percpu static, for init) in the patch's
 * own lines, and the `if` right after it that tests the result: parsed from a window of lines
 * that grows until it is valid C.
 */
function findSite(p: Program, r: Roles, which: 'init' | 'alloc' | 'free', objType: CType): Site | null {
  const inside = new Set(Object.values(r.fns));
  // The initcall assigns the static, or (a static descriptor) passes it to the create helper.
  const assigns = new RegExp(`\\b${r.binding.percpu}\\s*=\\s*\\w+\\s*\\(`);
  const pat =
    which === 'init'
      ? new RegExp(`${assigns.source}${r.fns.create ? `|\\b${r.fns.create}\\s*\\(\\s*&\\s*${r.binding.percpu}\\b` : ''}`)
      : new RegExp(`\\b${which === 'alloc' ? r.fns.alloc : r.fns.put}\\s*\\(`);
  for (const reg of regions(p)) {
    if (inside.has(reg.fn) && which !== 'init') continue;
    for (let i = 0; i < reg.lines.length; i++) {
      if (!pat.test(reg.lines[i]!.text)) continue;
      // The create helper's own (recursive-looking) mention of its name is not its call site.
      if (which === 'init' && reg.fn === r.fns.create && !assigns.test(reg.lines[i]!.text)) continue;
      // A function's header line is not a call site (`if (create(...))` without a `;` is).
      if (/^\s*(static\s+)?[\w\s]+\*?\s*\w+\s*\([^;]*$/.test(reg.lines[i]!.text) && !/[=;]/.test(reg.lines[i]!.text) && !/^\s*(if|while|return)\b/.test(reg.lines[i]!.text)) continue;
      for (let j = i; j < Math.min(reg.lines.length, i + 16); j++) {
        const window = reg.lines.slice(i, j + 1);
        const wrapped: SrcLine[] = [{ text: 'void __site(void) {', file: window[0]!.file, line: window[0]!.line }, ...window, { text: '}', file: window[0]!.file, line: window[window.length - 1]!.line }];
        const root = parseLines(p.parser, wrapped);
        if (firstError(root)) continue;
        const body = root.kids.find((k) => k.t === 'function_definition')?.f.body;
        const stmts = body?.kids ?? [];
        if (!stmts.length) continue;
        const first = stmts[0]!;
        const assigned = first.kids[0]?.t === 'assignment_expression' ? first.kids[0].f.left?.text ?? '' : '';
        const testsIt = (s: N | undefined) => !!s && s.t === 'if_statement' && !!assigned && new RegExp(`\\b${assigned}\\b`).test(s.f.condition?.text ?? '');
        if (stmts.length < 2 && j < Math.min(reg.lines.length, i + 16) - 1) continue;
        const chosen = testsIt(stmts[1]) ? [first, stmts[1]!] : [first];
        let obj = assigned;
        if (which === 'free') {
          let call: N | null = null;
          walk(first, (x) => {
            if (!call && x.t === 'call_expression' && x.f.function?.text === r.fns.put) call = x;
          });
          const args = (call as N | null)?.f.arguments?.kids ?? [];
          obj = args.find((a) => a.t === 'identifier' && !p.statics.has(a.text))?.text ?? '';
          if (!obj) continue;
        }
        return { fn: reg.fn, stmts: chosen, obj: which === 'init' ? '__none' : obj, objType: declaredType(p, reg.lines, i, obj) ?? objType, synthesised: false, at: first.at };
      }
    }
  }
  return null;
}

/** The type of `name` from a declaration above line i (`struct iomap_dio *dio;`), if the patch shows one. */
function declaredType(p: Program, lines: SrcLine[], i: number, name: string): CType | null {
  if (!name) return null;
  const re = new RegExp(`^\\s*(const\\s+)?struct\\s+(\\w+)\\s*\\*\\s*${name}\\s*[;=,]`);
  for (let j = i - 1; j >= 0; j--) {
    const m = re.exec(lines[j]!.text);
    if (m) return { k: 'ptr', to: { k: 'struct', name: p.structs.has(m[2]!) ? m[2]! : '__payload' } };
  }
  return null;
}

/** Caller code the patch does not show, written the way __iomap_dio_rw and iomap_dio_complete use the cache. */
function synthSite(p: Program, which: 'init' | 'alloc' | 'free', r: Roles, objType: CType): Site {
  const argsFor = (f: CFunction, obj: string) =>
    f.params
      .map((x) => (x.type.k === 'ptr' && p.statics.get(r.binding.percpu) && x.type.to.k === 'struct' && x.type.to.name === r.cacheStruct ? r.binding.percpu : x.type.k === 'int' ? `sizeof(*${obj})` : obj))
      .join(', ');
  let text: string;
  const alloc = p.functions.get(r.fns.alloc!)!;
  const put = p.functions.get(r.fns.put!)!;
  if (which === 'init') {
    // A DEFINE_PER_CPU variable has no initcall line: its instances are allocated at boot, here.
    const pcv = p.statics.get(r.binding.percpu)?.perCpuVar;
    if (pcv) text = `${r.binding.percpu} = alloc_percpu(struct ${pcv});`;
    else if (r.fns.create && p.functions.get(r.fns.create)!.params.length === 0) text = `${r.binding.percpu} = ${r.fns.create}();`;
    else if (r.fns.create) throw new UsageError(`the patch does not show how ${r.fns.create}() is called; add the call (e.g. the initcall) or a binding`);
    else text = `${r.binding.percpu} = alloc_percpu(struct ${r.cacheStruct});`;
  } else if (which === 'alloc') {
    text = `obj = ${alloc.name}(${argsFor(alloc, 'obj')});` + (r.missAllocation === 'caller' ? ` if (!obj) obj = kmalloc(sizeof(*obj), GFP_KERNEL);` : '');
  } else text = `${put.name}(${argsFor(put, 'obj')});`;
  const root = parseLines(p.parser, [{ text: `void __site(void) { ${text} }`, file: 'synthesised', line: 0 }]);
  const stmts = root.kids[0]?.f.body?.kids ?? [];
  return { fn: which === 'init' ? '(initcall)' : which === 'alloc' ? '(caller)' : '(completion)', stmts, obj: 'obj', objType, synthesised: true, at: 'synthesised' };
}

/** Every called name must be a patch function, a macro, a primitive or a binding alias. */
function checkCallees(p: Program, interp: Interp, roots: N[], aliases: Record<string, string>, bindingFile?: string): void {
  const missing = new Map<string, string>();
  const seen = new Set<N>();
  let refused: string | null = null;
  const visit = (n: N, fn?: CFunction) => {
    if (seen.has(n)) return;
    seen.add(n);
    refused ??= interp.unsupported(n, fn?.params ?? []);
    for (const c of interp.calledNames(n)) {
      const name = aliases[c.name] ?? c.name;
      const f = p.functions.get(name);
      if (f) {
        visit(f.body, f);
        continue;
      }
      const m = p.macros.get(name);
      if (m?.params) {
        if (m.expr) visit(m.expr);
        if (m.stmt) visit(m.stmt);
        continue;
      }
      if (C_PRIMITIVES.has(name) || name.startsWith('trace_')) continue;
      if (!missing.has(c.name)) missing.set(c.name, c.at);
    }
  };
  for (const r of roots) {
    const f = [...p.functions.values()].find((x) => x.body === r);
    visit(r, f);
  }
  if (refused) throw new UsageError(`unsupported C: ${refused}`);
  if (missing.size) {
    const list = [...missing].map(([n, at]) => `${n}() at ${at}`).join(', ');
    throw new UsageError(
      `unknown function ${list}: not in the patch and not a kernel primitive the checker knows; give its C definition in a binding file ("functions": {"name": "C text"}) or map it to a primitive ("aliases": {"name": "kfree"}), and pass --binding FILE${bindingFile ? ` (now ${bindingFile})` : ''}`,
    );
  }
}

/** Whether a statement calls `fn` (directly, or through a macro alias of it). */
function callsFunction(n: N, fn: string, aliases: Readonly<Record<string, string>>): boolean {
  if (n.t === 'call_expression') {
    const name = n.f.function?.text ?? '';
    if (name === fn || aliases[name] === fn) return true;
  }
  return n.kids.some((c) => callsFunction(c, fn, aliases));
}
