/**
 * Packaging: what `npm pack` ships from a clean clone. `prepare` builds dist/ (npm runs it on `npm ci`, on
 * `npm pack`/publish and for a git install), and the tarball holds the entry points package.json names.
 * Scripts are skipped here (the tests run from this very dist/, which a rebuild would remove first).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  for (const path of [pkg.main, pkg.types, pkg.bin['fnlb']!, 'dist/src/client/dispatcher.js', 'package.json', 'README.md', 'LICENSE']) {
    assert.ok(files.has(path.replace(/^\.\//, '')), `${path} missing from the package`);
  }
  assert.ok(![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('dist/harness/')), 'tests or harness in the package');
});

test('source maps point only at shipped files', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  const files = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  for (const f of files) {
    if (!f.endsWith('.js.map')) continue;
    const map = JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { sources: string[] };
    for (const source of map.sources) {
      const shipped = join(f, '..', source).replace(/\\/g, '/');
      assert.ok(files.has(shipped), `${f} points at ${shipped}, not in the package`);
    }
  }
});

test(
  'the packed tarball installs (offline, from the npm cache), runs `fnlb --help` and type-checks an import',
  { timeout: 180_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'fnlb-pack-'));
    try {
      const packed = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      const tarball = join(dir, (JSON.parse(packed) as [{ filename: string }])[0].filename);
      const app = join(dir, 'app');
      execFileSync('mkdir', ['-p', app]);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
      const npmOpts = { cwd: app, encoding: 'utf8' as const, timeout: 120_000 };
      execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], npmOpts);
      const help = execFileSync('npx', ['--no-install', 'fnlb', '--help'], npmOpts);
      assert.match(help, /--nodes/);
      assert.match(help, /--request-id-header/);
      writeFileSync(
        join(app, 'use.ts'),
        [
          "import { createBalancer, type RequestInfo } from 'fnlb';",
          "const lb = createBalancer({ nodes: ['127.0.0.1:9'] });",
          "lb.on('request', (info: RequestInfo) => console.log(info.requestId, info.bytesOut));",
          'void lb.close();',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        }),
      );
      // The checkout's TypeScript, against the installed package's declarations (its own @types/node resolved from the checkout).
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app, '--typeRoots', join(ROOT, 'node_modules/@types'), '--types', 'node'],
        npmOpts,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
