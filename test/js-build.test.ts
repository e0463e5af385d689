/**
 * The JavaScript build the CLI runs from (bin/js-build.mjs): the same reports as the sources run
 * through tsx, a user's TypeScript module sharing the checker's modules (conformance/ts-hooks.mjs)
 * on the main thread and in worker threads, and a build made again when a source changes.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDirs } from './temp.js';

const tempDir = tempDirs();
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin/dio-cache.js');
const SEED = join(ROOT, 'test/fixtures/seed/iomap-dio-alloc-cache-v1.txt');
const FAULTS = join(ROOT, 'test/fixtures/c/faults-impl.ts');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DIO_CACHE_TSX: '', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A report without what the clock decides. */
function timeless(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(timeless);
  if (x && typeof x === 'object')
    return Object.fromEntries(Object.entries(x).filter(([k]) => !['seconds', 'statesPerSecond', 'bytesPerState'].includes(k)).map(([k, v]) => [k, timeless(v)]));
  return x;
}

describe('the CLI from its JavaScript build', () => {
  it('reports what the sources through tsx report (check on the seed, C path)', () => {
    const args = ['check', SEED, '--scope', 'spin-ref', '--ops', '2', '--json', '--no-progress', '--out-dir', tempDir('js-build-out-')];
    const built = cli(args);
    const tsx = cli(args, { DIO_CACHE_TSX: '1' });
    expect(built.code).toBe(0);
    expect(tsx.code).toBe(0);
    expect(timeless(JSON.parse(built.out))).toEqual(timeless(JSON.parse(tsx.out)));
  });

  it("loads a user's TypeScript module against the build's own modules, in worker threads too", () => {
    // faults-impl.ts throws the checker's KernelFault: a second copy of that class would be
    // reported as "the implementation threw Error: ..." instead of the fault's own message.
    for (const extra of [[], ['--dfs', '--workers', '2']]) {
      const r = cli(['explore', '--impl', FAULTS, '--scope', 'spin-ref', '--ops', '1', '--no-progress', '--out-dir', tempDir('js-build-out-'), ...extra]);
      expect(r.code, r.err).toBe(1);
      expect(r.out).toMatch(/violation crash: NULL pointer dereference \(cache->free_list\), by design of this fixture/);
      expect(r.out + r.err).not.toMatch(/the implementation threw/);
    }
  });
});

describe('bin/js-build.mjs', () => {
  /** A checkout in miniature: the builder, node_modules, and a source of each kind. */
  function miniature(): string {
    const root = tempDir('js-build-root-');
    mkdirSync(join(root, 'bin'));
    cpSync(join(ROOT, 'bin/js-build.mjs'), join(root, 'bin/js-build.mjs'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    for (const d of ['model', 'impl/kernel', 'conformance/report']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'model/a.ts'), "import type { B } from '../impl/kernel/b.js';\nexport const a: B = { n: 1 as number };\n");
    writeFileSync(join(root, 'impl/kernel/b.ts'), 'export interface B { n: number }\nexport const b = (x: number): number => x + 1;\n');
    writeFileSync(join(root, 'conformance/report/page.css'), 'body {}\n');
    writeFileSync(join(root, 'conformance/README.md'), 'not copied\n');
    return root;
  }
  const built = (root: string, env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { builtRoot } from ${JSON.stringify(join(root, 'bin/js-build.mjs'))}; console.log(await builtRoot());`], { encoding: 'utf8', env: { ...process.env, DIO_CACHE_TSX: '', ...env } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('builds once, reuses the build, and builds again when a source changes', () => {
    const root = miniature();
    const first = built(root);
    expect(first.startsWith(join(root, '.build') + '/')).toBe(true);
    expect(readFileSync(join(first, 'impl/kernel/b.js'), 'utf8')).toMatch(/const b = \(x\) => x \+ 1;/);
    expect(readFileSync(join(first, 'model/a.js'), 'utf8')).not.toMatch(/import/); // the type-only import is gone
    expect(readFileSync(join(first, 'conformance/report/page.css'), 'utf8')).toBe('body {}\n');
    expect(existsSync(join(first, 'conformance/README.md'))).toBe(false);
    expect(built(root)).toBe(first);

    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'impl/kernel/b.ts'), later, later);
    const second = built(root);
    expect(second).not.toBe(first);
    expect(readdirSync(join(root, '.build')).sort()).toEqual([first, second].map((d) => d.slice(join(root, '.build').length + 1)).sort());
    writeFileSync(join(root, 'impl/kernel/b.ts'), 'export const b = (x: number): number => x + 2;\n');
    expect(readFileSync(join(built(root), 'impl/kernel/b.js'), 'utf8')).toMatch(/x \+ 2/);
  });

  it('leaves the sources to tsx when DIO_CACHE_TSX is set, or when the build cannot be made', () => {
    const root = miniature();
    expect(built(root, { DIO_CACHE_TSX: '1' })).toBe('null');
    writeFileSync(join(root, '.build'), 'a file where the build directory would be\n');
    expect(built(root)).toBe('null');
  });
});
