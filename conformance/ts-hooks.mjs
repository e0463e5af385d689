// Module hooks for a user's module loaded by a checker that runs from its JavaScript build
// (bin/js-build.mjs), registered after tsx's (load.ts): an import of the checker's own sources
// (`../impl/interface.js`, `/checkout/impl/kernel/primitives.ts`) is sent to the build the checker
// runs from, so that both share one copy of every module (one KernelFault class, one registry).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

let src = '';
let build = '';

export function initialize(data) {
  src = pathToFileURL(data.root).href + '/';
  build = pathToFileURL(data.build).href + '/';
}

export async function resolve(specifier, context, nextResolve) {
  const r = await nextResolve(specifier, context);
  if (!r.url.startsWith(src)) return r;
  const m = /^((?:model|impl|conformance)\/.*)\.(?:ts|js)$/.exec(r.url.slice(src.length));
  if (!m) return r;
  const url = `${build}${m[1]}.js`;
  return existsSync(fileURLToPath(url)) ? { ...r, url, format: 'module' } : r;
}
