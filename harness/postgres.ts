/**
 * PostgreSQL for tests: the machine's server (FNLB_TEST_PG, default postgres://postgres@127.0.0.1:5432/test),
 * a table prefix of its own per test (so tests never see each other's rows), plain SQL behind the
 * registry's back, a logger that keeps its lines, and a TCP proxy that can cut the database off.
 */
import net from 'node:net';
import pg from 'pg';
import pino, { type Logger } from 'pino';

export const TEST_PG_URL = process.env['FNLB_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;

/** A prefix no other test (or test process) uses: t_<label>_<pid>_<n>_. */
export function uniquePrefix(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 12);
  return `t_${clean}_${process.pid}_${++counter}_`;
}

/** One statement on a connection of its own (bounded by 5 s). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000, query_timeout: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Drops the registry table of a prefix (the end of every test). */
export async function dropRegistry(prefix: string): Promise<void> {
  await sql(`DROP TABLE IF EXISTS "${prefix}nodes"`);
}

/** Closes every connection of an application_name, as an operator (or a failover) would; how many were closed. */
export async function terminateBackends(applicationName: string): Promise<number> {
  const rows = await sql<{ ok: boolean }>(
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [applicationName],
  );
  return rows.filter((r) => r.ok).length;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A pino logger that keeps its lines in memory (debug and up). */
export function memoryLogger(): { log: Logger; lines: LogLine[]; count(msg: string): number } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines, count: (msg) => lines.filter((l) => l.msg === msg).length };
}

/** A port nothing listens on (taken, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A TCP proxy to the database that can be cut (connections reset, new ones refused) and restored on the same port. */
export interface CuttableProxy {
  readonly port: number;
  readonly url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function cuttableProxy(target = new URL(TEST_PG_URL)): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const open = async (): Promise<void> => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const shut = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.resetAndDestroy();
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
  };
  await open();
  const url = new URL(TEST_PG_URL);
  url.host = `127.0.0.1:${port}`;
  return { port, url: url.toString(), cut: shut, restore: open, close: shut };
}
