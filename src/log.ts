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

export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
    const stream = (logger as unknown as Record<symbol, { flushSync?: () => void }>)[pino.symbols.streamSym];
    stream?.flushSync?.();
  } catch {
    // nothing more we can do while exiting
  }
}
