/** Byte helpers for socket tests: recognizable payloads and collecting a stream. */
import { once } from 'node:events';
import type net from 'node:net';

/** `n` bytes whose value depends on the position and a seed: reordering or loss shows. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Everything `socket` receives until the peer's FIN (reading starts now if it was paused). */
export async function receiveAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  await once(socket, 'end');
  return Buffer.concat(chunks);
}
