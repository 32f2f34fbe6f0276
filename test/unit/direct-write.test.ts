/**
 * Direct writes (src/engine/direct-write.ts) on real loopback sockets: bytes arrive complete and in
 * order whether the kernel takes them at once or not, a view of the read arena that the kernel did
 * not take is copied before the arena is reused, and a write to a reset peer destroys the socket with
 * the error code socket.write would have reported.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { sendAllNow, sendNow } from '../../src/engine/direct-write.js';
import { READ_ARENA } from '../../src/engine/read-arena.js';
import { pattern, receiveAll as readAll } from '../../harness/bytes.js';

/** A connected pair: `client` writes, `server` (paused, so nothing is read until asked) receives. */
async function pair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const srv = net.createServer({ pauseOnConnect: true });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  const accepted = once(srv, 'connection');
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = (await accepted) as [net.Socket];
  return {
    client,
    server,
    close() {
      client.destroy();
      server.destroy();
      srv.close();
    },
  };
}

describe('direct writes', () => {
  it('small writes go out at once and arrive in order', async () => {
    const p = await pair();
    try {
      const sent: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        const b = pattern(100 + i, i);
        sent.push(b);
        assert.equal(sendNow(p.client, b), true);
        assert.equal(p.client.writableLength, 0, 'nothing queued: the kernel took it');
      }
      const got = readAll(p.server);
      p.client.end();
      assert.deepEqual(await got, Buffer.concat(sent));
    } finally {
      p.close();
    }
  });

  it('what the kernel does not take is queued behind, then later writes queue too, in order', async () => {
    const p = await pair();
    try {
      const big = pattern(16 * 1024 * 1024, 7); // far beyond the socket buffers of a paused reader
      sendNow(p.client, big);
      assert.ok(p.client.writableLength > 0, 'the rest waits in the socket');
      const tail = pattern(1000, 99);
      sendNow(p.client, tail);
      const parts = [pattern(300, 1), pattern(70_000, 2), pattern(5, 3)];
      sendAllNow(p.client, parts);
      const got = readAll(p.server);
      p.client.end();
      assert.deepEqual(await got, Buffer.concat([big, tail, ...parts]));
    } finally {
      p.close();
    }
  });

  it('a writev the kernel takes in part resumes at the right byte', async () => {
    const p = await pair();
    try {
      // Parts of odd sizes so the kernel's cut falls inside one of them.
      const parts = [pattern(12_345, 4), pattern(3 * 1024 * 1024 + 17, 5), pattern(999_999, 6), pattern(1, 8)];
      // Whether the kernel takes all of it depends on its buffer sizes: either way the bytes must arrive whole.
      const ok = sendAllNow(p.client, parts);
      const drained = ok ? Promise.resolve() : once(p.client, 'drain');
      const got = readAll(p.server);
      await drained;
      p.client.end();
      assert.deepEqual(await got, Buffer.concat(parts));
    } finally {
      p.close();
    }
  });

  it('a view of the read arena that had to be queued is copied before the arena is reused', async () => {
    const p = await pair();
    try {
      sendNow(p.client, pattern(16 * 1024 * 1024, 3)); // fill the socket: the next write queues
      const view = READ_ARENA.subarray(0, 4096);
      pattern(4096, 42).copy(view);
      const expected = Buffer.from(view);
      sendNow(p.client, view);
      READ_ARENA.fill(0, 0, 4096); // the next read would overwrite it
      const got = readAll(p.server);
      p.client.end();
      const all = await got;
      assert.deepEqual(all.subarray(all.length - 4096), expected);
    } finally {
      p.close();
    }
  });

  it('a write to a peer that reset the connection destroys the socket with the error', async () => {
    const p = await pair();
    try {
      p.server.resetAndDestroy();
      await once(p.server, 'close');
      const errors: string[] = [];
      p.client.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
      // Not events.once: it rejects on 'error', which is expected here.
      const closed = new Promise((resolve) => p.client.on('close', resolve));
      // The first write after the RST may still be taken (the RST is seen on the next), so write until it fails.
      for (let i = 0; i < 100 && !p.client.destroyed; i++) {
        sendNow(p.client, pattern(1000, i));
        await new Promise((r) => setTimeout(r, 5));
      }
      await closed;
      assert.equal(p.client.destroyed, true);
      assert.ok(
        errors.some((c) => c === 'ECONNRESET' || c === 'EPIPE'),
        `error codes: ${errors.join(', ')}`,
      );
    } finally {
      p.close();
    }
  });

  it('while the socket connects, writes queue as socket.write does and go out after the connect', async () => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address() as net.AddressInfo;
    const received = new Promise<Buffer>((resolve) => {
      srv.once('connection', (s: net.Socket) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('end', () => resolve(Buffer.concat(chunks)));
      });
    });
    const client = net.connect(port, '127.0.0.1');
    try {
      assert.equal(client.connecting, true);
      const a = pattern(500, 1);
      const b = pattern(600, 2);
      sendNow(client, a);
      sendAllNow(client, [b]);
      client.end();
      assert.deepEqual(await received, Buffer.concat([a, b]));
    } finally {
      client.destroy();
      srv.close();
    }
  });
});
