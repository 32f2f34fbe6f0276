/**
 * The source layout: test/, bench/, fuzz/, scripts/ and harness/ import src/ and harness/ only (and
 * their own files), never each other, and no file of theirs is part of an import cycle. harness/
 * imports src/ and packages only. Read from the TypeScript sources, so a wrong import fails here
 * before it spreads.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, from dist/test/unit/layout.test.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHECKED = ['test', 'bench', 'fuzz', 'scripts', 'harness'];
/** What each checked folder may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  test: ['src', 'harness'],
  bench: ['src', 'harness'],
  fuzz: ['src', 'harness'],
  scripts: ['src', 'harness'],
  harness: ['src'],
};
/** file → extra folders it may import (each one a debt to pay back). */
const EXCEPTIONS: Record<string, string[]> = {};

/** Relative module specifiers of a source: static imports and re-exports, side-effect imports, import('literal'). */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'";]*?\sfrom\s*'([^']+)'/g, /\bimport\s*'([^']+)'/g, /\bimport\(\s*'([^']+)'\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out.filter((s) => s.startsWith('.'));
}

/** Every problem in a set of sources (paths relative to the root, '/'-separated): a forbidden import or a cycle. */
function layoutProblems(files: Map<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    const top = file.split('/')[0]!;
    const edges: string[] = [];
    for (const spec of importsOf(source)) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      const targetTop = target.split('/')[0]!;
      if (targetTop === '..') problems.push(`${file} imports ${spec}: outside the repository`);
      else if (targetTop !== top && !ALLOWED[top]!.includes(targetTop) && !(EXCEPTIONS[file] ?? []).includes(targetTop)) {
        problems.push(`${file} imports ${spec} (${targetTop}/): ${top}/ may import ${[top, ...ALLOWED[top]!].join('/, ')}/ only`);
      }
      if (files.has(target)) edges.push(target);
    }
    graph.set(file, edges);
  }
  // Cycles: depth-first search, reporting each back edge's loop once.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') problems.push(`import cycle: ${[...stack.slice(stack.indexOf(g)), g].join(' → ')}`);
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return problems;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

describe('source layout', () => {
  it('the checker finds cross-folder imports, imports out of harness/, and cycles', () => {
    // Written with FROM / IMPORT( so that this file's own imports stay the only ones the real check sees.
    const fixture = (s: string): string => s.replaceAll('FROM', 'from').replaceAll('IMPORT(', 'import(');
    const problems = layoutProblems(
      new Map([
        ['bench/a.ts', fixture("import { x } FROM '../test/helpers/x.js';\nimport { y } FROM '../harness/y.js';")],
        ['harness/y.ts', fixture("import {\n  z,\n} FROM '../bench/lib/z.js';\nexport const y = 1;")],
        ['scripts/s.ts', fixture("const m = await IMPORT('../fuzz/run.js');")],
        ['test/unit/other.test.ts', fixture("import { f } FROM '../../fuzz/run.js';")],
        ['fuzz/run.ts', fixture("import { f } FROM '../harness/differential/check.js';\nimport { g } FROM '../bench/lib/g.js';")],
        ['harness/p.ts', fixture("import { q } FROM './q.js';")],
        ['harness/q.ts', fixture("export { p } FROM './p.js';")],
        [
          'harness/ok.ts',
          fixture("import { sleep } FROM './wait.js';\nimport { rankNodes } FROM '../src/index.js';\nimport net FROM 'node:net';"),
        ],
      ]),
    );
    assert.deepEqual(
      problems.map((p) => p.replace(/ \(.*$|: .*$/, '')),
      [
        'bench/a.ts imports ../test/helpers/x.js',
        'harness/y.ts imports ../bench/lib/z.js',
        'scripts/s.ts imports ../fuzz/run.js',
        'test/unit/other.test.ts imports ../../fuzz/run.js',
        'fuzz/run.ts imports ../bench/lib/g.js',
        'import cycle',
      ],
    );
    assert.match(problems[5]!, /harness\/p\.ts → harness\/q\.ts → harness\/p\.ts/);
  });

  it('test/, bench/, fuzz/, scripts/ and harness/ import src/ and harness/ only, without cycles', () => {
    const files = new Map<string, string>();
    for (const top of CHECKED) {
      for (const path of sources(join(ROOT, top))) files.set(relative(ROOT, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
    assert.ok(files.has('harness/processes.ts') && files.has('test/unit/layout.test.ts'), `sources not found under ${ROOT}`);
    assert.ok(files.size > 40, `only ${files.size} sources found`);
    assert.deepEqual(layoutProblems(files), []);
  });
});
