import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { WRITE_FAILED, sendAllNow, sendNow, totalLength, unsentParts, writeNow, writevNow } from './direct-write.js';
import { READ_ARENA, arenaView, copyOf, inReadArena, owned, readIntoArena } from './read-arena.js';

/**
 * Bytes queued on a socket before a send says "wait for drain". Node's default (16 KiB) is below one
 * 16 KiB response plus its head, so such a response paused and resumed the node's socket every time
 * (two epoll_ctl calls and a 'drain' per request) although the kernel took it all at once. 64 KiB, as
 * much as nginx buffers per proxied response by default, still bounds what a slow client holds.
 */
export const SOCKET_HIGH_WATER_MARK = 64 * 1024;

/**
 * A TCP connection as the engine uses it, on either side: bytes out, reading paused or resumed, a
 * graceful end or an abrupt close. Client connections come from acceptRaw (or a net.Server), node
 * connections from connectTcp. Two implementations:
 *
 * - RawTcpSocket drives Node's TCP handle itself (the native object under every net.Socket). An idle
 *   net.Socket costs ~1.2 KiB of heap (its Readable and Writable states, listener tables, bound
 *   functions) and every read and write goes through its stream code; a raw handle with one small
 *   object costs ~0.3 KiB. Used when Node exposes what it needs (below), which Node 20 and 22 do.
 * - NetTcpSocket wraps a net.Socket: the fallback, for node addresses given as host names (net
 *   resolves them at each connect), and forced everywhere by FNLB_SOCKETS=net.
 */
export interface TcpSocket {
  /** The peer's IP address ('' if unknown), IPv4-mapped IPv6 addresses unwrapped. */
  readonly remoteIp: string;
  /** The first error of the connection ('ECONNREFUSED', 'ECONNRESET', 'EPIPE', ...), undefined if none. */
  readonly error: string | undefined;
  /** Closed or closing: nothing more is read or sent. */
  readonly destroyed: boolean;
  /** Starts reading an accepted connection; events go to `events` from now on. */
  start(events: TcpSocketEvents): void;
  /** Sends bytes (may be a view of the read arena); false when the caller should wait for onDrain. */
  send(data: Buffer): boolean;
  /** As send, for bytes the caller made (never the read arena): they may wait in the queue as they are. */
  sendOwned(data: Buffer): boolean;
  /** Several buffers in one writev; as send. */
  sendAll(parts: readonly Buffer[]): boolean;
  pause(): void;
  resume(): void;
  /** Half-closes after the bytes sent so far (FIN); reading goes on until the peer closes too. */
  end(): void;
  /** Closes at once; onClose follows (asynchronously). */
  destroy(): void;
}

/** What a TCP socket reports. */
export interface TcpSocketEvents {
  /** A connection made by connectTcp is established. Never called for accepted connections. */
  onConnect?(): void;
  /** Bytes from the peer: a view of the read arena, valid only during the call. */
  onData(chunk: Buffer): void;
  /** Everything queued went out after a send returned false. */
  onDrain(): void;
  /** The peer half-closed (FIN). */
  onEnd(): void;
  /** The socket is closed: after destroy(), an error (see `error`), or both sides ended. Called once. */
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
  /** The file descriptor; -1 until a connecting handle has its socket. */
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
  connect(req: ConnectRequest, address: string, port: number): number;
  connect6(req: ConnectRequest, address: string, port: number): number;
  [SOCKET]?: RawTcpSocket;
}
interface WriteRequest {
  handle: TcpHandle | null;
  oncomplete: (this: WriteRequest, status: number) => void;
  /** Keeps the queued bytes alive until libuv is done with them. */
  buffer: Buffer | Buffer[] | null;
}
interface ShutdownRequest {
  handle: TcpHandle;
  oncomplete: (this: ShutdownRequest, status: number) => void;
}
interface ConnectRequest {
  oncomplete: (this: ConnectRequest, status: number, handle: TcpHandle) => void;
}
interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /**
   * Written by the native side: before each onread call, [kReadBytesOrError] is nread (< 0: error or
   * EOF); after each write call, [kLastWriteWasAsync] is 1 if part of it was queued.
   */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}
interface TcpWrapBinding {
  TCP: new (type: number) => unknown;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}

/**
 * Bytes of the read arena up to this size (one send, or all the buffers of one sendAll) are copied and
 * handed to libuv rather than written directly:
 * the copy (a slice of Node's buffer pool, which serves up to 4 KiB, and one memcpy) and libuv's write
 * cost less than the direct write's fs call (its argument checks and trace-category lookups), about
 * 1,100 instructions per small response. Larger ones go directly and only what the kernel leaves is copied.
 */
const SMALL_ARENA_SEND = 4096;

const SOCKET = Symbol('fnlb.tcpSocket');
/** Where a failed direct write leaves its error (shared: it is read before the next write). */
const failure: { error?: Error } = {};
/** libuv's end-of-stream code (the same on every platform). */
const UV_EOF = -4095;
const UV_ENOTCONN = -107;

/** Node's stream and TCP bindings, or null when this Node does not expose them (net.Socket is used then). */
const bindings = ((): { stream: StreamWrapBinding; tcp: TcpWrapBinding } | null => {
  if (process.env.FNLB_SOCKETS === 'net') return null;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    const stream = binding('stream_wrap') as Partial<StreamWrapBinding>;
    const tcp = binding('tcp_wrap') as Partial<TcpWrapBinding>;
    const { WriteWrap, ShutdownWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = stream;
    if (typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function') return null;
    if (!(streamBaseState instanceof Int32Array) || typeof kReadBytesOrError !== 'number') return null;
    if (typeof kLastWriteWasAsync !== 'number') return null;
    if (typeof tcp.TCP !== 'function' || typeof tcp.TCPConnectWrap !== 'function' || typeof tcp.constants?.SOCKET !== 'number') return null;
    return { stream: stream as StreamWrapBinding, tcp: tcp as TcpWrapBinding };
  } catch {
    return null;
  }
})();
const streamWrap = bindings?.stream;

function newWriteRequest(): WriteRequest {
  const req = new streamWrap!.WriteWrap();
  req.oncomplete = onRawWriteDone;
  return req;
}

/**
 * The write request of the next write. A write the kernel takes at once never uses its request, so
 * one serves every such write; one that queues keeps it, and a new one takes its place.
 */
let spareWrite: WriteRequest | null = bindings === null ? null : newWriteRequest();

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
    typeof h.setNoDelay === 'function' &&
    typeof h.connect === 'function' &&
    typeof h.connect6 === 'function' &&
    typeof h.fd === 'number'
  );
}

/** Some part lies in the read arena (it must be copied before it may wait in a queue). */
function inArena(parts: readonly Buffer[]): boolean {
  for (let i = 0; i < parts.length; i++) if (inReadArena(parts[i]!)) return true;
  return false;
}

/**
 * Makes `server` hand its accepted connections to `accept` as raw sockets instead of creating a
 * net.Socket for each (its 'connection' event then never fires). Takes effect when the server listens,
 * however listen() is called. False when this Node does not allow it: the caller keeps the
 * 'connection' event.
 */
export function acceptRaw(server: net.Server, accept: (socket: TcpSocket) => void): boolean {
  if (bindings === null) return false;
  server.on('listening', () => {
    // net sets its own onconnection on the listening handle just before 'listening'; no connection is
    // accepted before this runs (accepting happens on a later turn of the event loop).
    const listener = (server as unknown as { _handle: { onconnection?: unknown } | null })._handle;
    if (listener === null || typeof listener.onconnection !== 'function') return;
    const netAccept = listener.onconnection as (this: unknown, err: number, handle: unknown) => void;
    listener.onconnection = function onconnection(this: unknown, err: number, handle: unknown): void {
      // Errors (EMFILE...) and handles of another kind go the usual way: net reports or wraps them.
      if (err !== 0 || !isDrivable(handle)) netAccept.call(this, err, handle);
      else accept(new RawTcpSocket(handle, true));
    };
  });
  return true;
}

/**
 * Opens a connection to host:port; `events` hear onConnect once it is established (send only after
 * it), or onClose with `error` set when it fails. An IP address gets a raw socket, a host name a
 * net.Socket (which resolves it).
 */
export function connectTcp(host: string, port: number, events: TcpSocketEvents): TcpSocket {
  const family = net.isIP(host);
  if (bindings !== null && family !== 0) {
    const handle = new bindings.tcp.TCP(bindings.tcp.constants.SOCKET);
    if (isDrivable(handle)) {
      const socket = new RawTcpSocket(handle, false);
      socket.start(events);
      socket.connect(family, host, port);
      return socket;
    }
  }
  return NetTcpSocket.connect(host, port, events);
}

/** A connection on the TCP handle itself: reads into the arena, writes straight to the kernel. */
class RawTcpSocket implements TcpSocket {
  // State. Invariants: `closed` is final (the handle is closing or closed; nothing is read or written);
  // the handle reads exactly when `reading`, which is `connected && !paused && !readEnded && !closed`;
  // `readEnded` (the peer's FIN or a read error) is final; `ending` is final (our FIN is requested) and
  // `shutDown` follows it once libuv sent it.
  private events: TcpSocketEvents | null = null;
  private paused = true;
  private reading = false;
  private readEnded = false;
  private ending = false;
  private shutDown = false;
  private closed = false;
  /** A send returned false: onDrain is owed when the queue empties. */
  private owesDrain = false;
  private ip: string | undefined;
  error: string | undefined = undefined;

  constructor(
    private readonly handle: TcpHandle,
    private connected: boolean,
  ) {
    handle[SOCKET] = this;
    handle.onread = onRawRead;
    handle.setNoDelay(true); // on a connecting handle libuv applies it when the socket is made
    handle.useUserBuffer(READ_ARENA);
  }

  get remoteIp(): string {
    if (this.ip === undefined) {
      this.ip = peerIp(this.closed ? null : this.handle, '');
    }
    return this.ip;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  start(events: TcpSocketEvents): void {
    this.events = events;
    this.resume();
  }

  connect(family: number, host: string, port: number): void {
    const req = new bindings!.tcp.TCPConnectWrap();
    req.oncomplete = onRawConnect;
    const err = family === 6 ? this.handle.connect6(req, host, port) : this.handle.connect(req, host, port);
    if (err !== 0) this.fail(err);
  }

  afterConnect(status: number): void {
    if (this.closed) return;
    if (status < 0) {
      this.fail(status);
      return;
    }
    this.connected = true;
    this.updateReading();
    this.events?.onConnect?.();
  }

  sendOwned(data: Buffer): boolean {
    if (this.closed || this.ending) return true; // as a write after destroy or end: dropped
    return this.write(data, null);
  }

  send(data: Buffer): boolean {
    if (this.closed || this.ending) return true; // as a write after destroy or end: dropped
    if (!inReadArena(data)) return this.write(data, null);
    if (data.length <= SMALL_ARENA_SEND) return this.write(copyOf(data), null);
    if (this.connected && this.handle.writeQueueSize === 0) {
      const n = writeNow(this.handle.fd, data, failure);
      if (n === data.length) return true;
      if (n === WRITE_FAILED) return this.writeFailed();
      data = data.subarray(n);
    }
    return this.write(owned(data), null);
  }

  sendAll(parts: readonly Buffer[]): boolean {
    if (this.closed || this.ending) return true;
    if (!inArena(parts)) return this.write(null, parts);
    const total = totalLength(parts);
    let n = 0;
    // As in send: up to SMALL_ARENA_SEND bytes, copies to libuv (unsentParts copies the arena's parts).
    if (total > SMALL_ARENA_SEND && this.connected && this.handle.writeQueueSize === 0) {
      n = writevNow(this.handle.fd, parts, failure);
      if (n === WRITE_FAILED) return this.writeFailed();
      if (n === total) return true;
    }
    const rest = unsentParts(parts, n);
    return rest.length === 1 ? this.write(rest[0]!, null) : this.write(null, rest);
  }

  /**
   * Hands bytes that are not in the arena to libuv: it writes what the kernel takes now, as write(2)
   * does, and queues the rest (sent from these buffers when the socket is writable, or once connected)
   * behind whatever it already holds. For such bytes this is cheaper than the direct write (no fs
   * request, no trace checks); bytes in the arena cannot go this way, as libuv would queue the arena.
   */
  private write(data: Buffer | null, parts: readonly Buffer[] | null): boolean {
    const handle = this.handle;
    const req = spareWrite!;
    req.handle = handle;
    const err = data !== null ? handle.writeBuffer(req, data) : handle.writev(req, parts as Buffer[], true);
    if (err !== 0) {
      this.fail(err);
      return true;
    }
    if (streamWrap!.streamBaseState[streamWrap!.kLastWriteWasAsync] === 0) return true;
    // Queued: the request now belongs to libuv until it completes, and keeps the bytes alive.
    req.buffer = data ?? [...parts!];
    spareWrite = newWriteRequest();
    if (handle.writeQueueSize < SOCKET_HIGH_WATER_MARK) return true;
    this.owesDrain = true;
    return false;
  }

  /** A direct write failed: the connection is broken. */
  private writeFailed(): boolean {
    this.error ??= (failure.error as NodeJS.ErrnoException | undefined)?.code ?? 'write failed';
    failure.error = undefined;
    this.destroy();
    return true;
  }

  /** A libuv call or callback failed with `errno`: the connection is over. */
  private fail(errno: number): void {
    this.error ??= getSystemErrorName(errno);
    this.destroy();
  }

  /** libuv finished a queued write. */
  afterWrite(status: number): void {
    if (this.closed) return; // cancelled by the close
    if (status < 0) {
      this.fail(status);
      return;
    }
    if (this.owesDrain && this.handle.writeQueueSize === 0) {
      this.owesDrain = false;
      this.events?.onDrain();
    }
  }

  pause(): void {
    this.paused = true;
    this.updateReading();
  }

  resume(): void {
    this.paused = false;
    this.updateReading();
  }

  private updateReading(): void {
    const want = this.connected && !this.paused && !this.readEnded && !this.closed;
    if (want === this.reading) return;
    this.reading = want;
    if (!want) this.handle.readStop();
    else {
      const err = this.handle.readStart();
      if (err !== 0) this.fail(err);
    }
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
    else if (err !== 0) this.fail(err);
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
      this.fail(nread); // ECONNRESET and friends: the connection is gone
    else if (this.shutDown)
      this.destroy(); // our FIN went out before: both sides are done
    else this.events!.onEnd();
  }
}

/** onread of every raw handle (`this` is the handle): the count is in streamBaseState. */
function onRawRead(this: TcpHandle): void {
  this[SOCKET]?.afterRead(streamWrap!.streamBaseState[streamWrap!.kReadBytesOrError]!);
}
function onRawWriteDone(this: WriteRequest, status: number): void {
  const handle = this.handle;
  this.buffer = null;
  this.handle = null;
  handle?.[SOCKET]?.afterWrite(status);
}
function onRawShutdownDone(this: ShutdownRequest, status: number): void {
  this.handle[SOCKET]?.afterShutdown(status);
}
function onRawConnect(this: ConnectRequest, status: number, handle: TcpHandle): void {
  handle[SOCKET]?.afterConnect(status);
}

// --- The net.Socket fallback.

/** Where a NetTcpSocket sits on its net.Socket, for the shared listeners. */
const OWNER = Symbol('fnlb.netTcpSocket');
type OwnedSocket = net.Socket & { [OWNER]: NetTcpSocket };

/** A connection on a net.Socket: accepted paused with allowHalfOpen, or made by NetTcpSocket.connect. */
export class NetTcpSocket implements TcpSocket {
  events: TcpSocketEvents | null = null;
  error: string | undefined = undefined;
  private ip: string | undefined;

  constructor(readonly socket: net.Socket) {
    (socket as OwnedSocket)[OWNER] = this;
  }

  /** A connection to host:port (net resolves a host name); reads go to the arena from the start. */
  static connect(host: string, port: number, events: TcpSocketEvents): NetTcpSocket {
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      // net.Socket takes it (Duplex options); @types/node does not list it for connect.
      writableHighWaterMark: SOCKET_HIGH_WATER_MARK,
      onread: { buffer: READ_ARENA, callback: onArenaRead },
    } as net.NetConnectOpts);
    const s = new NetTcpSocket(socket);
    s.events = events;
    s.listen();
    socket.on('connect', onNetConnect);
    return s;
  }

  get remoteIp(): string {
    if (this.ip === undefined) {
      // The handle's own getpeername: socket.remoteAddress would keep a cached object on every socket.
      const handle = (this.socket as unknown as { _handle: PeerHandle | null })._handle;
      this.ip = peerIp(handle, this.socket.remoteAddress ?? '');
    }
    return this.ip;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /** Starts an accepted (paused) socket. */
  start(events: TcpSocketEvents): void {
    this.events = events;
    const socket = this.socket;
    socket.setNoDelay(true);
    if (!readIntoArena(socket, onArenaRead)) socket.on('data', onNetData);
    this.listen();
    socket.resume(); // the server accepts paused, so the read mode is chosen before the first byte
  }

  /** Shared listener functions (`this` is the socket) instead of closures: an idle connection is cheaper. */
  private listen(): void {
    const socket = this.socket;
    socket.on('drain', onNetDrain);
    socket.on('end', onNetEnd);
    socket.on('error', onNetError);
    socket.on('close', onNetClose);
  }

  send(data: Buffer): boolean {
    return sendNow(this.socket, data);
  }

  sendOwned(data: Buffer): boolean {
    return this.send(data); // the net path looks at the arena only for what the kernel leaves: nothing to skip
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
function onNetConnect(this: OwnedSocket): void {
  this[OWNER].events!.onConnect?.();
}
function onNetDrain(this: OwnedSocket): void {
  this[OWNER].events!.onDrain();
}
function onNetEnd(this: OwnedSocket): void {
  this[OWNER].events!.onEnd();
}
function onNetError(this: OwnedSocket, err: NodeJS.ErrnoException): void {
  this[OWNER].error ??= err.code ?? err.message;
}
function onNetClose(this: OwnedSocket): void {
  this[OWNER].events!.onClose();
}
function ignore(): void {}
