/**
 * The HTML trace viewer (`--html OUT`) in a real browser: Debian's chromium, headless, driven by
 * playwright-core pointed at /usr/bin/chromium (nothing is downloaded). The pages are made by the
 * CLI's commands as a user gives them (run in-process), opened from file:// URLs, stepped through with the keyboard and the
 * buttons, and judged on what a person sees: the lane of a step, the lists after it, the
 * highlighted statechart states, the invariant's claim and kernel rule. The page must load
 * nothing but itself (every request is file: or data:), and its embedded JSON must be the
 * `--json` trace, whose `text` is the text report's trace block.
 *
 * Cases: the splice-without-irqsave counterexample (spin-ref), the MAX+2 soft-cap witness
 * (iomap-v1 on spin-ref, --show-max), and a 2-CPU counterexample (splice-nonempty on smp-small,
 * its replay file interleaving cpu1's alloc with cpu0's, replayed with `replay --html`).
 * Screenshots go to a temporary folder, and to docs/ with UPDATE_SCREENSHOTS=1 (the README shows
 * docs/trace-viewer.png; a PNG differs in its bytes from run to run, so a plain run leaves docs/ as
 * it is). Without chromium every test here fails: .ci/run installs it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReplay } from '../conformance/explorer/replay.js';
import { renderTrace } from '../conformance/explorer/trace.js';
import type { TraceDoc } from '../conformance/report/trace-json.js';
import { SCOPES } from '../conformance/scopes.js';
import { System, type StepReport } from '../conformance/system.js';
import { findImpl } from '../impl/registry.js';
import { invariant } from '../model/invariants.js';
import { runCli } from './cli-run.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where a screenshot goes: docs/ with UPDATE_SCREENSHOTS=1, else the run's temporary folder. */
const shot = (name: string): string => join(process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs') : tmp, name);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let tmp = '';
let profile = '';
let ctx: BrowserContext | undefined;
/** Why the browser is not there, if it is not: every test then fails with it (none is skipped). */
let missing = '';
const requests: string[] = [];
const pageErrors: string[] = [];

interface Made {
  html: string;
  json: { violations?: { trace: TraceDoc | null; steps: unknown[]; invariant: string; message: string }[]; maxWitness?: TraceDoc; trace?: TraceDoc };
}
type Case = 'splice' | 'max' | 'smp' | 'patch';
const made = {} as Record<Case, Made>;

/**
 * `dio-cache ARGS` through the entry bin/dio-cache.js calls, in-process (test/cli-run.ts: the same
 * output and exit code, without a node + tsx start), in the temporary directory.
 */
async function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const r = await runCli(args, tmp);
  return { status: r.code, stdout: r.out, stderr: r.err };
}

/**
 * A 2-CPU run of splice-nonempty on smp-small: task0's alloc on cpu0 takes get_cpu(), task1's
 * alloc on cpu1 runs (it pops cpu1's own object), a hardirq on cpu0 puts the in-flight object on
 * cpu0's free_list_irq, cpu1 finishes, and cpu0's alloc splices over its non-empty free_list.
 */
function smpReplay(path: string): void {
  const impl = findImpl('splice-nonempty')!;
  const scope = SCOPES['smp-small']!;
  const sys = new System(impl, scope);
  const init = sys.initial();
  let w = init.world;
  let abs = init.abs;
  const choices: number[] = [];
  let last: StepReport | null = null;
  const take = (what: string | RegExp) => {
    const en = sys.enabled(w);
    const i = en.findIndex((c) => (typeof what === 'string' ? sys.describe(c) === what : what.test(sys.describe(c))));
    if (i < 0) throw new Error(`no enabled choice ${what}: ${en.map((c) => sys.describe(c)).join(' | ')}`);
    last = sys.step(w, abs, en[i]!);
    choices.push(i);
    w = last.world;
    abs = last.abs;
  };
  take('task0 alloc');
  take('task1 alloc');
  take('cpu1 next statement');
  take(/^cpu0 hardirq completes/);
  while (w.tasks[1]!.frame) take('cpu1 next statement');
  for (let n = 0; n < 40 && !(last as StepReport | null)?.violations.some((v) => v.id === 'splice-only-when-empty'); n++) take('cpu0 next statement');
  const v = (last as StepReport | null)?.violations.find((x) => x.id === 'splice-only-when-empty');
  if (!v) throw new Error('the 2-CPU scenario did not reach splice-only-when-empty');
  writeReplay(path, { impl: 'splice-nonempty', scope, choices, invariant: v.id, message: v.message });
}

async function open(which: keyof typeof made, hash = ''): Promise<Page> {
  if (!ctx) throw new Error(missing || 'the browser did not start');
  const page = await ctx.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(pathToFileURL(made[which].html).href + hash);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

const selected = (p: Page) => p.$eval('tr.step.selected', (tr) => ({ n: Number(tr.getAttribute('data-step')), lane: tr.getAttribute('data-lane'), hidden: (tr as HTMLElement).hidden }));
const list = (p: Page, cpu: number, name: string) => p.$$eval(`.cpu[data-cpu="${cpu}"] [data-list="${name}"] .obj`, (els) => els.map((e) => e.textContent));
const active = (p: Page) => p.$$eval('#chart svg g.node.active title', (els) => els.map((e) => e.textContent).sort());
const embedded = (p: Page) => p.$eval('#trace', (s) => JSON.parse(s.textContent ?? 'null') as unknown);
/** The lane header above the cell of step n: what a reader's eye follows up the column. */
const laneHeader = (p: Page, n: number) =>
  p.$eval(`#step-${n}`, (tr) => {
    const cells = [...tr.children];
    const i = cells.findIndex((c) => c.classList.contains('lane-cell'));
    return tr.ownerDocument.querySelectorAll('#trace-table thead th')[i]?.textContent ?? null;
  });

declare global {
  // The page script's globals are not declared in the Node lib: only what the evaluations touch.
  interface HTMLElement {
    hidden: boolean;
  }
}

beforeAll(async () => {
  // Without the browser every test below fails (none is skipped): CI installs it (.ci/run), and so must a developer.
  if (!existsSync(CHROMIUM)) {
    missing = `${CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get install -y chromium); .ci/run does this`;
    return;
  }
  tmp = mkdtempSync(join(tmpdir(), 'trace-viewer-'));

  const a = await cli(['explore', '--impl', 'splice-no-irqsave', '--html', 'splice.html', '--json', '--no-progress']);
  expect(a.status, a.stderr).toBe(1);
  made.splice = { html: join(tmp, 'splice.html'), json: JSON.parse(a.stdout) as Made['json'] };

  const b = await cli(['explore', '--impl', 'iomap-v1', '--scope', 'spin-ref', '--show-max', '--html', 'max.html', '--json', '--no-progress']);
  expect(b.status, b.stderr).toBe(0);
  made.max = { html: join(tmp, 'max.html'), json: JSON.parse(b.stdout) as Made['json'] };

  smpReplay(join(tmp, 'smp.replay.json'));
  const c = await cli(['replay', 'smp.replay.json', '--html', 'smp.html', '--json']);
  expect(c.status, c.stderr).toBe(1);
  made.smp = { html: join(tmp, 'smp.html'), json: JSON.parse(c.stdout) as Made['json'] };

  const d = await cli(['check', join(ROOT, 'test/fixtures/c/splice-no-irqsave.patch'), '--scope', 'check-1cpu', '--html', 'patch.html', '--json', '--no-progress']);
  expect(d.status, d.stderr).toBe(1);
  made.patch = { html: join(tmp, 'patch.html'), json: JSON.parse(d.stdout) as Made['json'] };

  profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1600, height: 1000 },
  });
}, 600_000);

afterAll(async () => {
  await ctx?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  // The browser's profile directory, after the browser has closed (it writes there until then).
  if (profile) rmSync(profile, { recursive: true, force: true });
});

it("Debian's chromium is installed (the viewer is tested in a real browser)", () => {
  expect(missing).toBe('');
  expect(existsSync(CHROMIUM)).toBe(true);
});

describe('the splice-without-irqsave counterexample', () => {
  it('opens at the violation: lane, lists, statechart, invariant', async () => {
    const doc = made.splice.json.violations![0]!.trace!;
    const p = await open('splice');
    const N = doc.steps.length;
    const inv = invariant('irq-list-hardirq-only');
    expect(await p.textContent('h1')).toContain('irq-list-hardirq-only');
    expect(await p.textContent('#pos')).toBe(`step ${N} / ${N}`);
    expect(await selected(p)).toEqual({ n: N, lane: 'cpu0/task0', hidden: false });
    expect(await laneHeader(p, N)).toBe('cpu0/task0');
    const box = (await p.textContent('#invariant-box'))!;
    expect(box).toContain(`irq-list-hardirq-only breaks here, after step ${N}`);
    expect(box).toContain(inv.claim);
    expect(box).toContain(inv.kernelRule);
    expect(box).toContain('with irqs enabled');
    // The splice has moved free_list_irq onto free_list and emptied the irq list; nr_irq not yet cleared.
    const last = doc.steps[N - 1]!.cpus[0]!;
    expect(last.freeList.length).toBeGreaterThan(0);
    expect(await list(p, 0, 'free_list')).toEqual(last.freeList.map((i) => `#${i}`));
    expect(await list(p, 0, 'free_list_irq')).toEqual([]);
    expect(await p.textContent('.cpu[data-cpu="0"] [data-k="irqs"]')).toBe('irqs on');
    expect(await p.textContent('.cpu[data-cpu="0"] [data-k="preempt"]')).toBe('preemption off');
    // What the page shows is what the text report printed after that step.
    expect(doc.steps[N - 1]!.after).toBe(`free_list [${last.freeList.map((i) => `#${i}`).join(' ')}] nr ${last.nr} · free_list_irq [] nr_irq ${last.nrIrq}`);
    // The statechart: the alloc is in its splice phase with irqs on (it never took local_irq_save).
    const on = await active(p);
    expect(on).toContain('cpu.task.preemptOff.alloc.splice');
    expect(on).toContain('cpu.irqs.on');
    expect(on).not.toContain('cpu.task.preemptOff.alloc.splicing');
    expect(await p.textContent('#chart-note')).toContain('without local_irq_save');
    // The current statement is highlighted in the splice's source.
    const cur = await p.$eval('details[open] .l.cur', (e) => e.textContent);
    expect(cur).toContain('cache->free_list_irq = NULL;');
    await p.setViewportSize({ width: 1600, height: 1300 });
    await p.screenshot({ path: shot('trace-viewer.png') });
    await p.close();
  });

  it('steps by key and button, jumps between interrupts and back to the violation, and addresses #step-N', async () => {
    const doc = made.splice.json.violations![0]!.trace!;
    const N = doc.steps.length;
    const ints = doc.steps.filter((s) => s.interrupt).map((s) => s.n);
    expect(ints.length).toBeGreaterThanOrEqual(2);
    const p = await open('splice');
    await p.keyboard.press('Home');
    expect((await selected(p).catch(() => null))?.n ?? 0).toBe(0);
    expect(await p.textContent('#pos')).toBe(`step 0 / ${N}`);
    await p.keyboard.press('n');
    expect(await selected(p)).toEqual({ n: ints[0], lane: 'cpu0/hardirq', hidden: false });
    expect(await laneHeader(p, ints[0]!)).toBe('cpu0/hardirq');
    const after = doc.steps[ints[0]! - 1]!.cpus[0]!;
    expect(await list(p, 0, 'free_list_irq')).toEqual(after.freeListIrq.map((i) => `#${i}`));
    expect(after.freeListIrq.length).toBe(1);
    expect(p.url()).toMatch(new RegExp(`#step-${ints[0]}$`));
    // The hardirq handler ran whole (atomic): the CPU's machine is back to task, with one object on the irq list.
    expect(await active(p)).toEqual(expect.arrayContaining(['cpu.hardirq.idle', 'cpu.running.task', 'cpu.irqList.belowThreshold']));
    await p.click('#b-nint');
    expect((await selected(p)).n).toBe(ints[1]);
    expect(await list(p, 0, 'free_list_irq')).toHaveLength(2);
    expect(await active(p)).toContain('cpu.irqList.spliceable');
    await p.keyboard.press('p');
    expect((await selected(p)).n).toBe(ints[0]);
    await p.keyboard.press('ArrowRight');
    expect((await selected(p)).n).toBe(ints[0]! + 1);
    await p.click('#b-prev');
    expect((await selected(p)).n).toBe(ints[0]);
    await p.keyboard.press('v');
    expect((await selected(p)).n).toBe(N);
    await p.close();
    // Addressable: a link to #step-3 opens at step 3.
    const q = await open('splice', '#step-3');
    expect(await selected(q)).toEqual({ n: 3, lane: doc.steps[2]!.lane, hidden: false });
    expect(await q.textContent('#invariant-box')).toContain(`breaks after step ${N}`);
    await q.close();
  });

  it('collapses runs of statements as the text report does, and expands them', async () => {
    const doc = made.splice.json.violations![0]!.trace!;
    const p = await open('splice');
    const runs = doc.runs.filter((r) => r.last > r.first);
    expect(runs.length).toBeGreaterThan(0);
    expect(await p.$$eval('tr.run', (rs) => rs.length)).toBe(runs.length);
    const r0 = runs[0]!;
    expect(await p.$eval(`#step-${r0.first}`, (tr) => (tr as HTMLElement).hidden)).toBe(true);
    expect(await p.textContent(`tr.run[data-run="${doc.runs.indexOf(r0)}"] td.n`)).toBe(`${r0.first}–${r0.last}`);
    await p.click(`tr.run[data-run="${doc.runs.indexOf(r0)}"]`);
    expect(await p.$eval(`#step-${r0.first}`, (tr) => (tr as HTMLElement).hidden)).toBe(false);
    await p.close();
  });

  it('embeds exactly the --json trace, whose text is the text report; loads nothing from the network', async () => {
    const v = made.splice.json.violations![0]!;
    const trace = v.trace!;
    const p = await open('splice');
    expect(await embedded(p)).toEqual(trace);
    expect(trace.steps.map(({ choice, who, event, labels }) => ({ choice, who, event, labels }))).toEqual(
      (v.steps as { choice: number; who: string; event: string; labels: string[] }[]).map(({ choice, who, event, labels }) => ({ choice, who, event, labels })),
    );
    expect(trace.text).toEqual(renderTrace(v.steps as Parameters<typeof renderTrace>[0], { id: v.invariant, message: v.message }));
    expect(await p.textContent('#text pre')).toBe(trace.text.join('\n'));
    const html = readFileSync(made.splice.html, 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    await p.close();
  });
});

describe('a patch as posted, through check --html (the C interpreter)', () => {
  it('places each statement at its post-image line of the patch and highlights it in the C source', async () => {
    const v = made.patch.json.violations!.find((x) => x.invariant === 'irq-list-hardirq-only')!;
    const doc = v.trace!;
    const N = doc.steps.length;
    const p = await open('patch');
    expect(await embedded(p)).toEqual(made.patch.json.violations![0]!.trace);
    const st = doc.steps[N - 1]!.statements.at(-1)!;
    expect(st).toMatchObject({ fn: 'dio_alloc_irq_cache_splice', text: 'cache->free_list_irq = NULL;', file: 'direct-io.c' });
    expect(await p.textContent(`#step-${N} .pos`)).toBe(`direct-io.c:${st.line}`);
    const cur = await p.$eval('details[open] .l.cur', (e) => ({ line: e.getAttribute('data-line'), text: e.textContent, added: e.classList.contains('added') }));
    expect(cur).toMatchObject({ line: String(st.line), added: true });
    expect(cur.text).toMatch(new RegExp(`^${st.line}\\s+cache->free_list_irq = NULL;$`));
    expect(await p.$eval('details[open]', (d) => d.getAttribute('data-fn'))).toBe('dio_alloc_irq_cache_splice');
    expect(await p.textContent('details[open] summary')).toContain('(post-image)');
    expect(await active(p)).toContain('cpu.task.preemptOff.alloc.splice');
    await p.setViewportSize({ width: 1600, height: 1300 });
    await p.screenshot({ path: shot('trace-viewer-patch.png') });
    await p.close();
  });
});

describe('the MAX+2 witness (iomap-v1 on spin-ref, --show-max)', () => {
  it('shows the cap reached: 6 objects cached on MAX 4, the capacity region in overshoot', async () => {
    const doc = made.max.json.maxWitness!;
    expect(doc.kind).toBe('witness');
    expect(doc.witness).toEqual({ value: 6, cpu: 0 });
    const p = await open('max');
    const N = doc.steps.length;
    expect(await p.textContent('h1')).toContain('shortest trace to nr + nr_irq = 6 on cpu0');
    expect((await selected(p)).n).toBe(N);
    const fl = await list(p, 0, 'free_list');
    const fi = await list(p, 0, 'free_list_irq');
    expect(fl.length + fi.length).toBe(6);
    expect(fi.length).toBeGreaterThan(0);
    expect(await p.textContent('.cpu[data-cpu="0"] [data-k="nr"]')).toBe(`nr = ${fl.length}`);
    expect(await p.textContent('.cpu[data-cpu="0"] [data-k="nr_irq"]')).toBe(`nr_irq = ${fi.length}`);
    expect(await active(p)).toEqual(expect.arrayContaining(['cpu.capacity.overshoot', 'cpu.task.idle', 'cpu.taskList.cached']));
    expect(await p.textContent('#invariant-box')).toContain('bounds a quiescent CPU at 6');
    // One step before the last hardirq: the task's put has passed its cap test and waits to push.
    const ints = doc.steps.filter((s) => s.interrupt).map((s) => s.n);
    await p.click('#b-pint');
    expect((await selected(p)).n).toBe(ints[ints.length - 1]);
    expect((await selected(p)).lane).toBe('cpu0/hardirq');
    expect(await active(p)).toContain('cpu.task.preemptOff.put.push');
    await p.screenshot({ path: shot('trace-viewer-max.png') });
    expect(await embedded(p)).toEqual(doc);
    await p.close();
  });
});

describe('a 2-CPU counterexample (splice-nonempty on smp-small, through replay --html)', () => {
  it('draws a lane per CPU and context, both CPUs\' caches, and follows the selected step\'s CPU in the statechart', async () => {
    const doc = made.smp.json.trace!;
    expect(made.smp.json).toMatchObject({ reproduced: true, invariant: 'splice-only-when-empty' });
    const p = await open('smp');
    expect(await p.$$eval('#trace-table thead th', (ths) => ths.map((t) => t.textContent))).toEqual(['step', 'cpu0/task0', 'cpu0/hardirq', 'cpu1/task1']);
    expect(await p.$$eval('.cpu', (cs) => cs.map((c) => c.getAttribute('data-cpu')))).toEqual(['0', '1']);
    const N = doc.steps.length;
    expect(await selected(p)).toEqual({ n: N, lane: 'cpu0/task0', hidden: false });
    expect(await p.textContent('#invariant-box')).toContain(invariant('splice-only-when-empty').claim);
    // Step 2: task1's alloc starts on cpu1; the statechart follows cpu1.
    await p.click('#b-first');
    await p.keyboard.press('ArrowRight');
    await p.keyboard.press('ArrowRight');
    expect(await selected(p)).toEqual({ n: 2, lane: 'cpu1/task1', hidden: false });
    expect(await laneHeader(p, 2)).toBe('cpu1/task1');
    expect(await p.textContent('#chart-states')).toMatch(/^cpu1 after step 2/);
    expect(await p.$eval('.cpu.current', (c) => c.getAttribute('data-cpu'))).toBe('1');
    // The hardirq lands on cpu0's irq list, not cpu1's.
    await p.keyboard.press('n');
    const s = (await selected(p)).n;
    expect(doc.steps[s - 1]!.lane).toBe('cpu0/hardirq');
    expect(await list(p, 0, 'free_list_irq')).toHaveLength(1);
    expect(await list(p, 1, 'free_list_irq')).toEqual([]);
    // At the violation: cpu1's alloc took its own object; cpu0's free_list was overwritten by the splice.
    await p.keyboard.press('v');
    const cpu1 = doc.steps[N - 1]!.cpus[1]!;
    expect(await list(p, 1, 'free_list')).toEqual(cpu1.freeList.map((i) => `#${i}`));
    expect(await p.textContent('#objects')).toContain('in use by task1');
    await p.click('input[name="cpu"][value="1"]');
    expect(await p.textContent('#chart-states')).toMatch(/^cpu1 after step/);
    expect(await active(p)).toContain('cpu.task.idle');
    await p.screenshot({ path: shot('trace-viewer-2cpu.png') });
    await p.close();
  });
});

describe('the pages load nothing but themselves', () => {
  it('every request was a file: or data: URL, and no page script failed', () => {
    expect(missing).toBe('');
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !/^(file|data):/.test(u))).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(existsSync(shot('trace-viewer.png'))).toBe(true);
  });
});
