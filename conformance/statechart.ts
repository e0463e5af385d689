/**
 * The specification's statechart (model/machine.ts) of a profile in one format, drawn from the
 * live machine: what `dio-cache statechart` prints (cli/statechart.ts), what docs/statechart.*
 * hold (gen-docs.ts) and the SVG the trace page embeds (report/html.ts). SVG is rendered offline
 * by Graphviz compiled to WASM.
 */
import { cacheMachine } from '../model/machine.js';
import { getProfile } from '../model/profiles.js';
import { toDot, toJson, toMermaid, toSvg } from '../model/render.js';

export const STATECHART_FORMATS = ['mermaid', 'dot', 'svg', 'json'] as const;
export type StatechartFormat = (typeof STATECHART_FORMATS)[number];

/** The statechart of a profile in one format (what `docs/statechart.*` holds for iomap-v1). */
export async function renderStatechart(format: StatechartFormat, profileName = 'iomap-v1'): Promise<string> {
  const m = cacheMachine(getProfile(profileName));
  switch (format) {
    case 'mermaid':
      return toMermaid(m);
    case 'dot':
      return toDot(m);
    case 'json':
      return toJson(m);
    case 'svg':
      return toSvg(m);
  }
}
