/**
 * The messages between the main thread (parallel.ts) and the BFS workers (worker.ts), and the
 * layout of their shared control words.
 */
import type { World } from '../../impl/kernel/world.js';
import type { Scope, Violation } from '../system.js';
import type { SharedTable } from './fingerprint.js';

/** Int32 slots of the control buffer. */
export const C_STOP = 0;
export const C_STATES = 1;
export const C_TRANSITIONS = 2;
export const CONTROL_SLOTS = 3;

/** Values of the stop slot. */
export const STOP_VIOLATION = 1;
export const STOP_MAX_STATES = 2;
export const STOP_SIGNAL = 3;

export interface WorkerInit {
  id: number;
  workers: number;
  load: { ref: string; binding?: string; roles?: Record<string, string> };
  scope: Scope;
  symmetry: boolean;
  all: boolean;
  maxStates?: number;
  table: SharedTable;
  control: SharedArrayBuffer;
}

/** A violation found by a worker: the step (parent state, choice) and the BFS depth of the parent. */
export interface Found {
  v: Violation;
  parent: number;
  choice: number;
  depth: number;
}

/** A new largest nr + nr_irq seen by one worker. */
export interface Witness {
  value: number;
  cpu: number;
  parent: number;
  choice: number;
  depth: number;
}

export type ToWorker =
  | { type: 'level' }
  | { type: 'table'; table: SharedTable }
  | { type: 'give'; n: number }
  | { type: 'take'; worlds: { w: World; idx: number }[] }
  | { type: 'finish' };

export type FromWorker =
  /** `sequential`: boot failed or the root breaks an invariant; the main thread reports it the sequential way. */
  | { type: 'ready'; id: number; sequential: boolean }
  | { type: 'level'; id: number; next: number; pending: number; transitions: number; found: Found[]; witnesses: Witness[] }
  | { type: 'worlds'; id: number; worlds: { w: World; idx: number }[] }
  | { type: 'took'; id: number }
  | { type: 'parents'; id: number; parent: Uint32Array; choice: Uint16Array; n: number; coverage: unknown }
  | { type: 'error'; id: number; message: string };
