/**
 * What a run of the statechart covered: every state node and transition of the machine, and the
 * transitions one macrostep takes (from xstate's own microstep inspection). The path layer and
 * the explorer both report coverage with it (conformance/paths.ts, conformance/abstraction.ts).
 */
import { createEmptyActor, type SnapshotFrom } from 'xstate';
import { OBSERVED_EVENT_TYPES, type CacheEvent, type CacheMachine } from './machine.js';

export type Snap = SnapshotFrom<CacheMachine>;

export interface Inventory {
  /** State node ids (`cpu.task.section.alloc.check`), document order. */
  nodes: string[];
  /** Transition definition -> `<state id> <event>#<i>` (`always#<i>` for eventless ones). */
  transitions: Map<unknown, string>;
}

/**
 * Every state node and transition of the machine. `vocabulary` keeps only the transitions on the
 * events of one vocabulary (and the eventless ones): the path layer walks the phase and whole-op
 * events, the explorer sends the observed ones; each is covered against its own.
 */
export function machineInventory(machine: CacheMachine, vocabulary: 'observed' | 'paths' | 'all' = 'all'): Inventory {
  const nodes: string[] = [];
  const transitions = new Map<unknown, string>();
  const observed = new Set<string>(OBSERVED_EVENT_TYPES);
  const keep = (type: string) => vocabulary === 'all' || (vocabulary === 'observed') === observed.has(type);
  // States tagged with the other vocabulary ('phases' or 'observed', inherited) are left out with their transitions.
  const other = vocabulary === 'observed' ? 'phases' : vocabulary === 'paths' ? 'observed' : null;
  type Node = { id: string; tags: string[]; states: Record<string, Node>; transitions: Map<string, unknown[]>; always?: unknown[] };
  const walk = (n: Node) => {
    for (const [type, ts] of n.transitions) if (keep(type)) ts.forEach((t, i) => transitions.set(t, `${n.id} ${type}#${i}`));
    (n.always ?? []).forEach((t, i) => transitions.set(t, `${n.id} always#${i}`));
    for (const c of Object.values(n.states)) {
      if (other !== null && c.tags.includes(other)) continue;
      nodes.push(c.id);
      walk(c);
    }
  };
  walk(machine.root as unknown as Node);
  return { nodes, transitions };
}

/** An actor scope for machine.transition() that reports each microstep's transitions. */
export function inspectingScope(onTransitions: (ts: unknown[]) => void) {
  const empty = createEmptyActor();
  const system = Object.create(empty.system) as typeof empty.system & { _sendInspectionEvent: (e: { type: string; _transitions?: unknown[] }) => void };
  system._sendInspectionEvent = (ev) => {
    if (ev.type === '@xstate.microstep' && ev._transitions) onTransitions(ev._transitions);
  };
  return { self: empty, logger: () => {}, id: '', sessionId: 'inventory', defer: () => {}, system, stopChild: () => {}, emit: () => {}, actionExecutor: () => {} } as never;
}

/**
 * One macrostep, with the transitions it took. `accepted`: some transition took the event itself
 * (its first microstep's; the eventless ones that follow do not count). xstate's `can()` says no
 * for a transition without target or actions, and costs a second selection.
 */
export function stepTaking(machine: CacheMachine, snap: Snap, event: CacheEvent): { snap: Snap; taken: unknown[]; accepted: boolean } {
  const taken: unknown[] = [];
  sink = taken;
  first = -1;
  const next = machine.transition(snap, event, SCOPE) as Snap;
  sink = null;
  return { snap: next, taken, accepted: first > 0 };
}
/** One scope for every stepTaking() (making one per step was the larger part of its cost). */
let sink: unknown[] | null = null;
/** How many transitions the first microstep (the event's own) took; -1 before it. */
let first = -1;
const SCOPE = inspectingScope((ts) => {
  if (first < 0) first = ts.length;
  if (sink) for (const t of ts) sink.push(t);
});

/**
 * One macrostep, recording nothing: for a model that steps a snapshot as an actor's send() does
 * (the fast-check layer's CPUs), without an actor to start, persist and stop per copy.
 */
export function stepSnapshot(machine: CacheMachine, snap: Snap, event: CacheEvent): Snap {
  return machine.transition(snap, event, QUIET) as Snap;
}

/** The machine's initial snapshot, made in the same scope as stepSnapshot()'s steps. */
export function initialSnapshot(machine: CacheMachine): Snap {
  return machine.getInitialSnapshot(QUIET) as Snap;
}
const QUIET = inspectingScope(() => {});

/** The active state node ids of a snapshot. */
export function activeNodes(snap: Snap): string[] {
  return (snap as unknown as { _nodes: { id: string }[] })._nodes.map((n) => n.id);
}
