/**
 * A tiny authoritative DNS server over UDP for tests (A, AAAA and SRV), whose records can be changed
 * between lookups. Enough of RFC 1035 for node:dns: one question per query, answers without name
 * compression, NXDOMAIN for a name it has no record of, an empty answer for a type it lacks.
 */
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export interface SrvRecord {
  readonly priority?: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface DnsRecords {
  readonly a?: Readonly<Record<string, readonly string[]>>;
  readonly aaaa?: Readonly<Record<string, readonly string[]>>;
  readonly srv?: Readonly<Record<string, readonly SrvRecord[]>>;
}

export interface TestDnsServer {
  /** "127.0.0.1:port", for Resolver.setServers. */
  readonly address: string;
  records: DnsRecords;
  /** Answer SERVFAIL to everything while true. */
  servfail: boolean;
  /** Queries answered so far. */
  readonly queries: number;
  stop(): Promise<void>;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, '')
    .split('.')
    .filter((l) => l !== '');
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head === '' ? [] : head!.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function record(name: Buffer, type: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // IN
  fixed.writeUInt32BE(0, 4); // TTL 0: nothing caches what the test changes
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

function answer(query: Buffer, records: DnsRecords, servfail: boolean): Buffer | null {
  if (query.length < 12) return null;
  // The question: labels, then type and class.
  let at = 12;
  const labels: string[] = [];
  while (at < query.length && query[at] !== 0) {
    const len = query[at]!;
    labels.push(query.subarray(at + 1, at + 1 + len).toString('ascii'));
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > query.length) return null;
  const qtype = query.readUInt16BE(at);
  const question = query.subarray(12, at + 4);
  const name = labels.join('.').toLowerCase();
  const lookup = <T>(table: Readonly<Record<string, readonly T[]>> | undefined): readonly T[] | undefined =>
    table === undefined ? undefined : Object.entries(table).find(([k]) => k.toLowerCase() === name)?.[1];
  const a = lookup(records.a);
  const aaaa = lookup(records.aaaa);
  const srv = lookup(records.srv);
  const answers: Buffer[] = [];
  const qname = encodeName(name);
  if (qtype === TYPE.A)
    for (const ip of a ?? []) if (isIPv4(ip)) answers.push(record(qname, TYPE.A, Buffer.from(ip.split('.').map(Number))));
  if (qtype === TYPE.AAAA) for (const ip of aaaa ?? []) if (isIPv6(ip)) answers.push(record(qname, TYPE.AAAA, ipv6Bytes(ip)));
  if (qtype === TYPE.SRV) {
    for (const s of srv ?? []) {
      const head = Buffer.alloc(6);
      head.writeUInt16BE(s.priority ?? 0, 0);
      head.writeUInt16BE(s.weight, 2);
      head.writeUInt16BE(s.port, 4);
      answers.push(record(qname, TYPE.SRV, Buffer.concat([head, encodeName(s.target)])));
    }
  }
  const known = a !== undefined || aaaa !== undefined || srv !== undefined;
  const rcode = servfail ? 2 : known ? 0 : 3;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  // QR, the query's opcode and RD, AA, RA, rcode.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(servfail ? 0 : answers.length, 6);
  return Buffer.concat([header, question, ...(servfail ? [] : answers)]);
}

export async function startDnsServer(records: DnsRecords = {}): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4');
  let queries = 0;
  const server = {
    address: '',
    records,
    servfail: false,
    get queries() {
      return queries;
    },
    stop: () => new Promise<void>((r) => socket.close(() => r())),
  };
  socket.on('message', (msg, from) => {
    const reply = answer(msg, server.records, server.servfail);
    if (reply === null) return;
    queries++;
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
