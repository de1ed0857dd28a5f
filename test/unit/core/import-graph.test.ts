// The layering rules of README.md "Architecture", checked on the TypeScript sources: imports point
// down (no cycle inside core/ or config/, type-only imports included, since a type cycle is a
// design cycle too), core never imports a plugin, and a plugin never imports another plugin.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../../core/paths.js';

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Project-relative path → project-relative paths it imports (relative specifiers only). */
function importGraph(roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const root of roots) {
    for (const file of sourceFiles(join(PROJECT_ROOT, root))) {
      const text = readFileSync(file, 'utf8');
      const deps: string[] = [];
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec || !spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
        deps.push(relative(PROJECT_ROOT, target).split(sep).join('/'));
      }
      graph.set(relative(PROJECT_ROOT, file).split(sep).join('/'), deps);
    }
  }
  return graph;
}

/** Every elementary cycle's first occurrence found by DFS, as a readable chain. */
function cycles(graph: Map<string, string[]>, within: (f: string) => boolean): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (!within(d) || !graph.has(d)) continue;
      const s = state.get(d);
      if (s === 'open') found.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
      else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (within(f) && !state.has(f)) visit(f);
  return found;
}

const graph = importGraph(['config', 'core', 'plugins']);

test('the import graph of core/ and config/ has no cycle', () => {
  assert.ok(graph.size > 50, 'the sources were found');
  const inCore = (f: string): boolean => f.startsWith('core/') || f.startsWith('config/');
  assert.deepEqual(cycles(graph, inCore), []);
});

test('core and config never import a plugin', () => {
  const bad: string[] = [];
  for (const [f, deps] of graph) {
    if (!f.startsWith('core/') && !f.startsWith('config/')) continue;
    for (const d of deps) if (d.startsWith('plugins/')) bad.push(`${f} → ${d}`);
  }
  assert.deepEqual(bad, []);
});

test('a plugin never imports another plugin', () => {
  const bad: string[] = [];
  for (const [f, deps] of graph) {
    const own = /^plugins\/([^/]+)\//.exec(f)?.[1];
    if (!own) continue;
    for (const d of deps) {
      const other = /^plugins\/([^/]+)\//.exec(d)?.[1];
      if (other && other !== own) bad.push(`${f} → ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});
