import type { Duplex } from 'node:stream';
import { util, type Dispatcher } from 'undici';

/**
 * The callbacks a dispatcher makes to its caller, in undici's first (onConnect/onHeaders) style: the one
 * undici's fetch and request, and Node's own fetch, pass. A handler in the newer controller style
 * (onRequestStart/onResponseStart) is adapted to it, as undici's own dispatchers do.
 */
export interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | Buffer[] | null): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void;
  onBodySent?(chunkSize: number, totalBytesSent: number): void;
}

type ControllerHandler = Required<Pick<Dispatcher.DispatchHandler, 'onRequestStart'>> & Dispatcher.DispatchHandler;

/** The handler as a LegacyHandler (itself when it already is one). */
export function legacyHandler(handler: Dispatcher.DispatchHandler): LegacyHandler {
  return typeof handler.onRequestStart === 'function' ? new ControllerAdapter(handler as ControllerHandler) : (handler as LegacyHandler);
}

function headersOf(raw: ReadonlyArray<Buffer | string> | null | undefined): Record<string, string | string[]> {
  return raw == null ? {} : (util.parseHeaders(raw as Buffer[]) as Record<string, string | string[]>);
}

/** A controller-style handler driven by legacy callbacks. */
class ControllerAdapter implements LegacyHandler {
  private readonly controller = new Controller();

  constructor(private readonly handler: ControllerHandler) {}

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    this.controller.abortFn = abort;
    this.handler.onRequestStart(this.controller, context);
  }

  onResponseStarted(): void {
    (this.handler as { onResponseStarted?: () => void }).onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.controller.resumeFn = resume;
    this.handler.onResponseStart?.(this.controller, statusCode, headersOf(headers), statusText);
    return !this.controller.paused;
  }

  onData(chunk: Buffer): boolean {
    this.handler.onResponseData?.(this.controller, chunk);
    return !this.controller.paused;
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.handler.onResponseEnd?.(this.controller, headersOf(trailers));
  }

  onError(err: Error): void {
    if (this.handler.onResponseError === undefined) throw err;
    this.handler.onResponseError(this.controller, err);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.handler.onRequestUpgrade?.(this.controller, statusCode, headersOf(headers), socket);
  }
}

class Controller implements Dispatcher.DispatchController {
  abortFn: ((err?: Error) => void) | null = null;
  resumeFn: (() => void) | null = null;
  private isPaused = false;
  private abortReason: Error | null = null;
  private isAborted = false;

  get aborted(): boolean {
    return this.isAborted;
  }
  get paused(): boolean {
    return this.isPaused;
  }
  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.abortFn?.(reason);
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.resumeFn?.();
  }
}
