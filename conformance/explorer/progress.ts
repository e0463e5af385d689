/**
 * Progress lines of a search on stderr, which say what they count: what `explore` and `check`
 * print while they run, and the last line with the figures the report prints.
 */
import type { Progress } from './types.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * A progress line. While exploring it counts distinct states stored so far (what the report
 * calls `states` when the search ends); a minimising line says whose counterexample is being
 * shortened, so that its pause is not mistaken for the scope's search.
 */
export function progressLine(prefix: string, p: Progress): string {
  const head = prefix ? `${prefix}: ` : '';
  if (p.phase === 'minimise')
    return `${head}minimising the ${p.invariant} counterexample (fewest interrupts, preemptions, steps) after ${fmt(p.states)} distinct states`;
  return `${head}exploring: ${fmt(p.states)} distinct states so far, ${fmt(p.transitions)} transitions, depth ${p.depth}, ${fmt(p.states / Math.max(p.seconds, 1e-9))} states/s, ${p.seconds.toFixed(1)} s`;
}

/** The last progress line of a search: the figures its report prints. */
export function doneLine(prefix: string, s: { states: number; transitions: number; depth: number; seconds: number }, verdict: string, stoppedBy?: string): string {
  const head = prefix ? `${prefix}: ` : '';
  return `${head}explored: ${fmt(s.states)} distinct states, ${fmt(s.transitions)} transitions, depth ${s.depth}, ${s.seconds.toFixed(2)} s: ${verdict}${stoppedBy && verdict !== 'violation' ? ` (stopped: ${stoppedBy})` : ''}`;
}
