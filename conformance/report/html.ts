/**
 * `--html OUT`: one self-contained page for a trace document (trace-json.ts). The document is
 * embedded as JSON exactly as `--json` prints it (only `<` escaped, which JSON.parse reads back
 * as the same text), the statechart as the SVG `dio-cache statechart --format svg` draws for the
 * trace's profile, and the viewer's script (page.js) and style (page.css) inline: no network, no
 * file beside it, it opens from disk.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { renderStatechart } from '../statechart.js';
import type { TraceDoc } from './trace-json.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** JSON inside <script>: `<` written as \u003c so that no `</script>` or `<!--` can end the element. */
export function embedJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The statechart SVG without its XML prolog and doctype, ready to sit inside HTML. */
async function statechartSvg(profile: string): Promise<string> {
  const svg = await renderStatechart('svg', profile);
  return svg.replace(/^[\s\S]*?(<svg[\s>])/, '$1');
}

export async function tracePage(doc: TraceDoc, json: string): Promise<string> {
  const css = readFileSync(join(HERE, 'page.css'), 'utf8');
  const js = readFileSync(join(HERE, 'page.js'), 'utf8');
  const svg = await statechartSvg(doc.profile.name);
  const s = doc.scope;
  const scopeLine = `${s.name}: ${s.cpus} CPU${s.cpus > 1 ? 's' : ''}, ${s.taskCpus.length} task${s.taskCpus.length > 1 ? 's' : ''}, ${s.ops} ops each, prefill ${s.prefill}, ${s.inflight} in flight, profile ${doc.profile.name} (MAX ${doc.profile.max}, THRESHOLD ${doc.profile.threshold}, cap \`${doc.profile.capCompare}\`)`;
  const head = doc.violation
    ? `<h1><span class="id">${esc(doc.violation.id)}</span> — ${esc(doc.violation.message)}</h1>`
    : `<h1 class="witness"><span class="id">witness</span> — ${esc(doc.title)}</h1>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(doc.impl)}: ${esc(doc.violation ? doc.violation.id : doc.title)} — dio-cache trace</title>
<style>
${css}</style>
</head>
<body>
<header>
${head}
<div class="meta">${esc(doc.impl)} — ${esc(doc.description)}<br>${esc(scopeLine)} · ${doc.steps.length} steps, ${doc.interrupts} interrupt${doc.interrupts === 1 ? '' : 's'}, ${doc.preemptions} preemption${doc.preemptions === 1 ? '' : 's'}, ${doc.kernelEvents} kernel-level events</div>
<div class="controls">
<button id="b-first" title="the state after boot (Home)">« boot</button>
<button id="b-prev" title="previous step (← or k)">◀ step</button>
<button id="b-next" title="next step (→ or j)">step ▶</button>
<button id="b-pint" title="previous interrupt (p or Shift+←)">◀ interrupt</button>
<button id="b-nint" title="next interrupt (n or Shift+→)">interrupt ▶</button>
<button id="b-viol" title="${doc.violation ? 'the step where the invariant breaks' : 'the step that reaches the witness'} (v)">${doc.violation ? '✗ violation' : '★ witness'}</button>
<button id="b-last" title="last step (End)">last »</button>
<button id="b-expand" title="expand or collapse every run of statements">expand all</button>
<span class="pos mono" id="pos"></span><span id="cur"></span>
<span class="keys">keys: ← → step · p n interrupt · v violation · Home End</span>
</div>
</header>
<main>
<div id="left">
<section id="lanes">
<h2>Lanes: one per CPU and context</h2>
<table class="trace" id="trace-table"></table>
</section>
<section id="text">
<details><summary>The text report of this trace</summary><pre>${esc(doc.text.join('\n'))}</pre></details>
<p class="hint">Replay: the choice vector is in the embedded trace (${doc.choices.length} choices); the schema is docs/trace-schema.md (${esc(doc.format)}).</p>
</section>
</div>
<div id="side">
<section id="invariant"><h2>Invariant</h2><div id="invariant-box" class="box"></div></section>
<div class="pair">
<div>
<section id="cache"><h2>The cache after the selected step</h2><div class="cpus" id="cpus"></div></section>
<section id="objs"><h2>Objects</h2><div class="objects" id="objects"></div></section>
</div>
<section id="chart">
<h2>Statechart: active states <button id="b-zoom" class="zoom" title="show the statechart at full width">enlarge</button></h2>
<div class="cpu-pick" id="chart-cpu"></div>
<div class="states" id="chart-states"></div>
<div class="note" id="chart-note"></div>
<div class="svg">${svg}</div>
</section>
</div>
<section id="source"><h2>Source of the functions involved</h2><div class="sources" id="sources"></div></section>
</div>
</main>
<script type="application/json" id="trace">${embedJson(json)}</script>
<script>
${js}</script>
</body>
</html>
`;
}

/** Writes the page; a path that cannot be written is the user's to fix. */
export async function writeTracePage(path: string, doc: TraceDoc, json: string): Promise<void> {
  const html = await tracePage(doc, json);
  try {
    writeFileSync(path, html);
  } catch (e) {
    throw new UsageError(`--html ${path}: cannot write it (${e instanceof Error ? e.message : String(e)})`);
  }
}
