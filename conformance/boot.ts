/**
 * Boot: the initcall, each CPU's prefill and the objects put in flight, run to completion before
 * the exploration starts (nothing interleaves), and the init-result check of an initcall whose
 * allocations fail. The System (system.ts) starts every search from what boot() returns.
 */
import type { AbsStep, AbstractState } from '../model/abstract.js';
import { violations } from '../model/invariants.js';
import type { Profile } from '../model/profiles.js';
import type { Implementation } from '../impl/interface.js';
import { KernelFault, type Fact } from '../impl/kernel/primitives.js';
import { newFrame, runToCompletion, type Env, type StepOutcome } from '../impl/kernel/runtime.js';
import { isPtr, NULL, ptrId, ptrOff, showValue, type Value } from '../impl/kernel/values.js';
import { cloneWorld, type World } from '../impl/kernel/world.js';
import { insertSorted, unreachableLive } from '../impl/kernel/heap.js';
import { abstractState, type Layout, type Spec } from './abstraction.js';
import type { Scope, Violation } from './scope.js';

/** What boot needs of the System. */
export interface BootParts {
  readonly env: Env;
  readonly impl: Implementation;
  readonly scope: Scope;
  readonly profile: Profile;
  readonly layout: Layout | null;
  readonly spec: Spec | null;
}

/** Boot: run the initcall, prefill each CPU's cache and put objects in flight, all without interleaving. */
export function boot(sys: BootParts): { world: World; abs: AbstractState; violations: Violation[] } {
  const s = sys.scope;
  const w = bootWorld(sys);
  const bootFail = (what: string, out: StepOutcome) => {
    const msg = out.fault
      ? `${out.fault.kind}: ${out.fault.message}`
      : out.facts.length
        ? out.facts.map((f) => f.msg).join('; ')
        : `it returned ${out.done ? showValue(out.done.result) : 'nothing'}: the cache is empty at boot, and no slab path of the caller allocated an object`;
    throw new BootError(`${what} failed: ${msg}`);
  };
  const run = (cpu: number, op: string, args: Value[]): StepOutcome & { labels: string[] } => {
    const f = newFrame(op, args, false);
    return runToCompletion(sys.env, w, cpu, 'task', -1, f);
  };
  const init = run(0, 'init', []);
  if (init.fault) bootFail(`${sys.impl.name}: init`, init);
  const initFindings = initResult(sys, init);
  // Objects come from the slab path when the implementation says how (fresh), so that boot does
  // not run the cached alloc the exploration is about to test. A slab path that cannot allocate
  // by itself (a C site whose miss path is inside the cache's helper) hands boot to alloc.
  let allocOp = sys.impl.fresh ? 'fresh' : 'alloc';
  const bootAlloc = (cpu: number, what: string): Value => {
    if (allocOp === 'fresh') {
      // Heap objects are copied before they are written: the snapshot stays as it was.
      const before = cloneWorld(w);
      const a = run(cpu, 'fresh', []);
      // Success is an object: NULL and an ERR_PTR(-ENOMEM) both say the site could not allocate.
      if (!a.fault && a.done && isPtr(a.done.result) && !handedOutPastEnd(w, 'fresh', a.done.result)) return a.done.result;
      Object.assign(w, before);
      allocOp = 'alloc';
    }
    const a = run(cpu, 'alloc', []);
    if (a.fault || !a.done || a.done.result === NULL) bootFail(what, a);
    const past = handedOutPastEnd(w, 'alloc', a.done!.result);
    if (past) bootFail(what, { ...a, fault: past });
    return a.done!.result;
  };
  const fresh: Value[] = [];
  for (let cpu = 0; cpu < s.cpus; cpu++) for (let i = 0; i < s.prefill; i++) fresh.push(bootAlloc(cpu, 'prefill alloc'));
  for (let i = 0; i < s.inflight; i++) {
    // Not insertSorted(w.inflight, bootAlloc(...)): a fallback from fresh to alloc puts the
    // snapshot's arrays back into w, and the insert would go to the array it replaced.
    const o = bootAlloc(0, 'in-flight alloc');
    insertSorted(w.inflight, o);
  }
  let n = 0;
  for (let cpu = 0; cpu < s.cpus; cpu++) {
    for (let i = 0; i < s.prefill; i++) {
      const p = run(cpu, 'free', [fresh[n++]!]);
      if (p.fault) bootFail('prefill put', p);
    }
  }
  const abs = abstractState(sys.impl, sys.profile, w, sys.layout);
  if (sys.spec) for (const c of abs.caches) w.cpus[c.cpu]!.spec = sys.spec.boot(c, w.cpus[c.cpu]!.irqsOff);
  if (!initFindings) return { world: w, abs, violations: violations(undefined, abs) };
  // Judged like any step: the invariants read the boot step's facts (init-result) or fault (crash).
  const withStep: AbstractState = { ...abs, step: initFindings };
  return { world: w, abs, violations: violations(undefined, withStep) };
}

/** Memory, CPUs and tasks before the initcall. */
function bootWorld(sys: BootParts): World {
  const s = sys.scope;
  const w: World = {
    heap: [undefined],
    globals: {},
    cpus: Array.from({ length: s.cpus }, () => ({ online: true, irqsOff: false, current: -1, softirq: null, hardirq: null })),
    tasks: s.taskCpus.map((cpu) => ({ cpu, opsDone: 0, held: [], frame: null })),
    inflight: [],
    preemptions: 0,
    interrupts: 0,
    allocFails: 0,
  };
  w.tasks.forEach((t, i) => {
    const c = w.cpus[t.cpu]!;
    if (c.current < 0) c.current = i;
  });
  return w;
}

/**
 * init-result: what the initcall returned against whether its allocations succeeded. With
 * nothing failing it must return 0. Where the scope lets allocations fail, the initcall is also
 * run on a fresh boot once per allocation it makes, with that one failing (v3's create helper:
 * the descriptor's kmalloc(), then alloc_percpu()):
 * - returning 0 is a claim that the cache is usable, and the first alloc is run to see (a design
 *   whose callers test the cache pointer, as bio_alloc_bioset() tests `bs->cache`, passes);
 * - returning an error, it must have freed what it allocated before the failure: an object
 *   nothing reaches any more is leaked (the error path's `kfree()` missing).
 * Null when there is nothing to report.
 */
function initResult(sys: BootParts, init: StepOutcome & { labels: string[] }): AbsStep | null {
  const r = init.done?.result;
  if (r !== undefined && r !== 0 && !isPtr(r))
    return bootStep(init.label, [
      {
        kind: 'init-result',
        msg: `the initcall returned ${showValue(r)} although every allocation it made succeeded (it ran: ${init.labels.join(' | ')}): the kernel logs "initcall ... returned ${showValue(r)}" and carries on with the cache it did set up; a module would not load`,
      },
    ]);
  if ((sys.scope.allocFailures ?? 0) === 0) return null;
  // A handful of allocations at most; the bound only keeps a looping initcall finite.
  for (let n = 0; n < 16; n++) {
    const found = initFailing(sys, n);
    if (found === 'done') return null;
    if (found) return found;
  }
  return null;
}

/** The initcall with its n-th allocation failing: a finding, null for none, 'done' when it makes fewer than n + 1. */
function initFailing(sys: BootParts, n: number): AbsStep | null | 'done' {
  const pw = bootWorld(sys);
  const failed = runToCompletion(sys.env, pw, 0, 'task', -1, newFrame('init', [], false), true, n);
  if (!failed.allocFailed) return 'done';
  // The statement whose allocation failed: the n-th of those that allocate, as far as labels tell.
  const allocating = failed.labels.filter((l) => ALLOCATES.test(l));
  const when = `with its allocation ${allocating.length > 1 ? `#${n + 1} ` : ''}failing (${allocating[n] ?? allocating[allocating.length - 1] ?? failed.label})`;
  if (failed.fault) {
    // An unsupported construct on the failure path (a panic()) is not a finding about the cache.
    if (failed.fault.kind === 'exception') return null;
    return bootStep(failed.label, [], new KernelFault(failed.fault.kind, `${when}, the initcall oopses: ${failed.fault.message}`));
  }
  if (failed.done?.result !== 0) {
    const leaked = unreachableLive(pw);
    if (leaked.length === 0) return null;
    const o = pw.heap[leaked[0]!]!;
    return bootStep(failed.label, [
      {
        kind: 'init-result',
        msg: `${when}, the initcall returned ${showValue(failed.done?.result)} but left #${leaked[0]} (${o.type === 'kmalloc' ? 'an allocation' : `a struct ${o.type}`} from ${o.origin}) allocated with nothing pointing to it: the error path leaks what the initcall had allocated before the failure (it ran: ${failed.labels.join(' | ')})`,
      },
    ]);
  }
  const t = pw.tasks.findIndex((x) => x.cpu === 0);
  const f = newFrame('alloc', [], false);
  if (t >= 0) pw.tasks[t]!.frame = f;
  const a = runToCompletion(sys.env, pw, 0, 'task', t, f, true);
  if (!a.fault || a.fault.kind === 'exception') return null;
  return bootStep(failed.label, [
    {
      kind: 'init-result',
      msg: `${when}, the initcall returned 0, and the first alloc then oopses: ${a.fault.kind}: ${a.fault.message} (at ${a.label}). An initcall that cannot set the cache up must return an error (-ENOMEM), or its callers must test the cache pointer`,
    },
  ]);
}

export class BootError extends Error {}

/**
 * A statement that calls an allocation that can fail (a `function: statement` label). The C
 * interpreter's labels are the C text, and the ports' are the C statements they port; an
 * allocation inside a helper is a statement of the helper. mempool_alloc() is not here: it waits
 * rather than fail.
 */
export const ALLOCATES = /\b(kmalloc|kzalloc|kcalloc|kmalloc_array|kmem_cache_alloc|kmem_cache_zalloc|alloc_percpu|kmemdup)\s*\(/;

/** The step boot's findings are judged on (init-result's facts, or a fault for crash). */
function bootStep(label: string, facts: Fact[], fault?: KernelFault): AbsStep {
  const step: AbsStep = { who: 'boot', cpu: 0, ctx: 'task', task: -1, preemptible: false, irqsOff: false, label, facts };
  if (fault) step.fault = { kind: fault.kind, msg: fault.message };
  return step;
}

/**
 * An alloc that hands out a pointer at or past the end of its allocation (an element header
 * kmalloc()ed without room for the payload behind it): nothing in the cache touches the payload,
 * but the caller's first write to the object is slab-out-of-bounds. Only where the size is known.
 */
export function handedOutPastEnd(w: World, op: string, p: Value): KernelFault | undefined {
  if ((op !== 'alloc' && op !== 'fresh') || !isPtr(p)) return undefined;
  const o = w.heap[ptrId(p)];
  if (!o || o.freed || o.size === undefined || ptrOff(p) < o.size) return undefined;
  return new KernelFault(
    'wild-pointer',
    `slab-out-of-bounds (KASAN): ${op} handed out ${showValue(p)}, byte ${ptrOff(p)} of an allocation of ${o.size} bytes: there is no room for the object, and the caller's first access to it is out of bounds`,
  );
}
