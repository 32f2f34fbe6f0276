import { writeSync, writevSync } from 'node:fs';
import type net from 'node:net';
import { owned } from './read-arena.js';

/**
 * Writes that go straight to the kernel when nothing is queued ahead of them.
 *
 * socket.write() runs the Writable stream machinery and allocates a write request per call (about 4%
 * of the proxy's CPU on small requests), and the caller must first copy any view of the shared read
 * buffer (read-arena.ts) in case the kernel does not take it all. Almost always the kernel does take
 * it all. So when the socket holds no queued bytes, these functions write(2)/writev(2) the bytes
 * themselves, synchronously, from wherever they lie; only what the kernel left over is copied and
 * handed to socket.write, which queues it, sends it when the socket is writable and emits 'drain'
 * as usual. Byte order holds: the direct path is taken only while nothing is queued, and once
 * something is, every later write queues behind it until it has gone out.
 */

/** The part of a socket's native handle read here. */
interface StreamHandle {
  readonly fd?: number;
  /** Bytes libuv holds for this stream. */
  readonly writeQueueSize?: number;
}

/** The socket's file descriptor when a direct write may go now, else -1. */
function directFd(socket: net.Socket): number {
  if (socket.connecting || socket.destroyed || socket.writableEnded || socket.writableLength !== 0 || socket.writableCorked !== 0) {
    return -1;
  }
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (handle === null || handle.writeQueueSize !== 0) return -1;
  const fd = handle.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/**
 * A direct write threw: 0 (nothing written) when the kernel's buffer is full, else -1 after destroying
 * the socket with the error, as socket.write would have done (its 'error' and 'close' follow).
 */
function failed(socket: net.Socket, err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return 0;
  socket.destroy(err as Error);
  return -1;
}

/**
 * Sends `data` (which may be a view of the read arena). Returns what socket.write returns: false when
 * the caller should wait for the socket's 'drain' before sending more.
 */
export function sendNow(socket: net.Socket, data: Buffer): boolean {
  const fd = directFd(socket);
  if (fd === -1) return socket.write(owned(data));
  let n: number;
  try {
    n = writeSync(fd, data);
  } catch (err) {
    n = failed(socket, err);
  }
  if (n === data.length || n === -1) return true;
  return socket.write(owned(data.subarray(n)));
}

/** Sends several buffers in one writev (each may be a view of the read arena); returns as sendNow. */
export function sendAllNow(socket: net.Socket, parts: readonly Buffer[]): boolean {
  const fd = directFd(socket);
  let from = 0;
  let offset = 0;
  if (fd !== -1) {
    let n: number;
    try {
      n = writevSync(fd, parts as Buffer[]);
    } catch (err) {
      n = failed(socket, err);
    }
    if (n === -1) return true;
    // Skip what went out: whole parts, then `offset` bytes into the first part left.
    while (from < parts.length && n >= parts[from]!.length) n -= parts[from++]!.length;
    if (from === parts.length) return true;
    offset = n;
  }
  // Queue the rest in one writev, copying what the arena would overwrite.
  socket.cork();
  let ok = true;
  for (let i = from; i < parts.length; i++) ok = socket.write(owned(i === from && offset > 0 ? parts[i]!.subarray(offset) : parts[i]!));
  socket.uncork();
  return ok;
}
