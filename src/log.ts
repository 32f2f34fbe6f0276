import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Writes are asynchronous (never block the event loop on a slow terminal or pipe);
 * call flushLogger before exiting.
 */
export function createLogger(level: string, bindings?: Record<string, unknown>): Logger {
  return pino(
    { level, base: bindings ?? undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    // Writes of at most PIPE_BUF bytes stay whole when several worker processes share one stdout pipe.
    pino.destination({ dest: 1, sync: false, maxWrite: 4096 }),
  );
}

interface Destination {
  _writing?: boolean;
  _len?: number;
  once?(event: 'drain', listener: () => void): unknown;
  flushSync?: () => void;
}

function destinationOf(logger: Logger): Destination | undefined {
  return (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
}

/**
 * Exits with `code` once every log line written so far has reached stdout, in order: waits for the
 * asynchronous destination to drain (a pipe read slowly may take a while), at most `limitMs`, then
 * flushes what is left synchronously. Nothing is lost when stdout is a pipe, as it is under systemd,
 * Docker or `| tee`.
 */
export function exitAfterLogs(logger: Logger, code: number, limitMs = 5000): void {
  let exited = false;
  const exit = (): void => {
    if (exited) return;
    exited = true;
    flushLogger(logger);
    process.exit(code);
  };
  const dest = destinationOf(logger);
  if (dest?.once === undefined || (dest._writing !== true && (dest._len ?? 0) === 0)) {
    exit();
    return;
  }
  dest.once('drain', exit);
  setTimeout(exit, limitMs);
}

export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
    const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym];
    stream?.flushSync?.();
  } catch {
    // nothing more we can do while exiting
  }
}
