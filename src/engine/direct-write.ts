import { writeSync, writevSync } from 'node:fs';
import type net from 'node:net';
import { owned } from './read-arena.js';

/**
 * Writes that go straight to the kernel when nothing is queued ahead of them: every write on the
 * net.Socket path, and on raw sockets the writes of bytes that lie in the read arena (tcp-socket.ts).
 *
 * socket.write() runs the Writable stream machinery and allocates a write request per call (about 4%
 * of the proxy's CPU on small requests), and the caller must first copy any view of the shared read
 * buffer (read-arena.ts) in case the kernel does not take it all. Almost always the kernel does take
 * it all. So when a socket holds no queued bytes, the bytes are written with write(2)/writev(2),
 * synchronously, from wherever they lie; only what the kernel left over is copied and queued (on a
 * net.Socket: socket.write, which sends it when the socket is writable and emits 'drain' as usual).
 * Byte order holds: the direct path is taken only while nothing is queued, and once something is,
 * every later write queues behind it until it has gone out.
 */

/** A direct write that failed for good (not "the kernel's buffer is full"): the connection is broken. */
export const WRITE_FAILED = -1;

/** Bytes the kernel took now (0 when its buffer is full), or WRITE_FAILED with the error in `failure`. */
export function writeNow(fd: number, data: Buffer, failure: { error?: Error }): number {
  try {
    return writeSync(fd, data);
  } catch (err) {
    return failed(err, failure);
  }
}

/** As writeNow, for several buffers in one writev. */
export function writevNow(fd: number, parts: readonly Buffer[], failure: { error?: Error }): number {
  try {
    return writevSync(fd, parts as Buffer[]);
  } catch (err) {
    return failed(err, failure);
  }
}

function failed(err: unknown, failure: { error?: Error }): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return 0;
  failure.error = err as Error;
  return WRITE_FAILED;
}

export function totalLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i]!.length;
  return n;
}

/** What is left of `parts` after the first `written` bytes went out, copied where it lies in the read arena. */
export function unsentParts(parts: readonly Buffer[], written: number): Buffer[] {
  let from = 0;
  while (from < parts.length && written >= parts[from]!.length) written -= parts[from++]!.length;
  const rest: Buffer[] = [];
  for (let i = from; i < parts.length; i++) rest.push(owned(i === from && written > 0 ? parts[i]!.subarray(written) : parts[i]!));
  return rest;
}

// --- On a net.Socket.

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

/** Reused: a write failure is handled before the next write. */
const failure: { error?: Error } = {};

/**
 * Sends `data` (which may be a view of the read arena). Returns what socket.write returns: false when
 * the caller should wait for the socket's 'drain' before sending more. A failed write destroys the
 * socket with the error, as socket.write would have done ('error' and 'close' follow).
 */
export function sendNow(socket: net.Socket, data: Buffer): boolean {
  const fd = directFd(socket);
  if (fd === -1) return socket.write(owned(data));
  const n = writeNow(fd, data, failure);
  if (n === data.length) return true;
  if (n === WRITE_FAILED) {
    socket.destroy(failure.error);
    failure.error = undefined;
    return true;
  }
  return socket.write(owned(data.subarray(n)));
}

/** Sends several buffers in one writev (each may be a view of the read arena); returns as sendNow. */
export function sendAllNow(socket: net.Socket, parts: readonly Buffer[]): boolean {
  const fd = directFd(socket);
  let n = 0;
  if (fd !== -1) {
    n = writevNow(fd, parts, failure);
    if (n === WRITE_FAILED) {
      socket.destroy(failure.error);
      failure.error = undefined;
      return true;
    }
    if (n === totalLength(parts)) return true;
  }
  const rest = unsentParts(parts, n);
  // The rest in one writev.
  socket.cork();
  let ok = true;
  for (let i = 0; i < rest.length; i++) ok = socket.write(rest[i]!);
  socket.uncork();
  return ok;
}
