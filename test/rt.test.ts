/**
 * The PREEMPT_RT kernel config (`--config rt`, model/config.ts): a device interrupt completes I/O
 * in its irq thread (in_task() true), softirqs are tasks that never run inside get_cpu(), and a
 * slab call with preemption off is invalid whatever the gfp. Each test would fail on a checker
 * that has no config (every scope explores the !PREEMPT_RT contexts): the default-config half of
 * each comparison shows what it would see instead.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore } from '../conformance/explorer/explore.js';
import { replay, REPLAY_FORMAT, type ReplayFile } from '../conformance/explorer/replay.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type Choice, type Scope } from '../conformance/system.js';
import type { Implementation } from '../impl/interface.js';
import type { World } from '../impl/kernel/world.js';
import { iomapV1 } from '../impl/ports/iomap-v1.js';
import { findImpl } from '../impl/registry.js';
import type { AbstractState } from '../model/abstract.js';
import { KERNEL_CONFIGS, type KernelConfigName } from '../model/config.js';
import { invariant } from '../model/invariants.js';
import { getProfile, reachableCapBound } from '../model/profiles.js';
import kfreeUnderGetCpu from './fixtures/rt/kfree-under-get-cpu.js';
import { runCli } from './cli-run.js';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One CPU, one task that allocates and frees, `inflight` objects completed by the given context. */
function uni(config: KernelConfigName, o: Partial<Scope> = {}): Scope {
  return {
    name: `rt-test-${config}`,
    description: 'rt.test.ts',
    cpus: 1,
    taskCpus: [0],
    ops: 1,
    taskOps: ['alloc', 'free'],
    prefill: 0,
    inflight: 1,
    completers: ['hardirq'],
    atomicIrq: false,
    preemptions: 0,
    migration: false,
    hotplug: false,
    profile: 'iomap-v1',
    max: 2,
    threshold: 1,
    config,
    ...o,
  };
}

function impl(name: string): Implementation {
  const i = findImpl(name);
  if (!i) throw new Error(`${name} is not in impl/registry.ts`);
  return i;
}

/** Runs `pick` on the enabled choices until it returns none; each step is checked. */
function walk(sys: System, pick: (cs: Choice[], w: World) => Choice | undefined): { world: World; abs: AbstractState; events: string[] } {
  let { world, abs } = sys.initial();
  const events: string[] = [];
  for (let i = 0; i < 200; i++) {
    const c = pick(sys.enabled(world), world);
    if (!c) break;
    const r = sys.step(world, abs, c);
    expect(r.violations.filter((v) => v.severity === 'error'), r.event).toEqual([]);
    events.push(r.event);
    ({ world, abs } = r);
  }
  return { world, abs, events };
}

/** Every state of a small scope, breadth first (keyed by the world's JSON: no symmetry, no budget beyond `cap`). */
function allStates(sys: System, cap = 60_000): AbstractState[] {
  const init = sys.initial();
  const seen = new Set<string>([JSON.stringify(init.world)]);
  const out: AbstractState[] = [init.abs];
  let frontier: { world: World; abs: AbstractState }[] = [init];
  while (frontier.length) {
    const next: typeof frontier = [];
    for (const s of frontier)
      for (const c of sys.enabled(s.world)) {
        const r = sys.step(s.world, s.abs, c);
        const key = JSON.stringify(r.world);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(r.abs);
        if (!r.abs.step?.fault) next.push({ world: r.world, abs: r.abs });
        if (out.length > cap) throw new Error(`more than ${cap} states`);
      }
    frontier = next;
  }
  return out;
}

describe('what the contexts are (model/config.ts)', () => {
  it('in_task() is true in an irq thread and false in a softirq; in_hardirq() is never true on rt', () => {
    const rt = KERNEL_CONFIGS.rt.contexts;
    const def = KERNEL_CONFIGS.default.contexts;
    expect([rt.hardirq.inTask, rt.hardirq.inHardirq, rt.softirq.inTask, rt.softirq.inServingSoftirq]).toEqual([true, false, false, true]);
    expect([def.hardirq.inTask, def.hardirq.inHardirq]).toEqual([false, true]);
    // Threads are scheduled: none may start inside a get_cpu() section on rt; an interrupt does on default.
    expect(Object.values(rt).some((c) => c.entersPreemptOff)).toBe(false);
    expect([def.hardirq.entersPreemptOff, def.softirq.entersPreemptOff]).toEqual([true, true]);
  });

  it('the might-sleep invariant quotes the mainline rule for PREEMPT_RT, with its file', () => {
    const inv = invariant('might-sleep');
    expect(inv.kernelRule).toContain('This restriction also applies to memory deallocation routines such as kfree()');
    expect(inv.source).toContain('Documentation/core-api/real-time/differences.rst');
  });
});

describe('which list a completion reaches', () => {
  const completeOnce = (config: KernelConfigName) =>
    walk(new System(iomapV1, uni(config, { ops: 0 })), (cs, w) => (w.inflight.length ? cs.find((c) => c.kind === 'hardirq') : cs.find((c) => c.kind === 'step')));

  it('rt: the device interrupt\'s completion runs in its irq thread, in_task() is true, and the put pushes onto free_list', () => {
    const r = completeOnce('rt');
    expect(r.events[0]).toMatch(/^cpu0 irq thread completes #\d+$/);
    expect(r.abs.step?.done).toMatchObject({ op: 'free', ctx: 'hardirq', kind: 'push-task' });
    expect(r.abs.caches[0]).toMatchObject({ nr: 1, nrIrq: 0 });
  });

  it('default: the same completion is a hardirq and pushes onto free_list_irq', () => {
    const r = completeOnce('default');
    expect(r.events[0]).toMatch(/^cpu0 hardirq completes #\d+$/);
    expect(r.abs.step?.done).toMatchObject({ kind: 'push-irq' });
    expect(r.abs.caches[0]).toMatchObject({ nr: 0, nrIrq: 1 });
  });

  it('rt: in every reachable state of spin-ref (2 ops) the irq list is empty; on default it fills', () => {
    const scope = (config: KernelConfigName): Scope => ({ ...SCOPES['spin-ref']!, ops: 2, config });
    const rt = allStates(new System(iomapV1, scope('rt')));
    const def = allStates(new System(iomapV1, scope('default')));
    expect(rt.length).toBeGreaterThan(100);
    expect(rt.every((s) => s.caches.every((c) => c.freeListIrq.length === 0 && c.nrIrq === 0))).toBe(true);
    expect(Math.max(...def.map((s) => s.caches[0]!.nrIrq))).toBeGreaterThanOrEqual(2);
  });
});

describe('when an interrupt-kind completer may run (System.enabled)', () => {
  /** The task steps into dio_alloc_percpu_cache() up to just after get_cpu(). */
  const insideGetCpu = (config: KernelConfigName) => {
    const sys = new System(iomapV1, uni(config, { completers: ['hardirq', 'softirq'] }));
    const r = walk(sys, (cs, w) => {
      const f = w.tasks[0]!.frame;
      if (f && f.preempt > 0) return undefined;
      return cs.find((c) => c.kind === 'start') ?? cs.find((c) => c.kind === 'step');
    });
    expect(r.world.tasks[0]!.frame!.preempt).toBe(1);
    return sys.enabled(r.world).map((c) => c.kind);
  };

  it('rt: neither the irq thread nor a softirq starts while the task is between get_cpu() and put_cpu()', () => {
    expect(insideGetCpu('rt')).toEqual(['step']);
  });

  it('default: both interrupt the task there', () => {
    expect(insideGetCpu('default')).toEqual(expect.arrayContaining(['step', 'hardirq', 'softirq']));
  });

  it('rt: the cap race is gone: v1 reaches MAX+1 on spin-ref, not MAX+2', () => {
    // DFS: the maximum over every reachable state, as BFS finds it, sooner.
    const cap = (config: KernelConfigName) => explore({ impl: iomapV1, scope: { ...SCOPES['spin-ref']!, ops: 3, config }, strategy: 'dfs' });
    const rt = cap('rt');
    const def = cap('default');
    expect(rt.verdict).toBe('conforms');
    expect([rt.extremes.maxCached, def.extremes.maxCached]).toEqual([5, 6]);
  });

  it('rt: the cap invariant bounds a CPU at the sequential bound (MAX+1 with `>`, MAX with `>=`), and cap-check-split-section still breaks it', () => {
    const on = (name: string, config?: KernelConfigName) => reachableCapBound({ ...getProfile(name, { max: 4 }), ...(config ? { config } : {}) });
    expect([on('iomap-v1', 'rt'), on('iomap-v3', 'rt'), on('iomap-v1'), on('iomap-v3')]).toEqual([5, 4, 6, 5]);
    // Only the id is asserted: DFS unminimised meets it in a tenth of the states BFS stores, with no minimisation after.
    const r = explore({ impl: impl('cap-check-split-section'), scope: { ...SCOPES['preempt']!, config: 'rt' }, strategy: 'dfs', minimise: false });
    expect(r.violations[0]?.id).toBe('cap');
  });
});

describe('calls that are invalid on rt only', () => {
  const scope = (config: KernelConfigName): Scope => ({ ...SCOPES['spin-ref']!, ops: 3, max: 1, config });

  it('kfree() inside get_cpu() conforms on default and is might-sleep on rt, quoting the rule', () => {
    const def = explore({ impl: kfreeUnderGetCpu, scope: scope('default') });
    const rt = explore({ impl: kfreeUnderGetCpu, scope: scope('rt') });
    expect(def.verdict).toBe('conforms');
    expect(rt.violations[0]?.id).toBe('might-sleep');
    expect(rt.violations[0]?.message).toMatch(/kfree\(\) with preemption disabled \(preempt depth 1\): on PREEMPT_RT the slab allocator takes sleeping locks/);
    // The replay file's scope carries the config: the same choices reproduce it on rt only.
    const v = rt.violations[0]!;
    const file = (config: KernelConfigName): ReplayFile => ({ format: REPLAY_FORMAT, impl: 'kfree-under-get-cpu', scope: scope(config), choices: v.steps.map((x) => x.choice), invariant: v.id, message: v.message });
    expect(replay(kfreeUnderGetCpu, file('rt')).violation?.id).toBe('might-sleep');
    expect(replay(kfreeUnderGetCpu, file('default')).violation).toBeNull();
  });

  it('the faithful v1 frees after put_cpu(): no might-sleep on rt', () => {
    expect(explore({ impl: iomapV1, scope: scope('rt') }).verdict).toBe('conforms');
  });
});

describe('known-bad variants whose verdict depends on the config', () => {
  const verdict = (name: string, config: KernelConfigName) => {
    const r = explore({ impl: impl(name), scope: { ...SCOPES['spin-ref']!, ops: 3, config } });
    return r.violations[0]?.id ?? r.verdict;
  };

  it('hardirq-task-list (bug B2\'s shape) breaks task-list-task-only on default and conforms on rt, where the irq thread is a task', () => {
    expect(verdict('hardirq-task-list', 'default')).toBe('task-list-task-only');
    expect(verdict('hardirq-task-list', 'rt')).toBe('conforms');
  });

  it('splice-no-irqsave breaks irq-list-hardirq-only on default; on rt no context writes the irq list under it', () => {
    expect(verdict('splice-no-irqsave', 'default')).toBe('irq-list-hardirq-only');
    expect(verdict('splice-no-irqsave', 'rt')).toBe('conforms');
  });

  it('kmalloc-under-get-cpu (v2) is might-sleep on both', () => {
    expect(verdict('kmalloc-under-get-cpu', 'default')).toBe('might-sleep');
    expect(verdict('kmalloc-under-get-cpu', 'rt')).toBe('might-sleep');
  });

  it('the CLI names the config in the verdict (text and JSON) and exits by it', async () => {
    // In-process (test/cli-run.ts): the entry bin/dio-cache.js calls, with its output and exit code, without a node + tsx start per run.
    const out = tempDir('dio-rt-');
    const run = async (...args: string[]) => {
      const r = await runCli(['explore', '--impl', 'hardirq-task-list', '--scope', 'spin-ref', '--ops', '2', '--no-progress', '--out-dir', out, ...args], ROOT);
      return { status: r.code, stdout: r.out, stderr: r.err };
    };
    const rt = await run('--config', 'rt');
    expect(rt.status).toBe(0);
    expect(rt.stdout).toMatch(/^conforms \(config rt\): [\d,]+ states/m);
    expect(rt.stdout).toContain('kernel PREEMPT_RT');
    const def = await run();
    expect(def.status).toBe(1);
    expect(def.stdout).toMatch(/^violation: task-list-task-only/m);
    const json = JSON.parse((await run('--config', 'rt', '--json')).stdout) as { config: string; verdict: string; scope: Scope };
    expect([json.config, json.verdict, json.scope.config]).toEqual(['rt', 'conforms', 'rt']);
    const bad = await run('--config', 'preempt-rt');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--config preempt-rt: unknown kernel configuration \(known: default, rt\)/);
  });
});
