/**
 * Loading an implementation to check: `--impl NAME|PATH` (a registry name, or a TS/JS module) and
 * `check FILE` (a module, a patch as posted, a unified diff or a C file, built through the C
 * path). Each loads the other's kind (a replay file written by `check` names a patch; `check`
 * takes a module), so both live here, below the explorer (replay files, worker threads) and the
 * C path's runner (c/run.ts) that use them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { implementationProblems, type Implementation } from '../impl/interface.js';
import { findImpl } from '../impl/registry.js';
import type { CBuild } from './c/build.js';
import { decodeMail, detectKind, type InputKind } from './c/reader.js';
import type { Binding, RoleName } from './c/roles.js';
import { UsageError } from './errors.js';
import { BUILD_ROOT, REPO_ROOT } from './root.js';

/**
 * `--impl NAME|PATH`: a registry name, or a TS/JS module exporting default or `impl`. A replay file
 * written by `check` names a patch or C file instead: that is rebuilt through the C path.
 */
export async function loadImplementation(
  spec: string,
  c?: { binding?: string; roles?: Record<string, string>; site?: string; compiled?: boolean },
): Promise<{ impl: Implementation; ref: string; coverage?: unknown }> {
  const named = findImpl(spec);
  if (named) return { impl: named, ref: spec };
  const path = resolve(spec);
  if (!existsSync(path)) throw new UsageError(`--impl ${spec}: no implementation of that name (see \`dio-cache list\`) and no such file`);
  if (!/\.(ts|mts|cts|js|mjs|cjs)$/.test(path)) {
    const loaded = await loadInput(path, c?.binding, c?.roles as Parameters<typeof loadInput>[2], c?.compiled !== undefined ? { compiled: c.compiled } : undefined);
    // The C interpreter's statement and branch counters: a worker thread (parallel.ts) sends its
    // own back to the thread that reports them.
    const impl = c?.site === undefined ? loaded.impl : loaded.c?.siteRuns.find((x) => x.site === c.site)?.impl;
    if (!impl) throw new UsageError(`${spec}: no ${c?.site} in it any more (the replay file was written against another version)`);
    return { impl, ref: path, ...(loaded.c ? { coverage: loaded.c.coverage } : {}) };
  }
  let mod: Record<string, unknown>;
  try {
    await userModuleLoader();
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    const first = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    // A .ts file outside an ESM package is loaded as CommonJS, which cannot require the checker's ES modules.
    const hint = /require\(\)|ES Module|require\(esm\)/.test(first)
      ? ' (put a package.json with {"type": "module"} beside it, or name it .mts; `dio-cache init-impl DIR` sets this up)'
      : '';
    throw new UsageError(`--impl ${spec}: the module failed to load: ${first}${hint}`);
  }
  const x = mod.default ?? mod.impl;
  const problems = implementationProblems(x);
  if (problems.length) throw new UsageError(`--impl ${spec}: not an implementation: ${problems.join('; ')}`);
  return { impl: x as Implementation, ref: path };
}

let tsLoader: Promise<void> | null = null;

/**
 * Run from the JavaScript build (bin/js-build.mjs), the checker has no TypeScript loader of its
 * own: a user's module gets tsx, and ts-hooks.mjs sends its imports of the checker's sources to
 * the build (else it would load a second copy of every module it imports). From the sources
 * (tsx, vitest) the loader that runs the checker loads the module too.
 */
function userModuleLoader(): Promise<void> {
  const build = BUILD_ROOT;
  if (!build) return Promise.resolve();
  tsLoader ??= (async () => {
    const { register } = await import('tsx/esm/api');
    register();
    const { register: registerHooks } = await import('node:module');
    registerHooks(new URL('./ts-hooks.mjs', import.meta.url), { data: { root: REPO_ROOT, build } });
  })();
  return tsLoader;
}

export interface Loaded {
  impl: Implementation;
  kind: InputKind;
  ref: string;
  c: CBuild | null;
}

/** `c.compiled`: run C compiled (compile.ts) or interpreted; unset, the C path's default (build.ts C_COMPILED_DEFAULT). */
export async function loadInput(file: string, bindingFile?: string, roles?: Partial<Record<RoleName, string>>, c?: { compiled?: boolean }): Promise<Loaded> {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new UsageError(`${file}: no such file`);
  }
  if (st.isDirectory()) throw new UsageError(`${file} is a directory; give the module, patch or C file inside it`);
  const text = /\.(ts|mts|cts|js|mjs|cjs)$/.test(file) ? '' : decodeMail(readFileSync(file, 'latin1'));
  const kind = detectKind(file, text);
  if (kind === 'module') {
    const { impl, ref } = await loadImplementation(file);
    return { impl, kind, ref, c: null };
  }
  let binding: Binding | undefined;
  if (bindingFile) {
    try {
      binding = JSON.parse(readFileSync(bindingFile, 'utf8')) as Binding;
    } catch (e) {
      throw new UsageError(`--binding ${bindingFile}: not a readable JSON binding (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
    if (typeof binding !== 'object' || binding === null) throw new UsageError(`--binding ${bindingFile}: must hold a JSON object`);
  }
  // Imported lazily: a registry name or a module (a worker thread's usual load) never needs the C parser.
  const { buildFromC } = await import('./c/build.js');
  const built = await buildFromC(file, text, kind, {
    ...(binding ? { binding } : {}),
    ...(bindingFile ? { bindingFile } : {}),
    ...(roles ? { roles } : {}),
    ...(c?.compiled !== undefined ? { compiled: c.compiled } : {}),
  });
  return { impl: built.impl, kind, ref: file, c: built };
}
