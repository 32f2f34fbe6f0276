/**
 * A message we refuse to frame. `status` is what the client gets (400, 413, 417, 431, 501, 505);
 * the connection is always closed afterwards, since we can no longer trust where the next message starts.
 */
export class FramingError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}
