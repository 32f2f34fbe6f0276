/** --nodes-dns values: name:port or srv:_service._proto.name, with clear errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { formatDnsSpec, parseDnsSpec } from '../../src/discovery/dns.js';

describe('parseDnsSpec', () => {
  it('takes name:port and srv:_http._tcp.name', () => {
    assert.deepEqual(parseDnsSpec('fn.default.svc.cluster.local:8080'), { kind: 'host', name: 'fn.default.svc.cluster.local', port: 8080 });
    assert.deepEqual(parseDnsSpec('FN-Nodes.Local.:80'), { kind: 'host', name: 'fn-nodes.local', port: 80 });
    assert.deepEqual(parseDnsSpec('srv:_http._tcp.fn.default.svc.cluster.local'), {
      kind: 'srv',
      name: '_http._tcp.fn.default.svc.cluster.local',
    });
    assert.equal(formatDnsSpec(parseDnsSpec('SRV:_http._tcp.x')), 'srv:_http._tcp.x');
  });

  it('refuses what it cannot resolve, saying why', () => {
    const refused = (text: string, re: RegExp): void => {
      assert.throws(
        () => parseDnsSpec(text),
        (err: Error) => err instanceof ConfigError && re.test(err.message),
        text,
      );
    };
    refused('fn.local', /missing port/);
    refused('fn.local:0', /invalid port "0"/);
    refused('fn.local:http', /invalid port "http"/);
    refused(':8080', /invalid name/);
    refused('fn..local:8080', /invalid name/);
    refused('fn local:8080', /invalid name/);
    refused('10.0.0.1:8080', /is an address, not a name; use --nodes/);
    refused('[::1]:8080', /is an address/);
    refused('srv:fn.local', /should look like _http\._tcp\.name/);
    refused('srv:', /invalid name/);
  });
});
