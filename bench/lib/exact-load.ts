/**
 * A load of exactly `requests` small GETs (/r/app/f<k>, k over the benchmark's function count, seeded)
 * over `connections` keep-alive connections, one request in flight on each: for measurements that count
 * work per request (instructions), where wrk's time-bounded runs would leave a varying tail in flight.
 */
import net from 'node:net';
import { FUNCTIONS } from './configs.js';

const HEAD_END = Buffer.from('\r\n\r\n');

/** Resolves with the number of responses (= requests) once all are answered; rejects on an error or a non-200. */
export function exactLoad(port: number, requests: number, connections: number, seed: number): Promise<number> {
  let state = seed >>> 0 || 1;
  const nextFunction = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % FUNCTIONS;
  };
  let sent = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    const sockets: net.Socket[] = [];
    const fail = (err: Error): void => {
      for (const s of sockets) s.destroy();
      reject(err);
    };
    for (let c = 0; c < Math.min(connections, requests); c++) {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      socket.setNoDelay(true);
      let pending: Buffer = Buffer.alloc(0);
      const send = (): void => {
        if (sent === requests) {
          socket.end();
          return;
        }
        sent++;
        socket.write(`GET /r/app/f${nextFunction()} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      };
      socket.on('connect', send);
      socket.on('error', fail);
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        for (;;) {
          const end = pending.indexOf(HEAD_END);
          if (end === -1) return;
          const head = pending.toString('latin1', 0, end);
          if (!head.startsWith('HTTP/1.1 200 ')) return fail(new Error(`unexpected response: ${head.split('\r\n')[0]}`));
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (length === null) return fail(new Error('response without Content-Length'));
          const total = end + 4 + Number(length[1]);
          if (pending.length < total) return;
          pending = pending.subarray(total);
          if (++answered === requests) {
            socket.end();
            resolve(answered);
            return;
          }
          send();
        }
      });
    }
  });
}
