/**
 * Where a patch's CPU numbers go, for CPU symmetry (explorer/cpu-symmetry.ts). The symmetry renames
 * the CPUs of a state: the per-CPU instances, and the CPU numbers an operation has read (the read
 * log's CPU reads, Frame.cpuReads). A CPU number the code keeps anywhere else, in a struct field
 * (`dio->cpu = smp_processor_id()`), a static, or computed with (`if (cpu == 0)`), would not be
 * renamed, and the symmetry would merge states that are not alike. So it is taken for compiled C
 * only when every CPU number goes where the renaming reaches, read off the code (the functions that
 * run outside hotplug, which the symmetry never meets, and the macros):
 * - a call that returns one (a `cpu: 'returns'` row of the primitives table: get_cpu(),
 *   smp_processor_id()) is the CPU argument of a call that takes one (per_cpu_ptr(),
 *   cpu_online(): a numbered `cpu` row), an argument of a print, or its value is dropped
 *   (`get_cpu();`);
 * - a CPU iterator's variable (for_each_possible_cpu(cpu), which ast.ts writes as
 *   `for (cpu = 0; cpu < nr_cpu_ids; cpu++)`) appears only in its loop's header and as a CPU
 *   argument;
 * - nothing else is a CPU argument (a constant CPU, a parameter, an expression).
 * Anything else is a blocker: `check --cpu-symmetry` refuses with its line.
 *
 * An iterator's variable is a C local that holds a CPU number, which a frame's key (Frame.key)
 * would carry unrenamed: frames inside such a function are fingerprinted by their read log under
 * CPU symmetry (compile.ts marks the activation, Kernel.act()).
 */
import { cPrimitive } from '../../impl/kernel/primitive-table.js';
import { oneLine, type N } from './ast.js';
import type { Program } from './extract.js';

export interface CpuNumbers {
  /** Where a CPU number goes that CPU symmetry cannot rename (empty: it can rename them all). */
  blockers: { at: string; text: string; why: string }[];
  /** Functions with a CPU iterator's variable (a local holding a CPU number). */
  loopFns: Set<string>;
}

/** `prune`: the hotplug callback, which runs only in scopes with hotplug (no CPU symmetry there). */
export function cpuNumbers(prog: Program, prune: string | undefined): CpuNumbers {
  const out: CpuNumbers = { blockers: [], loopFns: new Set() };
  for (const f of prog.functions.values()) {
    if (f.name === prune) continue;
    const vars = loopVars(f.body);
    if (vars.size) out.loopFns.add(f.name);
    scan(f.body, null, null, vars, out);
  }
  for (const m of prog.macros.values()) {
    const body = m.expr ?? m.stmt;
    if (body) scan(body, null, null, new Set(), out);
  }
  return out;
}

const unparen = (n: N): N => (n.t === 'parenthesized_expression' && n.kids.length === 1 ? unparen(n.kids[0]!) : n);
const callee = (n: N): string | undefined => (n.t === 'call_expression' ? n.f.function?.text : undefined);

/** The variables of `for (v = 0; v < nr_cpu_ids; v++)` loops under `n`. */
function loopVars(n: N): Set<string> {
  const vars = new Set<string>();
  const visit = (x: N): void => {
    if (x.t === 'for_statement') {
      const init = x.f.initializer;
      const cond = x.f.condition;
      if (init?.t === 'assignment_expression' && init.f.left?.t === 'identifier' && cond && /\bnr_cpu_ids\b/.test(cond.text)) vars.add(init.f.left.text);
    }
    for (const k of x.kids) visit(k);
  };
  visit(n);
  return vars;
}

/** Whether `arg` (unparenthesised) may be a CPU argument: a CPU-returning call, or an iterator's variable. */
function cpuValue(arg: N, vars: ReadonlySet<string>): boolean {
  const a = unparen(arg);
  if (a.t === 'identifier') return vars.has(a.text);
  const name = callee(a);
  return name !== undefined && cPrimitive(name)?.cpu === 'returns';
}

/** Walks `n` (under `parent`, under `grand`), recording every CPU number that goes elsewhere. */
function scan(n: N, parent: N | null, grand: N | null, vars: ReadonlySet<string>, out: CpuNumbers): void {
  const name = callee(n);
  const row = name !== undefined ? cPrimitive(name) : undefined;
  if (row?.cpu === 'returns' && !allowedSource(n, parent, grand))
    out.blockers.push({ at: n.at, text: oneLine((parent ?? n).text), why: `${name}() whose CPU number is kept or computed with (only a CPU argument, as in per_cpu_ptr(p, ${name}()), is renamed)` });
  if (typeof row?.cpu === 'number') {
    const arg = n.f.arguments?.kids[row.cpu];
    if (arg && !cpuValue(arg, vars)) out.blockers.push({ at: arg.at, text: oneLine(n.text), why: `${name}() of the CPU \`${oneLine(arg.text)}\`, which is neither a CPU read nor a CPU iterator's variable` });
  }
  if (n.t === 'identifier' && vars.has(n.text) && !allowedLoopUse(n, parent, grand))
    out.blockers.push({ at: n.at, text: oneLine((parent ?? n).text), why: `the CPU iterator's variable ${n.text} is used as a number` });
  for (const k of n.kids) scan(k, n, parent, vars, out);
}

/** A CPU-returning call as the CPU argument of a CPU-taking call, or as a statement of its own. */
function allowedSource(n: N, parent: N | null, grand: N | null): boolean {
  if (parent?.t === 'expression_statement') return true;
  return parent?.t === 'argument_list' && (isCpuArgument(n, parent, grand) || isPrinted(grand));
}

/**
 * An argument of a print that only prints (pr_debug("%d", smp_processor_id()), a pure `prints` row):
 * text, not state. Not WARN()'s, whose first argument is a condition.
 */
function isPrinted(call: N | null): boolean {
  const row = call ? cPrimitive(callee(call) ?? '') : undefined;
  return row?.prints === true && row.pure;
}

/** An iterator variable in its loop's header (`v = 0`, `v < nr_cpu_ids`, `v++`), declared, or a CPU argument. */
function allowedLoopUse(n: N, parent: N | null, grand: N | null): boolean {
  if (!parent) return false;
  const header = grand?.t === 'for_statement';
  switch (parent.t) {
    case 'assignment_expression':
      return header && parent.f.left === n && parent.f.right !== undefined && unparen(parent.f.right).t === 'number_literal';
    case 'binary_expression':
      return header && parent.f.left === n && parent.op === '<' && parent.f.right?.text === 'nr_cpu_ids';
    case 'update_expression':
      return header;
    case 'init_declarator':
      return parent.f.declarator === n;
    case 'declaration':
      return true;
    case 'argument_list':
      return isCpuArgument(n, parent, grand);
    default:
      return false;
  }
}

/** Whether `n` is, in the argument list `args` of `call`, the CPU argument of that call. */
function isCpuArgument(n: N, args: N, call: N | null): boolean {
  const name = call ? callee(call) : undefined;
  const row = name !== undefined ? cPrimitive(name) : undefined;
  return typeof row?.cpu === 'number' && args.kids[row.cpu] === n;
}
