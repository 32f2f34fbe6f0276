import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';
import type { NodeAddress } from '../membership/address.js';

/**
 * Node addresses as the operator writes them:
 *
 *   host:port                 10.0.0.1:8080, fn-1.internal:8080, [::1]:8080
 *   http://host:port          http://10.0.0.1:8080, http://[::1]:8080
 *   http://host:port/base     base path kept, trailing slashes dropped ("/" means none)
 *   host:port/base            the same without the scheme
 *   ...=N                     optional weight suffix, N a positive number (default 1)
 *
 * A port is always required (no guessing 80). Hosts are host names (letters, digits, '-', '.'),
 * IPv4 addresses or bracketed IPv6 addresses; user info, queries, fragments, spaces and
 * https:// are rejected. The id is "host:port" (host name lowercased, IPv6 in canonical form
 * as "[addr]") plus the base path, so "10.0.0.1:8080" and "http://10.0.0.1:8080/" are the same node.
 */

/** Reason an address is invalid; wrapped into a ConfigError naming the whole value. */
class AddressProblem extends Error {}

function problem(reason: string): never {
  throw new AddressProblem(reason);
}

export interface HostPort {
  /** Host name (lowercased), IPv4 address, or IPv6 address in canonical form without brackets. */
  readonly host: string;
  readonly port: number;
  /** "host:port", IPv6 as "[addr]:port". */
  readonly id: string;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;:]|%[0-9A-Fa-f]{2})+$/;

function parseHost(text: string): { host: string; idHost: string } {
  if (text === '') problem('missing host');
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) problem('unterminated [ in IPv6 address');
    const addr = text.slice(1, -1);
    if (addr.includes('%')) problem('IPv6 zone ids are not supported');
    if (!isIPv6(addr)) problem(`invalid IPv6 address ${JSON.stringify(addr)}`);
    // The URL parser gives the canonical (compressed, lowercase) form.
    const canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
    return { host: canonical, idHost: `[${canonical}]` };
  }
  if (/^[0-9.]+$/.test(text)) {
    if (!isIPv4(text)) problem(`invalid IPv4 address ${JSON.stringify(text)}`);
    return { host: text, idHost: text };
  }
  const host = text.toLowerCase();
  if (host.length > 253 || !host.split('.').every((label) => label.length <= 63 && LABEL.test(label))) {
    problem(`invalid host ${JSON.stringify(text)}; use a host name, an IPv4 address or [IPv6]`);
  }
  return { host, idHost: host };
}

function parsePort(text: string, allowZero: boolean): number {
  if (text === '') problem('missing port');
  const min = allowZero ? 0 : 1;
  if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535) {
    problem(`invalid port ${JSON.stringify(text)}; must be ${min}..65535`);
  }
  return Number(text);
}

function splitHostPort(authority: string, allowPortZero: boolean): HostPort {
  if (authority === '') problem('missing host and port');
  let hostText: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) problem('unterminated [ in IPv6 address');
    hostText = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after === '') problem('missing port; use [addr]:port, e.g. [::1]:8080');
    if (!after.startsWith(':')) problem(`unexpected ${JSON.stringify(after)} after IPv6 address`);
    portText = after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    if (colon < 0) problem('missing port; use host:port, e.g. 10.0.0.1:8080');
    if (authority.indexOf(':', colon + 1) >= 0) problem('IPv6 addresses need brackets, e.g. [::1]:8080');
    hostText = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
  }
  const { host, idHost } = parseHost(hostText);
  const port = parsePort(portText, allowPortZero);
  return { host, port, id: `${idHost}:${port}` };
}

function checkCharacters(text: string): void {
  if (/\s/.test(text)) problem('spaces are not allowed');
  if (text.includes('@')) problem('user info (@) is not allowed');
  if (text.includes('?')) problem('a query (?) is not allowed');
  if (text.includes('#')) problem('a fragment (#) is not allowed');
  if (!/^[\x21-\x7e]*$/.test(text)) problem('only printable ASCII characters are allowed');
}

function parseBasePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '';
  for (const segment of trimmed.slice(1).split('/')) {
    if (segment === '') problem('empty segment (//) in base path');
    if (segment === '.' || segment === '..') problem('"." and ".." are not allowed in the base path');
    if (!SEGMENT.test(segment)) problem(`invalid base path ${JSON.stringify(path)}`);
  }
  return trimmed;
}

function parseWeight(text: string): number {
  const weight = Number(text);
  if (!/^\d+(?:\.\d+)?$/.test(text) || !Number.isFinite(weight) || weight <= 0) {
    problem(`invalid weight ${JSON.stringify(text)}; must be a positive number, e.g. =2`);
  }
  return weight;
}

function parseNode(text: string): NodeAddress {
  let rest = text.trim();
  if (rest === '') problem('empty');
  checkCharacters(rest);

  let weight = 1;
  const eq = rest.indexOf('=');
  if (eq >= 0) {
    if (rest.indexOf('=', eq + 1) >= 0) problem('more than one "="; the weight suffix is =N at the end');
    weight = parseWeight(rest.slice(eq + 1));
    rest = rest.slice(0, eq);
  }

  if (/^https?:\/?(?!\/)/i.test(rest) && !/^https?:\d/i.test(rest)) problem('malformed scheme; use http://host:port or host:port');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  if (scheme !== null) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'https') problem('https nodes are not supported yet');
    if (name !== 'http') problem(`unsupported scheme ${JSON.stringify(name)}; use http:// or host:port`);
    rest = rest.slice(scheme[0].length);
  }

  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const { host, port, id } = splitHostPort(authority, false);
  const basePath = parseBasePath(path);
  return { id: id + basePath, host, port, basePath, weight };
}

function wrap<T>(kind: string, text: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof AddressProblem) throw new ConfigError(`invalid ${kind} ${JSON.stringify(text)} (${err.message})`);
    throw err;
  }
}

/** Parses one node address (see the forms above); throws ConfigError `invalid node "<text>" (<reason>)`. */
export function parseNodeAddress(text: string): NodeAddress {
  return wrap('node', text, () => parseNode(text));
}

/**
 * Parses a comma-separated node list; items are trimmed. Rejects empty items, duplicate ids
 * ("duplicate node 10.0.0.1:8080") and an empty list ("no nodes given").
 */
export function parseNodeList(text: string): NodeAddress[] {
  if (text.trim() === '') throw new ConfigError('no nodes given');
  const nodes: NodeAddress[] = [];
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    if (item.trim() === '') throw new ConfigError(`empty item in node list ${JSON.stringify(text)}`);
    const node = parseNodeAddress(item.trim());
    if (seen.has(node.id)) throw new ConfigError(`duplicate node ${node.id}`);
    seen.add(node.id);
    nodes.push(node);
  }
  return nodes;
}

/**
 * Parses a bare "host:port" (IPv6 as "[::]:8081"), e.g. a listen address; no scheme, path or
 * weight. Port 0 is accepted only with `allowPortZero`. Throws ConfigError `invalid address "<text>" (<reason>)`.
 */
export function parseHostPort(text: string, options: { allowPortZero?: boolean } = {}): HostPort {
  return wrap('address', text, () => {
    checkCharacters(text);
    if (text.includes('/')) problem('expected host:port without scheme or path');
    return splitHostPort(text, options.allowPortZero ?? false);
  });
}
