/** Raised (and answered as 503) when no node of the ranking is up. The message is the original's. */
export class NoFallbackNodeError extends Error {
  constructor() {
    super('no fallback node found - whole cluster seems offline');
    this.name = 'NoFallbackNodeError';
  }
}

/**
 * Socket errors that come from a node's host answering: refused (nothing listens, or the listener is
 * closed while the process finishes what it has) or reset.
 */
const ANSWERED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * The node's host answered the connection that failed with `code`. Any other failure (unreachable, timed
 * out) is silence, which lets requests written to the node move (see HealthChangeListener's `silent`).
 */
export function hostAnswered(code: string | undefined): boolean {
  return code !== undefined && ANSWERED.has(code);
}

/** Bad configuration given to the command or the library: one clear line, exit status 2 for the CLI. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
