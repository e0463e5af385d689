/**
 * Pictures of the statechart, drawn from the live machine (`machine.root`), never from a copy:
 * Mermaid, Graphviz DOT, SVG (DOT through @viz-js/viz, offline) and JSON. Guards and actions are
 * labelled by name; parallel regions are drawn as regions (Mermaid `--`, dashed DOT clusters).
 * An initial marker is drawn only where the machine starts; states entered only through an
 * explicit target (the task's operation phases) have none.
 */
import type { AnyStateMachine } from 'xstate';

interface TransitionLike {
  eventType: string;
  guard?: unknown;
  actions?: readonly unknown[];
  target?: readonly NodeLike[] | undefined;
}

interface NodeLike {
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  description?: string;
}

export function guardLabel(g: unknown): string | undefined {
  if (g === undefined || g === null) return undefined;
  if (typeof g === 'string') return g;
  if (typeof g === 'function') {
    const f = g as { name?: string; guards?: unknown[] };
    if (Array.isArray(f.guards)) return `${f.name}(${f.guards.map(guardLabel).join(', ')})`;
    return f.name && f.name !== 'guard' ? f.name : 'inline';
  }
  if (typeof g === 'object' && 'type' in g) return String((g as { type: unknown }).type);
  return '?';
}

function actionLabel(a: unknown): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'function') return (a as { name?: string }).name || 'inline';
  if (a && typeof a === 'object' && 'type' in a) return String((a as { type: unknown }).type);
  return '?';
}

function transitionsOf(n: NodeLike): TransitionLike[] {
  const out: TransitionLike[] = [];
  for (const ts of n.transitions.values()) out.push(...ts);
  for (const t of n.always ?? []) out.push(t);
  return out;
}

export function transitionLabel(t: TransitionLike): string {
  const ev = t.eventType === '' ? 'always' : t.eventType;
  const g = guardLabel(t.guard);
  const acts = (t.actions ?? []).map(actionLabel);
  return `${ev}${g ? ` [${g}]` : ''}${acts.length ? ` / ${acts.join(', ')}` : ''}`;
}

const children = (n: NodeLike) => Object.values(n.states);
const root = (m: AnyStateMachine) => m.root as unknown as NodeLike;

/** Node ids of the configuration the machine starts in. */
function initialIds(m: AnyStateMachine): Set<string> {
  const ids = new Set<string>();
  const walk = (n: NodeLike, initialKey: string | undefined) => {
    ids.add(n.id);
    if (n.type === 'parallel') for (const c of children(n)) walk(c, initialOf(c));
    else if (n.type === 'compound' && initialKey) walk(n.states[initialKey]!, initialOf(n.states[initialKey]!));
  };
  walk(root(m), initialOf(root(m)));
  return ids;
}

function initialOf(n: NodeLike): string | undefined {
  const init = (n as unknown as { initial?: { target?: { key: string }[] } }).initial;
  return init?.target?.[0]?.key;
}

// ---- Mermaid --------------------------------------------------------------------------------

const mid = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
const mlabel = (s: string) => s.replace(/;/g, '#59;').replace(/:/g, '#58;');

/**
 * Mermaid cannot draw a transition between states of two different composite states, so only the
 * parallel regions become composites; compound states inside a region are flattened to their
 * leaves, named by their path in the region (`preemptOff.alloc.pop`). Every transition of this
 * machine stays inside its region, and is declared inside that region's block.
 */
export function toMermaid(m: AnyStateMachine): string {
  const out: string[] = ['stateDiagram-v2'];
  const start = initialIds(m);
  const leaves = (n: NodeLike): NodeLike[] => (children(n).length && n.type !== 'parallel' ? children(n).flatMap(leaves) : [n]);
  const initialLeaf = (n: NodeLike): NodeLike => {
    const k = initialOf(n);
    return k && n.type === 'compound' ? initialLeaf(n.states[k]!) : n;
  };
  const region = (r: NodeLike, indent: string) => {
    out.push(`${indent}state "${r.key}" as ${mid(r.id)} {`);
    if (r.type === 'parallel') parallel(r, indent + '  ');
    else {
      const inner = indent + '  ';
      if (start.has(r.id)) out.push(`${inner}[*] --> ${mid(initialLeaf(r).id)}`);
      const ls = leaves(r);
      for (const l of ls) out.push(`${inner}state "${l.id.slice(r.id.length + 1)}" as ${mid(l.id)}`);
      const walkEdges = (n: NodeLike) => {
        for (const t of transitionsOf(n))
          for (const tgt of t.target?.length ? t.target : [n]) out.push(`${inner}${mid(n.id)} --> ${mid(initialLeaf(tgt).id)} : ${mlabel(transitionLabel(t))}`);
        for (const c of children(n)) walkEdges(c);
      };
      for (const c of children(r)) walkEdges(c);
    }
    out.push(`${indent}}`);
  };
  const parallel = (p: NodeLike, indent: string) => {
    const kids = children(p);
    kids.forEach((c, i) => {
      region(c, indent);
      if (i < kids.length - 1) out.push(`${indent}--`);
    });
  };
  region(root(m), '  ');
  return out.join('\n') + '\n';
}

// ---- DOT ------------------------------------------------------------------------------------

const dotText = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const q = (s: string) => `"${dotText(s)}"`;

export function toDot(m: AnyStateMachine): string {
  const out: string[] = [
    `digraph ${q(m.id)} {`,
    '  rankdir=LR; compound=true; newrank=true; fontname="Helvetica";',
    '  node [shape=box style="rounded,filled" fillcolor="#f5f5f5" fontname="Helvetica" fontsize=11];',
    '  edge [fontname="Helvetica" fontsize=9 color="#555555"];',
  ];
  const edges: string[] = [];
  const start = initialIds(m);
  const walk = (n: NodeLike, indent: string) => {
    if (n.type === 'compound' && start.has(n.id)) {
      const k = initialOf(n);
      if (k) {
        out.push(`${indent}${q(n.id + '::init')} [shape=point width=0.12 label=""];`);
        edges.push(`${q(n.id + '::init')} -> ${q(n.states[k]!.id)};`);
      }
    }
    // Graphviz stacks sibling clusters bottom-up: declare regions last-first so `task` is on top.
    const kids = n.type === 'parallel' ? children(n).reverse() : children(n);
    for (const c of kids) {
      // Targetless transitions (actions only) are drawn inside the state, as UML internal transitions.
      const internal = transitionsOf(c).filter((t) => !t.target?.length);
      if (children(c).length) {
        const region = n.type === 'parallel';
        out.push(`${indent}subgraph ${q('cluster_' + c.id)} {`);
        out.push(`${indent}  label=${q(region ? `${c.key} (region)` : c.key)}; labeljust=l; style=${region ? '"dashed,rounded"' : 'rounded'}; color="${region ? '#888888' : '#333333'}";`);
        walk(c, indent + '  ');
        out.push(`${indent}}`);
      } else if (internal.length) {
        const lines = internal.map((t) => dotText(transitionLabel(t)) + '\\l').join('');
        out.push(`${indent}${q(c.id)} [label="${dotText(c.key)}\\n${lines}"];`);
      } else out.push(`${indent}${q(c.id)} [label=${q(c.key)}];`);
      for (const t of transitionsOf(c)) {
        if (!t.target?.length) continue;
        for (const tgt of t.target) {
          const style = t.eventType === '' ? ' style=dashed' : '';
          edges.push(`${q(c.id)} -> ${q(tgt.id)} [label=${q(transitionLabel(t))}${style}];`);
        }
      }
    }
  };
  walk(root(m), '  ');
  return [...out, ...edges.map((e) => '  ' + e), '}'].join('\n') + '\n';
}

// ---- JSON -----------------------------------------------------------------------------------

export interface JsonTransition {
  event: string;
  guard: string | null;
  actions: string[];
  /** Target state ids; empty for a transition that only runs actions. */
  targets: string[];
}

export interface JsonState {
  id: string;
  key: string;
  type: string;
  initial: string | null;
  transitions: JsonTransition[];
  states: JsonState[];
}

export function toJsonObject(m: AnyStateMachine): JsonState {
  const start = initialIds(m);
  const conv = (n: NodeLike): JsonState => ({
    id: n.id,
    key: n.key,
    type: n.type,
    initial: n.type === 'compound' && start.has(n.id) ? (initialOf(n) ?? null) : null,
    transitions: transitionsOf(n).map((t) => ({
      event: t.eventType === '' ? 'always' : t.eventType,
      guard: guardLabel(t.guard) ?? null,
      actions: (t.actions ?? []).map(actionLabel),
      targets: (t.target ?? []).map((x) => x.id),
    })),
    states: children(n).map(conv),
  });
  return conv(root(m));
}

export function toJson(m: AnyStateMachine): string {
  return JSON.stringify(toJsonObject(m), null, 2) + '\n';
}

// ---- SVG ------------------------------------------------------------------------------------

/** Graphviz (WASM, offline) renders the DOT. */
export async function toSvg(m: AnyStateMachine): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(toDot(m), { format: 'svg', engine: 'dot' });
}

/** Counts for reports: state nodes (the root excluded) and transitions. */
export function machineSize(m: AnyStateMachine): { states: number; transitions: number } {
  let states = 0;
  let transitions = 0;
  const walk = (n: NodeLike) => {
    transitions += transitionsOf(n).length;
    for (const c of children(n)) {
      states++;
      walk(c);
    }
  };
  walk(root(m));
  return { states, transitions };
}
