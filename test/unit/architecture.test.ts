/**
 * The code map's invariants (docs/ARCHITECTURE.md), checked on the import graph of our sources.
 *
 * Every `import … from`, `export … from`, `import('…')` and `require('…')` of agent/, extension/
 * and webview/ counts, type-only imports included (a type is coupling too). Imports are read with
 * TypeScript's own pre-processor (`ts.preProcessFile`), so comments and strings are not imports.
 * Relative specifiers are resolved to files; packages (`node:fs`, `prom-client`, `vscode`) are the
 * compilers' business (each folder's tsconfig decides which it may see).
 *
 * FOLDERS below is the one layer table; docs/ARCHITECTURE.md carries the same table between its
 * `layer-table` markers, and a test here fails when the two differ or a folder on disk is in
 * neither — so the doc cannot drift from what is enforced.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { packageRoot } from '../../agent/paths';

interface FolderRule {
  /** Lower layers are imported by higher ones, never the other way; equal layers are peers and import each other not at all. */
  layer: number;
  /** When present, the only folders it may import (a stricter rule than its layer). */
  mayImport?: readonly string[];
}

/** The single-file modules at the bottom of the agent: they import nothing of ours. */
const LEAVES = ['agent/csv', 'agent/decimal', 'agent/errors', 'agent/files', 'agent/log', 'agent/paths', 'agent/process', 'agent/version'];

const FOLDERS: Readonly<Record<string, FolderRule>> = {
  'agent/protocol': { layer: 0, mayImport: [] },
  ...Object.fromEntries(LEAVES.map((leaf) => [leaf, { layer: 1, mayImport: [] }])),
  'agent/profile': { layer: 2 },
  'agent/carbon': { layer: 3 },
  'agent/forecast': { layer: 3 },
  'agent/gpu': { layer: 3 },
  'agent/store': { layer: 3 },
  'agent/control': { layer: 4, mayImport: ['agent/profile', 'agent/forecast', 'agent/protocol', ...LEAVES] },
  'agent/runs': { layer: 5 },
  // above runs: a what-if replay may reuse a run's parts (the online profiler), never the reverse
  'agent/sim': { layer: 6 },
  'agent/server': { layer: 7 },
  'agent/cli': { layer: 8 },
  'agent/main': { layer: 9 },
  // the other programs: they share only the wire (agent/protocol) with the agent
  'webview/model': { layer: 1, mayImport: ['agent/protocol'] },
  webview: { layer: 2, mayImport: ['agent/protocol', 'webview/model'] },
  extension: { layer: 1, mayImport: ['agent/protocol'] },
};

const SOURCE_ROOTS = ['agent', 'extension', 'webview'];
const DOC = join(packageRoot, 'docs', 'ARCHITECTURE.md');

/** The folder a source file belongs to: agent/<dir>, agent/<leaf> (a single file), webview/model, webview, extension. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'agent') return `agent/${parts[1].replace(/\.ts$/, '')}`;
  if (parts[0] === 'webview' && parts[1] === 'model' && parts.length > 2) return 'webview/model';
  return parts[0];
}

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(packageRoot, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  SOURCE_ROOTS.forEach(walk);
  return files.sort();
}

/** `./x` from `agent/a/b.ts` → `agent/a/x.ts` (or `agent/a/x/index.ts`); undefined when neither exists. */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(packageRoot, dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(packageRoot, candidate).split('\\').join('/');
  }
  return undefined;
}

interface Edge { from: string; to: string; file: string; specifier: string }

/** Folder-to-folder imports, each with the first file and specifier that makes it. */
function folderEdges(files: readonly string[]): { edges: Edge[]; unresolved: string[] } {
  const edges = new Map<string, Edge>();
  const unresolved: string[] = [];
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(packageRoot, file), 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveRelative(file, specifier);
      if (!target) {
        unresolved.push(`${file}: '${specifier}'`);
        continue;
      }
      const from = folderOf(file);
      const to = folderOf(target);
      const key = `${from} ${to}`;
      if (from !== to && !edges.has(key)) edges.set(key, { from, to, file, specifier });
    }
  }
  return { edges: [...edges.values()], unresolved };
}

const show = (e: Edge): string => `${e.from} → ${e.to} (${e.file} imports '${e.specifier}')`;

/** One import cycle between folders as its path of edges, or undefined when there is none. */
function findCycle(edges: readonly Edge[]): Edge[] | undefined {
  const out = new Map<string, Edge[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const state = new Map<string, 'open' | 'done'>();
  const path: Edge[] = [];
  const visit = (node: string): Edge[] | undefined => {
    state.set(node, 'open');
    for (const e of out.get(node) ?? []) {
      if (state.get(e.to) === 'open') return [...path.slice(path.findIndex((p) => p.from === e.to)), e];
      if (state.get(e.to) === 'done') continue;
      path.push(e);
      const cycle = visit(e.to);
      if (cycle) return cycle;
      path.pop();
    }
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...out.keys()].sort()) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** What the layer table forbids in these edges, one line each. */
function violations(edges: readonly Edge[], rules: Readonly<Record<string, FolderRule>>): string[] {
  const found: string[] = [];
  for (const e of edges) {
    const from = rules[e.from];
    const to = rules[e.to];
    if (!from || !to) found.push(`${show(e)}: a folder missing from the layer table`);
    else if (from.mayImport && !from.mayImport.includes(e.to)) found.push(`${show(e)}: ${e.from} may import only ${from.mayImport.join(', ') || 'nothing of ours'}`);
    else if (to.layer >= from.layer) found.push(`${show(e)}: layer ${from.layer} imports layer ${to.layer} (${to.layer === from.layer ? 'peers import each other not at all' : 'upwards'})`);
  }
  return found;
}

/** The doc's layer table: `| layer | \`folder\` | may import |` rows between the layer-table markers. */
function docTable(): Record<string, FolderRule> {
  const text = readFileSync(DOC, 'utf8');
  const table = /<!-- layer-table -->([\s\S]*?)<!-- \/layer-table -->/.exec(text);
  assert.ok(table, 'docs/ARCHITECTURE.md has no <!-- layer-table --> … <!-- /layer-table --> section');
  const rules: Record<string, FolderRule> = {};
  for (const row of table[1].split('\n')) {
    const cells = row.split('|').map((c) => c.trim());
    if (cells.length < 5 || !/^\d+$/.test(cells[1])) continue;
    const names = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const mayImport = cells[3] === 'any lower layer' ? undefined : names(cells[3]).flatMap((n) => (n === 'leaves' ? LEAVES : [n]));
    for (const folder of names(cells[2])) rules[folder] = { layer: Number(cells[1]), ...(mayImport ? { mayImport } : {}) };
  }
  return rules;
}

const sortRules = (rules: Readonly<Record<string, FolderRule>>): [string, FolderRule][] =>
  Object.entries(rules).sort(([a], [b]) => a.localeCompare(b)).map(([k, r]) => [k, { layer: r.layer, ...(r.mayImport ? { mayImport: [...r.mayImport].sort() } : {}) }]);

describe('architecture: the import graph keeps the layers of docs/ARCHITECTURE.md', () => {
  const files = sourceFiles();
  const { edges, unresolved } = folderEdges(files);

  it('every relative import resolves to a source file (none is silently left out of the graph)', () => {
    assert.deepEqual(unresolved, []);
    assert.ok(edges.length > 30, `only ${edges.length} folder edges found: the import reader is broken`);
  });

  it('every folder on disk is in the layer table, and the table names no folder that is gone', () => {
    const onDisk = [...new Set(files.map(folderOf))].sort();
    assert.deepEqual(onDisk, Object.keys(FOLDERS).sort());
  });

  it('docs/ARCHITECTURE.md carries the same layer table as this test', () => {
    assert.deepEqual(sortRules(docTable()), sortRules(FOLDERS));
  });

  it('no import cycle between folders', () => {
    const cycle = findCycle(edges);
    assert.equal(cycle && cycle.map(show).join('\n  '), undefined);
  });

  it('no import from a lower layer to a higher one, and none outside a folder\'s allowed list', () => {
    assert.deepEqual(violations(edges, FOLDERS), []);
  });

  it('the checks catch what they claim to (store → gpu, a cycle, an upward import)', () => {
    const storeToGpu = { from: 'agent/store', to: 'agent/gpu', file: 'agent/store/x.ts', specifier: '../gpu/sampler' };
    assert.match(violations([storeToGpu], FOLDERS).join('\n'), /agent\/store → agent\/gpu .*peers/);
    const upward = { from: 'agent/control', to: 'agent/runs', file: 'agent/control/x.ts', specifier: '../runs/run' };
    assert.match(violations([upward], FOLDERS).join('\n'), /agent\/control may import only/);
    const cycle = findCycle([upward, { from: 'agent/runs', to: 'agent/control', file: 'agent/runs/y.ts', specifier: '../control' }]);
    assert.deepEqual(cycle?.map((e) => e.from), ['agent/control', 'agent/runs']);
  });

  it('test/unit mirrors the source tree: each of its folders is named after a source folder', () => {
    const sourceNames = new Set(Object.keys(FOLDERS).map((f) => f.replace(/^agent\//, '').replace(/\/model$/, '')));
    const testFolders = readdirSync(join(packageRoot, 'test', 'unit'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.deepEqual(testFolders.filter((name) => !sourceNames.has(name)), []);
  });
});
