// An S3 object downloaded into a local file (Go: weed/storage/backend/s3_backend/s3_download.go
// downloadFromS3, s3manager's Downloader writing parts at their offsets). The object is fetched
// as ranged GETs of PART_SIZE, several at once, each written at its own position in the file; a
// part cut short is asked for again from where it stopped. The first GET also tells the size
// (its Content-Range), so no HEAD is needed and a missing object answers NoSuchKey.
//
// Memory: a part in flight holds its socket's buffers and two WRITE_BATCH staging buffers; with
// at most MAX_PARTS_IN_FLIGHT parts that is ≤ 16 × ~2.1 MiB whatever the object size (5 parts by
// default: about 11 MiB).
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ProgressReporter, ShortBodyError, runParts, withRetry, type Progress } from './transfer-support.js';

const MiB = 1024 * 1024;
/** Range of one GET (Go's Downloader uses 64 MiB; smaller spreads the tail over the workers). */
const PART_SIZE = 16 * MiB;
/** Body chunks gathered into one positional write. */
const WRITE_BATCH = MiB;

export interface DownloadSource {
  client: S3Client;
  bucket: string;
  key: string;
}

/**
 * Streams `body` into the file from `start`; it must carry exactly `length` bytes. The chunks are
 * gathered in two reused buffers of WRITE_BATCH: one fills from the socket while the other is
 * being written (fewer, larger writes, the socket kept flowing, nothing left to the garbage
 * collector). A body that ends early throws ShortBodyError once what it carried is written
 * (`onWritten` counts it, so a retry resumes there). Returns only when no write is in flight.
 */
async function writeBody(fh: FileHandle, body: AsyncIterable<Uint8Array>, start: number, length: number, reporter: ProgressReporter, onWritten: (n: number) => void): Promise<void> {
  const size = Math.max(1, Math.min(WRITE_BATCH, length));
  const stages = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  let stage = stages[0];
  let pos = start;
  let staged = 0;
  let writing: Promise<void> | undefined;
  const writeAt = async (buf: Buffer, n: number, at: number) => {
    for (let off = 0; off < n; ) {
      const { bytesWritten } = await fh.write(buf, off, n - off, at + off);
      off += bytesWritten;
    }
    onWritten(n);
    reporter.add(n);
  };
  /** Waits for the write before, then starts writing the staged bytes and swaps buffers. */
  const flush = async () => {
    if (writing) await writing;
    writing = undefined;
    const failed = reporter.failed;
    if (failed !== undefined) throw failed;
    if (staged === 0) return;
    writing = writeAt(stage, staged, pos);
    writing.catch(() => undefined); // awaited by the next flush or at the end
    pos += staged;
    staged = 0;
    stage = stage === stages[0] ? stages[1] : stages[0];
  };
  try {
    for await (const raw of body) {
      if (pos + staged + raw.length > start + length) throw new Error(`the object sent more than the ${length} bytes asked for at ${start}`);
      for (let off = 0; off < raw.length; ) {
        const n = Math.min(stage.length - staged, raw.length - off);
        stage.set(raw.subarray(off, off + n), staged);
        staged += n;
        off += n;
        if (staged === stage.length) await flush();
      }
    }
    await flush();
    if (writing) await writing;
  } finally {
    // nothing may still write to the file once this returns or throws
    if (writing) await writing.catch(() => undefined);
  }
  if (pos !== start + length) throw new ShortBodyError(`the object's body ended at ${pos}, short of ${start + length}`);
}

function bodyOf(out: GetObjectCommandOutput): AsyncIterable<Uint8Array> {
  const body = out.Body as AsyncIterable<Uint8Array> | undefined;
  if (!body) throw new Error('empty body');
  return body;
}

/** Downloads the whole object into `path` (created or emptied), fsynced; returns its size. */
export async function downloadObject(src: DownloadSource, path: string, progress: Progress, width: number): Promise<number> {
  const get = (range: string | undefined, signal?: AbortSignal) =>
    src.client.send(new GetObjectCommand({ Bucket: src.bucket, Key: src.key, Range: range }), signal ? { abortSignal: signal } : undefined);
  const fh = await open(path, 'w', 0o644);
  try {
    let first: GetObjectCommandOutput;
    try {
      first = await get(`bytes=0-${PART_SIZE - 1}`);
    } catch (e) {
      // an empty object has no byte 0: fetch it whole
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 416) throw e;
      first = await get(undefined);
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(first.ContentRange ?? '');
    if (!range || Number(range[1]) !== 0) {
      // the whole object in one answer (empty, or a server that ignores ranges)
      const total = Number(first.ContentLength ?? 0);
      const reporter = new ProgressReporter(progress, total);
      await writeBody(fh, bodyOf(first), 0, total, reporter, () => undefined);
      await reporter.finish();
      await fh.sync();
      return total;
    }
    const total = Number(range[3]);
    const reporter = new ProgressReporter(progress, total);
    const count = Math.ceil(total / PART_SIZE);
    await runParts(count, width, async (i, signal) => {
      const start = i * PART_SIZE;
      const length = Math.min(PART_SIZE, total - start);
      let done = 0;
      await withRetry(signal, () => reporter.failed, async (attempt) => {
        let out: GetObjectCommandOutput;
        if (i === 0 && attempt === 1) {
          // the answer already open carries part 0; it stops with the others on a failure
          out = first;
          signal.addEventListener('abort', () => (first.Body as { destroy?: () => void } | undefined)?.destroy?.(), { once: true });
        } else {
          out = await get(`bytes=${start + done}-${start + length - 1}`, signal);
        }
        await writeBody(fh, bodyOf(out), start + done, length - done, reporter, (n) => (done += n));
      });
    });
    await reporter.finish();
    await fh.sync();
    return total;
  } finally {
    await fh.close();
  }
}
