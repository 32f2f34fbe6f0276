/**
 * A tiny IronFunctions-like function node for the demo.
 *
 *   node dist/scripts/demo-node.js --name node1 --port 8091 [--host 127.0.0.1]
 *
 * GET /version        → {"version":"0.2.72"}
 * GET /               → pong
 * ANY /r/{app}/{route} → {"node", "app", "route", "calls", "hot"}: `calls` counts the calls of this
 *                        function (app + route; the query string is input, not identity) on this node,
 *                        `hot` is calls > 1 — like a hot container that only this node has.
 * Prints `{"ready":true,"name":...,"port":...,"pid":...}` when listening; exits 98 if the port is taken.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface DemoNode {
  name: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function startDemoNode(name: string, port: number, host = '127.0.0.1'): Promise<DemoNode> {
  const calls = new Map<string, number>();
  const server = http.createServer((req, res) => {
    res.setHeader('X-Node', name);
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://node.invalid').pathname;
      if (path === '/version' && req.method === 'GET') return json(res, 200, { version: '0.2.72' });
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 5 });
        res.end('pong\n');
        return;
      }
      const m = /^\/r\/([^/]+)(\/.*)$/.exec(path);
      if (m) {
        const app = decodeURIComponent(m[1]!);
        const route = m[2]!;
        const key = `${app} ${route}`;
        const n = (calls.get(key) ?? 0) + 1;
        calls.set(key, n);
        return json(res, 200, { node: name, app, route, calls: n, hot: n > 1 });
      }
      json(res, 404, { error: { message: 'Not found' } });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        name,
        port: (server.address() as AddressInfo).port,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
  };
  const name = get('--name', 'node');
  const port = Number(get('--port', '0'));
  const host = get('--host', '127.0.0.1');
  let node: DemoNode;
  try {
    node = await startDemoNode(name, port, host);
  } catch (err) {
    process.stderr.write(`demo node ${name}: cannot listen on ${host}:${port}: ${String(err)}\n`);
    process.exit((err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 98 : 1);
  }
  process.stdout.write(JSON.stringify({ ready: true, name, port: node.port, pid: process.pid }) + '\n');
  const stop = (): void => {
    void node.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
