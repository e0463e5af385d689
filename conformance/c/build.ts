/**
 * From C to an Implementation: the pipeline `dio-cache check` runs on a patch or a C file.
 * read -> extract -> roles and profile -> the call sites that drive the cache (the caller's
 * allocation in `__iomap_dio_rw`, the put in `iomap_dio_complete`, the `alloc_percpu` in the
 * initcall: taken from the patch's own lines, synthesised only when the patch does not show them)
 * -> an Implementation whose operations are interpreted C.
 */
import { cpuNumbers } from './cpu-numbers.js';
import type { Implementation, Op } from '../../impl/interface.js';
import type { Kernel } from '../../impl/kernel/primitives.js';
import { ACCESS_STOP, KernelFault } from '../../impl/kernel/primitives.js';
import { cPrimitive, cPrimitiveNames } from '../../impl/kernel/primitive-table.js';
import { isPtr, NULL, type Value } from '../../impl/kernel/values.js';
import { UsageError } from '../errors.js';
import { cParser, firstError, oneLine, parseLines, walk, type N } from './ast.js';
import { extract, INT, PARTIAL_PREFIX, requireParsed, structDecls, Types, type CFunction, type CType, type Program } from './extract.js';
import { compileC, type CompiledC } from './compile.js';
import { CRuntimeError, Interp, isPrintString, KNOWN_CONSTANTS, newCoverage, type Budget, type Coverage } from './interp.js';
import { readPostImage, resolveConfig, where, type DroppedAlloc, type DroppedFree, type InputKind, type SrcLine } from './reader.js';
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
  /**
   * The parameters of the function the site sits in (a whole source file's bio_alloc_bioset(bdev,
   * nr_vecs, opf, gfp_mask, bs)): the site's lines use them, and the checker gives them values.
   */
  params?: { name: string; type: CType }[];
  /** The create helper's own `x->cache = alloc_percpu()` statement, taken when no caller of it is shown. */
  own?: boolean;
  /** An init that runs nothing: this (`dio_cache`) is never assigned and stays NULL (unassignedPercpu). */
  staysNull?: string;
  /** Where the statements it starts with are (leadingObjectStatements): a call among them is this site's, not one of its own. */
  leadAt?: string[];
  /**
   * An alloc site whose next line dereferences the object (`dio->iocb = iocb;`): the object must
   * be a valid pointer when the site's lines end without a `return`, or that line oopses.
   */
  usedAfter?: { text: string; at: string };
  /**
   * The caller's statements after the call, up to its return (or the last line the patch shows),
   * run as part of the site (siteTail): what the caller does with the object afterwards.
   */
  tail?: N[];
  /** Identifiers the tail names that the model does not compute (the caller's `ret`, `iocb`): they read as CALLER_VALUE, and a branch on one is the explorer's choice. */
  callerValues?: string[];
  /** The statement the tail stops before, when it stops before the caller's return: it calls or reads what the checker does not model. */
  tailStop?: { text: string; at: string; why: string };
  /** Where findSites found it (the lines of its region, the call's line, the end of the window parsed): for siteTail. */
  win?: { lines: SrcLine[]; i: number; j: number };
}

/** What a value of the caller the model does not compute reads as outside a branch: an errno, so that `ERR_PTR(ret)` is never an object. */
export const CALLER_VALUE = -5;

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
  /** Frees of the cached object the diff removes with nothing in their place (reader.ts droppedFreesOf). */
  droppedFrees: DroppedFree[];
  /** Allocations of the cached object the diff removes, the object then used unassigned (reader.ts droppedAllocsOf). */
  droppedAllocs: DroppedAlloc[];
  /**
   * The call sites after the first of each kind (the error path's put beside iomap_dio_complete's):
   * the same implementation with that site as its alloc or put, checked in runs of their own.
   */
  siteRuns: { site: string; impl: Implementation }[];
  /**
   * Every call of a cache function outside the cache functions (coverage): where, and the site
   * that drives it (Site.at, the key of Coverage.sites), if any.
   */
  callSites: { fn: string; at: string; call: string; role: string; site?: Site }[];
  /** The sites and the functions they reach compiled to generators (compile.ts), when they run compiled. */
  compiled: CompiledC | null;
  /** The compiled sites and functions (the ones running, or made now): `check --emit-port`. */
  compile(): CompiledC;
}

export interface CBuildOptions {
  binding?: Binding;
  bindingFile?: string;
  roles?: Partial<Record<RoleName, string>>;
  /** Run the C compiled (compile.ts) instead of interpreted; default C_COMPILED_DEFAULT. */
  compiled?: boolean;
}

/** Whether `dio-cache check` runs C compiled unless told otherwise (`--interpret`, `--compiled`). */
export const C_COMPILED_DEFAULT = true;

export async function buildFromC(path: string, text: string, kind: Exclude<InputKind, 'module'>, o: CBuildOptions = {}): Promise<CBuild> {
  const parser = await cParser();
  const post = readPostImage(path, text, kind);
  const b = o.binding ?? {};
  if (b.functions) {
    const file = o.bindingFile ?? 'binding';
    const extra = Object.values(b.functions).join('\n').split('\n');
    post.complete.push(...resolveConfig(extra.map((t, i) => ({ text: t, file, line: i + 1 })), (post.config ??= [])));
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
  const objName = objType.k === 'ptr' && objType.to.k === 'struct' ? objType.to.name : '';
  const descName = descriptorType(prog, roles) ?? '';
  for (const l of prog.structs.values())
    if (l.implicit && [objName, descName].some((n) => n && (l.name === n || l.name.startsWith(`${n}.`)))) roles.evidence.push(`struct ${l.name} is not defined in the ${kind === 'c' ? 'file' : 'patch'}: laid out from the members the code uses (${[...l.fields.keys()].slice(0, 6).join(', ')}${l.fields.size > 6 ? ', ...' : ''})`);
  if (prog.post.config?.length) roles.evidence.push(`read with ${prog.post.config.join(', ')}`);
  // The initcall's call of the create helper runs the whole helper; when that reaches code the
  // checker cannot run (block/bio.c's bioset_init(): mempools, a workqueue, a function pointer),
  // the site is the helper's own alloc_percpu() statement, as a v1 initcall's is.
  // Only the helper's own alloc_percpu() statement, and the static nothing assigns: no caller of the
  // helper is left (a deleted `dio_pcpu_cache_list = pcpu_cache_list_create(...)`), so it stays NULL.
  const staysNull = unassignedPercpu(prog, roles);
  const found = findSites(prog, roles, 'init', objType);
  const initCands = found.length && found.every((c) => c.own) && staysNull ? [] : found;
  const createBody = (s: Site) => (roles.fns.create && roles.fns.create !== s.fn ? [prog.functions.get(roles.fns.create)!.body] : []);
  let init = initCands[0];
  if (init && initCands.length > 1) {
    const first = calleeProblems(prog, interp, [...init.stmts, ...createBody(init)], aliases, siteNames(init));
    const ok = first && initCands.find((c) => !calleeProblems(prog, interp, [...c.stmts, ...createBody(c)], aliases, siteNames(c)));
    if (first && ok) {
      roles.evidence.push(`init: the call at ${init.at} runs all of ${roles.fns.create ?? init.fn}(), which the checker cannot run (${first.split(' (in ')[0]}): the site is the alloc_percpu() statement of ${ok.fn}() (${ok.at})`);
      init = ok;
    }
  }
  const dead: DeadSite[] = [];
  const allocSites = findSites(prog, roles, 'alloc', objType, dead).map((x) => withSlabPath(prog, roles, x));
  const freeSites = findSites(prog, roles, 'free', objType, dead);
  for (const x of [...allocSites, ...freeSites]) siteTail(prog, interp, roles, aliases, x);
  // Every call of the alloc (or of the put) shown is dead code: nothing the patch shows drives the
  // cache, and a synthesised caller would check a program that is not the patch's.
  for (const [what, live, fn] of [['alloc', allocSites, roles.fns.alloc], ['put', freeSites, roles.fns.put]] as const) {
    const d = dead.find((x) => new RegExp(`\\b${fn}\\s*\\(`).test(x.call));
    if (live.length === 0 && d)
      throw new UsageError(
        `the ${what} call in ${d.fn}() (${d.at}: \`${d.call}\`) can never run: \`${d.by}\` (${d.byAt}) leaves the block right before it, so nothing in the ${kind === 'c' ? 'file' : 'patch'} calls ${fn}(); a line kept that the patch removes?`,
      );
  }
  const sites = {
    init: init ?? (staysNull ? nullInit(prog, roles, staysNull) : synthSite(prog, 'init', roles, objType)),
    alloc: allocSites[0] ?? synthSite(prog, 'alloc', roles, objType),
    free: freeSites[0] ?? synthSite(prog, 'free', roles, objType),
  };
  for (const [which, site] of Object.entries(sites)) {
    // Said, because a revision that drops its call of the alloc or the put otherwise reads as
    // the seed does: the cache is driven by a caller the checker wrote.
    // (A DEFINE_PER_CPU variable has no initcall to find: its boot allocation is the synthesised site.)
    if (site.synthesised && !(which === 'init' && prog.statics.get(roles.binding.percpu)?.perCpuVar)) {
      const callee = which === 'init' ? 'alloc_percpu()' : `${which === 'alloc' ? roles.fns.alloc : roles.fns.put}()`;
      roles.evidence.push(`${which} site: no call of ${callee} outside the cache in the ${kind === 'c' ? 'file' : 'patch'}; the checker drives it with \`${site.stmts.map((x) => oneLine(x.text)).join(' ')}\``);
    }
    const pv = paramValues(prog, roles, site);
    if (pv.length) roles.evidence.push(`${which} site in ${site.fn}() (${site.at}): ${pv.map((x) => `${x.name} = ${x.shown}`).join(', ')}`);
  }
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
  const used = checkCallees(
    prog,
    interp,
    [...Object.values(sites).flatMap((s) => [...s.stmts, ...(s.tail ?? [])]), ...cacheFns.map((f) => prog.functions.get(f)!.body), ...createBody(sites.init)],
    aliases,
    new Set(Object.values(sites).flatMap((s) => [...siteNames(s), ...(s.callerValues ?? [])])),
    o.bindingFile,
  );

  // Only the statics the code that runs names are set up: a whole file has others (block/bio.c's
  // bvec_slabs[] with its initializer list) that nothing here reads.
  const statics = [...prog.statics.values()].filter((s) => used.has(s.name) || s.name === roles.binding.percpu);
  // Set before anything runs: the sites and what they reach, compiled (below).
  let compiled: CompiledC | null = null;
  const siteStmts = new Map<Site, N[]>();
  const stmtsOf = (s: Site): N[] => {
    let x = siteStmts.get(s);
    if (!x) siteStmts.set(s, (x = s.tail?.length ? [...s.stmts, ...s.tail] : s.stmts));
    return x;
  };
  // What a site's parameters get is fixed by the site: worked out once, not on every (replayed) run.
  const siteParams = new Map<Site, ReturnType<typeof paramValues>>();
  const paramsOf = (s: Site) => {
    let x = siteParams.get(s);
    if (!x) siteParams.set(s, (x = paramValues(prog, roles, s)));
    return x;
  };
  const runSite = function* (k: Kernel, s: Site, obj: Value | null, miss?: Budget['miss']): Op<Value> {
    k.enter(s.fn);
    const vars = new Map<string, { v: number; t: CType }>();
    for (const x of paramsOf(s)) vars.set(x.name, { v: x.value(k), t: x.type });
    for (const x of s.callerValues ?? []) vars.set(x, { v: CALLER_VALUE, t: INT });
    vars.set(s.obj, { v: obj ?? Number.NaN, t: s.objType });
    const env = { vars, margs: null, parent: null };
    try {
      const st: Budget = miss ? { steps: 0, miss } : { steps: 0 };
      const c = compiled ? yield* compiled.site(s)(k, st, env) : yield* interp.block(k, stmtsOf(s), env, st, s.fn);
      k.leave();
      // Driven: a live run of the exploration (not boot's, which has no task and no interrupt) got to the end of the lines.
      if (!miss && !k.replaying && !k.probing && !(k.ctx === 'task' && k.task < 0)) coverage.sites.set(s.at, (coverage.sites.get(s.at) ?? 0) + 1);
      if (c?.k === 'ret') return c.v.v;
      // The caller's code goes on at a label the patch does not show: the site's lines end here.
      if (c?.k === 'goto' && s.tail?.length) return isPtr(env.vars.get(s.obj)!.v) ? env.vars.get(s.obj)!.v : NULL;
      if (c?.k === 'goto') throw new CRuntimeError(`${s.at}: goto ${c.label} leaves the lines the patch shows of ${s.fn}()`);
      const v = env.vars.get(s.obj)!.v;
      // The line after the site uses the object: a NULL or an ERR_PTR() reaching it is the oops
      // that line takes (a `return` inside the site, the -ENOMEM path, does not get there).
      if (s.usedAfter && (Number.isNaN(v) || !isPtr(v))) {
        const isNull = v === NULL || Number.isNaN(v);
        throw new KernelFault(
          isNull ? 'null-deref' : 'wild-pointer',
          `${isNull ? 'NULL pointer dereference' : `dereference of ERR_PTR(${v})`}: ${s.obj} reaches \`${s.usedAfter.text}\` (${s.usedAfter.at}) as ${isNull ? 'NULL' : v}; the site's lines end without returning`,
        );
      }
      return Number.isNaN(v) ? NULL : v;
    } catch (e) {
      // ACCESS_STOP: --atomicity access ends the step before the statement's next memory access.
      if (e instanceof KernelFault || e === ACCESS_STOP) throw e;
      // Anything else is the interpreter failing on this C, not the C failing: never a `crash`.
      const msg = e instanceof CRuntimeError ? e.message : `${s.at}: the interpreter failed on this C (${e instanceof Error ? e.message : String(e)})`;
      throw new KernelFault('exception', `unsupported C: ${msg}`);
    }
  };
  const name = path.split('/').pop() ?? path;
  const profile = profileFor(roles);
  const cpu = cpuNumbers(prog, roles.fns.prune);
  const impl: Implementation = {
    name,
    description: `${name}: ${kind === 'c' ? 'C source' : 'patch'} checked through the C interpreter (${roles.fns.alloc}/${roles.fns.put})`,
    profile,
    structs: orderStructs(structDecls(prog), roles),
    macros: implMacros,
    objectType: objType.k === 'ptr' && objType.to.k === 'struct' ? objType.to.name : 'kmalloc',
    cache: roles.binding,
    // Its generators count coverage hits: each run of an operation must really run.
    countsRuns: true,
    cpuSymmetry: cpu.blockers.length
      ? { ok: false, why: `${cpu.blockers[0]!.at}: ${cpu.blockers[0]!.why}: \`${cpu.blockers[0]!.text}\`` }
      : { ok: true, why: 'every CPU number the code reads goes straight into a CPU argument (per_cpu_ptr(p, get_cpu())) or a for_each_*_cpu() loop' },
    *init(k: Kernel): Op<number> {
      // File-scope statics start zeroed (or at their initialiser), as the C loader leaves them.
      // Their storage, and an initcall the checker wrote itself, are not the code's allocations:
      // they do not fail when the search makes allocations fail.
      k.cannotFail = true;
      for (const s of statics) {
        let v = 0;
        try {
          // A static descriptor struct is memory, zeroed as the loader leaves .bss; the abstraction
          // knows it as the descriptor, not as an object. Other static structs are refused on use.
          if (s.type.k === 'struct') {
            if (s.name !== roles.binding.percpu || roles.binding.percpuField === undefined) v = 0;
            else if (s.init) throw new CRuntimeError(`${s.at}: the initialiser of static struct ${s.name} is not supported; set its fields in the init function`);
            else v = k.kzalloc(s.type.name, 'GFP_KERNEL');
          } else if (s.perCpuVar && s.init) {
            // DEFINE_PER_CPU(T, v) = { .lock = INIT_LOCAL_LOCK(lock) }: the instances are allocated
            // zeroed at boot, which is all such an initialiser sets; any other value is refused.
            const bad = perCpuInitProblem(s.init);
            if (bad) throw new CRuntimeError(`${s.at}: the initialiser of DEFINE_PER_CPU ${s.name} sets ${bad}; only INIT_LOCAL_LOCK() and zeroes are supported`);
          } else v = s.init ? interp.expr(k, s.init, { vars: new Map(), margs: null, parent: null }).v : 0;
        } catch (e) {
          if (e instanceof CRuntimeError) throw new KernelFault('exception', `unsupported C: ${e.message}`);
          throw e;
        }
        k.setGlobal(s.name, v);
      }
      if (sites.init.staysNull !== undefined) {
        // No statement to run, and an operation is at least one boundary.
        yield `(initcall) ${sites.init.staysNull} is never assigned: it stays NULL (${sites.init.at})`;
        return 0;
      }
      k.cannotFail = sites.init.synthesised;
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
    // A multi-instance cpuhp callback gets the hlist_node inside its descriptor
    // (`bs = hlist_entry_safe(node, struct bio_set, cpuhp_dead)`): the node's address is the
    // descriptor's plus that member's offset.
    const memberOf = new Map<string, number>();
    walk(prune.body, (x) => {
      const args = x.f.arguments?.kids ?? [];
      if (x.t !== 'call_expression' || !/^(container_of|container_of_const|list_entry|hlist_entry|hlist_entry_safe)$/.test(x.f.function?.text ?? '')) return;
      const off = args[0]?.t === 'identifier' && args[1] && args[2] ? prog.structs.get(args[1].text)?.fields.get(args[2].text)?.off : undefined;
      if (off !== undefined) memberOf.set(args[0]!.text, off);
    });
    impl.cpuDead = function* (k: Kernel, cpu: number): Op<void> {
      const args = prune.params.map((p) => ({ v: p.type.k === 'int' ? cpu : k.global(roles.binding.percpu) + (memberOf.get(p.name) ?? 0), t: p.type }));
      yield* (compiled ?? interp).call(k, prune, args, { steps: 0 });
    };
  }
  // Every other call site is checked too, each in a run of its own with the first site of the
  // other kind: a revision may break one caller (a kfree() left above the error path's put) and
  // not the other.
  const siteRuns: CBuild['siteRuns'] = [];
  const siteName = (which: string, x: Site) => `${which} site in ${x.fn}() (${x.at})`;
  for (const x of allocSites.slice(1))
    siteRuns.push({
      site: siteName('alloc', x),
      impl: { ...impl, *alloc(k: Kernel): Op<Value> { return yield* runSite(k, x, null); } },
    });
  for (const x of freeSites.slice(1))
    siteRuns.push({
      site: siteName('free', x),
      impl: { ...impl, *free(k: Kernel, obj: Value): Op<void> { yield* runSite(k, x, obj); } },
    });
  if (siteRuns.length) roles.evidence.push(`also checked, each in a run of its own: ${siteRuns.map((x) => x.site).join('; ')}`);
  // Only frees of the object the cache holds: the name the put takes it by, or the sites use.
  const objNames = new Set([sites.alloc.obj, sites.free.obj, ...(prog.functions.get(roles.fns.put!)?.params.map((x) => x.name) ?? [])]);
  const droppedFrees = (prog.post.droppedFrees ?? []).filter((d) => objNames.has(d.obj));
  const droppedAllocs = (prog.post.droppedAllocs ?? []).filter((d) => objNames.has(d.obj));
  const callSites = findCallSites(prog, roles, cacheFns, aliases, [...allocSites, ...freeSites]);
  const all = [...new Set([sites.init, sites.alloc, sites.free, ...allocSites, ...freeSites])];
  const compileAll = () =>
    compileC(
      interp,
      name,
      all.map((s) => {
        // The env runSite builds, in its order: parameters, the caller's values, the object.
        const vars = new Map<string, CType>();
        for (const x of paramValues(prog, roles, s)) vars.set(x.name, x.type);
        for (const x of s.callerValues ?? []) vars.set(x, INT);
        vars.set(s.obj, s.objType);
        return { key: s, fn: s.fn, at: s.at, stmts: stmtsOf(s), vars: [...vars].map(([n, type]) => ({ name: n, type })) };
      }),
      roles.fns.prune ? [prog.functions.get(roles.fns.prune)!] : [],
      cpu.loopFns,
    );
  if (o.compiled ?? C_COMPILED_DEFAULT) {
    try {
      compiled = compileAll();
    } catch (e) {
      // A fault of the compiler, not of the C: the interpreter runs it, and the report says so.
      roles.evidence.push(`run interpreted: the C compiler failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  }
  return { impl, roles, profile, prog, interp, coverage, sites, cacheFns, macros, droppedFrees, droppedAllocs, siteRuns, callSites, compiled, compile: () => compiled ?? compileAll() };
}

/**
 * Every call of the cache's alloc, put or splice in the code outside the cache functions, with
 * the site that drives it: one line each (the line the call is on), in source order per function.
 */
function findCallSites(p: Program, r: Roles, cacheFns: string[], aliases: Readonly<Record<string, string>>, sites: Site[]): CBuild['callSites'] {
  const inside = new Set([...cacheFns, ...Object.values(r.fns).filter((x): x is string => !!x)]);
  // The cache's own entry points: helpers they reach (bio's bio_init(), bio_free()) have callers of their own.
  const entries = [r.fns.alloc, r.fns.put, r.fns.splice].filter((x): x is string => !!x);
  const names = [...entries, ...Object.entries(aliases).filter(([, to]) => entries.includes(to)).map(([from]) => from)];
  if (!names.length) return [];
  const pat = new RegExp(`\\b(${names.join('|')})\\s*\\(`);
  const out: CBuild['callSites'] = [];
  for (const reg of regions(p)) {
    if (inside.has(reg.fn)) continue;
    for (const l of reg.lines) {
      const m = pat.exec(l.text.replace(/\/\*.*?\*\/|\/\/.*$/g, ''));
      if (!m) continue;
      // A declaration or definition line (`static void dio_put_percpu_cache(struct iomap_dio *dio)`) is no call.
      if (/^\s*(static\s+)?[\w\s]+\*?\s*\w+\s*\([^;]*$/.test(l.text) && !/[=;]/.test(l.text) && !/^\s*(if|while|return)\b/.test(l.text)) continue;
      const at = where(l);
      if (out.some((x) => x.at === at)) continue;
      const fn = aliases[m[1]!] ?? m[1]!;
      const role = fn === r.fns.alloc ? 'alloc' : fn === r.fns.put ? 'put' : fn === r.fns.splice ? 'splice' : fn === r.fns.prune ? 'prune' : 'cache function';
      const site = sites.find((x) => x.at === at);
      out.push({ fn: reg.fn, at, call: oneLine(l.text.trim()), role, ...(site ? { site } : {}) });
    }
  }
  return out;
}

/**
 * The caller's statements after a site's call, up to its `return` (the caller's own end) or the
 * last line the patch shows of its block: the window of the site's lines grown while it parses.
 * They run as part of the site. A value the model does not compute (the caller's `ret`: an
 * identifier that is no local, parameter, static, macro or kernel constant) reads as CALLER_VALUE,
 * and an `if` on one is a nondeterministic branch (Interp.nondetIfs). The tail stops before a
 * statement the checker cannot run: a call of a function it does not know (`iomap_iter()`), a
 * member no struct in the code has, a dereference of a caller value, a loop on one.
 */
function siteTail(p: Program, interp: Interp, r: Roles, aliases: Record<string, string>, s: Site): void {
  const w = s.win;
  if (!w) return;
  let all: N[] | null = null;
  for (let k = w.j; k < Math.min(w.lines.length, w.j + 60); k++) {
    const stmts = windowStatements(p, w.lines.slice(w.i, k + 1));
    if (stmts) all = stmts;
  }
  if (!all) return;
  const first = all.findIndex((x) => x.at === s.at);
  const shown = s.stmts.filter((x) => x.file !== 'synthesised' && !(s.leadAt ?? []).includes(x.at)).length;
  const rest = first < 0 ? [] : all.slice(first + shown);
  const given = new Set([...siteNames(s)]);
  const callerValues = new Set<string>();
  const hasField = (f: string) => [...p.structs.values()].some((l) => l.fields.has(f));
  const tail: N[] = [];
  for (const st of rest) {
    const c = scanCallees(p, interp, [st], aliases, given);
    let why: string | null = c.refused ? `the checker cannot run it (${c.refused})` : c.missing.size ? `it calls ${[...c.missing.keys()].map((x) => `${x}()`).join(', ')}, which the checker does not model` : null;
    const unknown = new Set(c.unknownIds.keys());
    walk(st, (x) => {
      if (why) return;
      if (x.t === 'field_expression') {
        const f = x.f.field?.text ?? '';
        const base = x.f.argument;
        if (f && !hasField(f)) why = `no struct in the ${p.post.kind === 'c' ? 'file' : 'patch'} has a member '${f}'`;
        else if (base?.t === 'identifier' && unknown.has(base.text)) why = `it dereferences ${base.text}, which the model does not compute`;
      }
      if (/^(while|for|do)_statement$/.test(x.t) && names(x.f.condition).some((n) => unknown.has(n))) why = `it loops on a value the model does not compute`;
    });
    if (why) {
      s.tailStop = { text: oneLine(st.text), at: st.at, why };
      break;
    }
    for (const n of unknown) callerValues.add(n);
    walk(st, (x) => {
      if (x.t === 'declaration') for (const d of x.kids) if (d !== x.f.type && /declarator|identifier/.test(d.t)) given.add(interp.types.declare(INT, d).name);
      if (x.t === 'if_statement' && names(x.f.condition).some((n) => callerValues.has(n))) interp.nondetIfs.add(x);
    });
    tail.push(st);
    if (st.t === 'return_statement') break;
  }
  if (tail.length) s.tail = tail;
  if (callerValues.size) s.callerValues = [...callerValues];
  const shownTail = tail.map((x) => `\`${oneLine(x.text)}\``).join(' ');
  const branches = tail.flatMap((x) => {
    const out: string[] = [];
    walk(x, (y) => {
      if (interp.nondetIfs.has(y)) out.push(`\`if ${oneLine(y.f.condition?.text ?? '')}\` (${y.at})`);
    });
    return out;
  });
  if (tail.length || s.tailStop)
    r.evidence.push(
      `site in ${s.fn}() (${s.at}) runs the caller's lines after the call${tail.length ? `: ${shownTail}` : ': none'}` +
        (s.tailStop ? `; it stops before \`${s.tailStop.text}\` (${s.tailStop.at}): ${s.tailStop.why}` : tail[tail.length - 1]?.t === 'return_statement' ? ', up to the return' : ', to the last line the patch shows') +
        (branches.length ? `; ${branches.join(', ')} ${branches.length > 1 ? 'are nondeterministic branches' : 'is a nondeterministic branch'} (the model does not compute ${[...callerValues].join(', ')}): both ways are explored` : ''),
    );
}

/** The identifiers an expression names. */
function names(n: N | undefined): string[] {
  const out: string[] = [];
  if (n) walk(n, (x) => {
    if (x.t === 'identifier') out.push(x.text);
  });
  return out;
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
  const had = p.structs.get(name);
  const l = had ?? { name, size: 0, align: 8, fields: new Map(), partial: true, at: '(not in the patch)' };
  // After the members the patch shows, never on top of one: an alloc that advances through a
  // field other than the put's link must not read the put's link by accident of layout.
  const off = Math.max(PARTIAL_PREFIX, Math.ceil(l.size / 8) * 8);
  l.fields.set(r.binding.next, { off, type: { k: 'ptr', to: { k: 'struct', name } } });
  l.size = Math.max(l.size, off + 8);
  l.partial = true;
  p.structs.set(name, l);
  r.evidence.push(
    had && had.fields.size > 1
      ? `struct ${name}'s lines in the patch do not show its link field ${r.binding.next}: assumed at offset ${off}, after the members they show`
      : `struct ${name} is not in the patch: assumed opaque, with its link field ${r.binding.next} at offset ${off}`,
  );
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
/** A call site that cannot run: the statement before it in its block returns or jumps away. */
interface DeadSite {
  fn: string;
  at: string;
  call: string;
  /** The statement that leaves first, and where. */
  by: string;
  byAt: string;
}

function findSites(p: Program, r: Roles, which: 'init' | 'alloc' | 'free', objType: CType, dead?: DeadSite[]): Site[] {
  const inside = new Set(Object.values(r.fns));
  // The initcall assigns the static, or (a static descriptor) passes it to the create helper.
  const assigns = new RegExp(`\\b${r.binding.percpu}\\s*=\\s*\\w+\\s*\\(|\\b(?:WRITE_ONCE|rcu_assign_pointer)\\s*\\(\\s*${r.binding.percpu}\\s*,\\s*\\w+\\s*\\(`);
  const pat =
    which === 'init'
      ? new RegExp(`${assigns.source}${r.fns.create ? `|\\b${r.fns.create}\\s*\\(\\s*&\\s*${r.binding.percpu}\\b` : ''}`)
      : new RegExp(`\\b${which === 'alloc' ? r.fns.alloc : r.fns.put}\\s*\\(`);
  // Inside a create helper that takes the descriptor: `bs->cache = alloc_percpu(...)`, last resort.
  const own = which === 'init' && r.binding.percpuField && r.fns.create ? new RegExp(`\\b\\w+\\s*->\\s*${r.binding.percpuField}\\s*=\\s*alloc_percpu\\s*\\(`) : null;
  const out: Site[] = [];
  const late: Site[] = [];
  for (const reg of regions(p)) {
    if (inside.has(reg.fn) && which !== 'init') continue;
    const fn = p.functions.get(reg.fn);
    for (let i = 0; i < reg.lines.length; i++) {
      const isOwn = !!own && reg.fn === r.fns.create && own.test(reg.lines[i]!.text);
      if (!pat.test(reg.lines[i]!.text) && !isOwn) continue;
      // The create helper's own (recursive-looking) mention of its name is not its call site.
      if (which === 'init' && reg.fn === r.fns.create && !assigns.test(reg.lines[i]!.text) && !isOwn) continue;
      // A function's header line is not a call site (`if (create(...))` without a `;` is).
      if (/^\s*(static\s+)?[\w\s]+\*?\s*\w+\s*\([^;]*$/.test(reg.lines[i]!.text) && !/[=;]/.test(reg.lines[i]!.text) && !/^\s*(if|while|return)\b/.test(reg.lines[i]!.text)) continue;
      const settled = out.length + late.length + (dead?.length ?? 0);
      for (let j = i; j < Math.min(reg.lines.length, i + 16); j++) {
        const stmts = windowStatements(p, reg.lines.slice(i, j + 1));
        if (!stmts?.length) continue;
        const first = stmts[0]!;
        const assigned = assignedBy(first);
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
        if (which !== 'init') {
          const gone = leavesBefore(p, reg.lines, i, j, first);
          if (gone) {
            dead?.push({ fn: reg.fn, at: first.at, call: oneLine(first.text), by: oneLine(gone.text), byAt: gone.at });
            r.evidence.push(`${which} site in ${reg.fn}() (${first.at}) cannot run: \`${oneLine(gone.text)}\` (${gone.at}) leaves the block right before it`);
            break;
          }
        }
        const lead = which === 'init' ? [] : leadingObjectStatements(p, r, which, reg.lines, i, obj);
        if (lead.length) r.evidence.push(`${which} site in ${reg.fn}() (${first.at}) starts with what the object goes through just before the call: \`${lead.map((x) => oneLine(x.text)).join(' ')}\``);
        const site: Site = { fn: reg.fn, stmts: [...lead, ...chosen], obj: which === 'init' ? '__none' : obj, objType: declaredType(p, reg.lines, i, obj) ?? objType, synthesised: false, at: first.at, win: { lines: reg.lines, i, j } };
        if (lead.length) site.leadAt = lead.map((x) => x.at);
        if (which === 'alloc') {
          const after = statementAfter(p, reg.lines, i, j, chosen.length);
          if (after && dereferences(after.text, obj)) {
            site.usedAfter = { text: oneLine(after.text), at: after.at };
            r.evidence.push(`alloc site in ${reg.fn}() (${first.at}): the line after it, \`${oneLine(after.text)}\` (${after.at}), dereferences ${obj}`);
          }
        }
        if (fn?.params.length && paramsUsed(fn, chosen).length) site.params = fn.params;
        if (isOwn) late.push({ ...site, own: true });
        else out.push(site);
        break;
      }
      // No site for a call the patch shows: if that is because the code after it does not parse,
      // say so (exit 2) rather than drive a synthesised site and pass C that cannot compile.
      if (out.length + late.length + (dead?.length ?? 0) === settled) {
        const err = brokenAfter(p, reg.lines, i);
        if (err) {
          // A MISSING node has no text: name its line instead.
          const near = oneLine(err.text) || oneLine(reg.lines.find((l) => where(l) === err.at)?.text ?? '');
          throw new UsageError(`C does not parse: ${err.at}: in ${reg.fn}(), near '${near.slice(0, 60)}' (after the call at ${where(reg.lines[i]!)}, which the checker would otherwise not drive)`);
        }
      }
    }
  }
  // A call that another site starts with (`dio = alloc(); dio = alloc();`: the first pop is lost)
  // runs as part of that site, where what follows it is seen; as a site of its own it would not be.
  const inLead = new Set(out.flatMap((x) => x.leadAt ?? []));
  return [...out.filter((x) => !inLead.has(x.at)), ...late];
}

/**
 * The parse error in the statements that follow line i of a function's lines: every window from i
 * that ends where the braces balance (and never close more than they opened) fails to parse
 * beyond the first statement. Windows that run into the edge of what the hunk shows (a block
 * still open, a `}` closing one opened above i) are not judged: that is not a parse error.
 */
function brokenAfter(p: Program, lines: SrcLine[], i: number): N | null {
  let depth = 0;
  let first = -1;
  let failed: N | null = null;
  for (let k = i; k < lines.length; k++) {
    const t = lines[k]!.text.replace(/\/\*.*?\*\/|\/\/.*$|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'/g, '');
    for (const c of t) {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      if (depth < 0) return failed;
    }
    if (depth !== 0 || !/[;}]\s*$/.test(t)) continue;
    const window = lines.slice(i, k + 1);
    const stmts = windowStatements(p, window);
    if (stmts) {
      if (first < 0) first = k;
      else return null;
      continue;
    }
    if (first < 0) continue;
    const root = parseLines(p.parser, [{ text: 'void __site(void) {', file: lines[i]!.file, line: lines[i]!.line }, ...window, { text: '}', file: lines[k]!.file, line: lines[k]!.line }]);
    failed ??= firstError(root);
  }
  return failed;
}

/**
 * The `return` or `goto` that comes right before `first` (the site's statement, at line i of a
 * window parsed up to line j) in the same block, so that the site never runs: the window is grown
 * backwards, from lines that start a statement (the code above them ends one or opens a block:
 * `return NULL;` under an `if (...)` on the line above is that if's body), until it parses. A
 * label on the site's statement makes it reachable again.
 */
function leavesBefore(p: Program, lines: SrcLine[], i: number, j: number, first: N): N | null {
  const startsStatement = (k: number): boolean => {
    for (let a = k - 1; a >= 0; a--) {
      const t = lines[a]!.text.replace(/\/\*.*?\*\/|\/\/.*$/g, '').trim();
      if (!t || /^\*|^\/\*/.test(t)) continue;
      return /[;{}]$/.test(t) || /^\w+:$/.test(t);
    }
    // The first line of what the patch shows: what is above it is not known.
    return false;
  };
  for (let k = i - 1; k >= Math.max(0, i - 12); k--) {
    if (!lines[k]!.text.trim() || !startsStatement(k)) continue;
    const stmts = windowStatements(p, lines.slice(k, j + 1));
    if (!stmts) continue;
    const at = stmts.findIndex((x) => x.at === first.at);
    if (at < 0) continue;
    if (at === 0) return null;
    const prev = stmts[at - 1]!;
    return prev.t === 'return_statement' || prev.t === 'goto_statement' ? prev : null;
  }
  return null;
}

/** What a statement stores to: `x = f();`, or the first argument of `WRITE_ONCE(x, f());` and its kin. */
function assignedBy(st: N): string {
  const e = st.kids[0];
  if (e?.t === 'assignment_expression') return e.f.left?.text ?? '';
  if (e?.t === 'call_expression' && /^(WRITE_ONCE|rcu_assign_pointer|smp_store_release)$/.test(e.f.function?.text ?? '')) return e.f.arguments?.kids[0]?.text ?? '';
  return '';
}

/**
 * The statement that follows the first `n` statements of the window starting at line `i` (the
 * window first parsed at line `j`), or null when the function ends first or it does not parse
 * within a few lines.
 */
function statementAfter(p: Program, lines: SrcLine[], i: number, j: number, n: number): N | null {
  for (let k = j + 1; k < Math.min(lines.length, j + 12); k++) {
    const stmts = windowStatements(p, lines.slice(i, k + 1));
    if (stmts && stmts.length > n) return stmts[n]!;
  }
  return null;
}

/** A statement that dereferences `obj` before anything could test it: `obj->f = ...`, `atomic_set(&obj->ref, 1)`, `memset(obj, ...)`. */
function dereferences(text: string, obj: string): boolean {
  return new RegExp(`^\\s*(?:\\w+\\s*\\(\\s*&?\\s*)?${obj}\\s*->|^\\s*(?:memset|memcpy)\\s*\\(\\s*${obj}\\s*,`).test(text);
}

/**
 * The statements right above a site's call that already dispose of its object or fill it: a
 * `kfree(dio);` the patch left above the put that replaced it (a double free), or a
 * `dio = kmalloc(...);` left above the alloc that replaced it (a leak). One line each, nothing
 * between them and the call but blank lines and comments; anything else ends the run. They run
 * as part of the site, so the search sees what they do.
 */
function leadingObjectStatements(p: Program, r: Roles, which: 'alloc' | 'free', lines: SrcLine[], i: number, obj: string): N[] {
  if (!obj) return [];
  const frees = `kfree|kvfree|kmem_cache_free\\s*\\([^,()]+,|mempool_free${r.fns.put ? `|${r.fns.put}` : ''}`;
  const allocs = `${SLAB_ALLOCS.join('|')}${r.fns.alloc ? `|${r.fns.alloc}` : ''}`;
  const re =
    which === 'free'
      ? new RegExp(`^\\s*(?:${frees})\\s*\\(?\\s*${obj}\\s*[,)][^;]*;\\s*(?:/[*/].*)?$`)
      : new RegExp(`^\\s*${obj}\\s*=\\s*(?:${allocs})\\s*\\([^;]*\\)\\s*;\\s*(?:/[*/].*)?$`);
  const taken: SrcLine[] = [];
  for (let j = i - 1; j >= 0; j--) {
    const t = lines[j]!.text;
    if (/^\s*$|^\s*(\/\/|\/\*|\*)/.test(t)) continue;
    if (!re.test(t)) break;
    taken.unshift(lines[j]!);
  }
  if (!taken.length) return [];
  return windowStatements(p, taken) ?? [];
}

/** Lines of a function, parsed as the body of one: its statements, or null when they are not valid C on their own. */
function windowStatements(p: Program, window: SrcLine[]): N[] | null {
  const first = window[0]!;
  const last = window[window.length - 1]!;
  const root = parseLines(p.parser, [{ text: 'void __site(void) {', file: first.file, line: first.line }, ...window, { text: '}', file: last.file, line: last.line }]);
  if (firstError(root)) return null;
  return root.kids.find((k) => k.t === 'function_definition')?.f.body?.kids ?? [];
}

/** The parameters of `fn` that the statements name. */
function paramsUsed(fn: CFunction, stmts: N[]): string[] {
  const names = new Set(fn.params.map((x) => x.name));
  const hit = new Set<string>();
  for (const st of stmts)
    walk(st, (x) => {
      if (x.t === 'identifier' && names.has(x.text)) hit.add(x.text);
    });
  return [...hit];
}

/**
 * The values a site's enclosing-function parameters get: a pointer to the cache's descriptor is
 * the descriptor (`bs` = &fs_bio_set), every other parameter is 0 (NULL, no flags, no vecs).
 */
function paramValues(p: Program, r: Roles, s: Site): { name: string; type: CType; shown: string; value: (k: Kernel) => number }[] {
  const d = p.statics.get(r.binding.percpu);
  const descType = descriptorType(p, r);
  return (s.params ?? [])
    .filter((x) => x.name !== s.obj)
    .map((x) =>
      descType && x.type.k === 'ptr' && x.type.to.k === 'struct' && x.type.to.name === descType
        ? { name: x.name, type: x.type, shown: `${d!.type.k === 'struct' ? '&' : ''}${r.binding.percpu}`, value: (k: Kernel) => k.global(r.binding.percpu) }
        : { name: x.name, type: x.type, shown: '0', value: () => (x.type.k === 'ptr' ? NULL : 0) },
    );
}

/**
 * A caller's site that only asks the cache (`bio = bio_alloc_percpu_cache(...); if (bio) return
 * bio;`) and whose slab fallback is further down in code the checker does not run (block/bio.c's
 * bio_alloc_bioset(): mempools, the rescuer): on a miss, the object comes from the slab
 * (kzalloc) and gets what the alloc itself does to an object after its put_cpu() (bio_init(),
 * `bio->bi_pool = bs`), so that a fresh object and a cached one are set up alike.
 */
function withSlabPath(p: Program, r: Roles, site: Site): Site {
  const allocates = site.stmts.some((st) => {
    let hit = false;
    walk(st, (x) => {
      if (x.t === 'call_expression' && SLAB_ALLOC.test(x.f.function?.text ?? '')) hit = true;
    });
    return hit;
  });
  if (allocates || r.missAllocation !== 'caller' || site.synthesised) return site;
  const a = p.functions.get(r.fns.alloc!)!;
  let call: N | null = null;
  for (const st of site.stmts)
    walk(st, (x) => {
      if (!call && x.t === 'call_expression' && x.f.function?.text === a.name) call = x;
    });
  const name = call ? slabPath(p, r, site.objType) : null;
  if (!call || !name) return site;
  const args = ((call as N).f.arguments?.kids ?? []).map((x) => x.text).join(', ');
  const fallback = parseLines(p.parser, [{ text: `void __site(void) { if (!${site.obj}) ${site.obj} = ${name}(${args}); }`, file: 'synthesised', line: 0 }]);
  const st = fallback.kids[0]?.f.body?.kids[0];
  if (!st) return site;
  return { ...site, stmts: [...site.stmts, st] };
}

/**
 * The slab path of a miss when the caller's own is not there to run: a function taking the
 * alloc's parameters that kzallocs the object and does to it what the alloc does to a popped one
 * after its put_cpu() (block/bio.c: bio_init(), `bio->bi_pool = bs`), so that a fresh object and a
 * cached one are set up alike. Null when the alloc does nothing after put_cpu() but return it.
 */
function slabPath(p: Program, r: Roles, objType: CType): string | null {
  const a = p.functions.get(r.fns.alloc!)!;
  const name = `__slab_${a.name}`;
  if (p.functions.has(name)) return name;
  const body = a.body.kids;
  const last = body.length - 1;
  const ret = body[last];
  if (ret?.t !== 'return_statement' || ret.kids[0]?.t !== 'identifier') return null;
  const local = ret.kids[0].text;
  const lastWhere = (re: RegExp) => body.map((x, i) => (re.test(x.text) ? i : -1)).reduce((m, i) => Math.max(m, i), -1);
  // The set-up after the pop: after the put_cpu() that ends it, or, in a revision that lost that
  // put_cpu(), after the last statement that touches the cache's lists or counters.
  const b = r.binding;
  let putAt = lastWhere(/^\s*(put_cpu|put_cpu_ptr|preempt_enable)\s*\(/);
  if (putAt < 0) putAt = lastWhere(new RegExp(`->\\s*(${[b.freeList, b.freeListIrq, b.nr, b.nrIrq].join('|')})\\b`));
  // A kmemleak_alloc() re-registers a cached object; a fresh one the slab allocator registered
  // itself (mm/slub.c:slab_post_alloc_hook()), and a second registration is a kmemleak bug.
  const annotation = (st: N) => /^\s*kmemleak_alloc\s*\(/.test(st.text);
  const dropped = body.slice(putAt + 1, last).filter(annotation);
  const tail = body.slice(putAt + 1, last).filter((st) => !annotation(st));
  const objT = objType.k === 'ptr' && objType.to.k === 'struct' ? objType.to.name : '';
  if (putAt < 0 || !tail.length || !objT) return null;
  const header = a.node.text
    .slice(0, a.node.text.indexOf('{'))
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(new RegExp(`\\b${a.name}\\s*\\(`), `${name}(`);
  const syn = (text: string) => ({ text, file: 'synthesised', line: 0 });
  const lines: SrcLine[] = [
    syn(header),
    syn('{'),
    syn(`\tstruct ${objT} *${local} = kzalloc(sizeof(*${local}), GFP_KERNEL);`),
    syn(`\tif (!${local})`),
    syn('\t\treturn NULL;'),
    ...tail.flatMap((st) => st.text.split('\n').map((t, i) => ({ text: t, file: st.file, line: st.line + i }))),
    syn(`\treturn ${local};`),
    syn('}'),
  ];
  const root = parseLines(p.parser, lines);
  const def = root.kids.find((k) => k.t === 'function_definition');
  if (!def || firstError(root) || !def.f.body) return null;
  p.functions.set(name, { name, ret: a.ret, params: a.params, body: def.f.body, node: def, at: a.at });
  r.evidence.push(
    `a miss's slab path is ${name}(): kzalloc() and ${a.name}()'s own set-up after put_cpu() (${tail.map((x) => oneLine(x.text)).join(' ')})${dropped.length ? `, without its ${dropped.map((x) => oneLine(x.text)).join(' ')} (the slab allocator registers a fresh object with kmemleak itself)` : ''}`,
  );
  return name;
}

/** The struct a static descriptor (or the one a static points to) is, when the __percpu pointer is its field. */
function descriptorType(p: Program, r: Roles): string | null {
  const d = p.statics.get(r.binding.percpu);
  if (r.binding.percpuField === undefined || !d) return null;
  return d.type.k === 'struct' ? d.type.name : d.type.k === 'ptr' && d.type.to.k === 'struct' ? d.type.to.name : null;
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

/**
 * The `__percpu` static is the code's own (declared on a line the patch adds, or in a C file, so
 * nothing outside the code can set it) and nothing in the code stores to it: it stays NULL, as in
 * the kernel, and the first per_cpu_ptr() on it oopses. For a static descriptor struct (bio's
 * fs_bio_set) what stays NULL is its cache field. Returns what stays NULL (`dio_cache`,
 * `xreq_default_set.cache`), or null when the code may be setting it: an assignment, a store
 * macro, or (a pointer static) its address handed on. Read from the text of every line the code
 * shows, so that an initcall whose start is outside the hunk counts; a comment that looks like a
 * store only makes the checker synthesise the initcall, as it did before.
 */
function unassignedPercpu(p: Program, r: Roles): string | null {
  const s = p.statics.get(r.binding.percpu);
  if (!s || !s.added || s.perCpuVar || s.init) return null;
  const field = s.type.k === 'struct' ? r.binding.percpuField : undefined;
  if (s.type.k === 'struct' && field === undefined) return null;
  const place = field !== undefined ? `(?:->|\\.)\\s*${field}` : `\\b${s.name}`;
  const store = new RegExp(
    `${place}\\s*(?:=[^=]|\\+\\+|--)|\\b(?:WRITE_ONCE|rcu_assign_pointer|smp_store_release|xchg|cmpxchg|try_cmpxchg)\\s*\\(\\s*&?\\s*[\\w.>-]*${place}\\b` +
      (field === undefined ? `|&\\s*${s.name}\\b` : ''),
  );
  const lines = [...p.post.complete, ...p.post.fragments.flatMap((f) => f.lines)];
  if (lines.some((l) => where(l) !== s.at && store.test(l.text))) return null;
  return field !== undefined ? `${s.name}.${field}` : s.name;
}

/** The init of a static nothing assigns: nothing runs, and the report says so. */
function nullInit(p: Program, r: Roles, what: string): Site {
  const at = p.statics.get(r.binding.percpu)!.at;
  r.evidence.push(`${what} (${at}) is never assigned: nothing in the ${p.post.kind === 'c' ? 'file' : 'patch'} stores to it (no alloc_percpu() result), so it stays NULL`);
  return { fn: '(initcall)', stmts: [], obj: '__none', objType: { k: 'void' }, synthesised: false, at, staysNull: what };
}

/** Caller code the patch does not show, written the way __iomap_dio_rw and iomap_dio_complete use the cache. */
function synthSite(p: Program, which: 'init' | 'alloc' | 'free', r: Roles, objType: CType): Site {
  const desc = descriptorType(p, r);
  const isDesc = (t: CType) => !!desc && t.k === 'ptr' && t.to.k === 'struct' && t.to.name === desc;
  const descArg = p.statics.get(r.binding.percpu)?.type.k === 'struct' ? `&${r.binding.percpu}` : r.binding.percpu;
  const sameObj = (t: CType) => t.k === 'ptr' && t.to.k === 'struct' && objType.k === 'ptr' && objType.to.k === 'struct' && t.to.name === objType.to.name;
  const argsFor = (f: CFunction, obj: string) =>
    f.params.some((x) => isDesc(x.type))
      ? // bio's helpers take (bdev, nr_vecs, opf, gfp, bs): the descriptor, the object, and zero for the rest.
        f.params.map((x) => (isDesc(x.type) ? descArg : sameObj(x.type) ? obj : x.type.k === 'ptr' ? 'NULL' : '0')).join(', ')
      : f.params
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
    else if (r.binding.percpuField !== undefined && p.statics.get(r.binding.percpu)?.type.k === 'struct')
      text = `${r.binding.percpu}.${r.binding.percpuField} = alloc_percpu(struct ${r.cacheStruct});`;
    else text = `${r.binding.percpu} = alloc_percpu(struct ${r.cacheStruct});`;
  } else if (which === 'alloc') {
    const slab = r.missAllocation === 'caller' ? slabPath(p, r, objType) : null;
    text =
      `obj = ${alloc.name}(${argsFor(alloc, 'obj')});` +
      (slab ? ` if (!obj) obj = ${slab}(${argsFor(alloc, 'obj')});` : r.missAllocation === 'caller' ? ` if (!obj) obj = kmalloc(sizeof(*obj), GFP_KERNEL);` : '');
  } else text = `${put.name}(${argsFor(put, 'obj')});`;
  const root = parseLines(p.parser, [{ text: `void __site(void) { ${text} }`, file: 'synthesised', line: 0 }]);
  const stmts = root.kids[0]?.f.body?.kids ?? [];
  return { fn: which === 'init' ? '(initcall)' : which === 'alloc' ? '(caller)' : '(completion)', stmts, obj: 'obj', objType, synthesised: true, at: 'synthesised' };
}

/** Identifiers the interpreter knows without a definition in the code. */
const KNOWN_IDENTIFIERS = new Set(['NULL', 'true', 'false', 'nr_cpu_ids', ...Object.keys(KNOWN_CONSTANTS)]);
/** The slab allocations of the primitives table (`allocates`): what a caller's allocation of the object calls. */
const SLAB_ALLOCS = cPrimitiveNames().filter((n) => cPrimitive(n)!.allocates);
const SLAB_ALLOC = new RegExp(`^(${SLAB_ALLOCS.join('|')})$`);

interface CalleeCheck {
  refused: string | null;
  missing: Map<string, string>;
  unknownIds: Map<string, string>;
  statics: Set<string>;
}

/** The names a site's statements have without declaring them: its object and its function's parameters. */
function siteNames(s: Site): Set<string> {
  return new Set([s.obj, ...(s.params ?? []).map((x) => x.name)]);
}

/** Walks everything `roots` reach: the first refused construct, unknown callees and identifiers, the statics named. */
function scanCallees(p: Program, interp: Interp, roots: N[], aliases: Record<string, string>, given: ReadonlySet<string>): CalleeCheck {
  const missing = new Map<string, string>();
  const unknownIds = new Map<string, string>();
  const statics = new Set<string>();
  const seen = new Set<N>();
  let refused: string | null = null;
  const visit = (n: N, fn?: CFunction, macroParams?: readonly string[], site = false, via: readonly string[] = []) => {
    if (seen.has(n)) return;
    seen.add(n);
    if (!refused) {
      refused = interp.unsupported(n, fn?.params ?? []);
      // Where it is and how the cache gets there: a binding can replace any function on the way.
      if (refused && fn && via.length)
        // Name the entry that avoids it: the caller's, whose own definition need not reach the construct (block/bio.c's bvec_free() for biovec_slab()'s switch).
        refused += ` (in ${fn.name}(), reached through ${via.map((x) => `${x}()`).join(' → ')}; the binding entry that avoids it: "functions": {"${via[via.length - 1]}": "C text"}, a definition of ${via[via.length - 1]}() that does not call ${fn.name}() (any function on the way, or ${fn.name}() itself, will do; docs/checking-your-patch.md, "block/bio.c itself", has one))`;
      else if (refused && fn) refused += ` (in ${fn.name}())`;
    }
    const locals = new Set<string>([...(fn?.params.map((x) => x.name) ?? []), ...(macroParams ?? []), ...(site ? given : [])]);
    walk(n, (x) => {
      if (x.t === 'declaration') for (const d of x.kids) if (d !== x.f.type && /declarator|identifier/.test(d.t)) locals.add(interp.types.declare(INT, d).name);
    });
    const skip = new Set<N>();
    walk(n, (x) => {
      if (x.t !== 'call_expression') return;
      if (x.f.function) skip.add(x.f.function);
      const name = aliases[x.f.function?.text ?? ''] ?? x.f.function?.text ?? '';
      // Arguments the interpreter never evaluates (a type, a member, a disabled tracepoint's) name nothing to check.
      const row = cPrimitive(name);
      if (row?.unevaluated !== undefined) (x.f.arguments?.kids ?? []).slice(row.unevaluated).forEach((a) => walk(a, (y) => skip.add(y)));
      if (row?.opaque) for (const i of row.opaque) {
        const a = x.f.arguments?.kids[i];
        if (a) walk(a, (y) => skip.add(y));
      }
      // A print reads its arguments (interp.ts printArgs), not its format; nor are an unknown
      // call's strings and __func__ names the user must define (the call itself is reported).
      const unknown = !row && !p.functions.has(name) && !p.macros.has(x.f.function?.text ?? '');
      if (row?.prints || unknown) for (const a of x.f.arguments?.kids ?? []) if (isPrintString(a)) walk(a, (y) => skip.add(y));
      // The class of guard(cls)(...) and scoped_guard(cls, ...) is a name, not a value.
      if (name === 'guard' || name === '__scoped_guard') {
        const cls = x.f.arguments?.kids[0];
        if (cls) walk(cls, (y) => skip.add(y));
      }
    });
    // A macro's body may name its caller's locals: its identifiers are checked when it runs.
    walk(n, (x) => {
      if (x.t !== 'identifier' || skip.has(x) || locals.has(x.text) || (macroParams && !p.statics.has(x.text))) return;
      if (p.statics.has(x.text)) statics.add(x.text);
      else if (!p.macros.has(x.text) && !p.functions.has(aliases[x.text] ?? x.text) && !KNOWN_IDENTIFIERS.has(x.text) && !unknownIds.has(x.text)) unknownIds.set(x.text, x.at);
    });
    for (const c of interp.calledNames(n)) {
      const name = aliases[c.name] ?? c.name;
      const f = p.functions.get(name);
      if (f) {
        visit(f.body, f, undefined, false, fn ? [...via, fn.name] : via);
        continue;
      }
      const m = p.macros.get(name);
      if (m?.params) {
        if (m.expr) visit(m.expr, undefined, m.params, site, via);
        if (m.stmt) visit(m.stmt, undefined, m.params, site, via);
        continue;
      }
      if (cPrimitive(name)) continue;
      if (!missing.has(c.name)) missing.set(c.name, c.at);
    }
  };
  for (const r of roots) {
    const f = [...p.functions.values()].find((x) => x.body === r);
    visit(r, f, undefined, !f);
  }
  return { refused, missing, unknownIds, statics };
}

/** What keeps `roots` from running: a refused construct, else unknown names; null when they can run. */
function calleeProblems(p: Program, interp: Interp, roots: N[], aliases: Record<string, string>, given: ReadonlySet<string>): string | null {
  const c = scanCallees(p, interp, roots, aliases, given);
  if (c.refused) return `unsupported C: ${c.refused}`;
  if (c.missing.size || c.unknownIds.size) return unknownNames(c);
  return null;
}

function unknownNames(c: CalleeCheck, bindingFile?: string): string {
  const fns = [...c.missing].map(([n, at]) => `${n}() at ${at}`);
  const ids = [...c.unknownIds].map(([n, at]) => `${n} at ${at}`);
  const parts = [
    ...(fns.length ? [`unknown function ${fns.join(', ')}: not in the code and not a kernel primitive the checker knows`] : []),
    ...(ids.length ? [`unknown identifier ${ids.join(', ')}: not a local, a static, a macro of the code or a kernel constant the checker knows`] : []),
  ];
  return `${parts.join('; ')}; give ${fns.length ? 'a C definition in a binding file ("functions": {"name": "C text"}) or map it to a primitive ("aliases": {"name": "kfree"})' : ''}${fns.length && ids.length ? ', and ' : ''}${ids.length ? 'a #define in a binding file ("functions": {"constants": "#define NAME value"})' : ''}, and pass --binding FILE${bindingFile ? ` (now ${bindingFile})` : ''}`;
}

/** Every called name must be a patch function, a macro, a primitive or a binding alias; every identifier known. Returns the statics the code names. */
function checkCallees(p: Program, interp: Interp, roots: N[], aliases: Record<string, string>, given: ReadonlySet<string>, bindingFile?: string): Set<string> {
  const c = scanCallees(p, interp, roots, aliases, given);
  if (c.refused) throw new UsageError(`unsupported C: ${c.refused}`);
  if (c.missing.size || c.unknownIds.size) throw new UsageError(unknownNames(c, bindingFile));
  return c.statics;
}

/** What a DEFINE_PER_CPU initialiser sets other than a local_lock_t and zeroes, else null. */
function perCpuInitProblem(init: N): string | null {
  if (init.t !== 'initializer_list') return oneLine(init.text);
  for (const x of init.kids) {
    const v = x.t === 'initializer_pair' ? x.f.value ?? x.kids[x.kids.length - 1] : x;
    if (!v) continue;
    if (v.t === 'call_expression' && v.f.function?.text === 'INIT_LOCAL_LOCK') continue;
    if (v.t === 'number_literal' && Number(v.text.replace(/[uUlL]+$/, '')) === 0) continue;
    if (v.t === 'null' || v.text === 'NULL') continue;
    if (v.t === 'initializer_list' && !perCpuInitProblem(v)) continue;
    return oneLine(x.text);
  }
  return null;
}

/** Whether a statement calls `fn` (directly, or through a macro alias of it). */
function callsFunction(n: N, fn: string, aliases: Readonly<Record<string, string>>): boolean {
  if (n.t === 'call_expression') {
    const name = n.f.function?.text ?? '';
    if (name === fn || aliases[name] === fn) return true;
  }
  return n.kids.some((c) => callsFunction(c, fn, aliases));
}
