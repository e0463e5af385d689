// The checker's TypeScript transpiled once to JavaScript, so that a command does not pay for tsx's
// loader (a round trip to its hooks thread for every one of ~110 modules: about 0.35 s at every
// start, and again in every worker thread of `--workers`). Node 20 cannot strip types itself.
//
// `.build/<stamp>/` mirrors model/, impl/ and conformance/ (each .ts as .js, other files copied),
// where <stamp> is a digest of every source's path, size and mtime, esbuild's version and this
// file: a source edited since gives another stamp, so a stale build is never run, and a build is
// never changed once its directory exists (commands still running from it keep working). It is
// written to a temporary directory and renamed into place, so concurrent commands (the test
// suite's) either find it whole or build their own copy. Where it cannot be written (a read-only
// checkout), the caller runs the sources through tsx as before; DIO_CACHE_TSX=1 asks for that too.
//
// `node bin/js-build.mjs` (npm's `prepare`, run by `npm ci`) builds it ahead of the first command.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['model', 'impl', 'conformance'];
const BUILD = join(ROOT, '.build');
/**
 * Other builds are removed by the next build once a day old, or an hour old beyond the ten newest (a
 * command still running from one needs its files: the searches here take minutes, not hours).
 */
const KEEP_MS = 24 * 60 * 60 * 1000;
const KEEP_RECENT = 10;
const RECENT_MS = 60 * 60 * 1000;

/** Every file under the source folders, as paths relative to the root, in a fixed order. */
function sourceFiles() {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && !e.name.endsWith('.md')) out.push(r);
    }
  };
  for (const d of SOURCES) walk(d);
  return out;
}

function esbuildVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules/esbuild/package.json'), 'utf8')).version;
}

/** The stamp of the sources as they are now (a stat per file: a few milliseconds). */
function stamp(files) {
  const h = createHash('sha256');
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  h.update(esbuildVersion());
  for (const f of files) {
    const s = statSync(join(ROOT, f));
    h.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The directory of an up-to-date build (made now if need be), or null: DIO_CACHE_TSX is set, or
 * it could not be made (the caller then runs the sources through tsx).
 */
export async function builtRoot() {
  if (process.env.DIO_CACHE_TSX) return null;
  try {
    const files = sourceFiles();
    const st = stamp(files);
    const dir = join(BUILD, st);
    if (existsSync(join(dir, '.complete'))) return dir;
    await build(files, dir);
    return dir;
  } catch {
    return null;
  }
}

async function build(files, dir) {
  const { transform } = await import('esbuild');
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await Promise.all(
      files.map(async (f) => {
        const from = join(ROOT, f);
        const to = join(tmp, f.replace(/\.ts$/, '.js'));
        mkdirSync(dirname(to), { recursive: true });
        if (!f.endsWith('.ts')) return copyFileSync(from, to);
        const r = await transform(readFileSync(from, 'utf8'), {
          loader: 'ts',
          format: 'esm',
          target: 'node20',
          sourcefile: f,
          // As tsconfig.json: imports are kept as written (type-only ones say so).
          tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
        });
        writeFileSync(to, r.code);
      }),
    );
    writeFileSync(join(tmp, '.complete'), `${files.length} files\n`);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another command finished the same build first: its copy is as good as ours.
      if (!existsSync(join(dir, '.complete'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(dir);
}

/** Removes other builds (and abandoned temporaries) as KEEP_MS says. */
function prune(keep) {
  const now = Date.now();
  const aged = [];
  for (const e of readdirSync(BUILD)) {
    const p = join(BUILD, e);
    if (p === keep) continue;
    try {
      aged.push({ p, age: now - statSync(p).mtimeMs });
    } catch {
      // Removed by a concurrent prune.
    }
  }
  aged.sort((a, b) => a.age - b.age);
  aged.forEach(({ p, age }, i) => {
    if (age > KEEP_MS || (i >= KEEP_RECENT && age > RECENT_MS)) rmSync(p, { recursive: true, force: true });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const dir = await builtRoot();
  if (!dir) {
    console.error('js-build: could not build the JavaScript copy (commands will run the sources through tsx)');
    process.exit(0);
  }
  console.error(`js-build: ${relative(ROOT, dir)} (${((performance.now() - t0) / 1000).toFixed(2)} s)`);
}
