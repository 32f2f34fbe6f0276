/** Responses fnlb writes itself: small JSON errors and the interim 100 Continue. */
import { Buffer } from 'node:buffer';

export const CONTINUE_100 = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** A complete JSON error response; `close` adds Connection: close (the caller then ends the socket). */
export function errorResponse(status: number, message: string, close: boolean): Buffer {
  const body = JSON.stringify({ error: message });
  const head =
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n';
  return Buffer.from(head + body, 'utf8');
}
