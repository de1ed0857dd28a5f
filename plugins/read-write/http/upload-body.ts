// The request body of an upload, pulled from the socket chunk by chunk with backpressure, and the
// error an upload the client got wrong raises. Go reads the body through the request's io.Reader
// (weed/storage/needle/needle_parse_upload.go parseUpload, io.LimitReader(r.Body, sizeLimit+1)).
import type { Readable } from 'node:stream';

/** An upload the client got wrong: the write answers 400 with this text. */
export class UploadError extends Error {}

export function fileOverLimit(limit: number): UploadError {
  return new UploadError(`file over the limited ${limit} bytes`);
}

// ------------------------------------------------------------------ body reader

/** Pulls chunks from a request stream with backpressure (nothing is read ahead beyond the stream's buffer). */
export class BodyReader {
  private failure: Error | undefined;

  constructor(private readonly s: Readable) {
    s.on('error', (e) => {
      this.failure ??= e;
    });
  }

  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw new UploadError('unexpected EOF');
      const c = this.s.read() as Buffer | null;
      if (c !== null) return c;
      if (this.s.readableEnded) return null;
      if (this.s.destroyed) throw new UploadError('unexpected EOF');
      await new Promise<void>((resolve) => {
        const done = () => {
          this.s.off('readable', done);
          this.s.off('end', done);
          this.s.off('close', done);
          this.s.off('error', done);
          resolve();
        };
        this.s.on('readable', done);
        this.s.on('end', done);
        this.s.on('close', done);
        this.s.on('error', done);
      });
    }
  }

  /**
   * Discards the rest of the body (as Go drains it) and resolves once it has all arrived. Answers
   * must wait for this: node stops reading a request whose response has already been sent, which
   * would leave a client that is still sending stuck.
   */
  finish(): Promise<void> {
    this.s.removeAllListeners('readable');
    return drainRequest(this.s);
  }
}

/** Reads and discards whatever is left of a request body; resolves at its end (or when the socket goes). */
export function drainRequest(s: Readable): Promise<void> {
  if (s.readableEnded || s.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      s.off('end', done);
      s.off('close', done);
      s.off('error', done);
      resolve();
    };
    s.on('end', done);
    s.on('close', done);
    s.on('error', done);
    s.resume();
  });
}

/** Reads a whole raw body, failing as soon as it grows past `limit`. */
export async function readLimited(body: BodyReader, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const c = await body.next();
    if (!c) break;
    total += c.length;
    if (total > limit) throw fileOverLimit(limit);
    chunks.push(c);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
