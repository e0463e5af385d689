/**
 * The one error this layer reports as a finding. The runner tells it apart from every other
 * exception (a harness fault), so every check that judges the implementation throws this.
 */
import type { InvariantId } from '../../model/invariants.js';

/** A failure of this layer, tagged with the invariant id it breaks. */
export class FcViolation extends Error {
  constructor(
    readonly invariant: InvariantId,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
    this.name = 'FcViolation';
  }
}
