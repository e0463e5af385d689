/**
 * The property-based layer: fast-check command sequences at the kernel's own constants
 * (THRESHOLD 16, MAX 256) on two or more CPUs, run against the statechart as the model and the
 * implementation through `System` (every statement a step, every step checked against the invariant
 * registry).
 *
 * What this layer adds to the statechart paths: long sequences that actually cross the threshold
 * and the cap (bursts of up to a few hundred operations), objects completed on a different CPU than
 * the one that allocated them, tasks that migrate with the objects they hold, and task operations
 * interrupted between two statements by a hardirq or softirq completion on the same CPU. The
 * explorer (conformance/explorer) is exhaustive at small MAX; this layer is random at the real MAX.
 *
 * The model is one `cacheMachine(profile)` actor per CPU (model/machine.ts). After every command the
 * implementation's abstract state (each CPU's lists, through an impl-id <-> model-id map, nr, nr_irq)
 * and each operation's outcome must equal the model's. An interrupted task operation is judged
 * against its linearisations (interrupted.ts).
 */
export { runFastCheck, type FastCheckFailure, type FastCheckOptions, type FastCheckResult } from './runner.js';
export { FcViolation } from './violation.js';
