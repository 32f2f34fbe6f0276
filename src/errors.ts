/** Raised (and answered as 503) when no node of the ranking is up. The message is the original's. */
export class NoFallbackNodeError extends Error {
  constructor() {
    super('no fallback node found - whole cluster seems offline');
    this.name = 'NoFallbackNodeError';
  }
}

/** Bad configuration given to the command or the library: one clear line, exit status 2 for the CLI. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
