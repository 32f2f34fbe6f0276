import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { HealthState } from '../../src/health/health-state.js';
import { HealthChecker, type HealthCheckOptions } from '../../src/health/health-checker.js';
import type { NodeAddress } from '../../src/membership/address.js';
import { sleep } from '../../harness/wait.js';
import { hostAnswered } from '../../src/errors.js';

/** Poll until `cond` holds; fail after `ms` so no test can hang. */
async function waitFor(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const node = (port: number, basePath = ''): NodeAddress => ({
  id: `127.0.0.1:${port}${basePath}`,
  host: '127.0.0.1',
  port,
  basePath,
  weight: 1,
});

/** A node that answers 200, 500 or never, and counts what it sees. */
class FakeNode {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  requests = 0;
  concurrent = 0;
  maxConcurrent = 0;
  closed = 0;
  sent = { ok: 0, fail: 0 };
  lastUrl = '';
  lastHost = '';
  readonly server = http.createServer((req, res) => {
    this.requests++;
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    this.lastUrl = req.url ?? '';
    this.lastHost = req.headers.host ?? '';
    res.on('close', () => {
      this.concurrent--;
      this.closed++;
    });
    if (this.mode === 'hang') return;
    const ok = this.mode === 'ok';
    ok ? this.sent.ok++ : this.sent.fail++;
    res.writeHead(ok ? 200 : 500, { 'content-type': 'application/json' }).end('{"version":"0.2.72"}');
  });

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A port that refuses connections: bind, note it, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** `silent`: the node went down without answering (see HealthChangeListener). */
type Change = { index: number; up: boolean; reason: string; silent: boolean };

function checker(nodes: NodeAddress[], opts: Partial<HealthCheckOptions>, onChange?: (c: Change) => void) {
  const changes: Change[] = [];
  const hc = new HealthChecker(
    nodes,
    { interval: 50, timeout: 200, path: '/version', rise: 2, fall: 2, ...opts },
    (index, up, reason, silent) => {
      changes.push({ index, up, reason, silent });
      onChange?.({ index, up, reason, silent });
    },
  );
  return { hc, changes };
}

describe('HealthState', () => {
  // s = recordSuccess, f = recordFailure, d = markDown; expected: U/D after each step, * = changed.
  const table: [string, number, number, boolean, string, string][] = [
    ['down after fall failures', 2, 3, true, 'fff', 'U U D*'],
    ['a success resets the failure count', 2, 3, true, 'ffsff', 'U U U U U'],
    ['up after rise successes', 2, 3, false, 'ss', 'D U*'],
    ['a failure resets the success count', 2, 3, false, 'sfss', 'D D D U*'],
    ['full cycle', 2, 2, true, 'ffssf', 'U D* D U* U'],
    ['rise 1 fall 1 flips every time', 1, 1, true, 'fsfs', 'D* U* D* U*'],
    ['markDown goes down at once, once', 2, 3, true, 'dd', 'D* D'],
    ['markDown resets the success count', 2, 3, false, 'sdss', 'D D D U*'],
    ['after markDown, rise successes bring it up', 3, 3, true, 'dsss', 'D* D D U*'],
    ['failures while down change nothing', 1, 2, false, 'ffff', 'D D D D'],
    ['successes while up change nothing', 1, 2, true, 'sss', 'U U U'],
  ];
  for (const [name, rise, fall, start, ops, expected] of table) {
    it(name, () => {
      const st = new HealthState(rise, fall, start);
      const got = [...ops].map((op) => {
        const changed = op === 's' ? st.recordSuccess() : op === 'f' ? st.recordFailure() : st.markDown();
        return (st.up ? 'U' : 'D') + (changed ? '*' : '');
      });
      assert.equal(got.join(' '), expected);
    });
  }

  it('starts up by default and rejects bad thresholds', () => {
    assert.equal(new HealthState(1, 1).up, true);
    for (const [r, f] of [
      [0, 1],
      [1, 0],
      [1.5, 1],
      [1, NaN],
    ])
      assert.throws(() => new HealthState(r, f), RangeError);
  });
});

describe('hostAnswered', () => {
  it('refused and reset are the host answering; unreachable, timed out or no code are silence', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE']) assert.equal(hostAnswered(code), true, code);
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', undefined])
      assert.equal(hostAnswered(code), false, String(code));
  });
});

describe('HealthChecker', () => {
  it('goes down after `fall` failures and up after `rise` successes', async () => {
    const fake = new FakeNode();
    const port = await fake.listen();
    let failsAtDown = -1;
    let oksAtUp = -1;
    let oksBefore = 0;
    const { hc, changes } = checker([node(port, '/base')], { rise: 2, fall: 3 }, (c) => {
      if (!c.up) failsAtDown = fake.sent.fail;
      else oksAtUp = fake.sent.ok - oksBefore;
    });
    try {
      hc.start();
      await sleep(150);
      assert.equal(fake.lastUrl, '/base/version');
      assert.equal(fake.lastHost, `127.0.0.1:${port}`);
      assert.equal(changes.length, 0);
      assert.equal(hc.isUp(0), true);

      fake.mode = 'fail';
      await waitFor(() => changes.length === 1, 2000, 'down');
      assert.equal(failsAtDown, 3, 'down exactly at the 3rd failed probe');
      assert.deepEqual(changes[0], { index: 0, up: false, reason: 'health check failed (HTTP 500)', silent: false });
      assert.equal(hc.isUp(0), false);
      assert.equal(hc.states[0]?.up, false);

      oksBefore = fake.sent.ok;
      fake.mode = 'ok';
      await waitFor(() => changes.length === 2, 2000, 'up');
      assert.equal(oksAtUp, 2, 'up exactly at the 2nd good probe');
      assert.deepEqual(changes[1], { index: 0, up: true, reason: 'health check passed (HTTP 200)', silent: false });
      assert.equal(hc.isUp(0), true);
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('probes every node at once on start(), not one interval later', async () => {
    const fake = new FakeNode();
    const port = await fake.listen();
    const { hc } = checker([node(port), node(port)], { interval: 60_000 });
    try {
      hc.start();
      await waitFor(() => fake.requests === 2, 1000, 'the first probes');
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('marks a refused port down and leaves a healthy neighbour alone', async () => {
    const fake = new FakeNode();
    const port = await fake.listen();
    const dead = await closedPort();
    const { hc, changes } = checker([node(port), node(dead)], {});
    try {
      hc.start();
      await waitFor(() => changes.length === 1, 2000, 'down');
      assert.equal(changes[0].index, 1);
      assert.equal(changes[0].up, false);
      assert.match(changes[0].reason, /ECONNREFUSED/);
      assert.equal(changes[0].silent, false, 'a refusing node answers');
      await sleep(100);
      assert.equal(changes.length, 1);
      assert.equal(hc.isUp(0), true);
      assert.equal(hc.isUp(1), false);
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('TCP mode: up while the port accepts, down when it refuses, up when it is back', async () => {
    const sockets = new Set<net.Socket>();
    const listen = async (port: number) => {
      const s = net.createServer((c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
      });
      s.listen(port, '127.0.0.1');
      await once(s, 'listening');
      return s;
    };
    let server = await listen(0);
    const port = (server.address() as net.AddressInfo).port;
    const { hc, changes } = checker([node(port)], { path: '', rise: 1, fall: 1 });
    try {
      hc.start();
      await sleep(150);
      assert.equal(changes.length, 0);

      for (const c of sockets) c.destroy();
      await new Promise((resolve) => server.close(resolve));
      await waitFor(() => changes.length === 1, 2000, 'down');
      assert.equal(changes[0].up, false);
      assert.equal(changes[0].silent, false);

      server = await listen(port);
      await waitFor(() => changes.length === 2, 2000, 'up');
      assert.deepEqual(changes[1], { index: 0, up: true, reason: 'health check passed (TCP connect ok)', silent: false });
    } finally {
      hc.stop();
      for (const c of sockets) c.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('fails a probe that gets no answer within the timeout', async () => {
    const fake = new FakeNode();
    fake.mode = 'hang';
    const port = await fake.listen();
    const { hc, changes } = checker([node(port)], { timeout: 100, fall: 1 });
    const started = Date.now();
    try {
      hc.start();
      await waitFor(() => changes.length === 1, 2000, 'down');
      assert.ok(Date.now() - started >= 95, 'not before the timeout');
      assert.deepEqual(changes[0], { index: 0, up: false, reason: 'health check failed (timeout after 100 ms)', silent: true });
      await waitFor(() => fake.closed >= 1, 1000, 'the timed-out probe socket to close');
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('never overlaps probes of one node when the timeout exceeds the interval', async () => {
    const fake = new FakeNode();
    fake.mode = 'hang';
    const port = await fake.listen();
    // Timeout 100 ms, ticks every 30 ms: the tick after a timeout comes 20 ms later, so a new probe
    // never races the server's view of the previous one closing.
    const { hc } = checker([node(port)], { interval: 30, timeout: 100 });
    try {
      hc.start();
      await sleep(450);
      assert.equal(fake.maxConcurrent, 1);
      // One probe per ~120 ms instead of one per 30 ms.
      assert.ok(fake.requests >= 2 && fake.requests <= 5, `${fake.requests} probes`);
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('markDown (passive) goes down at once, reports once, and probes bring the node back', async () => {
    const fake = new FakeNode();
    const port = await fake.listen();
    const { hc, changes } = checker([node(port)], { interval: 40 });
    try {
      hc.start();
      hc.markDown(0, 'connect ECONNRESET from traffic', false);
      hc.markDown(0, 'again', true);
      assert.deepEqual(changes, [{ index: 0, up: false, reason: 'connect ECONNRESET from traffic', silent: false }]);
      assert.equal(hc.isUp(0), false);
      await waitFor(() => changes.length === 2, 2000, 'up');
      assert.equal(changes[1].up, true);
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('stop() aborts probes in flight and nothing runs afterwards', async () => {
    const fake = new FakeNode();
    fake.mode = 'hang';
    const port = await fake.listen();
    const { hc, changes } = checker([node(port)], { interval: 20, timeout: 5000, fall: 1 });
    try {
      hc.start();
      hc.start(); // idempotent: still one probe loop
      await waitFor(() => fake.concurrent === 1, 1000, 'a probe in flight');
      hc.stop();
      await waitFor(() => fake.concurrent === 0, 500, 'the probe socket to be destroyed');
      const seen = fake.requests;
      await sleep(100);
      assert.equal(fake.requests, seen, 'no probes after stop');
      assert.deepEqual(changes, [], 'an aborted probe is not a failure');
      assert.equal(hc.isUp(0), true);
    } finally {
      hc.stop();
      await fake.close();
    }
  });

  it('rejects a non-positive interval or timeout', () => {
    assert.throws(() => new HealthChecker([], { interval: 0, timeout: 1, path: '', rise: 1, fall: 1 }, () => {}), RangeError);
    assert.throws(() => new HealthChecker([], { interval: 1, timeout: 0, path: '', rise: 1, fall: 1 }, () => {}), RangeError);
  });
});
