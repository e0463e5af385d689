/**
 * Every implementation the CLI knows by name: the ports, then the known-bad variants.
 */
import type { Implementation } from './interface.js';
import { iomapV1 } from './ports/iomap-v1.js';

/** Implementations that must conform. */
export const PORTS: readonly Implementation[] = [iomapV1];

/** Known-bad variants: each names the invariant it must break (expectedViolation). */
export const VARIANTS: readonly Implementation[] = [];

export const ALL: readonly Implementation[] = [...PORTS, ...VARIANTS];

export function findImpl(name: string): Implementation | undefined {
  return ALL.find((i) => i.name === name);
}
