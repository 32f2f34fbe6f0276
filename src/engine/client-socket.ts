import net from 'node:net';
import { WRITE_FAILED, sendAllNow, sendNow, totalLength, unsentParts, writeNow, writevNow } from './direct-write.js';
import { READ_ARENA, arenaView, owned, readIntoArena } from './read-arena.js';
import { SOCKET_HIGH_WATER_MARK } from './upstream.js';

/**
 * The client side of a connection as ClientConnection uses it: bytes out, reading paused or resumed,
 * a graceful end or an abrupt close. Two implementations:
 *
 * - RawClientSocket drives the accepted TCP handle itself (the native object under every net.Socket).
 *   An idle net.Socket costs ~1.2 KiB of heap (its Readable and Writable states, listener tables,
 *   bound functions) and every read goes through its stream code; a raw handle with one small object
 *   costs ~0.3 KiB. Used when Node exposes what it needs (below), which Node 20 and 22 do.
 * - NetClientSocket wraps a net.Socket: the fallback, and FNLB_CLIENT_SOCKETS=net forces it.
 */
export interface ClientSocket {
  /** The client's IP address ('' if unknown), IPv4-mapped IPv6 addresses unwrapped. */
  readonly remoteIp: string;
  /** Starts reading; events go to `events` from now on. */
  start(events: ClientSocketEvents): void;
  /** Sends bytes (may be a view of the read arena); false when the caller should wait for onDrain. */
  send(data: Buffer): boolean;
  /** Several buffers in one writev; as send. */
  sendAll(parts: readonly Buffer[]): boolean;
  pause(): void;
  resume(): void;
  /** Half-closes after the bytes sent so far (FIN); reading goes on until the client closes too. */
  end(): void;
  /** Closes at once; onClose follows (asynchronously). */
  destroy(): void;
}

/** What a client socket reports. */
export interface ClientSocketEvents {
  /** Bytes from the client: a view of the read arena, valid only during the call. */
  onData(chunk: Buffer): void;
  /** Everything queued went out after a send returned false. */
  onDrain(): void;
  /** The client half-closed (FIN). */
  onEnd(): void;
  /** The socket is closed: after destroy(), an error, or both sides ended. Called once. */
  onClose(): void;
}

/** A handle's getpeername. */
interface PeerHandle {
  getpeername?(out: { address?: string }): number;
}

/** The peer's IP from the handle (`fallback` when it cannot tell), IPv4-mapped IPv6 unwrapped. */
function peerIp(handle: PeerHandle | null, fallback: string): string {
  const out: { address?: string } = {};
  const ip = handle?.getpeername?.(out) === 0 && out.address !== undefined ? out.address : fallback;
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

// --- The raw handle.

/** The methods of Node's TCP handle (tcp_wrap's TCP, a LibuvStreamWrap) used here. */
interface TcpHandle {
  readonly fd: number;
  readonly writeQueueSize: number;
  /** Must always be a function (the native setter asserts it). */
  onread: (this: TcpHandle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: WriteRequest, data: Buffer): number;
  writev(req: WriteRequest, chunks: Buffer[], allBuffers: true): number;
  shutdown(req: ShutdownRequest): number;
  close(callback: () => void): void;
  setNoDelay(on: boolean): number;
  getpeername(out: { address?: string }): number;
  [SOCKET]?: RawClientSocket;
}
interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  /** Keeps the queued bytes alive until libuv is done with them. */
  buffer: Buffer | Buffer[] | null;
}
interface ShutdownRequest {
  handle: TcpHandle;
  oncomplete: (this: ShutdownRequest, status: number) => void;
}
interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /** Written by the native side before each onread call: [kReadBytesOrError] is nread (< 0: error or EOF). */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
}

const SOCKET = Symbol('fnlb.clientSocket');
/** Where a failed direct write leaves its error (shared: it is cleared before the next write). */
const failure: { error?: Error } = {};
/** libuv's end-of-stream code (the same on every platform). */
const UV_EOF = -4095;
const UV_ENOTCONN = -107;

/** Node's stream binding, or null when this Node does not expose it (the net.Socket path is used then). */
const streamWrap = ((): StreamWrapBinding | null => {
  if (process.env.FNLB_CLIENT_SOCKETS === 'net') return null;
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError } = binding;
    if (typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function') return null;
    if (!(streamBaseState instanceof Int32Array) || typeof kReadBytesOrError !== 'number') return null;
    return binding as StreamWrapBinding;
  } catch {
    return null;
  }
})();

/** A handle this module can drive: it has every method used here. */
function isDrivable(handle: unknown): handle is TcpHandle {
  const h = handle as Partial<Record<keyof TcpHandle, unknown>> | null;
  return (
    h !== null &&
    typeof h === 'object' &&
    typeof h.readStart === 'function' &&
    typeof h.readStop === 'function' &&
    typeof h.useUserBuffer === 'function' &&
    typeof h.writeBuffer === 'function' &&
    typeof h.writev === 'function' &&
    typeof h.shutdown === 'function' &&
    typeof h.close === 'function' &&
    typeof h.getpeername === 'function' &&
    typeof h.fd === 'number'
  );
}

/**
 * Makes `server` hand its accepted connections to `accept` as raw client sockets instead of creating a
 * net.Socket for each (its 'connection' event then never fires). Takes effect when the server listens,
 * however listen() is called. False when this Node does not allow it: the caller keeps the
 * 'connection' event.
 */
export function acceptRaw(server: net.Server, accept: (socket: ClientSocket) => void): boolean {
  if (streamWrap === null) return false;
  server.on('listening', () => {
    // net sets its own onconnection on the listening handle just before 'listening'; no connection is
    // accepted before this runs (accepting happens on a later turn of the event loop).
    const listener = (server as unknown as { _handle: { onconnection?: unknown } | null })._handle;
    if (listener === null || typeof listener.onconnection !== 'function') return;
    const netAccept = listener.onconnection as (this: unknown, err: number, handle: unknown) => void;
    listener.onconnection = function onconnection(this: unknown, err: number, handle: unknown): void {
      // Errors (EMFILE...) and handles of another kind go the usual way: net reports or wraps them.
      if (err !== 0 || !isDrivable(handle)) netAccept.call(this, err, handle);
      else accept(new RawClientSocket(handle));
    };
  });
  return true;
}

/** A client connection on the TCP handle itself: reads into the arena, writes straight to the kernel. */
class RawClientSocket implements ClientSocket {
  // State. Invariants: `closed` is final (the handle is closing or closed; nothing is read or written);
  // `reading` mirrors the handle; `readEnded` (the client's FIN or a read error) is final and stops
  // reading; `ending` is final (our FIN is requested) and `shutDown` follows it once libuv sent it.
  private events: ClientSocketEvents | null = null;
  private reading = false;
  private readEnded = false;
  private ending = false;
  private shutDown = false;
  private closed = false;
  /** A send returned false: onDrain is owed when the queue empties. */
  private owesDrain = false;
  private ip: string | undefined;

  constructor(private readonly handle: TcpHandle) {
    handle[SOCKET] = this;
    handle.onread = onRawRead;
    handle.setNoDelay(true);
    handle.useUserBuffer(READ_ARENA);
  }

  get remoteIp(): string {
    if (this.ip === undefined) {
      this.ip = peerIp(this.closed ? null : this.handle, '');
    }
    return this.ip;
  }

  start(events: ClientSocketEvents): void {
    this.events = events;
    this.resume();
  }

  send(data: Buffer): boolean {
    if (this.closed || this.ending) return true; // as a write after destroy or end: dropped
    if (this.handle.writeQueueSize === 0) {
      const n = writeNow(this.handle.fd, data, failure);
      if (n === data.length) return true;
      if (n === WRITE_FAILED) return this.writeFailed();
      data = data.subarray(n);
    }
    return this.queue(owned(data), null);
  }

  sendAll(parts: readonly Buffer[]): boolean {
    if (this.closed || this.ending) return true;
    let n = 0;
    if (this.handle.writeQueueSize === 0) {
      n = writevNow(this.handle.fd, parts, failure);
      if (n === WRITE_FAILED) return this.writeFailed();
      if (n === totalLength(parts)) return true;
    }
    const rest = unsentParts(parts, n);
    return rest.length === 1 ? this.queue(rest[0]!, null) : this.queue(null, rest);
  }

  /** Hands bytes (owned) to libuv, behind whatever it holds; it sends them when the socket is writable. */
  private queue(data: Buffer | null, parts: Buffer[] | null): boolean {
    const handle = this.handle;
    const req = new streamWrap!.WriteWrap();
    req.handle = handle;
    req.oncomplete = onRawWriteDone;
    req.buffer = data ?? parts;
    const err = data !== null ? handle.writeBuffer(req, data) : handle.writev(req, parts!, true);
    if (err !== 0) {
      this.destroy();
      return true;
    }
    if (handle.writeQueueSize < SOCKET_HIGH_WATER_MARK) return true;
    this.owesDrain = true;
    return false;
  }

  /** A direct write failed: the connection is broken (why does not matter to the client side). */
  private writeFailed(): boolean {
    failure.error = undefined;
    this.destroy();
    return true;
  }

  /** libuv finished a queued write. */
  afterWrite(status: number): void {
    if (this.closed) return; // cancelled by the close
    if (status < 0) {
      this.destroy();
      return;
    }
    if (this.owesDrain && this.handle.writeQueueSize === 0) {
      this.owesDrain = false;
      this.events?.onDrain();
    }
  }

  pause(): void {
    if (!this.reading || this.closed) return;
    this.reading = false;
    this.handle.readStop();
  }

  resume(): void {
    if (this.reading || this.closed || this.readEnded) return;
    this.reading = true;
    const err = this.handle.readStart();
    if (err !== 0) this.destroy();
  }

  end(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    const req = new streamWrap!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = onRawShutdownDone;
    const err = this.handle.shutdown(req);
    // 1: done at once (as net reads it); ENOTCONN: the peer is gone, nothing to send the FIN to.
    if (err === 1 || err === UV_ENOTCONN) this.afterShutdown(0);
    else if (err !== 0) this.destroy();
  }

  afterShutdown(status: number): void {
    if (this.closed) return;
    this.shutDown = true;
    // Both sides ended (or the shutdown failed): nothing more can happen on this connection.
    if (status < 0 || this.readEnded) this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.reading = false;
    const handle = this.handle;
    handle.onread = ignore;
    handle.close(() => {
      handle[SOCKET] = undefined;
      this.events?.onClose();
    });
  }

  /** The native side read `nread` bytes into the arena, or says EOF (< 0: UV_EOF) or an error. */
  afterRead(nread: number): void {
    if (this.closed) return;
    if (nread > 0) {
      this.events!.onData(arenaView(READ_ARENA, nread));
      return;
    }
    if (nread === 0) return; // nothing this time (EAGAIN)
    this.readEnded = true;
    this.reading = false;
    if (nread !== UV_EOF)
      this.destroy(); // ECONNRESET and friends: the connection is gone
    else if (this.shutDown)
      this.destroy(); // our FIN went out before: both sides are done
    else this.events!.onEnd();
  }
}

/** onread of every raw client handle (`this` is the handle): the count is in streamBaseState. */
function onRawRead(this: TcpHandle): void {
  this[SOCKET]?.afterRead(streamWrap!.streamBaseState[streamWrap!.kReadBytesOrError]!);
}
function onRawWriteDone(this: WriteRequest, status: number): void {
  this.buffer = null;
  this.handle[SOCKET]?.afterWrite(status);
}
function onRawShutdownDone(this: ShutdownRequest, status: number): void {
  this.handle[SOCKET]?.afterShutdown(status);
}

// --- The net.Socket fallback.

/** Where a NetClientSocket sits on its net.Socket, for the shared listeners. */
const OWNER = Symbol('fnlb.netClientSocket');
type OwnedSocket = net.Socket & { [OWNER]: NetClientSocket };

/** A client connection on a net.Socket (accepted paused, with allowHalfOpen). */
export class NetClientSocket implements ClientSocket {
  events: ClientSocketEvents | null = null;
  private ip: string | undefined;

  constructor(readonly socket: net.Socket) {}

  get remoteIp(): string {
    if (this.ip === undefined) {
      // The handle's own getpeername: socket.remoteAddress would keep a cached object on every socket.
      const handle = (this.socket as unknown as { _handle: PeerHandle | null })._handle;
      this.ip = peerIp(handle, this.socket.remoteAddress ?? '');
    }
    return this.ip;
  }

  start(events: ClientSocketEvents): void {
    this.events = events;
    const socket = this.socket;
    socket.setNoDelay(true);
    // Shared listener functions (`this` is the socket) instead of closures: an idle connection is
    // cheaper by the closures and their contexts.
    (socket as OwnedSocket)[OWNER] = this;
    if (!readIntoArena(socket, onArenaRead)) socket.on('data', onNetData);
    socket.on('drain', onNetDrain);
    socket.on('end', onNetEnd);
    socket.on('error', ignore);
    socket.on('close', onNetClose);
    socket.resume(); // the server accepts paused, so the read mode is chosen before the first byte
  }

  send(data: Buffer): boolean {
    return sendNow(this.socket, data);
  }

  sendAll(parts: readonly Buffer[]): boolean {
    return sendAllNow(this.socket, parts);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function onNetData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER].events!.onData(chunk);
}
function onArenaRead(this: net.Socket, n: number, buf: Uint8Array): boolean {
  (this as OwnedSocket)[OWNER].events!.onData(arenaView(buf, n));
  return true;
}
function onNetDrain(this: OwnedSocket): void {
  this[OWNER].events!.onDrain();
}
function onNetEnd(this: OwnedSocket): void {
  this[OWNER].events!.onEnd();
}
function onNetClose(this: OwnedSocket): void {
  this[OWNER].events!.onClose();
}
function ignore(): void {}
