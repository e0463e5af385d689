/**
 * The command output pasted into the docs, kept honest. A pasted block is marked with the command
 * that produced it:
 *
 *   <!-- output: cd test/fixtures/c && dio-cache check v3-as-posted.patch | lines: ^profile|^conforms | cheap -->
 *   ```
 *   $ dio-cache check v3-as-posted.patch
 *   ...
 *   ```
 *
 * - `cd DIR &&` (optional): the directory, relative to the repository, the command runs in. It
 *   runs in a fresh temporary directory holding symlinks to DIR's entries, so that replay files
 *   (`./dio-cache-out/`) land there and not in the checkout; the temporary path is cut from the output.
 * - `lines: REGEX` (optional): only the output lines that match, as an excerpt (`...` between
 *   the runs of lines it leaves out).
 * - `first: dio-cache ARGS` (optional): a command run before, in the same directory, whose output
 *   is not shown (the run that writes the replay file a `--replay` block reads).
 * - `cheap`: seconds to run; test/docs-output.test.ts re-runs these and fails when a count differs.
 * - `<!-- output: not generated: WHY -->`: a pasted block no command here can reproduce (a file
 *   that is not shipped, a JSON excerpt picked by hand); the test requires every `$ dio-cache`
 *   block to have one marker or the other.
 *
 * The block is `$ dio-cache ARGS`, stdout (with stderr's lines when the exit code is 2, where the
 * message is), and `exit N`. `npm run docs` (`tsx conformance/docs-output.ts --write`) rewrites
 * every marked block; `--write --cheap` only the cheap ones, `--write --only TEXT` those whose
 * marker contains TEXT; `--check` compares the cheap ones' counts.
 * Timings differ from run to run; the counts (states, transitions, depth), the verdict lines and
 * the exit code must not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The files whose pasted output is marked. */
export const DOCS_WITH_OUTPUT = ['README.md', 'docs/checking-your-patch.md', 'docs/findings.md'];

export interface OutputSpec {
  /** The marker's text, as written. */
  marker: string;
  dir: string;
  args: string[];
  lines?: RegExp;
  /** A dio-cache command run first, unseen. */
  first?: string[];
  cheap: boolean;
}

export interface OutputBlock {
  file: string;
  spec: OutputSpec;
  /** The block's text between the fences. */
  body: string;
  /** Offsets of the body in the file. */
  start: number;
  end: number;
}

const MARKER = /<!-- output: (.*?) -->\n```[^\n]*\n([\s\S]*?)```/g;

export function parseSpec(marker: string): OutputSpec {
  const parts = marker.split(' | ').map((x) => x.trim());
  let cmd = parts[0]!;
  let dir = '.';
  const cd = /^cd (\S+) && (.*)$/.exec(cmd);
  if (cd) {
    dir = cd[1]!;
    cmd = cd[2]!;
  }
  const words = cmd.split(/\s+/);
  if (words[0] !== 'dio-cache') throw new Error(`output marker '${marker}': the command must be dio-cache`);
  const spec: OutputSpec = { marker, dir, args: words.slice(1), cheap: false };
  for (const p of parts.slice(1)) {
    if (p === 'cheap') spec.cheap = true;
    else if (p.startsWith('lines: ')) spec.lines = new RegExp(p.slice('lines: '.length));
    else if (p.startsWith('first: dio-cache ')) spec.first = p.slice('first: dio-cache '.length).split(/\s+/);
    else throw new Error(`output marker '${marker}': unknown option '${p}'`);
  }
  return spec;
}

export function findBlocks(file: string, text: string): OutputBlock[] {
  const out: OutputBlock[] = [];
  for (const m of text.matchAll(MARKER)) {
    // A block that cannot be regenerated says why instead (`<!-- output: not generated: ... -->`).
    if (m[1]!.startsWith('not generated')) continue;
    const body = m[2]!;
    const start = m.index! + m[0].length - 3 - body.length;
    out.push({ file, spec: parseSpec(m[1]!), body, start, end: start + body.length });
  }
  return out;
}

/** Runs `dio-cache ARGS` in directory cwd. */
export type Runner = (args: string[], cwd: string) => Promise<{ status: number | null; stdout: string; stderr: string }>;

/** As a user runs it: bin/dio-cache.js in a process of its own. */
const spawnRunner: Runner = async (args, cwd) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/dio-cache.js'), ...args], { cwd, encoding: 'utf8', timeout: 600_000, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/**
 * Runs the marked command and renders the block as the docs show it. The test passes a runner
 * that runs the command in its own process (test/cli-run.ts), saving a node + tsx start per block.
 */
export async function render(spec: OutputSpec, run: Runner = spawnRunner): Promise<string> {
  const tmp = mkdtempSync(join(tmpdir(), 'dio-docs-'));
  try {
    const from = join(ROOT, spec.dir);
    for (const e of readdirSync(from)) if (e !== 'dio-cache-out') symlinkSync(join(from, e), join(tmp, e));
    if (spec.first) await run(spec.first, tmp);
    // No progress: stdout is what is pasted, and stderr only when it carries the error.
    const r = await run(spec.args, tmp);
    const text = (r.stdout + (r.status === 2 ? r.stderr : '')).split(tmp + '/').join('').split(tmp).join('.');
    let lines = text.replace(/\n+$/, '').split('\n');
    if (spec.lines) {
      const keep: string[] = [];
      let skipped = false;
      lines.forEach((l, i) => {
        if (spec.lines!.test(l)) {
          if (skipped && keep.length) keep.push('...');
          keep.push(l);
          skipped = false;
        } else if (i > 0) skipped = true;
      });
      lines = keep;
    }
    return [`$ dio-cache ${spec.args.join(' ')}`, ...lines.filter((l) => !/^\s+(exploring|explored): /.test(l)), `exit ${r.status}`].join('\n') + '\n';
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** What must not drift: every state, transition and depth figure, the verdict lines, the exit code. */
export function counts(body: string): string[] {
  const out: string[] = [];
  for (const l of body.split('\n')) {
    for (const m of l.matchAll(/([\d,]+) (states|transitions)\b(?!\/)|\bdepth (\d+)/g)) out.push(m[1] ? `${m[1]} ${m[2]}` : `depth ${m[3]}`);
    const v = /^(conforms|violation|incomplete|reproduced|not reproduced)\b[^(]*/.exec(l);
    if (v) out.push(v[0].trim());
    if (/^exit \d+$/.test(l)) out.push(l);
  }
  return out;
}

export function allBlocks(): OutputBlock[] {
  return DOCS_WITH_OUTPUT.flatMap((f) => findBlocks(f, readFileSync(join(ROOT, f), 'utf8')));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const cheapOnly = args.includes('--cheap');
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  if (args.includes('--write')) {
    for (const f of DOCS_WITH_OUTPUT) {
      let text = readFileSync(join(ROOT, f), 'utf8');
      // From the end, so that earlier offsets stay valid.
      for (const b of findBlocks(f, text).reverse()) {
        if ((cheapOnly && !b.spec.cheap) || (only !== undefined && !b.spec.marker.includes(only))) continue;
        const t0 = performance.now();
        const body = await render(b.spec);
        text = text.slice(0, b.start) + body + text.slice(b.end);
        process.stdout.write(`${f}: ${b.spec.marker} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
      }
      writeFileSync(join(ROOT, f), text);
    }
  } else if (args.includes('--check')) {
    let stale = 0;
    for (const b of allBlocks()) {
      if (!b.spec.cheap) continue;
      const want = counts(await render(b.spec)).join('; ');
      const have = counts(b.body).join('; ');
      if (want !== have) {
        stale++;
        process.stdout.write(`${b.file}: ${b.spec.marker}\n  pasted:  ${have}\n  now:     ${want}\n`);
      }
    }
    process.stdout.write(stale ? `${stale} stale block(s): npm run docs\n` : 'every cheap pasted block is fresh\n');
    process.exitCode = stale ? 1 : 0;
  } else process.stdout.write('usage: tsx conformance/docs-output.ts --write [--cheap] [--only TEXT] | --check\n');
}
