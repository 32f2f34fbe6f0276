/**
 * Finds response boundaries in an HTTP/1.1 byte stream. Content-Length framing only: the nginx
 * backends always send it and nginx, HAProxy and fnlb pass it through; chunked is refused loudly
 * rather than miscounted.
 */
export class ResponseReader {
  private pending: Buffer | null = null;
  private bodyLeft = 0;
  private status = 0;
  private close = false;

  constructor(private readonly onResponse: (status: number, close: boolean) => void) {}

  feed(chunk: Buffer): void {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    while (off < data.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, data.length - off);
        this.bodyLeft -= n;
        off += n;
        if (this.bodyLeft === 0) this.onResponse(this.status, this.close);
        continue;
      }
      const end = data.indexOf('\r\n\r\n', off, 'latin1');
      if (end < 0) {
        this.pending = Buffer.from(data.subarray(off));
        return;
      }
      const head = data.toString('latin1', off, end);
      off = end + 4;
      if (/\r\ntransfer-encoding:/i.test(head)) throw new Error('chunked responses are not supported');
      this.status = Number(head.slice(9, 12));
      this.close = /\r\nconnection:[ \t]*close/i.test(head);
      this.bodyLeft = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.bodyLeft === 0) this.onResponse(this.status, this.close);
    }
  }
}

export function getRequest(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`;
}
