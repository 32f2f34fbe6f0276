/**
 * The floor of the benchmark: the least CPU per request any Node.js proxy can spend on this machine.
 * A TCP relay on Node's own TCP handles, below net.Socket: each client connection gets one connection
 * to a backend (round robin) and bytes are passed on as they come, both ways, with no HTTP parsing, no
 * routing, no timers and nothing allocated per read but the view of the bytes read. Per request it does what every proxy must (one read
 * and one write on each side) and nothing else, so what it costs beyond nginx is the price of running
 * the loop and the callbacks in Node, which no engine written in JavaScript can get under.
 *
 * Not a proxy to use: no HTTP at all (a client's requests all go to its one backend connection).
 *
 *   node dist/bench/node-floor.js --listen 127.0.0.1:PORT --nodes 127.0.0.1:A,127.0.0.1:B
 */
import { parseArgs } from 'node:util';

interface Handle {
  onread: (this: Handle) => void;
  onconnection?: (err: number, client: Handle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  writeBuffer(req: WriteReq, data: Buffer): number;
  setNoDelay(on: boolean): number;
  bind(host: string, port: number): number;
  listen(backlog: number): number;
  connect(req: ConnectReq, host: string, port: number): number;
  close(cb?: () => void): void;
  relay?: Side;
}
interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  side?: Side;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
}
interface Bindings {
  TCP: new (type: number) => Handle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number; SERVER: number };
}
interface StreamWrap {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

const binding = (process as unknown as { binding(name: string): unknown }).binding;
const tcp = binding('tcp_wrap') as Bindings;
const stream = binding('stream_wrap') as StreamWrap;

/** One direction's source: its own read buffer, which is never overwritten while a write of it is pending. */
class Side {
  readonly buf = Buffer.allocUnsafe(64 * 1024);
  peer: Side | null = null;
  closed = false;
  private spare = this.writeReq();

  constructor(readonly handle: Handle) {
    handle.relay = this;
    handle.onread = onRead;
    handle.setNoDelay(true);
    handle.useUserBuffer(this.buf);
  }

  read(nread: number): void {
    const peer = this.peer;
    if (nread <= 0) {
      if (nread < 0) this.close();
      return;
    }
    if (peer === null || peer.closed) return;
    const err = peer.handle.writeBuffer(this.spare, this.buf.subarray(0, nread));
    if (err !== 0) this.close();
    else if (stream.streamBaseState[stream.kLastWriteWasAsync] !== 0) {
      // The kernel did not take it all: the rest is sent from this buffer, so stop reading into it.
      this.spare = this.writeReq();
      this.handle.readStop();
    }
  }

  /** A queued write of this side's bytes went out (or failed): read again. */
  written(status: number): void {
    if (status < 0) this.close();
    else if (!this.closed) this.handle.readStart();
  }

  private writeReq(): WriteReq {
    const req = new stream.WriteWrap();
    req.oncomplete = onWritten;
    req.side = this;
    return req;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
    this.peer?.close();
  }
}

function onWritten(this: WriteReq, status: number): void {
  this.side!.written(status);
}

function onRead(this: Handle): void {
  this.relay!.read(stream.streamBaseState[stream.kReadBytesOrError]!);
}

const { values } = parseArgs({ options: { listen: { type: 'string' }, nodes: { type: 'string' } } });
const [host, port] = (values.listen ?? '127.0.0.1:8091').split(':') as [string, string];
const nodes = (values.nodes ?? '')
  .split(',')
  .filter((n) => n !== '')
  .map((n) => n.split(':') as [string, string]);
let next = 0;

const server = new tcp.TCP(tcp.constants.SERVER);
server.onconnection = (err, clientHandle) => {
  if (err !== 0) return;
  const client = new Side(clientHandle);
  const [nodeHost, nodePort] = nodes[next++ % nodes.length]!;
  const upstream = new Side(new tcp.TCP(tcp.constants.SOCKET));
  client.peer = upstream;
  upstream.peer = client;
  const req = new tcp.TCPConnectWrap();
  req.oncomplete = (status) => {
    if (status < 0) return client.close();
    upstream.handle.setNoDelay(true);
    upstream.handle.readStart();
    client.handle.readStart(); // only now: what the client sent meanwhile waits in the kernel
  };
  if (upstream.handle.connect(req, nodeHost, Number(nodePort)) !== 0) client.close();
};
if (server.bind(host, Number(port)) !== 0 || server.listen(511) !== 0) {
  process.stderr.write(`node-floor: cannot listen on ${host}:${port}\n`);
  process.exit(1);
}
process.stdout.write(`node-floor listening on ${host}:${port}\n`);
process.on('SIGTERM', () => process.exit(0));
