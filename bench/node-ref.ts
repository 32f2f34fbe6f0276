/**
 * The reference proxy of the benchmark: fnlb's routing on Node's standard stack (node:http in front,
 * an undici Pool per node behind). It shows, in the same run, what fnlb's own HTTP/1.1 engine buys.
 * Same function key, same rendezvous ranking (the project's own modules), keep-alive on both sides,
 * bodies streamed. No health checks, no fallback, no retries: the bench's nodes never fail, and this
 * is the least a Node proxy must do, so any gap to fnlb is the engine's doing.
 *
 *   node dist/bench/node-ref.js --listen 127.0.0.1:PORT --nodes 127.0.0.1:A,127.0.0.1:B
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { Ranking } from '../src/hashing/rendezvous.js';
import { functionKey } from '../src/hashing/routing-key.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, nodes: { type: 'string' } } });
const [host, port] = (values.listen ?? '127.0.0.1:8090').split(':') as [string, string];
const nodes = (values.nodes ?? '').split(',').filter((n) => n !== '');
const pools = nodes.map((n) => new Pool(`http://${n}`, { connections: 256, pipelining: 1 }));
const ranking = new Ranking(nodes.map((id) => ({ id, weight: 1 })));

/** Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The client's fields minus hop-by-hop ones, as undici takes them: a flat [name, value, ...] list. */
function endToEnd(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const url = req.url ?? '/';
  const pool = pools[ranking.rank(functionKey(url))[0]!]!;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool
    .request({ path: url, method: req.method as 'GET', headers: endToEnd(req.rawHeaders), body: hasBody ? req : null })
    .then(({ statusCode, headers, body }) => {
      const fields: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(k)) fields[k] = v;
      res.writeHead(statusCode, fields);
      body.pipe(res);
    })
    .catch((err: Error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${err.message}\n`);
    });
});
server.listen(Number(port), host, () => process.stdout.write(`node-ref listening on ${host}:${port}\n`));
process.on('SIGTERM', () => process.exit(0));
