/**
 * The registry's connection URL (--registry, FNLB_REGISTRY): postgres:// or postgresql://, as node-postgres
 * takes it. The password must never reach a log line or /v1/config, so every message here goes through
 * redactUrl, and a text that is not a URL at all is never echoed (it might be a password pasted wrongly).
 */
import { ConfigError } from '../errors.js';

const SCHEMES = new Set(['postgres:', 'postgresql:']);
const EXAMPLE = 'use postgres://user@host:5432/db';

/** Checks a registry URL and returns it trimmed; throws ConfigError `--registry: ...` (password redacted). */
export function parseRegistryUrl(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') throw new ConfigError(`--registry: empty URL; ${EXAMPLE}`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new ConfigError(`--registry: not a URL; ${EXAMPLE}`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new ConfigError(
      `--registry: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))} in ${redactUrl(trimmed)}; ${EXAMPLE}`,
    );
  }
  if (url.hostname === '') throw new ConfigError(`--registry: no host in ${redactUrl(trimmed)}; ${EXAMPLE}`);
  return trimmed;
}

/** The URL with its password (user info or ?password=) replaced by <redacted>, for logs and /v1/config. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return '<redacted>';
  }
  // Built by hand: setting url.password would percent-encode the marker.
  const user = url.username === '' ? '' : `${url.username}${url.password === '' ? '' : ':<redacted>'}@`;
  const search = url.search
    .slice(1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => (/^password=/i.test(p) ? 'password=<redacted>' : p))
    .join('&');
  return `${url.protocol}//${user}${url.host}${url.pathname}${search === '' ? '' : `?${search}`}`;
}

const PREFIX = /^[a-z_][a-z0-9_]{0,40}$/;

/** Throws ConfigError unless the prefix is safe to use in an identifier (the table and channel names). */
export function checkTablePrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new ConfigError(
      `--registry-prefix: invalid table prefix ${JSON.stringify(prefix)} (lowercase letters, digits and _, at most 41)`,
    );
  }
  return prefix;
}
