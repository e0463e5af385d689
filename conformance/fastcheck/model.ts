/**
 * The model side of the fast-check layer: one `cacheMachine(profile)` snapshot per CPU
 * (model/machine.ts), and what the per-CPU statechart does not know — which task runs where, what
 * each task holds, what is in flight, and which CPU allocated each object. Model ids are the run's
 * own numbering; real.ts maps them to the implementation's objects.
 */
import type { CacheContext, CacheEvent, CacheMachine } from '../../model/machine.js';
import { initialSnapshot, stepSnapshot, type Snap } from '../../model/inventory.js';
import type { Profile } from '../../model/profiles.js';

export type PutCtx = 'task' | 'softirq' | 'hardirq';

/**
 * One CPU's cache as the statechart: a snapshot of the machine, stepped as an actor steps it
 * (`machine.transition()`). Snapshots never change (a transition makes a new one), so a copy
 * shares its snapshot: no actor to start, restore from a persisted snapshot and stop for every
 * copy, adoption and run.
 */
export class CpuModel {
  private snap: Snap;

  constructor(
    private readonly machine: CacheMachine,
    snap?: Snap,
  ) {
    this.snap = snap ?? initialSnapshot(machine);
  }

  get ctx(): CacheContext {
    return this.snap.context;
  }

  get taskIdle(): boolean {
    return (this.snap.value as Record<string, unknown>).task === 'idle';
  }

  /** Sends `e` if some transition takes it; false when the machine refuses it (e.g. irqs off). */
  send(e: CacheEvent): boolean {
    const before = this.snap;
    this.snap = stepSnapshot(this.machine, before, e);
    // xstate keeps the snapshot object when no transition takes the event.
    return this.snap !== before;
  }

  alloc(fresh: number): CacheContext {
    if (!this.send({ type: 'ALLOC', fresh })) throw new Error(`harness: the model refused ALLOC on a CPU whose task is not on top`);
    return this.ctx;
  }

  put(ctx: PutCtx, obj: number): CacheContext {
    this.adopt(obj);
    if (!this.send({ type: 'PUT', ctx, obj })) throw new Error(`harness: the model refused a ${ctx} PUT of m${obj}`);
    return this.ctx;
  }

  /**
   * The machine of one CPU knows only the objects handed out on that CPU (`inUse`). An object
   * allocated on another CPU, or in flight since boot, is added before this CPU's put takes it:
   * ownership moves between CPUs outside the per-CPU statechart. Only `inUse` and `freed` change,
   * so the derived regions (lists, capacity, irqs) stay true to the context.
   */
  adopt(...objs: number[]): void {
    const snap = this.snap;
    const fresh = objs.filter((o) => !snap.context.inUse.includes(o));
    if (fresh.length === 0) return;
    const context = { ...snap.context, inUse: [...snap.context.inUse, ...fresh], freed: snap.context.freed.filter((x) => !fresh.includes(x)) };
    this.snap = this.machine.resolveState({ value: snap.value, context });
  }

  clone(): CpuModel {
    return new CpuModel(this.machine, this.snap);
  }
}

export interface TaskModel {
  cpu: number;
  /** Model ids of the objects this task holds, oldest first. */
  held: number[];
}

/** The fast-check model: the statechart per CPU, plus where every object the run knows of is. */
export interface FcModel {
  profile: Profile;
  cpus: CpuModel[];
  /** Task running on each CPU. */
  current: number[];
  tasks: TaskModel[];
  /** Model ids of objects submitted for I/O, oldest first. */
  inflight: number[];
  /** CPU each live object was last allocated on (-1: booted in flight). */
  allocCpu: Map<number, number>;
  nextId: number;
  stats: RunStats;
}

export interface RunStats {
  /** A task or hardirq put found the cap test failing and freed the object. */
  capRefused: boolean;
  /** An alloc spliced free_list_irq (nr_irq reached THRESHOLD with free_list empty). */
  spliced: boolean;
  /** An alloc missed with 0 < nr_irq < THRESHOLD: the threshold held the splice back. */
  belowThresholdMiss: boolean;
  /** Largest nr + nr_irq on any CPU. */
  maxTotal: number;
  /** Puts on a CPU other than the one that allocated the object. */
  crossCpuPuts: number;
  /** Interrupted task operations, and those only a concurrent linearisation explains. */
  interrupted: number;
  concurrentOnly: number;
  commands: number;
}
