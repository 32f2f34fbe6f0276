import net from 'node:net';
import { Buffer } from 'node:buffer';

/**
 * Every socket of the engine, client and node side, reads into this one buffer (the handle's user
 * buffer: tcp-socket.ts, or net's `onread` on the net.Socket path), so a
 * read allocates nothing and skips the Readable stream machinery: about 1 µs of CPU less per read
 * (measured on each side). Reads run one at a time on the event loop, so one buffer serves all
 * sockets, but a chunk is only valid during the callback that received it: whatever outlives it
 * (bytes queued on a socket, a partial head, a kept body) must go through `owned` first.
 */
export const READ_ARENA = Buffer.allocUnsafe(64 * 1024);

/**
 * The arena's memory, read once. A view's `.buffer` is an accessor V8 does not inline (a call into C++
 * each time), so comparing against a constant halves what the check costs on every write.
 */
const ARENA_MEMORY = READ_ARENA.buffer;

/** `b` lies in READ_ARENA: the next read overwrites it. */
export function inReadArena(b: Uint8Array): boolean {
  return b.buffer === ARENA_MEMORY;
}

/** `b` itself, or a copy of it when it lies in READ_ARENA (which the next read overwrites). */
export function owned(b: Buffer): Buffer {
  return b.buffer === ARENA_MEMORY ? copyOf(b) : b;
}

/** A copy of `b` (for a caller that already knows it lies in the arena). */
export function copyOf(b: Buffer): Buffer {
  const copy = Buffer.allocUnsafe(b.length);
  copy.set(b); // TypedArray#set: Buffer#copy reaches the same memcpy through checks and generic loads
  return copy;
}

/** The chunk a read callback gets: the first `n` bytes of `buf` (the arena, or a buffer of net's own). */
export function arenaView(buf: Uint8Array, n: number): Buffer {
  return buf === READ_ARENA ? Buffer.from(ARENA_MEMORY, 0, n) : Buffer.from(buf.buffer, buf.byteOffset, n);
}

/**
 * Callback of an arena read; `this` is the socket. Returns true (pausing goes through socket.pause()).
 */
export type ArenaReader = (this: net.Socket, n: number, buf: Uint8Array) => boolean;

/**
 * net.Socket keeps the `onread` settings under private symbols that only its constructor sets, and a
 * server never passes `onread` to the sockets it accepts. We find the symbols once on a probe socket
 * and set them on accepted ones, as the constructor would. If a Node version lays them out otherwise,
 * `readIntoArena` says no and the caller reads through 'data' events as usual.
 */
const symbols = ((): { buffer: symbol; callback: symbol; generator: symbol } | null => {
  // @types/node does not list `onread` for the constructor, but net.Socket takes it there.
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as net.SocketConstructorOpts);
  const own = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
  probe.destroy();
  const buffer = own.get('kBuffer');
  const callback = own.get('kBufferCb');
  const generator = own.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : null;
})();

interface ArenaHandle {
  useUserBuffer?(buf: Uint8Array): void;
  reading?: boolean;
}

/**
 * Makes a socket accepted with `pauseOnConnect` read into the arena, calling `reader` with `this` =
 * the socket; the caller then calls socket.resume(). False (nothing changed) when not possible.
 */
export function readIntoArena(socket: net.Socket, reader: ArenaReader): boolean {
  const handle = (socket as unknown as { _handle: ArenaHandle | null })._handle;
  if (symbols === null || handle === null || typeof handle.useUserBuffer !== 'function' || handle.reading) return false;
  const s = socket as unknown as Record<symbol, unknown>;
  s[symbols.buffer] = READ_ARENA;
  s[symbols.callback] = reader;
  s[symbols.generator] = null;
  handle.useUserBuffer(READ_ARENA);
  return true;
}
