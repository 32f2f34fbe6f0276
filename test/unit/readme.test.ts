/** The README must stay true: every option is documented, as a flag with its variable and default, and in the Library section. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FLAGS } from '../../src/cli/args.js';
import { envName, OPTIONS } from '../../src/config/table.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('README documents every flag, its environment variable and its default', () => {
  for (const flag of FLAGS) {
    const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`--${flag.name}`));
    assert.ok(row, `README has no table row for --${flag.name}`);
    if (flag.kind === 'value') {
      assert.ok(row.includes(envName(flag.name)), `--${flag.name}: ${envName(flag.name)} missing`);
      const expected = flag.defaultText === undefined ? 'required' : `\`${flag.defaultText}\``;
      assert.ok(row.includes(expected), `--${flag.name}: default ${expected} missing in: ${row}`);
    }
  }
});

test('README starts with the two set-up commands', () => {
  const firstBlock = readme.split('```')[1];
  assert.match(firstBlock, /npm ci && npm run demo/);
  assert.match(firstBlock, /npm test/);
});

test('README Library section names every library option', () => {
  const start = readme.indexOf('\n## Library');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  for (const key of OPTIONS.flatMap((o) => o.keys)) {
    assert.ok(section.includes(`\`${key}`), `README Library section does not mention ${key}`);
  }
});
