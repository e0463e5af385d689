/**
 * The C compiled once: the functions and call sites the interpreter (interp.ts) would run, turned
 * into generator source in the shape of the hand-written ports (impl/ports/iomap-v1.ts), one
 * generator per C function, a `yield` per statement boundary, every memory access and kernel call
 * through the Kernel `k`, in the order the interpreter makes them, so that read logs replay the
 * same and traces, coverage and faults come out the same.
 *
 * What the compiler does not translate (a construct it does not know, a value whose C type is only
 * known at run time, or C the interpreter refuses with an error) it hands to the interpreter at
 * that node, with the locals in scope bridged into an interpreter Env and written back after: the
 * semantics are the interpreter's by construction, only slower there. `fallbacks` lists them.
 *
 * Locals are JavaScript variables; a call site's own variables (the object, the caller's values)
 * are the Var boxes build.ts hands in, because build.ts reads the object back after the site runs.
 */
import type { Kernel } from '../../impl/kernel/primitives.js';
import { CALL_PC, KernelFault } from '../../impl/kernel/primitives.js';
import { cPrimitive } from '../../impl/kernel/primitive-table.js';
import { isPtr } from '../../impl/kernel/values.js';
import { oneLine, type N } from './ast.js';
import { INT, LONG, showType, VOIDP, type CFunction, type CType } from './extract.js';
import {
  C_STEP_BUDGET,
  charValue,
  CRuntimeError,
  GFP_NAME,
  GFP_ZERO,
  GUARDS,
  guardStmt,
  Interp,
  KNOWN_CONSTANTS,
  LIMITS,
  scopedGuard,
  truthy,
  wider,
  type Budget,
  type Completion,
  type Env,
  type GuardUse,
  type TV,
} from './interp.js';

type Gen<T> = Generator<string, T, void>;

/** A compiled call site: runs the site's statements in build.ts's env, returns the interpreter's completion. */
export type SiteFn = (k: Kernel, st: Budget, env: Env) => Gen<Completion>;

export interface CompiledC {
  /** The generated JavaScript the checker runs. */
  js: string;
  /** The same, as a TypeScript module with the C line numbers: `dio-cache check FILE --emit-port OUT.ts`. */
  ts: string;
  /** Nodes handed to the interpreter: where, what, why. */
  fallbacks: { at: string; text: string; why: string }[];
  call(k: Kernel, fn: CFunction, args: readonly TV[], st: Budget): Gen<TV>;
  site(key: object): SiteFn;
}

export interface SiteSpec {
  /** Identity build.ts looks the compiled site up by. */
  key: object;
  fn: string;
  at: string;
  stmts: readonly N[];
  /** The variables build.ts puts in the env before the site runs, with their C types. */
  vars: readonly { name: string; type: CType }[];
}

interface Local {
  name: string;
  js: string;
  t: CType;
  /** A Var box of build.ts's env (`V.v`), not a JS number. */
  boxed: boolean;
}

interface Scope {
  vars: Map<string, Local>;
  margs: Map<string, { node: N; sc: Scope }> | null;
  parent: Scope | null;
}

/** A value's code and its C type at compile time (null: only known at run time). */
interface X {
  c: string;
  t: CType | null;
}

/** Thrown at compile time: the node goes to the interpreter. */
class Fallback extends Error {}

type Frame =
  | { k: 'block'; held: { i: number; g: GuardUse; flags: string }[]; labels: Map<string, number> | null; pc: string; js: string; pos: number; stmts: readonly N[] }
  | { k: 'loop'; brk: string; cont: string }
  | { k: 'sguard'; g: GuardUse; flags: string; js: string };

const js = (s: string) => JSON.stringify(s);

function sameType(a: CType | null, b: CType | null): boolean {
  return a !== null && b !== null && JSON.stringify(a) === JSON.stringify(b);
}

/** One generator being written: a C function or a call site. */
class Unit {
  lines: string[] = [];
  lets = new Map<string, string>();
  frames: Frame[] = [];
  rets: (CType | null)[] = [];
  private n = 0;
  depth = 1;
  /** Inside Interp.expr (not gexpr): calls are primitives, never the patch's functions. */
  pmode = 0;
  /** A node of this unit went to the interpreter: its state is not all in JS locals (Kernel.act(), null locals). */
  opaque = false;
  constructor(
    readonly fn: string,
    readonly mode: 'fn' | 'site',
    readonly cfn: CFunction | null,
  ) {}
  tmp(prefix = '$', tsType = 'number'): string {
    const v = `${prefix}${++this.n}`;
    this.lets.set(v, tsType);
    return v;
  }
  emit(line: string, at?: N): void {
    this.lines.push(`${'  '.repeat(this.depth)}${line}${at ? ` // l.${at.line}` : ''}`);
  }
}

export class Compiler {
  private readonly nodes: N[] = [];
  private readonly nodeIdx = new Map<N, number>();
  private readonly types: CType[] = [];
  private readonly typeIdx = new Map<string, number>();
  private readonly stmtDefs: string[] = [];
  private readonly stmtIdx = new Map<string, string>();
  private readonly brDefs: string[] = [];
  private readonly brIdx = new Map<string, string>();
  private readonly specs: string[] = [];
  private readonly fns = new Map<string, { id: string; src: string; ret: CType | null; ts: string }>();
  private readonly siteSrc: { id: string; src: string; ts: string; key: object }[] = [];
  readonly fallbacks: CompiledC['fallbacks'] = [];
  /** The units being compiled (a call compiles its callee first), innermost last. */
  private readonly compiling: Unit[] = [];
  /** Activation ids (Kernel.act()): one per unit. */
  private units = 0;
  /** Program counters (Kernel.at()): one per yield written, and one per call from CALL_PC up. */
  private pcs = 0;
  private calls = 0;

  constructor(
    readonly interp: Interp,
    /** Name of the input, for the emitted header. */
    readonly source: string,
    /** Functions with a local holding a CPU number (cpu-numbers.ts): their activations say so (Kernel.act()). */
    readonly cpuLocals: ReadonlySet<string> = new Set(),
  ) {}

  private nid(n: N): string {
    let i = this.nodeIdx.get(n);
    if (i === undefined) {
      i = this.nodes.length;
      this.nodes.push(n);
      this.nodeIdx.set(n, i);
    }
    return `N[${i}]`;
  }

  private tid(t: CType): string {
    const key = JSON.stringify(t);
    let i = this.typeIdx.get(key);
    if (i === undefined) {
      i = this.types.length;
      this.types.push(t);
      this.typeIdx.set(key, i);
    }
    return `T[${i}]`;
  }

  /** The descriptor of one statement boundary: label, coverage key, function, line. */
  private sdef(u: Unit, label: string, at: string): string {
    const key = `${u.fn}|${label}|${at}`;
    let id = this.stmtIdx.get(key);
    if (!id) {
      id = `S${this.stmtDefs.length}`;
      this.stmtDefs.push(`const ${id} = rt.s(${js(u.fn)}, ${js(label)}, ${js(at)});`);
      this.stmtIdx.set(key, id);
    }
    return id;
  }

  private bdef(u: Unit, n: N): string {
    const key = `${u.fn}|${n.at}|${n.text.length}`;
    let id = this.brIdx.get(key);
    if (!id) {
      id = `B${this.brDefs.length}`;
      this.brDefs.push(`const ${id} = rt.b(${js(key)}, ${js(u.fn)}, ${js(n.at)}, ${js(`if ${oneLine(n.f.condition?.text ?? '')}`)});`);
      this.brIdx.set(key, id);
    }
    return id;
  }

  private boundary(u: Unit, n: N): void {
    const label = this.interp.label(n);
    const s = this.sdef(u, label, n.at);
    u.emit(`yield k.at($A, ${this.pcs++}, ${s}.l); rt.step(k, st, ${s}); // ${label.replace(/\*\//g, '* /').slice(0, 100)}`);
  }

  /**
   * Where a statement begins: its boundary, or, for one that touches nothing shared but calls a
   * function of the patch, the read-log position its operands pending over the call are read
   * from (Kernel.from(): a caller's key holds the values read since).
   */
  private start(u: Unit, n: N): void {
    if (this.interp.needsBoundary(n)) this.boundary(u, n);
    else if (this.interp.hasCall(n)) u.emit(`k.from($A);`);
  }

  /**
   * The activation of unit `u` (Kernel.act()), written above its body once the body is known:
   * its locals are every JS local that can carry state from one statement to the next (C locals
   * and parameters, a site's boxes, a guard's saved flags, a return value kept while guards are
   * released); expression temporaries are assigned before they are read in one statement.
   */
  private activation(u: Unit, params: readonly string[], root: boolean, ts: boolean): string {
    const id = this.unitIds.get(u)!;
    if (u.opaque) return `$A = k.act(${id}, null, ${root});`;
    const held = [...params, ...[...u.lets.keys()].filter((v) => !v.startsWith('$') || /^\$(g|ret)\d+$/.test(v))].map((v) => (u.lets.get(v) === 'Var' ? `${v}?.v` : v));
    const cpu = this.cpuLocals.has(u.fn) ? ', true' : '';
    return `$A = k.act(${id}, ($o${ts ? ': (number | undefined)[]' : ''}) => { ${held.length ? `$o.push(${held.join(', ')}); ` : ''}}, ${root}${cpu});`;
  }
  private readonly unitIds = new Map<Unit, number>();
  private begin(u: Unit): void {
    this.unitIds.set(u, this.units++);
    this.compiling.push(u);
  }

  private fb(n: N, why: string): void {
    const u = this.compiling[this.compiling.length - 1];
    if (u) u.opaque = true;
    if (!this.fallbacks.some((f) => f.at === n.at && f.text === oneLine(n.text).slice(0, 80))) this.fallbacks.push({ at: n.at, text: oneLine(n.text).slice(0, 80), why });
  }

  // ---- functions and sites --------------------------------------------------------------------

  /** The JS name of a compiled C function, compiling it (and what it calls) on first use. */
  fnId(f: CFunction): string {
    const have = this.fns.get(f.name);
    if (have) return have.id;
    const id = `F_${f.name}`;
    const entry = { id, src: '', ret: null as CType | null, ts: '' };
    this.fns.set(f.name, entry);
    const u = new Unit(f.name, 'fn', f);
    const sc: Scope = { vars: new Map(), margs: null, parent: null };
    const params = f.params.map((p, i) => {
      const l: Local = { name: p.name, js: `p${i}_${p.name}`, t: p.type, boxed: false };
      sc.vars.set(p.name, l);
      return l;
    });
    let body: string[];
    this.begin(u);
    try {
      u.emit(`k.enter(${js(f.name)});`);
      this.block(u, f.body.kids, sc);
      u.emit(`k.leave();`);
      u.emit(`return 0;`);
      u.rets.push(f.ret);
      body = u.lines;
    } catch (e) {
      // The compiler failed on this function: the interpreter runs it whole.
      this.fb(f.body, `compiler: ${e instanceof Error ? e.message : String(e)}`);
      body = [`  return (yield* rt.I.call(k, rt.fn(${js(f.name)}), [${params.map((p) => `{ v: ${p.js}, t: ${this.tid(p.t)} }`).join(', ')}], st)).v;`];
      u.lets.clear();
      u.rets.push(null);
    } finally {
      this.compiling.pop();
    }
    entry.ret = u.rets.every((t) => sameType(t, u.rets[0]!)) ? u.rets[0]! : null;
    for (const ts of [false, true]) {
      const sig = ts ? `(k: Kernel, st: Budget${params.map((p) => `, ${p.js}: number`).join('')}): Generator<string, number, void>` : `(k, st${params.map((p) => `, ${p.js}`).join('')})`;
      const text = [
        `/** Port of ${f.at.split(':')[0]}:${f.name}() (${f.at}), compiled from the C */`,
        `function* ${id}${sig} {`,
        ...[...u.lets].map(([v, t]) => `  let ${v}${ts ? `!: ${t}` : ''};`),
        `  let $A${ts ? ': Act' : ''};`,
        `  ${this.activation(u, params.map((p) => p.js), false, ts)}`,
        `  try {`,
        ...body.map((l) => `  ${l}`),
        `  } finally {`,
        `    k.unact();`,
        `  }`,
        `}`,
      ].join('\n');
      if (ts) entry.ts = text;
      else entry.src = text;
    }
    return id;
  }

  /** The compile-time return type of a function: the one type all its returns have, else null. */
  private retType(f: CFunction): CType | null {
    this.fnId(f);
    return this.fns.get(f.name)!.ret;
  }

  addSite(s: SiteSpec): void {
    try {
      this.compileSite(s);
    } catch (e) {
      // The compiler failed on this site: the interpreter runs its statements.
      this.fb(s.stmts[0] ?? ({ at: s.at, text: '' } as N), `compiler: ${e instanceof Error ? e.message : String(e)}`);
      this.interpreted.set(s.key, s);
    }
  }

  /** Sites the compiler failed on, run by the interpreter. */
  private readonly interpreted = new Map<object, SiteSpec>();

  private compileSite(s: SiteSpec): void {
    const id = `SITE${this.siteSrc.length}`;
    const u = new Unit(s.fn, 'site', null);
    const sc: Scope = { vars: new Map(), margs: null, parent: null };
    this.begin(u);
    try {
      for (const v of s.vars) {
        const l: Local = { name: v.name, js: `V_${v.name}`, t: v.type, boxed: true };
        sc.vars.set(v.name, l);
        u.lets.set(l.js, 'Var');
        u.emit(`${l.js} = env.vars.get(${js(v.name)})!;`.replace('!;', this.tsMark));
      }
      this.block(u, s.stmts, sc, true);
      u.emit(`return undefined;`);
    } finally {
      this.compiling.pop();
    }
    const text = (ts: boolean) =>
      [
        `/** The call site in ${s.fn}() at ${s.at}: its statements as the checker drives them */`,
        `function* ${id}${ts ? `(k: Kernel, st: Budget, env: Env): Generator<string, Completion, void>` : `(k, st, env)`} {`,
        ...[...u.lets].map(([v, t]) => `  let ${v}${ts ? `!: ${t}` : ''};`),
        `  let $A${ts ? ': Act' : ''};`,
        `  ${this.activation(u, [], true, ts)}`,
        `  try {`,
        ...u.lines.map((l) => `  ${ts ? l.replace(this.tsMark, '!;') : l.replace(this.tsMark, ';')}`),
        `  } finally {`,
        `    k.unact();`,
        `  }`,
        `}`,
      ].join('\n');
    this.siteSrc.push({ id, src: text(false), ts: text(true), key: s.key });
  }

  /** Marks where the TypeScript text has a non-null assertion the JavaScript has not. */
  private readonly tsMark = '/*!*/;';

  // ---- statements -----------------------------------------------------------------------------

  /**
   * Statements in order, as Interp.block: a guard statement is taken where it is written and
   * released when control leaves the block; labels among them are the targets of gotos (a
   * `switch` on a program counter inside a labelled loop).
   */
  private block(u: Unit, stmts: readonly N[], sc: Scope, siteRoot = false): void {
    const labels = new Map<string, number>();
    stmts.forEach((x, i) => {
      if (x.t === 'labeled_statement' && x.f.label && !labels.has(x.f.label.text)) labels.set(x.f.label.text, i);
    });
    const frame: Frame & { k: 'block' } = { k: 'block', held: [], labels: labels.size ? labels : null, pc: '', js: '', pos: 0, stmts };
    if (frame.labels) {
      frame.pc = u.tmp('$pc');
      frame.js = `G${frame.pc.slice(3)}`;
      u.emit(`${frame.pc} = 0;`);
      u.emit(`${frame.js}: for (;;) {`);
      u.depth++;
      u.emit(`switch (${frame.pc}) {`);
      u.depth++;
      u.emit(`case 0:`);
    }
    u.frames.push(frame);
    const targets = new Set(labels.values());
    for (let i = 0; i < stmts.length; i++) {
      const s = stmts[i]!;
      frame.pos = i;
      if (frame.labels && i > 0 && targets.has(i)) u.emit(`case ${i}:`);
      const g = guardStmt(s);
      if (g) {
        if (this.interp.needsBoundary(s)) this.boundary(u, s);
        const flags = u.tmp('$g');
        this.acquire(u, g, sc, flags);
        frame.held.push({ i, g, flags });
        continue;
      }
      this.stmt(u, s, sc, siteRoot);
    }
    frame.pos = stmts.length;
    for (let x = frame.held.length - 1; x >= 0; x--) this.release(u, frame.held[x]!.g, frame.held[x]!.flags);
    u.frames.pop();
    if (frame.labels) {
      u.depth--;
      u.emit(`}`);
      u.emit(`break;`);
      u.depth--;
      u.emit(`}`);
    }
  }

  private acquire(u: Unit, g: GuardUse, sc: Scope, flags: string): void {
    const cls = GUARDS[g.cls];
    if (!cls) {
      u.emit(`throw rt.err(${js(`${g.node.at}: guard class '${g.cls}' is not supported: ${oneLine(g.node.text)}`)});`, g.node);
      return;
    }
    if (cls.op === 'irqsave') u.emit(`${flags} = k.local_irq_save();`, g.node);
    else if (cls.op === 'irq') u.emit(`k.local_irq_disable();`, g.node);
    else if (cls.op === 'preempt') u.emit(`k.preempt_disable();`, g.node);
    if (cls.lock) {
      const arg = g.args[0];
      if (!arg) u.emit(`rt.I.lockArg(k, undefined, rt.env([], []), ${js(`guard(${g.cls})`)}, ${this.nid(g.node)});`);
      else {
        const e = this.envFor(u, sc);
        u.emit(`${e.pre} rt.I.lockArg(k, ${this.nid(arg)}, ${e.env}, ${js(`guard(${g.cls})`)}, ${this.nid(g.node)});`, g.node);
      }
    }
  }

  private release(u: Unit, g: GuardUse, flags: string): void {
    const cls = GUARDS[g.cls];
    if (!cls || cls.op === 'none') return;
    const s = this.sdef(u, this.interp.releaseLabel(g), g.node.at);
    u.emit(`yield k.at($A, ${this.pcs++}, ${s}.l); rt.step(k, st, ${s});`, g.node);
    if (cls.op === 'irqsave') u.emit(`k.local_irq_restore(${flags});`);
    else if (cls.op === 'irq') u.emit(`k.local_irq_enable();`);
    else u.emit(`k.preempt_enable();`);
  }

  /** Releases what the frames above `to` hold (innermost first), as the blocks they are leave. */
  private releaseAbove(u: Unit, to: number): void {
    for (let i = u.frames.length - 1; i > to; i--) {
      const f = u.frames[i]!;
      if (f.k === 'block') for (let x = f.held.length - 1; x >= 0; x--) this.release(u, f.held[x]!.g, f.held[x]!.flags);
      else if (f.k === 'sguard') this.release(u, f.g, f.flags);
    }
  }

  /** Leaves the unit with a completion other than a return (an unresolved goto, a stray break). */
  private leaveWith(u: Unit, c: 'brk' | 'cont' | { goto: string }): void {
    this.releaseAbove(u, -1);
    if (u.mode === 'site') {
      u.emit(typeof c === 'string' ? `return { k: ${js(c)} };` : `return { k: 'goto', label: ${js(c.goto)} };`);
      return;
    }
    u.emit(`k.leave();`);
    if (typeof c === 'string') {
      u.rets.push(u.cfn!.ret);
      u.emit(`return 0;`);
    } else u.emit(`throw rt.err(${js(`${u.cfn!.at}: goto ${c.goto} in ${u.cfn!.name}() has no label to go to (labels inside nested blocks are not supported)`)});`);
  }

  private emitReturn(u: Unit, v: X | null, n: N): void {
    const r = u.tmp('$ret');
    u.emit(`${r} = ${v ? v.c : '0'};`, n);
    const t = v ? v.t : ({ k: 'void' } as CType);
    this.releaseAbove(u, -1);
    if (u.mode === 'site') {
      u.emit(`return { k: 'ret', v: { v: ${r}, t: ${t ? this.tid(t) : 'rt.INT'} } };`);
      return;
    }
    u.rets.push(t);
    u.emit(`k.leave();`);
    u.emit(`return ${r};`);
  }

  private emitBreak(u: Unit, cont: boolean): void {
    for (let i = u.frames.length - 1; i >= 0; i--) {
      const f = u.frames[i]!;
      if (f.k === 'loop' || f.k === 'sguard') {
        this.releaseAbove(u, i);
        u.emit(f.k === 'sguard' ? `break ${f.js};` : `break ${cont ? f.cont : f.brk};`);
        return;
      }
    }
    this.leaveWith(u, cont ? 'cont' : 'brk');
  }

  private emitGoto(u: Unit, label: string, at: N): void {
    for (let i = u.frames.length - 1; i >= 0; i--) {
      const f = u.frames[i]!;
      if (f.k !== 'block' || !f.labels?.has(label)) continue;
      this.releaseAbove(u, i);
      const j = f.labels.get(label)!;
      for (let x = f.held.length - 1; x >= 0 && f.held[x]!.i >= j; x--) this.release(u, f.held[x]!.g, f.held[x]!.flags);
      for (let x = f.pos + 1; x < j; x++)
        if (guardStmt(f.stmts[x]!)) {
          u.emit(`throw rt.err(${js(`${f.stmts[f.pos]!.at}: goto ${label} jumps into the scope of ${oneLine(f.stmts[x]!.text)} (${f.stmts[x]!.at}): the compiler refuses it`)});`, at);
          return;
        }
      u.emit(`${f.pc} = ${j}; continue ${f.js}; // goto ${label}`, at);
      return;
    }
    this.leaveWith(u, { goto: label });
  }

  /** A statement the compiler does not translate: the interpreter runs it, its completion dispatched here. */
  private stmtFallback(u: Unit, n: N, sc: Scope, why: string): void {
    this.fb(n, why);
    const e = this.envFor(u, sc);
    const c = u.tmp('$c', 'Completion');
    u.emit(`${e.pre} ${c} = yield* rt.I.stmt(k, ${this.nid(n)}, ${e.env}, st, ${js(u.fn)}); ${e.back}`, n);
    u.emit(`if (${c}) {`);
    u.depth++;
    u.emit(`if (${c}.k === 'ret') {`);
    u.depth++;
    const r: X = { c: `${c}.v.v`, t: null };
    this.emitReturn(u, r, n);
    u.depth--;
    u.emit(`}`);
    u.emit(`if (${c}.k === 'brk') {`);
    u.depth++;
    this.emitBreak(u, false);
    u.depth--;
    u.emit(`}`);
    u.emit(`if (${c}.k === 'cont') {`);
    u.depth++;
    this.emitBreak(u, true);
    u.depth--;
    u.emit(`}`);
    const labels = new Set<string>();
    for (const f of u.frames) if (f.k === 'block' && f.labels) for (const l of f.labels.keys()) labels.add(l);
    u.emit(`switch (${c}.label) {`);
    u.depth++;
    for (const l of labels) {
      u.emit(`case ${js(l)}:`);
      u.depth++;
      this.emitGoto(u, l, n);
      u.depth--;
    }
    u.emit(`default:`);
    u.depth++;
    // An unresolved label: the same exit as a goto the compiler sees.
    this.releaseAbove(u, -1);
    if (u.mode === 'site') u.emit(`return ${c};`);
    else u.emit(`k.leave(); throw rt.err(${js(`${u.cfn!.at}: goto `)} + ${c}.label + ${js(` in ${u.cfn!.name}() has no label to go to (labels inside nested blocks are not supported)`)});`);
    u.depth--;
    u.depth--;
    u.emit(`}`);
    u.depth--;
    u.emit(`}`);
  }

  private stmt(u: Unit, n: N, sc: Scope, siteRoot = false): void {
    switch (n.t) {
      case 'compound_statement': {
        const inner: Scope = { vars: new Map(), margs: sc.margs, parent: sc };
        u.emit(`{`);
        u.depth++;
        this.block(u, n.kids, inner);
        u.depth--;
        u.emit(`}`);
        return;
      }
      case 'expression_statement': {
        if (!n.kids[0]) return;
        const g = guardStmt(n);
        if (g) {
          if (this.interp.needsBoundary(n)) this.boundary(u, n);
          const flags = u.tmp('$g');
          this.acquire(u, g, sc, flags);
          this.release(u, g, flags);
          return;
        }
        this.start(u, n);
        u.emit(`${this.ex(u, n.kids[0], sc).c};`, n);
        return;
      }
      case 'declaration': {
        const base = this.interp.types.base(n.f.type);
        const decls: { name: string; type: CType; d: N }[] = [];
        for (const d of n.kids) {
          if (d === n.f.type || !/declarator|identifier/.test(d.t)) continue;
          decls.push({ ...this.interp.types.declare(base, d), d });
        }
        if (decls.some((d) => d.type.k === 'struct')) return this.stmtFallback(u, n, sc, 'a local struct value (refused at run time)');
        this.start(u, n);
        for (const { name, type, d } of decls) {
          const v = d.t === 'init_declarator' && d.f.value ? this.ex(u, d.f.value, sc).c : 'NaN';
          if (siteRoot && sc.parent === null) {
            const l: Local = { name, js: `V_${name}`, t: type, boxed: true };
            u.lets.set(l.js, 'Var');
            u.emit(`${l.js} = { v: ${v}, t: ${this.tid(type)} }; env.vars.set(${js(name)}, ${l.js});`, d);
            sc.vars.set(name, l);
          } else {
            const l: Local = { name, js: u.tmp(`${name}_`), t: type, boxed: false };
            u.emit(`${l.js} = ${v};`, d);
            sc.vars.set(name, l);
          }
        }
        return;
      }
      case 'return_statement': {
        this.start(u, n);
        this.emitReturn(u, n.kids[0] ? this.ex(u, n.kids[0], sc) : null, n);
        return;
      }
      case 'if_statement': {
        this.start(u, n);
        const cond = this.interp.nondetIfs.has(n) ? '(k.nondet() ? 1 : 0)' : this.ex(u, n.f.condition!, sc).c;
        u.emit(`if (rt.br(k, ${this.bdef(u, n)}, ${cond})) {`, n);
        u.depth++;
        this.stmt(u, n.f.consequence!, sc);
        u.depth--;
        const alt = n.f.alternative;
        if (alt) {
          u.emit(`} else {`);
          u.depth++;
          this.stmt(u, alt.t === 'else_clause' ? alt.kids[0]! : alt, sc);
          u.depth--;
        }
        u.emit(`}`);
        return;
      }
      case 'else_clause':
        return this.stmt(u, n.kids[0]!, sc);
      case 'while_statement':
      case 'for_statement':
      case 'do_statement':
        return this.loop(u, n, sc);
      case 'labeled_statement': {
        const inner = n.kids.find((x) => x.t !== 'statement_identifier');
        u.emit(`// ${n.f.label?.text ?? ''}:`);
        if (inner) this.stmt(u, inner, sc);
        return;
      }
      case 'goto_statement':
        return this.emitGoto(u, n.f.label?.text ?? '', n);
      case 'break_statement':
        return this.emitBreak(u, false);
      case 'continue_statement':
        return this.emitBreak(u, true);
      case ';':
      case 'comment':
        return;
      default:
        return this.stmtFallback(u, n, sc, `statement ${n.t}`);
    }
  }

  private loop(u: Unit, n: N, sc: Scope): void {
    const inner: Scope = { vars: new Map(), margs: sc.margs, parent: sc };
    const sg = scopedGuard(n);
    if (sg) {
      if (this.interp.needsBoundary(n)) this.boundary(u, n);
      const flags = u.tmp('$g');
      this.acquire(u, sg, sc, flags);
      const f: Frame = { k: 'sguard', g: sg, flags, js: `SG${flags.slice(2)}` };
      u.emit(`${f.js}: {`);
      u.depth++;
      u.frames.push(f);
      this.stmt(u, n.f.body!, inner);
      u.frames.pop();
      u.depth--;
      u.emit(`}`);
      this.release(u, sg, flags);
      return;
    }
    const id = u.tmp('$L').slice(2);
    const f: Frame = { k: 'loop', brk: `L${id}`, cont: `C${id}` };
    if (n.t === 'for_statement' && n.f.initializer) {
      const ini = n.f.initializer;
      if (ini.t === 'declaration') this.stmt(u, ini, inner);
      else u.emit(`${this.ex(u, ini, inner).c};`, ini);
    }
    u.emit(`${f.brk}: for (;;) {`, n);
    u.depth++;
    if (n.t !== 'do_statement') {
      this.boundary(u, n);
      const cond = n.f.condition ? this.ex(u, n.f.condition, inner).c : '1';
      u.emit(`if (!rt.br(k, ${this.bdef(u, n)}, ${cond})) break;`);
    }
    u.emit(`${f.cont}: {`);
    u.depth++;
    u.frames.push(f);
    this.stmt(u, n.f.body!, inner);
    u.frames.pop();
    u.depth--;
    u.emit(`}`);
    if (n.t === 'for_statement' && n.f.update) u.emit(`${this.ex(u, n.f.update, inner).c};`);
    if (n.t === 'do_statement') {
      this.boundary(u, n);
      u.emit(`if (!rt.tr(${this.ex(u, n.f.condition!, inner).c})) break;`);
    }
    u.depth--;
    u.emit(`}`);
  }

  // ---- the interpreter's Env, for what it runs ---------------------------------------------------

  /**
   * Code that builds an interpreter Env mirroring a compile-time scope chain (and the scopes its
   * macro arguments are evaluated in), and writes the locals back after.
   */
  private envFor(u: Unit, sc: Scope): { pre: string; env: string; back: string } {
    const scopes: Scope[] = [];
    const idx = (s: Scope): number => {
      let i = scopes.indexOf(s);
      if (i >= 0) return i;
      i = scopes.length;
      scopes.push(s);
      if (s.parent) idx(s.parent);
      if (s.margs) for (const m of s.margs.values()) idx(m.sc);
      return i;
    };
    idx(sc);
    const frames: string[] = [];
    const back: string[] = [];
    const spec = scopes.map((s) => ({
      vars: [...s.vars.values()].map((l) => {
        const fi = frames.length;
        frames.push(l.boxed ? l.js : `{ v: ${l.js}, t: ${this.tid(l.t)} }`);
        if (!l.boxed) back.push(`${l.js} = $f[${fi}].v;`);
        return [l.name, fi] as const;
      }),
      margs: s.margs ? [...s.margs].map(([p, m]) => [p, this.nodeNum(m.node), scopes.indexOf(m.sc)] as const) : null,
      parent: s.parent ? scopes.indexOf(s.parent) : -1,
    }));
    const sid = `E${this.specs.length}`;
    this.specs.push(`const ${sid} = ${JSON.stringify(spec)};`);
    u.lets.set('$f', 'Var[]');
    return { pre: `$f = [${frames.join(', ')}];`, env: `rt.env($f, ${sid})`, back: back.join(' ') };
  }

  private nodeNum(n: N): number {
    this.nid(n);
    return this.nodeIdx.get(n)!;
  }

  /** An expression the compiler does not translate: the interpreter evaluates it in the bridged Env. */
  private exFallback(u: Unit, n: N, sc: Scope, why: string, gen: boolean): X {
    this.fb(n, why);
    const e = this.envFor(u, sc);
    const r = u.tmp('$r', 'TV');
    const call = gen ? `(yield* rt.I.gexpr(k, ${this.nid(n)}, $e, st, ${js(u.fn)}))` : `rt.I.expr(k, ${this.nid(n)}, $e)`;
    u.lets.set('$e', 'Env');
    const back = e.back ? `${e.back.replace(/;/g, ',').replace(/,$/, '')}, ` : '';
    return { c: `(${e.pre.replace(/;$/, '')}, $e = ${e.env}, ${r} = ${call}, ${back}${r}.v)`, t: null };
  }

  // ---- expressions ----------------------------------------------------------------------------

  /** Compiles n, or hands it to the interpreter. */
  private ex(u: Unit, n: N, sc: Scope): X {
    const g = u.pmode === 0 && this.interp.hasCall(n);
    try {
      if (g) return this.gex(u, n, sc);
      u.pmode++;
      try {
        return this.pex(u, n, sc);
      } finally {
        u.pmode--;
      }
    } catch (e) {
      if (!(e instanceof Fallback)) throw e;
      return this.exFallback(u, n, sc, e.message, g);
    }
  }

  /** A child whose type the parent needs. */
  private typed(x: X): X & { t: CType } {
    if (x.t === null) throw new Fallback('the C type of an operand is only known at run time');
    return x as X & { t: CType };
  }

  /** Interp.gexpr: an expression that calls a function of the patch. */
  private gex(u: Unit, n: N, sc: Scope): X {
    const I = this.interp;
    switch (n.t) {
      case 'parenthesized_expression':
        return this.ex(u, n.kids[0]!, sc);
      case 'call_expression': {
        const raw = n.f.function?.text ?? '';
        const name = I.aliases[raw] ?? raw;
        const f = I.prog.functions.get(name);
        const argNodes = n.f.arguments?.kids ?? [];
        const mac = I.prog.macros.get(raw);
        if (mac?.params) {
          if (mac.stmt || !mac.expr) throw new Fallback('a statement macro');
          return this.ex(u, mac.expr, this.macroScope(mac.params, argNodes, sc));
        }
        if (!f) throw new Fallback(`${name} is not a function of the patch`);
        const temps = argNodes.map((a) => {
          const t = u.tmp('$a');
          return { t, c: `${t} = ${this.ex(u, a, sc).c}` };
        });
        const args = f.params.map((_, i) => temps[i]?.t ?? '0');
        const seq = temps.map((x) => `${x.c}, `).join('');
        const ret = this.retType(f);
        return {
          c: `(${seq}st.miss !== undefined && st.miss.fn === ${js(name)} ? st.miss.v : ($A.pc = ${CALL_PC + this.calls++}, yield* ${this.fnId(f)}(k, st${args.map((a) => `, ${a}`).join('')})))`,
          t: sameType(ret, f.ret) ? f.ret : null,
        };
      }
      case 'assignment_expression': {
        const r = this.ex(u, n.f.right!, sc);
        return this.assign(u, n, sc, r);
      }
      case 'unary_expression':
        return this.unary(n.op, this.ex(u, n.f.argument!, sc));
      case 'binary_expression':
        return this.binary(u, n.op, this.ex(u, n.f.left!, sc), () => this.ex(u, n.f.right!, sc));
      case 'cast_expression': {
        const a = this.ex(u, n.f.value!, sc);
        return { c: a.c, t: I.types.descriptor(n.f.type!) };
      }
      default:
        throw new Fallback(`a call inside ${n.t}`);
    }
  }

  private macroScope(params: string[], args: readonly N[], sc: Scope): Scope {
    const margs = new Map<string, { node: N; sc: Scope }>();
    params.forEach((p, i) => args[i] && margs.set(p, { node: args[i]!, sc }));
    return { vars: new Map(), margs, parent: null };
  }

  /** Interp.expr: an expression without calls of the patch's functions. */
  private pex(u: Unit, n: N, sc: Scope): X {
    const I = this.interp;
    switch (n.t) {
      case 'number_literal': {
        const t = n.text.replace(/[uUlL]+$/, '');
        const v = t.startsWith('0x') || t.startsWith('0X') ? parseInt(t, 16) : parseInt(t, /^0\d/.test(t) ? 8 : 10);
        return { c: `(${v})`, t: /[lL]/.test(n.text) ? LONG : INT };
      }
      case 'char_literal':
        return { c: `(${charValue(n.text)})`, t: INT };
      case 'true':
        return { c: '1', t: INT };
      case 'false':
        return { c: '0', t: INT };
      case 'null':
        return { c: '0', t: VOIDP };
      case 'parenthesized_expression':
        return this.ex(u, n.kids[0]!, sc);
      case 'identifier':
        return this.ident(u, n, sc);
      case 'field_expression':
      case 'subscript_expression':
        return this.load(this.addr(u, n, sc), n);
      case 'pointer_expression':
        if (n.op === '&') return this.addrOf(u, n.f.argument!, sc);
        return this.load(this.addr(u, n, sc), n);
      case 'unary_expression':
        return this.unary(n.op, this.ex(u, n.f.argument!, sc));
      case 'binary_expression':
        return this.binary(u, n.op, this.ex(u, n.f.left!, sc), () => this.ex(u, n.f.right!, sc));
      case 'assignment_expression':
        return this.assign(u, n, sc, this.ex(u, n.f.right!, sc));
      case 'update_expression': {
        const target = n.f.argument!;
        const old = this.typed(this.ex(u, target, sc));
        const step = old.t.k === 'ptr' ? I.types.sizeOf(old.t.to) : 1;
        const o = u.tmp('$o');
        const nv = u.tmp('$n');
        const inc = n.op.endsWith('++');
        return { c: `(${o} = ${old.c}, ${nv} = ${o} ${inc ? '+' : '-'} ${step}, ${this.store(u, target, sc, nv)}, ${n.op.startsWith('pre') ? nv : o})`, t: old.t };
      }
      case 'cast_expression': {
        const a = this.ex(u, n.f.value!, sc);
        return { c: a.c, t: I.types.descriptor(n.f.type!) };
      }
      case 'sizeof_expression': {
        if (n.f.type) return { c: `(${I.types.sizeOf(I.types.descriptor(n.f.type))})`, t: LONG };
        const e = n.f.value ?? n.kids[0]!;
        return { c: `(${I.types.sizeOf(this.typeOf(e, sc))})`, t: LONG };
      }
      case 'conditional_expression': {
        const c = this.ex(u, n.f.condition!, sc);
        const a = this.ex(u, n.f.consequence!, sc);
        const b = this.ex(u, n.f.alternative!, sc);
        return { c: `(rt.tr(${c.c}) ? ${a.c} : ${b.c})`, t: sameType(a.t, b.t) ? a.t : null };
      }
      case 'comma_expression': {
        const a = this.ex(u, n.f.left!, sc);
        const b = this.ex(u, n.f.right!, sc);
        return { c: `(${a.c}, ${b.c})`, t: b.t };
      }
      case 'call_expression':
        return this.prim(u, n, sc);
      default:
        throw new Fallback(`expression ${n.t}`);
    }
  }

  private lookup(sc: Scope | null, name: string): Local | undefined {
    for (let s = sc; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v) return v;
    }
    return undefined;
  }

  private margOf(sc: Scope, name: string): { node: N; sc: Scope } | undefined {
    for (let s: Scope | null = sc; s; s = s.parent) {
      const m = s.margs?.get(name);
      if (m) return m;
      if (s.vars.has(name)) return undefined;
    }
    return undefined;
  }

  private readLocal(l: Local, n: N): string {
    return `rt.u(${l.boxed ? `${l.js}.v` : l.js}, ${js(l.name)}, ${js(n.at)})`;
  }

  /** Interp.ident. */
  private ident(u: Unit, n: N, sc: Scope): X {
    const I = this.interp;
    const name = n.text;
    const m = this.margOf(sc, name);
    if (m) return this.ex(u, m.node, m.sc);
    const v = this.lookup(sc, name);
    if (v) return { c: this.readLocal(v, n), t: v.t };
    const s = I.prog.statics.get(name);
    if (s?.type.k === 'struct') throw new Fallback('a static struct as a value (refused at run time)');
    if (s) return { c: `k.global(${js(name)})`, t: s.type.k === 'array' ? { k: 'ptr', to: s.type.of } : s.type };
    if (I.scaled.has(name)) return { c: `k.macro(${js(name)})`, t: INT };
    const mac = I.prog.macros.get(name);
    if (mac && !mac.params) {
      if (!mac.expr) throw new Fallback('a macro that is no expression (refused at run time)');
      return this.ex(u, mac.expr, { vars: new Map(), margs: null, parent: null });
    }
    if (name === 'NULL') return { c: '0', t: VOIDP };
    if (name === 'true') return { c: '1', t: INT };
    if (name === 'false') return { c: '0', t: INT };
    if (name in KNOWN_CONSTANTS) return { c: `(${KNOWN_CONSTANTS[name]})`, t: name in LIMITS && name.startsWith('U') ? LONG : INT };
    if (I.prog.functions.has(name)) throw new Fallback('a function pointer (refused at run time)');
    if (name === 'nr_cpu_ids') return { c: 'k.num_possible_cpus()', t: INT };
    throw new Fallback(`unknown identifier '${name}' (refused at run time)`);
  }

  /** Interp.typeOf, on the compile-time scope. */
  private typeOf(n: N, sc: Scope): CType {
    const I = this.interp;
    switch (n.t) {
      case 'parenthesized_expression':
        return this.typeOf(n.kids[0]!, sc);
      case 'identifier': {
        const m = this.margOf(sc, n.text);
        if (m) return this.typeOf(m.node, m.sc);
        const v = this.lookup(sc, n.text);
        if (v) return v.t;
        const s = I.prog.statics.get(n.text);
        if (s) return s.type;
        return INT;
      }
      case 'pointer_expression': {
        const t = this.typeOf(n.f.argument!, sc);
        if (n.op === '&') return { k: 'ptr', to: t };
        return t.k === 'ptr' ? t.to : INT;
      }
      case 'field_expression': {
        const t = this.typeOf(n.f.argument!, sc);
        const st = n.op === '->' ? (t.k === 'ptr' ? t.to : t) : t;
        if (st.k === 'struct') return I.prog.structs.get(st.name)?.fields.get(n.f.field?.text ?? '')?.type ?? INT;
        return INT;
      }
      case 'cast_expression':
        return I.types.descriptor(n.f.type!);
      default:
        return INT;
    }
  }

  /** Interp.addr: the address of an lvalue in memory, typed by what is there. */
  private addr(u: Unit, n: N, sc: Scope): X & { t: CType } {
    const I = this.interp;
    switch (n.t) {
      case 'parenthesized_expression':
        return this.addr(u, n.kids[0]!, sc);
      case 'field_expression': {
        const field = n.f.field?.text ?? '';
        const base = this.typed(n.op === '->' ? this.ex(u, n.f.argument!, sc) : this.addr(u, n.f.argument!, sc));
        const st = n.op === '->' ? (base.t.k === 'ptr' ? base.t.to : base.t) : base.t;
        if (st.k !== 'struct') throw new Fallback(`not a struct (refused at run time)`);
        const l = I.prog.structs.get(st.name);
        const f = l?.fields.get(field);
        if (!f) throw new Fallback(`no struct ${st.name} member '${field}' (refused at run time)`);
        return { c: `rt.fa(${base.c}, ${f.off})`, t: f.type };
      }
      case 'pointer_expression': {
        const p = this.typed(this.ex(u, n.f.argument!, sc));
        return { c: p.c, t: p.t.k === 'ptr' ? p.t.to : INT };
      }
      case 'subscript_expression': {
        const a = this.typed(this.ex(u, n.f.argument!, sc));
        const i = this.ex(u, n.kids[1]!, sc);
        const el = a.t.k === 'ptr' ? a.t.to : INT;
        return { c: `(${a.c} + ${i.c} * ${I.types.sizeOf(el)})`, t: el };
      }
      case 'identifier': {
        const s = this.lookup(sc, n.text) || this.margOf(sc, n.text) ? undefined : I.prog.statics.get(n.text);
        if (s?.type.k === 'struct')
          return { c: `rt.sg(k, ${js(n.text)}, ${js(`${n.at}: the static struct ${n.text} is not supported (only the cache's descriptor is kept in simulated memory)`)})`, t: s.type };
        throw new Fallback('not an lvalue in memory (refused at run time)');
      }
      default:
        throw new Fallback('not an lvalue in memory (refused at run time)');
    }
  }

  private addrOf(u: Unit, n: N, sc: Scope): X {
    const local = n.t === 'identifier' && (this.lookup(sc, n.text) || this.margOf(sc, n.text));
    const pcv = n.t === 'identifier' && !local ? this.interp.prog.statics.get(n.text) : undefined;
    if (pcv?.perCpuVar) return { c: `k.global(${js(n.text)})`, t: pcv.type };
    if (local) throw new Fallback('the address of a local (refused at run time)');
    const a = this.addr(u, n, sc);
    return { c: a.c, t: { k: 'ptr', to: a.t } };
  }

  private load(a: X & { t: CType }, n: N): X {
    if (a.t.k === 'array') return { c: a.c, t: { k: 'ptr', to: a.t.of } };
    if (a.t.k === 'struct') return { c: a.c, t: a.t };
    return { c: `k.loadAt(${a.c}, ${js(oneLine(n.text))})`, t: a.t };
  }

  /** Interp.store: code that stores the value in `v` (a temp or a literal) to the lvalue n. */
  private store(u: Unit, n: N, sc: Scope, v: string): string {
    if (n.t === 'parenthesized_expression') return this.store(u, n.kids[0]!, sc, v);
    if (n.t === 'identifier') {
      const m = this.margOf(sc, n.text);
      if (m) return this.store(u, m.node, m.sc, v);
      const local = this.lookup(sc, n.text);
      if (local) return local.boxed ? `${local.js}.v = ${v}` : `${local.js} = ${v}`;
      if (this.interp.prog.statics.has(n.text)) return `k.setGlobal(${js(n.text)}, ${v})`;
      throw new Fallback(`assignment to unknown identifier '${n.text}' (refused at run time)`);
    }
    const a = this.addr(u, n, sc);
    return `k.storeAt(${a.c}, ${v}, ${js(oneLine(n.text))})`;
  }

  private assign(u: Unit, n: N, sc: Scope, r: X): X {
    // Interp.assign reads and stores the left side with Interp.expr, even under gexpr.
    u.pmode++;
    try {
      return this.assignTo(u, n, sc, r);
    } finally {
      u.pmode--;
    }
  }

  private assignTo(u: Unit, n: N, sc: Scope, r: X): X {
    const left = n.f.left!;
    const rv = u.tmp('$v');
    if (n.op === '=') return { c: `(${rv} = ${r.c}, ${this.store(u, left, sc, rv)}, ${rv})`, t: r.t };
    const out = this.binary(u, n.op.slice(0, -1), this.ex(u, left, sc), () => ({ c: rv, t: r.t }));
    const nv = u.tmp('$v');
    return { c: `(${rv} = ${r.c}, ${nv} = ${out.c}, ${this.store(u, left, sc, nv)}, ${nv})`, t: out.t };
  }

  private unary(op: string, a: X): X {
    switch (op) {
      case '!':
        return { c: `(rt.tr(${a.c}) ? 0 : 1)`, t: INT };
      case '-':
        return { c: `(-(${a.c}))`, t: a.t };
      case '+':
        return a;
      case '~':
        return { c: `(~(${a.c}))`, t: a.t };
      default:
        throw new Fallback(`unary operator ${op}`);
    }
  }

  /** Interp.binary, with && and || short-circuiting as Interp.expr does. */
  private binary(u: Unit, op: string, a: X, rightOf: () => X): X {
    const I = this.interp;
    const scale = (t: CType) => (t.k === 'ptr' ? Math.max(1, I.types.sizeOf(t.to)) : 1);
    const w = (b: X) => (a.t && b.t ? wider(a.t, b.t) : null);
    if (op === '&&') return { c: `(rt.tr(${a.c}) ? (rt.tr(${rightOf().c}) ? 1 : 0) : 0)`, t: INT };
    if (op === '||') return { c: `(rt.tr(${a.c}) ? 1 : (rt.tr(${rightOf().c}) ? 1 : 0))`, t: INT };
    const b = rightOf();
    switch (op) {
      case '+': {
        const ta = this.typed(a).t;
        const tb = this.typed(b).t;
        if (ta.k === 'ptr') return { c: `(${a.c} + ${b.c} * ${scale(ta)})`, t: ta };
        if (tb.k === 'ptr') {
          // b + a * scale(b), with a evaluated first.
          const x = u.tmp('$x');
          return { c: `(${x} = ${a.c}, ${b.c} + ${x} * ${scale(tb)})`, t: tb };
        }
        return { c: `(${a.c} + ${b.c})`, t: wider(ta, tb) };
      }
      case '-': {
        const ta = this.typed(a).t;
        const tb = this.typed(b).t;
        if (ta.k === 'ptr' && tb.k === 'ptr') return { c: `((${a.c} - ${b.c}) / ${scale(ta)})`, t: LONG };
        if (ta.k === 'ptr') return { c: `(${a.c} - ${b.c} * ${scale(ta)})`, t: ta };
        return { c: `(${a.c} - ${b.c})`, t: wider(ta, tb) };
      }
      case '*':
        return { c: `(${a.c} * ${b.c})`, t: w(b) };
      case '/':
        return { c: `rt.div(${a.c}, ${b.c})`, t: w(b) };
      case '%':
        return { c: `rt.mod(${a.c}, ${b.c})`, t: w(b) };
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { c: `(${a.c} ${op} ${b.c} ? 1 : 0)`, t: INT };
      case '==':
        return { c: `(${a.c} === ${b.c} ? 1 : 0)`, t: INT };
      case '!=':
        return { c: `(${a.c} !== ${b.c} ? 1 : 0)`, t: INT };
      case '&':
        return { c: `rt.band(${a.c}, ${b.c})`, t: w(b) };
      case '|':
        return { c: `rt.bor(${a.c}, ${b.c})`, t: w(b) };
      case '^':
        return { c: `rt.bxor(${a.c}, ${b.c})`, t: w(b) };
      case '<<':
        return { c: `(${a.c} * 2 ** ${b.c})`, t: a.t };
      case '>>':
        return { c: `Math.floor(${a.c} / 2 ** ${b.c})`, t: a.t };
      default:
        throw new Fallback(`binary operator ${op}`);
    }
  }

  /** Interp.callPrim, for the primitives a per-CPU cache runs on every step; the rest goes to the interpreter. */
  private prim(u: Unit, n: N, sc: Scope): X {
    const I = this.interp;
    const raw = n.f.function?.text ?? '';
    const args = n.f.arguments?.kids ?? [];
    const mac = I.prog.macros.get(raw);
    if (mac?.params && mac.expr) return this.ex(u, mac.expr, this.macroScope(mac.params, args, sc));
    const name = I.aliases[raw] ?? raw;
    const a = (i: number) => {
      if (!args[i]) throw new Fallback(`${name}() with too few arguments`);
      return this.ex(u, args[i]!, sc);
    };
    const int = (c: string): X => ({ c, t: INT });
    const bool = (c: string): X => ({ c: `(${c} ? 1 : 0)`, t: INT });
    // A name with no row of the primitives table is the interpreter's to refuse.
    const row = cPrimitive(name);
    if (!row) throw new Fallback(`${name}() is not a kernel primitive`);
    if (row.name === 'trace_*') return int('0');
    switch (row.name) {
      case 'get_cpu':
        return int('k.get_cpu()');
      case 'put_cpu':
        return int('(k.put_cpu(), 0)');
      case 'preempt_disable':
        return int('(k.preempt_disable(), 0)');
      case 'preempt_enable':
        return int('(k.preempt_enable(), 0)');
      case 'smp_processor_id':
        return int('k.smp_processor_id()');
      case 'raw_smp_processor_id':
        return int('k.raw_smp_processor_id()');
      case 'per_cpu_ptr': {
        const p = a(0);
        return { c: `k.per_cpu_ptr(${p.c}, ${a(1).c})`, t: p.t };
      }
      case 'this_cpu_ptr': {
        const p = a(0);
        return { c: `k.this_cpu_ptr(${p.c})`, t: p.t };
      }
      case 'raw_cpu_ptr': {
        const p = a(0);
        return { c: `k.per_cpu_ptr(${p.c}, k.raw_smp_processor_id())`, t: p.t };
      }
      case 'local_irq_save': {
        if (!args[0]) throw new Fallback('local_irq_save() without its argument');
        const f = u.tmp('$v');
        return int(`(${f} = k.local_irq_save(), ${this.store(u, args[0], sc, f)}, 0)`);
      }
      case 'local_irq_restore':
        return int(`(k.local_irq_restore(${a(0).c}), 0)`);
      case 'local_irq_disable':
        return int('(k.local_irq_disable(), 0)');
      case 'local_irq_enable':
        return int('(k.local_irq_enable(), 0)');
      case 'in_task':
        return bool('k.in_task()');
      case 'in_hardirq':
      case 'in_irq':
        return bool('k.in_hardirq()');
      case 'in_serving_softirq':
      case 'in_softirq':
        return bool('k.in_serving_softirq()');
      case 'in_interrupt':
        return bool('!k.in_task()');
      case 'irqs_disabled':
        return bool('k.irqs_disabled()');
      case 'READ_ONCE':
      case 'data_race': {
        // A marked access (Kernel.mark): its loads are not plain (interp.ts alike).
        const x = a(0);
        return { c: `k.unmark(k.mark(), ${x.c})`, t: x.t };
      }
      case 'likely':
      case 'unlikely':
        return a(0);
      case 'WRITE_ONCE': {
        if (!args[0]) throw new Fallback('WRITE_ONCE() without its arguments');
        const v = u.tmp('$v');
        return int(`(${v} = ${a(1).c}, ${this.store(u, args[0], sc, v)}, 0)`);
      }
      case 'WARN_ON_ONCE':
      case 'WARN_ON':
        return bool(`k.WARN_ON_ONCE(rt.tr(${a(0).c}))`);
      case 'lockdep_assert_irqs_disabled':
        return int('(k.lockdep_assert_irqs_disabled(), 0)');
      case 'ERR_PTR':
        return { c: a(0).c, t: VOIDP };
      case 'IS_ERR':
        return bool(`${a(0).c} < 0`);
      case 'PTR_ERR':
        return int(a(0).c);
      case 'IS_ERR_OR_NULL': {
        const v = u.tmp('$v');
        return bool(`(${v} = ${a(0).c}, ${v} === 0 || ${v} < 0)`);
      }
      case 'kmalloc':
      case 'kzalloc':
      case 'kmem_cache_alloc':
      case 'kmem_cache_zalloc': {
        const cache = name.startsWith('kmem_cache');
        let s: N | undefined = args[0];
        while (s?.t === 'parenthesized_expression') s = s.kids[0];
        const size = cache || !s || s.t === 'sizeof_expression' ? 'undefined' : this.ex(u, args[0]!, sc).c;
        if (!cache && !args[0]) throw new Fallback(`${name}() without a size`);
        const type = cache ? 'kmem_cache' : this.allocType(args[0]!, sc);
        const gfp = args[1] ? this.ex(u, args[1], sc).c : '1';
        return { c: `rt.kalloc(k, ${js(name)}, ${js(type)}, ${size}, ${gfp})`, t: VOIDP };
      }
      case 'kfree':
      case 'mempool_free':
        return int(`(k.kfree(${a(0).c}), 0)`);
      case 'kmem_cache_free':
        return int(`(k.kmem_cache_free(${a(1).c}), 0)`);
      case 'mempool_alloc':
        return { c: `k.mempool_alloc(rt.gfp(${args[1] ? a(1).c : '1'}))`, t: VOIDP };
      case 'cpu_online':
        return bool(`k.cpu_online(${a(0).c})`);
      case 'num_possible_cpus':
        return int('k.num_possible_cpus()');
      case 'alloc_percpu': {
        const arg = args[0];
        if (!arg) throw new Fallback('alloc_percpu() without its type');
        const t = arg.t === 'sizeof_expression' && arg.f.type ? I.types.descriptor(arg.f.type) : this.typeOf(arg, sc);
        return { c: `k.alloc_percpu(${js(t.k === 'struct' ? t.name : showType(t))})`, t: { k: 'ptr', to: t } };
      }
      case 'free_percpu':
        return int(`(k.free_percpu(${a(0).c}), 0)`);
      case 'atomic_set':
        return int(`(k.storeAt(${a(0).c}, ${a(1).c}, ${js(oneLine(args[0]!.text))}), 0)`);
      case 'atomic_read':
        return int(`k.unmark(k.mark(), k.loadAt(${a(0).c}, ${js(oneLine(args[0]!.text))}))`);
      case 'min':
      case 'max': {
        const x = a(0);
        const y = a(1);
        const tx = u.tmp('$x');
        const ty = u.tmp('$y');
        return { c: `(${tx} = ${x.c}, ${ty} = ${y.c}, ${tx} ${name === 'min' ? '<=' : '>='} ${ty} ? ${tx} : ${ty})`, t: x.t && y.t ? wider(x.t, y.t) : null };
      }
      case 'in_nmi':
      case 'barrier':
      case 'smp_mb':
      case 'smp_rmb':
      case 'smp_wmb':
      case 'BUILD_BUG_ON':
      case 'pr_debug':
        return int('0');
      case 'get_cpu_ptr': {
        const p = a(0);
        return { c: `(k.preempt_disable(), k.this_cpu_ptr(${p.c}))`, t: p.t };
      }
      case 'put_cpu_ptr':
        return int('(k.preempt_enable(), 0)');
      case 'BUG_ON':
        return int(`rt.bugOn(k, rt.tr(${a(0).c}), ${js(oneLine(args[0]!.text))}, ${js(n.at)})`);
      default:
        throw new Fallback(`primitive ${name}()`);
    }
  }

  /** Interp.allocType at compile time. */
  private allocType(size: N, sc: Scope): string {
    let s: N | undefined = size;
    while (s?.t === 'parenthesized_expression') s = s.kids[0];
    if (s?.t === 'sizeof_expression') {
      const t = s.f.type ? this.interp.types.descriptor(s.f.type) : this.typeOf(s.f.value ?? s.kids[0]!, sc);
      if (t.k === 'struct') return t.name;
    }
    return 'kmalloc';
  }

  // ---- the module -----------------------------------------------------------------------------

  private body(ts: boolean): string {
    const fns = [...this.fns.values()].map((f) => (ts ? f.ts : f.src));
    const sites = this.siteSrc.map((s) => (ts ? s.ts : s.src));
    return [
      '// Statement boundaries: the label each yields, its coverage key, its line.',
      ...this.stmtDefs,
      ...this.brDefs,
      '// Scopes of the interpreter Env built where a node is handed to the interpreter.',
      ...this.specs,
      '',
      ...fns.flatMap((f) => [f, '']),
      ...sites.flatMap((f) => [f, '']),
      `return { fns: { ${[...this.fns].map(([name, f]) => `${js(name)}: ${f.id}`).join(', ')} }, sites: [${this.siteSrc.map((s) => s.id).join(', ')}] };`,
    ].join('\n');
  }

  finish(): CompiledC {
    const jsBody = this.body(false);
    const rt = runtime(this.interp, this.nodes, this.types);
    const made = new Function('rt', 'N', 'T', jsBody)(rt, this.nodes, this.types) as { fns: Record<string, (k: Kernel, st: Budget, ...a: number[]) => Gen<number>>; sites: SiteFn[] };
    const bySite = new Map<object, SiteFn>(this.siteSrc.map((s, i) => [s.key, made.sites[i]!]));
    const interp = this.interp;
    for (const [key, s] of this.interpreted) bySite.set(key, (k, st, env) => interp.block(k, s.stmts, env, st, s.fn));
    const fallbacks = this.fallbacks;
    const tsText = [
      `/**`,
      ` * ${this.source}, compiled by dio-cache check --emit-port: one generator per C function the`,
      ` * checker runs, a yield per statement boundary (the label the interpreter shows), every memory`,
      ` * access and kernel call through the Kernel k. \`// l.N\` is the post-image line of the C.`,
      ` * Nodes the compiler hands to the interpreter (${fallbacks.length}): ${fallbacks.map((f) => `${f.at} ${f.why}`).join('; ') || 'none'}.`,
      ` * It runs inside the checker, which supplies rt (helpers, the interpreter), N (the C syntax`,
      ` * nodes) and T (the C types); it is written out to be read beside the C. \`$A = k.act(...)\` lists`,
      ` * the locals that carry state between statements, \`k.at($A, pc, ...)\` marks a boundary,`,
      ` * \`$A.pc = ...\` a call and \`k.from($A)\` the start of a statement that calls without a boundary:`,
      ` * the search fingerprints an operation by them (Frame.key), not by every value it read.`,
      ` */`,
      `import type { Act, Kernel } from '../impl/kernel/primitives.js';`,
      `import type { Budget, Completion, Env, TV } from '../conformance/c/interp.js';`,
      `import type { PortRuntime } from '../conformance/c/compile.js';`,
      `import type { N as Node } from '../conformance/c/ast.js';`,
      `import type { CType } from '../conformance/c/extract.js';`,
      `type Var = { v: number; t: CType };`,
      '',
      `export default function port(rt: PortRuntime, N: Node[], T: CType[]) {`,
      ['void N;', 'void T;', this.body(true)
        .replace(/\b([NT])\[(\d+)\]/g, '$1[$2]!')
        .replace(/\$f\[(\d+)\]\.v/g, '$$f[$1]!.v')
        .replace(/^(const E\d+ = .*);$/gm, '$1 as const;')]
        .join('\n')
        .split('\n')
        .map((l) => (l ? `  ${l}` : l))
        .join('\n'),
      `}`,
      '',
    ].join('\n');
    return {
      js: jsBody,
      ts: tsText,
      fallbacks,
      *call(k: Kernel, fn: CFunction, args: readonly TV[], st: Budget): Gen<TV> {
        const f = made.fns[fn.name];
        if (!f) return yield* interp.call(k, fn, [...args], st);
        // The wrapper calling it (build.ts's cpuDead) keeps nothing but its arguments, which are the callee's.
        k.act(-1, NO_LOCALS, true).pc = CALL_PC;
        try {
          const v = yield* f(k, st, ...fn.params.map((_, i) => args[i]?.v ?? 0));
          return { v, t: fn.ret };
        } finally {
          k.unact();
        }
      },
      site(key: object): SiteFn {
        const s = bySite.get(key);
        if (!s) throw new Error('call site not compiled');
        return s;
      },
    };
  }
}

/** What generated code calls besides the Kernel: the interpreter's helper semantics, in one place. */
export type PortRuntime = ReturnType<typeof runtime>;

function runtime(I: Interp, nodes: N[], types: CType[]) {
  void nodes;
  void types;
  return {
    I,
    INT,
    s: (fn: string, label: string, at: string) => ({ l: label, key: `${fn}|${label}`, fn, at }),
    b: (key: string, fn: string, at: string, text: string) => ({ key, fn, at, text }),
    /** Interp.boundaryLabel after its yield: the step budget and statement coverage. */
    step(k: Kernel, st: Budget, s: { l: string; key: string; fn: string; at: string }): void {
      if (++st.steps > C_STEP_BUDGET) throw new KernelFault('no-return', `${s.fn}() did not return within ${C_STEP_BUDGET} statements: an endless loop at ${s.at}?`);
      if (!k.replaying && !k.probing) {
        const c = I.cov.stmts.get(s.key);
        if (c) c.hits++;
        else I.cov.stmts.set(s.key, { fn: s.fn, at: s.at, text: s.l, hits: 1 });
      }
    },
    /** Interp.branch: records the way taken, returns it. */
    br(k: Kernel, b: { key: string; fn: string; at: string; text: string }, c: number): boolean {
      const taken = truthy(c);
      if (k.replaying || k.probing) return taken;
      const x = I.cov.branches.get(b.key) ?? { fn: b.fn, at: b.at, text: b.text, taken: 0, notTaken: 0 };
      if (taken) x.taken++;
      else x.notTaken++;
      I.cov.branches.set(b.key, x);
      return taken;
    },
    tr: truthy,
    /** A local's value: an uninitialised one (NaN) is the read Interp.ident faults on. */
    u(v: number, name: string, at: string): number {
      if (Number.isNaN(v)) throw new KernelFault('uninit-read', `read of uninitialised local ${name} at ${at}`);
      return v;
    },
    /** A member's address (Interp.addr): NULL and non-pointers stay what they are, for the load to fault on. */
    fa: (b: number, off: number) => (b === 0 || !isPtr(b) ? b : b + off),
    div(a: number, b: number): number {
      if (b === 0) throw new KernelFault('exception', 'division by zero');
      return Math.trunc(a / b);
    },
    mod(a: number, b: number): number {
      if (b === 0) throw new KernelFault('exception', 'division by zero');
      return a % b;
    },
    band: (a: number, b: number) => Number(BigInt(a) & BigInt(b)),
    bor: (a: number, b: number) => Number(BigInt(a) | BigInt(b)),
    bxor: (a: number, b: number) => Number(BigInt(a) ^ BigInt(b)),
    gfp: (v: number) => GFP_NAME[v & 0xff] ?? 'GFP_KERNEL',
    /** Interp.callPrim's kmalloc family: size evaluated before the flags, as there. */
    kalloc(k: Kernel, name: string, type: string, size: number | undefined, flags: number): number {
      const cache = name.startsWith('kmem_cache');
      const g = GFP_NAME[flags & 0xff] ?? 'GFP_KERNEL';
      const zero = (flags & GFP_ZERO) !== 0;
      return name === 'kzalloc' || name === 'kmem_cache_zalloc' || zero ? k.kzalloc(type, g, cache ? null : size) : cache ? k.kmem_cache_alloc(type, g) : k.kmalloc(type, g, size);
    },
    /** A static struct kept in simulated memory (Interp.addr): its static holds the address. */
    sg(k: Kernel, name: string, msg: string): number {
      if (isPtr(k.global(name))) return k.global(name);
      throw new CRuntimeError(msg);
    },
    bugOn(k: Kernel, c: boolean, text: string, at: string): number {
      if (c) throw new KernelFault('exception', `${k.fn}: kernel BUG: BUG_ON(${text}) at ${at}`);
      return 0;
    },
    err: (msg: string) => new CRuntimeError(msg),
    fn(name: string): CFunction {
      return I.prog.functions.get(name)!;
    },
    /** An interpreter Env for the locals `frames`, shaped as `spec` (Compiler.envFor). */
    env(frames: { v: number; t: CType }[], spec: readonly { vars: readonly (readonly [string, number])[]; margs: readonly (readonly [string, number, number])[] | null; parent: number }[]): Env {
      const envs: Env[] = spec.map((s) => ({ vars: new Map(s.vars.map(([n, i]) => [n, frames[i]!])), margs: null, parent: null }));
      spec.forEach((s, i) => {
        const e = envs[i]!;
        if (s.parent >= 0) e.parent = envs[s.parent]!;
        if (s.margs) e.margs = new Map(s.margs.map(([p, ni, si]) => [p, { node: nodes[ni]!, env: envs[si]! }]));
      });
      return envs[0] ?? { vars: new Map(), margs: null, parent: null };
    },
  };
}

const NO_LOCALS = (): void => {};

/** Compiles the functions the call sites (and the prune) reach, and the sites. */
export function compileC(interp: Interp, source: string, sites: readonly SiteSpec[], extra: readonly CFunction[] = [], cpuLocals?: ReadonlySet<string>): CompiledC {
  const c = new Compiler(interp, source, cpuLocals);
  for (const s of sites) c.addSite(s);
  for (const f of extra) c.fnId(f);
  return c.finish();
}

