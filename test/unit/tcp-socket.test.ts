/**
 * The raw TCP socket (src/engine/tcp-socket.ts) on real loopback connections. Accepted side: a server
 * whose accepted connections come through acceptRaw, a plain net client on the other end. Bytes arrive
 * complete and in order whether the kernel takes them at once or they queue (then onDrain follows),
 * a queued view of the read arena is a copy, reading pauses and resumes, end() sends a FIN and the
 * socket closes once the client has closed too, and a reset client closes it. Connecting side
 * (connectTcp): connects and reports it, a refused port is an ECONNREFUSED close without a connect,
 * bytes sent before the connection is up go out once it is, the peer's FIN and reset are reported,
 * and a host name goes through net.Socket with the same events.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { NetTcpSocket, type TcpSocket, type TcpSocketEvents, acceptRaw, connectTcp } from '../../src/engine/tcp-socket.js';
import { READ_ARENA } from '../../src/engine/read-arena.js';
import { pattern, receiveAll as readAll } from '../../harness/bytes.js';

/** What a raw socket reported, in order. */
class Recorder implements TcpSocketEvents {
  readonly log: string[] = [];
  readonly data: Buffer[] = [];
  private waiters: Array<{ what: string; resolve: () => void }> = [];
  onData(chunk: Buffer): void {
    this.data.push(Buffer.from(chunk)); // a copy: the arena view is valid only now
    this.note('data');
  }
  onConnect(): void {
    this.note('connect');
  }
  onDrain(): void {
    this.note('drain');
  }
  onEnd(): void {
    this.note('end');
  }
  onClose(): void {
    this.note('close');
  }
  private note(what: string): void {
    this.log.push(what);
    this.waiters = this.waiters.filter((w) => (w.what === what ? (w.resolve(), false) : true));
  }
  /** Resolves when `what` has been reported (now or later). */
  wait(what: string, timeoutMs = 5000): Promise<void> {
    if (this.log.includes(what)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms (saw: ${this.log.join(',')})`)), timeoutMs);
      this.waiters.push({ what, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
  received(): Buffer {
    return Buffer.concat(this.data);
  }
}

/** A raw server socket and the net client connected to it. */
async function connection(): Promise<{ raw: TcpSocket; events: Recorder; client: net.Socket; close(): void }> {
  const server = net.createServer({ pauseOnConnect: true });
  let accepted!: (s: TcpSocket) => void;
  const got = new Promise<TcpSocket>((r) => (accepted = r));
  assert.equal(
    acceptRaw(server, (s) => accepted(s)),
    true,
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const raw = await got;
  const events = new Recorder();
  raw.start(events);
  return {
    raw,
    events,
    client,
    close() {
      raw.destroy();
      client.destroy();
      server.close();
    },
  };
}

describe('raw TCP socket, accepted', () => {
  it('reads what the client sends, and knows its address', async () => {
    const c = await connection();
    try {
      const sent = pattern(200_000, 1);
      c.client.write(sent);
      const deadline = Date.now() + 5000;
      while (c.events.received().length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(c.events.received(), sent);
      assert.equal(c.raw.remoteIp, '127.0.0.1');
    } finally {
      c.close();
    }
  });

  it('a send the kernel cannot take queues; later sends queue behind it; onDrain follows; order holds', async () => {
    const c = await connection();
    try {
      c.client.pause(); // the client does not read yet: the kernel's buffers fill
      const big = pattern(16 * 1024 * 1024, 2);
      assert.equal(c.raw.send(big), false, 'more than the high-water mark queued: wait for drain');
      const parts = [pattern(777, 3), pattern(100_000, 4)];
      c.raw.sendAll(parts);
      // A view of the arena, overwritten right after: what was queued must be a copy.
      const view = READ_ARENA.subarray(0, 4096);
      pattern(4096, 5).copy(view);
      const expectedView = Buffer.from(view);
      c.raw.send(view);
      READ_ARENA.fill(0, 0, 4096);
      // The caller's own bytes queue as they are, behind the rest.
      const own = pattern(50_000, 6);
      c.raw.sendOwned(own);
      const all = readAll(c.client);
      c.client.resume();
      await c.events.wait('drain');
      c.raw.end();
      assert.deepEqual(await all, Buffer.concat([big, ...parts, expectedView, own]));
    } finally {
      c.close();
    }
  });

  it('pause stops reading until resume', async () => {
    const c = await connection();
    try {
      c.raw.pause();
      c.client.write('abc');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.events.log.includes('data'), false);
      c.raw.resume();
      await c.events.wait('data');
      assert.equal(c.events.received().toString(), 'abc');
    } finally {
      c.close();
    }
  });

  it('end() sends a FIN after the bytes; the socket closes once the client closes too', async () => {
    const c = await connection();
    try {
      const all = readAll(c.client);
      c.raw.send(Buffer.from('bye'));
      c.raw.end();
      assert.equal((await all).toString(), 'bye');
      assert.equal(c.events.log.includes('close'), false, 'half-closed: the client may still send');
      c.client.end();
      await c.events.wait('close');
    } finally {
      c.close();
    }
  });

  it("the client's FIN is reported as onEnd, and the socket can still answer", async () => {
    const c = await connection();
    try {
      const all = readAll(c.client);
      c.client.end('last words');
      await c.events.wait('end');
      assert.equal(c.events.received().toString(), 'last words');
      c.raw.send(Buffer.from('answer'));
      c.raw.end();
      assert.equal((await all).toString(), 'answer');
      await c.events.wait('close');
    } finally {
      c.close();
    }
  });

  it('a client reset closes the socket, and sends after it are dropped', async () => {
    const c = await connection();
    try {
      c.client.resetAndDestroy();
      for (let i = 0; i < 100 && !c.events.log.includes('close'); i++) {
        c.raw.send(pattern(1000, i));
        await new Promise((r) => setTimeout(r, 5));
      }
      await c.events.wait('close');
      assert.equal(c.raw.send(Buffer.from('x')), true);
      assert.equal(c.events.log.filter((e) => e === 'close').length, 1);
    } finally {
      c.close();
    }
  });
});

/** A plain net server on a free loopback port; `accepted` resolves with its first connection. */
async function netServer(host = '127.0.0.1'): Promise<{ port: number; accepted: Promise<net.Socket>; close(): void }> {
  let resolve!: (s: net.Socket) => void;
  const accepted = new Promise<net.Socket>((r) => (resolve = r));
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    sockets.push(s);
    resolve(s);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('raw TCP socket, connecting (connectTcp)', () => {
  it('connects, reports it, and carries bytes both ways; bytes sent before the connection is up go out once it is', async () => {
    const srv = await netServer();
    const events = new Recorder();
    const socket = connectTcp('127.0.0.1', srv.port, events);
    try {
      assert.equal(socket instanceof NetTcpSocket, false, 'an IP address gets a raw socket');
      socket.send(Buffer.from('early '));
      await events.wait('connect');
      socket.send(Buffer.from('late'));
      const peer = await srv.accepted;
      const got: Buffer[] = [];
      peer.on('data', (c: Buffer) => got.push(c));
      const deadline = Date.now() + 5000;
      while (Buffer.concat(got).length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(Buffer.concat(got).toString(), 'early late');
      const back = pattern(300_000, 9);
      peer.write(back);
      while (events.received().length < back.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(events.received(), back);
      assert.equal(socket.error, undefined);
    } finally {
      socket.destroy();
      srv.close();
    }
  });

  it('connects to an IPv6 address', async (t) => {
    let srv: Awaited<ReturnType<typeof netServer>>;
    try {
      srv = await netServer('::1');
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    const events = new Recorder();
    const socket = connectTcp('::1', srv.port, events);
    try {
      assert.equal(socket instanceof NetTcpSocket, false);
      await events.wait('connect');
      socket.send(Buffer.from('v6'));
      const [chunk] = (await once(await srv.accepted, 'data')) as [Buffer];
      assert.equal(chunk.toString(), 'v6');
    } finally {
      socket.destroy();
      srv.close();
    }
  });

  it('a refused port closes the socket with ECONNREFUSED and no connect', async () => {
    const events = new Recorder();
    const socket = connectTcp('127.0.0.1', await closedPort(), events);
    await events.wait('close');
    assert.equal(socket.error, 'ECONNREFUSED');
    assert.deepEqual(events.log, ['close']);
    assert.equal(socket.destroyed, true);
  });

  it("the peer's FIN is onEnd; its reset closes with ECONNRESET", async () => {
    const srv = await netServer();
    const a = new Recorder();
    const first = connectTcp('127.0.0.1', srv.port, a);
    try {
      await a.wait('connect');
      (await srv.accepted).end('bye');
      await a.wait('end');
      assert.equal(a.received().toString(), 'bye');
      first.destroy();
      await a.wait('close');
      assert.equal(first.error, undefined);
    } finally {
      srv.close();
    }
    const srv2 = await netServer();
    const b = new Recorder();
    const second = connectTcp('127.0.0.1', srv2.port, b);
    try {
      await b.wait('connect');
      (await srv2.accepted).resetAndDestroy();
      await b.wait('close');
      assert.equal(second.error, 'ECONNRESET');
      assert.equal(b.log.includes('end'), false);
    } finally {
      srv2.close();
    }
  });

  it('a host name goes through net.Socket (which resolves it), with the same events', async () => {
    const srv = await netServer();
    const events = new Recorder();
    const socket = connectTcp('localhost', srv.port, events);
    try {
      assert.ok(socket instanceof NetTcpSocket);
      await events.wait('connect');
      socket.send(Buffer.from('hi'));
      const peer = await srv.accepted;
      const [chunk] = (await once(peer, 'data')) as [Buffer];
      assert.equal(chunk.toString(), 'hi');
      peer.resetAndDestroy();
      await events.wait('close');
      assert.equal(socket.error, 'ECONNRESET');
    } finally {
      socket.destroy();
      srv.close();
    }
  });
});
