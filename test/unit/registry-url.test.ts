/** The registry URL flag and its redaction (no database needed), and the table prefix check. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { parseRegistryUrl, redactUrl } from '../../src/registry/url.js';
import { checkTablePrefix, entriesToMembers, membersToEntries } from '../../src/registry/registry.js';
import { parseNodeList } from '../../src/config/parse-address.js';

describe('parseRegistryUrl', () => {
  it('takes postgres:// and postgresql:// URLs as they are', () => {
    assert.equal(parseRegistryUrl('postgres://fnlb@db:5432/fnlb'), 'postgres://fnlb@db:5432/fnlb');
    assert.equal(parseRegistryUrl(' postgresql://u:p@10.0.0.1/x?sslmode=require '), 'postgresql://u:p@10.0.0.1/x?sslmode=require');
  });

  it('refuses other schemes, no host and non-URLs, never echoing a password', () => {
    const refused = (text: string, re: RegExp): void => {
      assert.throws(
        () => parseRegistryUrl(text),
        (err: Error) => err instanceof ConfigError && re.test(err.message) && !err.message.includes('hunter2'),
        text,
      );
    };
    refused('mysql://u:hunter2@db/x', /^--registry: unsupported scheme "mysql" in mysql:\/\/u:<redacted>@db\/x; use postgres:\/\//);
    refused('http://db:5432/x', /unsupported scheme "http"/);
    refused('postgres:///x?password=hunter2', /^--registry: no host in postgres:\/\/\/x\?password=<redacted>/);
    refused('hunter2', /^--registry: not a URL; use postgres:\/\/user@host:5432\/db$/);
    refused('', /empty URL/);
  });
});

describe('redactUrl', () => {
  it('replaces the password, in the user info or the query, and nothing else', () => {
    assert.equal(redactUrl('postgres://fnlb:hunter2@db:5432/fnlb'), 'postgres://fnlb:<redacted>@db:5432/fnlb');
    assert.equal(redactUrl('postgres://fnlb@db/fnlb'), 'postgres://fnlb@db/fnlb');
    assert.equal(redactUrl('postgres://db/x?sslmode=require&Password=hunter2'), 'postgres://db/x?sslmode=require&password=<redacted>');
    assert.equal(redactUrl('not a url hunter2'), '<redacted>');
  });
});

describe('checkTablePrefix', () => {
  it('takes plain lowercase identifiers of up to 41 characters', () => {
    for (const ok of ['fnlb_', '_', 'a', 'team_7_', 'a'.repeat(41)]) assert.equal(checkTablePrefix(ok), ok);
    for (const bad of ['', 'A', '9a', 'a-b', 'a b', 'a"', 'a'.repeat(42)]) assert.throws(() => checkTablePrefix(bad), ConfigError, bad);
  });
});

describe('entriesToMembers / membersToEntries', () => {
  it('go between --nodes, registry entries and MemberTable lists', () => {
    const seed = membersToEntries(parseNodeList('http://10.0.0.1:8080/,[::1]:9090/base=2.5'));
    assert.deepEqual(seed, [
      { node: '10.0.0.1:8080', weight: 1, draining: false },
      { node: '[::1]:9090/base', weight: 2.5, draining: false },
    ]);
    const members = entriesToMembers([...seed, { node: 'fn-3.local:80', weight: 4, draining: true }]);
    assert.deepEqual(
      members.map((m) => [m.address.id, m.address.host, m.address.port, m.address.basePath, m.address.weight, m.draining]),
      [
        ['10.0.0.1:8080', '10.0.0.1', 8080, '', 1, false],
        ['[::1]:9090/base', '::1', 9090, '/base', 2.5, false],
        ['fn-3.local:80', 'fn-3.local', 80, '', 4, true],
      ],
    );
    assert.deepEqual(membersToEntries(members), [...seed, { node: 'fn-3.local:80', weight: 4, draining: true }]);
  });
});
