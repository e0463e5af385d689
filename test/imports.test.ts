/**
 * The import graph of model/, impl/, conformance/ and bench/ has no loop, and the layers import
 * downward only: nothing outside conformance/cli/ imports from it (the CLI sits on top, so a
 * UsageError or a progress line a lower file needs lives below it), and model/ never imports
 * impl/ (DEVELOPERS.md).
 *
 * Every edge counts, `import type` and lazy `await import('./x.js')` included. A type-only edge
 * costs nothing at run time, and a lazy one only defers the load, but either still means that
 * neither file can be read, moved or tested without the other; a loop kept alive by "only types"
 * or "only lazily" is the tangle this test exists to keep out.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FOLDERS = ['model', 'impl', 'conformance', 'bench'];
const SOURCE = /\.(ts|mts|mjs|js)$/;

type Kind = 'value' | 'type' | 'lazy';
interface Edge {
  spec: string;
  kind: Kind;
}

/**
 * The relative module specifiers a file names: import and export declarations (type-only or
 * not), `import('./x.js')` calls (both arms of a conditional), and `import('./x.js').T` types.
 * Parsed, not matched with a regular expression, so that a specifier quoted in a comment or a
 * string (the docs generator's examples) is not taken for an import.
 */
function importsOf(fileName: string, text: string): Edge[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const out: Edge[] = [];
  const literals = (e: ts.Expression): string[] => {
    if (ts.isStringLiteralLike(e)) return [e.text];
    if (ts.isParenthesizedExpression(e)) return literals(e.expression);
    if (ts.isConditionalExpression(e)) return [...literals(e.whenTrue), ...literals(e.whenFalse)];
    return [];
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      // `import { type C }` still loads the module under verbatimModuleSyntax: only `import type` is type-only.
      out.push({ spec: n.moduleSpecifier.text, kind: n.importClause?.isTypeOnly ? 'type' : 'value' });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push({ spec: n.moduleSpecifier.text, kind: n.isTypeOnly ? 'type' : 'value' });
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      out.push({ spec: n.moduleReference.expression.text, kind: n.isTypeOnly ? 'type' : 'value' });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0]) {
      for (const spec of literals(n.arguments[0])) out.push({ spec, kind: 'lazy' });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, kind: 'type' });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out.filter((e) => e.spec.startsWith('.'));
}

/** Strongly connected components of more than one file, and files that import themselves. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  // Tarjan's algorithm, with an explicit stack: the graph is small, but recursion depth is the longest import chain.
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { v: string; next: string[] }[] = [];
    const enter = (v: string) => {
      index.set(v, counter);
      low.set(v, counter++);
      stack.push(v);
      onStack.add(v);
      work.push({ v, next: [...(graph.get(v) ?? [])].sort() });
    };
    enter(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      const w = top.next.shift();
      if (w !== undefined) {
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const scc: string[] = [];
        let x: string;
        do {
          x = stack.pop()!;
          onStack.delete(x);
          scc.push(x);
        } while (x !== top.v);
        if (scc.length > 1 || graph.get(top.v)?.has(top.v)) out.push(scc.sort());
      }
    }
  }
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** A specifier resolved to a repository file: `./x.js` names `x.ts` (NodeNext), `./x.ts` itself. */
function resolveSpec(from: string, spec: string, files: ReadonlySet<string>): string | null {
  const p = resolve(dirname(from), spec);
  for (const c of [p, p.replace(/\.js$/, '.ts'), p.replace(/\.mjs$/, '.mts')]) if (files.has(c)) return c;
  return null;
}

interface Graph {
  files: string[];
  /** repository-relative path -> repository-relative paths it imports, with how. */
  edges: Map<string, { to: string; kind: Kind; spec: string }[]>;
  unresolved: string[];
}

function buildGraph(): Graph {
  const files = FOLDERS.flatMap((d) => sourceFiles(join(ROOT, d)));
  const set = new Set(files);
  const rel = (p: string) => relative(ROOT, p).split('\\').join('/');
  const edges = new Map<string, { to: string; kind: Kind; spec: string }[]>();
  const unresolved: string[] = [];
  for (const f of files) {
    const list: { to: string; kind: Kind; spec: string }[] = [];
    for (const e of importsOf(f, readFileSync(f, 'utf8'))) {
      const to = resolveSpec(f, e.spec, set);
      // JSON, CSS and the browser script are read as data, not imported as modules.
      if (to) list.push({ to: rel(to), kind: e.kind, spec: e.spec });
      else if (!/\.(json|css)$/.test(e.spec)) unresolved.push(`${rel(f)}: '${e.spec}'`);
    }
    edges.set(rel(f), list);
  }
  return { files: files.map(rel), edges, unresolved };
}

describe('the import graph parser and the cycle finder', () => {
  it('reads every kind of import, and only imports', () => {
    const src = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C } from './c.js';",
      "export { d } from './d.js';",
      "export type { E } from './e.js';",
      "export * from './f.js';",
      'type G = import(\'./g.js\').G;',
      "async function h() { await import('./h.js'); await import(x ? './i.js' : './j.js'); }",
      "// import { k } from './k.js';",
      "const s = \"import { l } from './l.js'\";",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(importsOf('x.ts', src)).toEqual([
      { spec: './a.js', kind: 'value' },
      { spec: './b.js', kind: 'type' },
      { spec: './c.js', kind: 'value' },
      { spec: './d.js', kind: 'value' },
      { spec: './e.js', kind: 'type' },
      { spec: './f.js', kind: 'value' },
      { spec: './g.js', kind: 'type' },
      { spec: './h.js', kind: 'lazy' },
      { spec: './i.js', kind: 'lazy' },
      { spec: './j.js', kind: 'lazy' },
    ]);
  });

  it('finds a loop of three, a loop of two, a self-import, and nothing in a chain', () => {
    const g = new Map<string, Set<string>>([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set(['e'])],
      ['e', new Set(['f'])],
      ['f', new Set(['e'])],
      ['s', new Set(['s', 'a'])],
      ['t', new Set(['a', 'd'])],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e', 'f'], ['s']]);
    expect(cycles(new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set<string>()]]))).toEqual([]);
  });
});

describe('the import graph of model/, impl/, conformance/ and bench/', () => {
  const g = buildGraph();

  it('every relative import names a file of the repository', () => {
    expect(g.files.length).toBeGreaterThan(50);
    expect(g.unresolved).toEqual([]);
  });

  it('has no import loop (type-only and lazy imports count)', () => {
    const graph = new Map([...g.edges].map(([f, es]) => [f, new Set(es.map((e) => e.to))]));
    const found = cycles(graph).map((scc) => {
      const inside = new Set(scc);
      const lines = scc.flatMap((f) => g.edges.get(f)!.filter((e) => inside.has(e.to)).map((e) => `  ${f} -> ${e.to} (${e.kind})`));
      return `a loop through ${scc.length} file(s):\n${lines.join('\n')}`;
    });
    expect(found, found.join('\n')).toEqual([]);
  });

  it('nothing outside conformance/cli/ imports from conformance/cli/', () => {
    const up = [...g.edges].flatMap(([f, es]) =>
      f.startsWith('conformance/cli/') ? [] : es.filter((e) => e.to.startsWith('conformance/cli/')).map((e) => `${f} -> ${e.to}`),
    );
    expect(up).toEqual([]);
  });

  it('model/ imports nothing from impl/ or conformance/', () => {
    const out = [...g.edges].flatMap(([f, es]) =>
      f.startsWith('model/') ? es.filter((e) => !e.to.startsWith('model/')).map((e) => `${f} -> ${e.to}`) : [],
    );
    expect(out).toEqual([]);
  });
});
