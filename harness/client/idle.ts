/**
 * Idle keep-alive clients: each connection sends one request, reads the whole response and then
 * stays open and silent, which is what a proxy holds for every parked client.
 */
import net from 'node:net';
import { ResponseReader, getRequest } from './http1-reader.js';

/** Connections opening at once: stays well under the listen backlogs, so no SYN is dropped and retried. */
const PARALLEL = 200;

function openOne(host: string, port: number, path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const timer = setTimeout(() => socket.destroy(new Error('timed out')), 10_000);
    const reader = new ResponseReader((status) => {
      clearTimeout(timer);
      if (status === 200) resolve(socket);
      else socket.destroy(new Error(`status ${status}`));
    });
    socket.on('data', (d: Buffer) => reader.feed(d));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('connect', () => socket.write(getRequest(path)));
  });
}

/** Opens `n` idle connections (paths numbered from `first`); returns them (the caller destroys them) and how many failed. */
export async function openIdle(host: string, port: number, n: number, first: number): Promise<{ sockets: net.Socket[]; failed: number }> {
  const sockets: net.Socket[] = [];
  let failed = 0;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < n) {
      const i = next++;
      try {
        sockets.push(await openOne(host, port, `/r/app/f${first + i}`));
      } catch {
        failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, n) }, worker));
  return { sockets, failed };
}
