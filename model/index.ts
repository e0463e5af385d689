/**
 * The specification's public surface: the statechart, its events and context, the profiles, the
 * abstract state the invariants judge, the invariant registry, and the renderers.
 */
export { cacheMachine, initialContext, EVENT_TYPES, type CacheContext, type CacheEvent, type CacheMachine, type Outcome } from './machine.js';
export { PROFILES, getProfile, capAllows, reachableCapBound, sequentialCapBound, KERNEL_MAX, KERNEL_THRESHOLD, type Profile, type CapCompare } from './profiles.js';
export { INVARIANTS, INVARIANT_IDS, invariant, violations, type Invariant, type InvariantId } from './invariants.js';
export type { AbsCache, AbsObject, AbsStep, AbstractState, CtxKind, OpOutcome, Place } from './abstract.js';
export { toMermaid, toDot, toJson, toJsonObject, toSvg, machineSize, guardLabel, transitionLabel } from './render.js';
