/**
 * The contract every implementation under test meets: the TypeScript ports in this folder, a
 * user's module (`dio-cache check mymodule.ts`), and the C interpreter's adapter.
 *
 * An implementation is a set of generator functions. Each `yield` is a statement boundary, the
 * place where an interrupt, a preemption or another CPU may step in; the yielded string is the C
 * statement about to run, shown in counterexamples. All access to shared state goes through the
 * Kernel `k` (impl/kernel/primitives.ts): never keep state in module variables, because the
 * checker re-runs the generator from the start to resume an operation from a stored state.
 */
import type { Kernel, StructDecl } from './kernel/primitives.js';
import type { Value } from './kernel/values.js';

/** One C function: yields statement labels, returns the C return value. */
export type Op<R = void> = Generator<string, R, void>;

/**
 * Where the cache lives and what its fields are called, so that the checker can read the lists
 * (conformance/abstraction.ts). Element pointers on the lists may point into the object at an
 * offset (a generic element header before the payload): the checker maps any pointer to its object.
 */
export interface CacheBinding {
  /** Static variable holding the __percpu pointer. */
  percpu: string;
  /**
   * Set when the static points to a descriptor struct that holds the __percpu pointer in this
   * field (the v3 generic helpers: `dio_pcpu_cache_list->cache`). The descriptor belongs to the
   * module, not to the objects the checker tracks.
   */
  percpuField?: string;
  /** Field names in the per-CPU cache struct. */
  freeList: string;
  freeListIrq: string;
  nr: string;
  nrIrq: string;
  /** Link field in a list element. */
  next: string;
  /** The macros that are the cache's cap and splice threshold. */
  maxMacro: string;
  thresholdMacro: string;
}

export interface Implementation {
  /** Short id used on the command line (`--impl iomap-v1`). */
  name: string;
  /** One line: what this is and where it comes from. */
  description: string;
  /** Profile (model/profiles.ts) this implementation claims to follow. */
  profile: string;
  /** For known-bad variants: the invariant id the checker must report. */
  expectedViolation?: string;
  /** Why a variant can only be caught by the interleaving explorer, if so. */
  explorerOnly?: string;
  /**
   * For a known-bad variant whose bug needs an interrupt between the loads and stores of one C
   * statement: `access`, the level at which the explorer catches it (Scope.atomicity; at statement
   * level it conforms). The suite and the tests explore it at that level.
   */
  atomicity?: 'access';
  structs: readonly StructDecl[];
  /** Macro name -> 'MAX' | 'THRESHOLD' | a fixed number; the scope supplies MAX and THRESHOLD. */
  macros: Readonly<Record<string, 'MAX' | 'THRESHOLD' | number>>;
  /** The struct type name of the objects handed out (`iomap_dio`). */
  objectType: string;
  /** Null for an allocator without a per-CPU cache (the slab-backed stand-in). */
  cache: CacheBinding | null;
  /**
   * Struct types that are the allocator's own bookkeeping, not objects the checker tracks (the
   * sheaves port's `kmem_cache`, `slab_sheaf` and `node_barn`): like a per-CPU area, they hold
   * no place in the object-safety count; the objects they point to are judged as any object is.
   */
  allocatorStructs?: readonly string[];
  /**
   * Its generators do something besides computing (the C path counts statement and branch hits
   * for its coverage report): every run must then really run. Without it, a run of an operation
   * is a function of what the Kernel lets it see, and the checker may reuse one it has made
   * (runtime.ts, RunMemo).
   */
  countsRuns?: true;
  /**
   * Whether CPU symmetry can rename every CPU number this code keeps, as read off its source (the
   * C path: conformance/c/cpu-numbers.ts); `why` names the first place it cannot. Absent: not known
   * (a port; the registry's are read by hand, cpu-symmetry.ts registryCode()).
   */
  cpuSymmetry?: { ok: boolean; why: string };
  /** Boot-time initialisation (an initcall); runs before exploration, without interleaving. */
  init(k: Kernel): Op<number>;
  /**
   * Task context: get an object for an I/O, as the caller does (cache first, then the slab).
   * Returns the object, or NULL for -ENOMEM. A caller with an error path after the allocation
   * (__iomap_dio_rw()'s `out_free_dio:`) branches to it with `k.nondet()` and returns NULL there,
   * having given the object back through the cache's put.
   */
  alloc(k: Kernel): Op<Value>;
  /**
   * Task context: an object straight from the slab, initialised as the caller initialises it on a
   * cache miss. Boot uses it to put objects in flight, so that a bug in the cached path shows up as
   * a trace of the run, not as a failure to boot. Without it, boot allocates through `alloc`.
   */
  fresh?(k: Kernel): Op<Value>;
  /** Any context: give the object back (iomap_dio_complete, the error path, an end_io). */
  free(k: Kernel, obj: Value): Op<void>;
  /** CPU hotplug teardown callback run on a surviving CPU for a dead one, if the cache has one. */
  cpuDead?(k: Kernel, cpu: number): Op<void>;
}

/**
 * Names a ported C function for reports: `dio_alloc_irq_cache_splice: cache->nr += ...`.
 * The wrapper adds no statement boundary of its own.
 *
 * It is a plain iterator around the body's generator, not a generator itself: every `yield` of
 * a callee passes through each generator frame of the call chain, and a wrapping generator per
 * function doubled that chain. The function is entered on the first `next()`, as a generator's
 * body would be.
 */
export function port<A extends unknown[], R>(
  name: string,
  body: (k: Kernel, ...args: A) => Op<R>,
): (k: Kernel, ...args: A) => Op<R> {
  const wrapped = function (k: Kernel, ...args: A): Op<R> {
    return new PortCall(name, k, () => body(k, ...args)) as unknown as Op<R>;
  };
  Object.defineProperty(wrapped, 'name', { value: name });
  return wrapped;
}

/** One call of a port()ed function: enter() before the body's first statement, leave() after its return. */
class PortCall<R> {
  private inner: Op<R> | null = null;
  constructor(
    private readonly name: string,
    private readonly k: Kernel,
    private readonly start: () => Op<R>,
  ) {}
  next(): IteratorResult<string, R> {
    let g = this.inner;
    if (g === null) {
      this.k.enter(this.name);
      g = this.inner = this.start();
    }
    const r = g.next();
    if (r.done) this.k.leave();
    return r;
  }
  return(v: R): IteratorResult<string, R> {
    return this.inner ? this.inner.return(v) : { done: true, value: v };
  }
  throw(e: unknown): IteratorResult<string, R> {
    if (this.inner) return this.inner.throw(e);
    throw e;
  }
  [Symbol.iterator](): this {
    return this;
  }
}

/** Checks that a value loaded from a user's module has the shape of an Implementation. */
export function implementationProblems(x: unknown): string[] {
  const problems: string[] = [];
  if (typeof x !== 'object' || x === null) return ['the module does not export an object (export default, or export const impl)'];
  const o = x as Record<string, unknown>;
  for (const f of ['name', 'description', 'profile', 'objectType'] as const)
    if (typeof o[f] !== 'string') problems.push(`'${f}' must be a string`);
  for (const f of ['init', 'alloc', 'free'] as const)
    if (typeof o[f] !== 'function') problems.push(`'${f}' must be a generator function`);
  if (!Array.isArray(o.structs)) problems.push(`'structs' must be an array of struct declarations`);
  if (typeof o.macros !== 'object' || o.macros === null) problems.push(`'macros' must be an object`);
  if (o.cache !== null && (typeof o.cache !== 'object' || o.cache === undefined)) problems.push(`'cache' must be a CacheBinding or null`);
  return problems;
}
