/**
 * The statechart is the explorer's oracle: `refinement` verdicts come from the xstate machine
 * (model/machine.ts) through the seam (conformance/abstraction.ts), not from a second description
 * of the rules. Edit a guard of the machine and the explorer's verdict moves with it; keep the
 * machine and the verdict names the statechart state, the event and the guard that refused it.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../conformance/explorer/explore.js';
import { SCOPES } from '../conformance/scopes.js';
import type { Scope } from '../conformance/system.js';
import { findImpl } from '../impl/registry.js';
import { cacheMachine, SAW_FULL, type CacheEvent } from '../model/machine.js';
import { getProfile } from '../model/profiles.js';

/** One CPU, one hardirq completion, atomic handlers (the variant's own scenario). */
const scope: Scope = {
  name: 'oracle',
  description: 'one in-flight object completed by a hardirq',
  cpus: 1,
  taskCpus: [0],
  ops: 0,
  taskOps: ['alloc', 'free'],
  prefill: 0,
  inflight: 1,
  completers: ['hardirq'],
  atomicIrq: true,
  preemptions: 0,
  migration: false,
  hotplug: false,
  profile: 'iomap-v1',
  max: 2,
  threshold: 2,
};

const profile = getProfile('iomap-v1', { max: scope.max, threshold: scope.threshold });

describe('the statechart judges every explored step', () => {
  it('a hardirq put that frees with room is refused by the machine, naming state, event and guard', () => {
    const r = explore({ impl: findImpl('hardirq-put-always-frees')!, scope });
    expect(r.verdict).toBe('violation');
    const v = r.violations.find((x) => x.id === 'refinement')!;
    expect(v.message).toMatch(/the statechart cannot take OP_RETURN \(hardirq put: free\)/);
    expect(v.message).toMatch(/in state \{task: idle, softirq: idle, hardirq: idle\}/);
    expect(v.message).toMatch(/guard freesWhenFull \(false: freesWhenFull: a task or hardirq put frees only where the cap test failed/);
  });

  it('the same machine with the guard edited to let a hardirq free whenever it likes accepts that variant', () => {
    const base = cacheMachine(profile);
    // The one edit: a hardirq (like a softirq) may free whatever the cap test said.
    const edited = base.provide({
      guards: {
        freesWhenFull: ({ context, event }: { context: { hardirqSaw: number; taskSaw: number }; event: CacheEvent }) =>
          event.type === 'OP_RETURN' && event.op === 'put' && event.outcome === 'free' && (event.ctx !== 'task' || ((event.saw >= 0 ? event.saw : context.taskSaw) & SAW_FULL) !== 0),
      },
    });
    const r = explore({ impl: findImpl('hardirq-put-always-frees')!, scope, machine: edited });
    expect(r.verdict).toBe('conforms');
    // And the port still conforms under the real machine: the edit is what lets the variant through.
    expect(explore({ impl: findImpl('iomap-v1')!, scope }).verdict).toBe('conforms');
  });

  it('a guard that lets a softirq put push onto a list removes refinement from the softirq-task-list verdict, and only that', () => {
    const s: Scope = { ...scope, completers: ['softirq'] };
    const real = explore({ impl: findImpl('softirq-task-list')!, scope: s });
    expect(real.violations.map((v) => v.id)).toEqual(['task-list-task-only', 'refinement']);
    expect(real.violations[1]!.message).toMatch(/CACHE_WRITE push-task #\d+ by softirq in state \{task: idle, softirq: section, hardirq: idle\}/);
    // Edited: the task region's `byTask` takes the softirq's events too (a softirq treated as task context).
    const edited = cacheMachine(profile).provide({
      guards: { byTask: ({ event }: { event: CacheEvent }) => 'ctx' in event && (event.ctx === 'task' || event.ctx === 'softirq') },
    });
    const r = explore({ impl: findImpl('softirq-task-list')!, scope: s, machine: edited });
    // The named invariant still judges who may write free_list; the machine no longer objects.
    expect(r.violations.map((v) => v.id)).toEqual(['task-list-task-only']);
  });

  it('on PREEMPT_RT the irq thread is judged as the task it is, and a softirq that caches is still refused', () => {
    const rt: Scope = { ...SCOPES['spin-ref']!, ops: 2, config: 'rt' };
    // v1's completion in its irq thread pushes onto free_list: a task put, which the machine takes.
    expect(explore({ impl: findImpl('iomap-v1')!, scope: rt }).verdict).toBe('conforms');
    // A softirq (in_serving_softirq(), not in_task()) that pushes onto free_list: safe from other
    // writers on RT, but not what the design does, and only the machine says so.
    const r = explore({ impl: findImpl('softirq-task-list')!, scope: rt });
    expect(r.violations.map((v) => v.id)).toEqual(['refinement']);
    expect(r.violations[0]!.message).toMatch(/CACHE_WRITE push-task #\d+ by softirq/);
  });

  it('reports the statechart coverage of an exhaustive run: every transition of the observed vocabulary, taken or not', () => {
    const r = explore({ impl: findImpl('iomap-v1')!, scope: { ...SCOPES['spin-ref']!, ops: 3 } });
    expect(r.verdict).toBe('conforms');
    const c = r.statechart!;
    expect(c.total).toBeGreaterThan(30);
    expect(c.taken + c.untaken.length).toBe(c.total);
    // spin-ref has no caller error path (callerErrors off): the machine's error-path return is never taken.
    expect(c.untaken).toContain('cpu OP_RETURN#2');
    // With the caller's error path on, it is.
    const on = explore({ impl: findImpl('iomap-v1')!, scope: { ...SCOPES['spin-ref']!, ops: 3, callerErrors: true } });
    expect(on.statechart!.untaken).not.toContain('cpu OP_RETURN#2');
    // A push onto free_list_irq by a hardirq is taken; the phase vocabulary's states are not counted.
    expect(c.untaken.some((t) => t.includes('preemptOff'))).toBe(false);
  });
});
