/**
 * Packaging: what `npm pack` ships from a clean clone. `prepare` builds dist/ (npm runs it on `npm ci`, on
 * `npm pack`/publish and for a git install), and the tarball holds the entry points package.json names.
 * Scripts are skipped here (the tests run from this very dist/, which a rebuild would remove first).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('prepare builds, and npm pack ships the library, its types and the fnlb command', () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    scripts: Record<string, string>;
    main: string;
    types: string;
    bin: Record<string, string>;
  };
  assert.equal(pkg.scripts['prepare'], 'npm run build');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const files = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  for (const path of [pkg.main, pkg.types, pkg.bin['fnlb']!, 'dist/src/client/dispatcher.js', 'package.json', 'README.md']) {
    assert.ok(files.has(path.replace(/^\.\//, '')), `${path} missing from the package`);
  }
  assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('dist/harness/')), 'tests or harness in the package');
});
