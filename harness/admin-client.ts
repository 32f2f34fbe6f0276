/**
 * Plain HTTP calls for black-box tests of fnlb's admin listener and of its routing: one request per
 * connection (no keep-alive, so a test never holds a pooled socket across a restart), the body as given.
 */
import http from 'node:http';
import type { FnlbProcess } from './processes.js';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** One request; resolves with the whole answer (JSON parsed when it is JSON). */
export function call(url: string, method = 'GET', body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const framing = body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) };
    const req = http.request(url, { method, agent: false, headers: { ...framing, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = undefined;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`timeout ${method} ${url}`)));
    req.end(body);
  });
}

/** An admin API call; an object body is sent as JSON. */
export function adminCall(
  lb: FnlbProcess,
  path: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return call(`${lb.adminUrl}${path}`, method, text, text === undefined ? headers : { 'Content-Type': 'application/json', ...headers });
}

/** The node (the backend's name, from its X-Node header) that answered a function call through fnlb. */
export async function servedBy(lb: FnlbProcess, path: string): Promise<{ status: number; node: string | undefined }> {
  const a = await call(`${lb.url}${path}`);
  return { status: a.status, node: a.headers['x-node'] as string | undefined };
}
