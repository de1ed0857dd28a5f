// An S3 object downloaded into a local file, in the thread that calls it: the tier download's
// thread (transfer-thread.ts, started by s3-transfer.ts), whose event loop the synchronous file
// writes block (Go: weed/storage/backend/s3_backend/s3_download.go downloadFromS3, s3manager's
// Downloader writing parts at their offsets). The object is fetched as ranged GETs of PART_SIZE,
// several at once, each body written at its own position in the file straight from the socket
// (object-connection.ts); a part cut short is asked for again from where it stopped. The first GET also tells the size (its Content-Range), so no HEAD is needed and a
// missing object answers NoSuchKey. Every part's Content-Range must name the range asked for and
// the same total, so an object replaced mid-download fails the download instead of mixing two.
// The file's pages go to disk while the download runs (a datasync every FLUSH_EVERY bytes), so
// the fsync at the end, where Go's Downloader waits for the whole object's writeback, is short.
//
// The GETs bypass the S3 client: its per-chunk streams and buffers cost more CPU than the transfer
// itself (about 2 CPU s per GiB). They are signed here (sigv4.ts) for the URL the client's own
// endpoint rules give.
//
// Memory: a connection holds one STAGE_SIZE buffer; with at most MAX_PARTS_IN_FLIGHT (+1 for the
// first answer) connections that is ≤ 4.25 MiB whatever the object size (5 parts by default: 1.5 MiB).
import { open, type FileHandle } from 'node:fs/promises';
import { ConnectionPool, type ObjectRequest, type ObjectTarget } from './object-connection.js';
import { runParts, withRetry, type TransferHooks } from './transfer-support.js';

const MiB = 1024 * 1024;
/**
 * Range of one GET, Go's Downloader PartSize. Each GET costs the S3 server a lookup and a new read
 * of the object's chunks: against `weed` S3, 16 MiB ranges cost it ~0.2 CPU s more per GiB than
 * 64 MiB ones, more than the shorter tail saves.
 */
const PART_SIZE = 64 * MiB;
/**
 * Written bytes after which the file's dirty pages are sent to disk while the download goes on.
 * Go fsyncs only at the end, where the whole object's writeback then waits (~0.5 s per GiB on
 * a disk that writes ~2 GB/s); flushed as it comes, the final fsync finds little left.
 */
const FLUSH_EVERY = 128 * MiB;

/** fdatasync every `every` bytes written, one at a time, off the transfer's hot path. */
class Flusher {
  private pending = 0;
  private running: Promise<void> | undefined;
  private error: { e: unknown } | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly every: number,
  ) {}

  add(n: number): void {
    this.pending += n;
    if (this.running || this.pending < this.every) return;
    this.pending = 0;
    this.running = this.fh.datasync().then(
      () => void (this.running = undefined),
      (e: unknown) => {
        this.error ??= { e };
        this.running = undefined;
      },
    );
  }

  /** Waits for the flush in flight; throws what a flush failed with. */
  async settle(): Promise<void> {
    while (this.running) await this.running;
    if (this.error) throw this.error.e;
  }
}

const statusOf = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

/** `bytes <first>-<last>/<total>` of a 206 answer. */
function contentRange(headers: Map<string, string>): { first: number; last: number; total: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers.get('content-range') ?? '');
  return m ? { first: Number(m[1]), last: Number(m[2]), total: Number(m[3]) } : undefined;
}

/** Sizes a download uses (the defaults but in tests, which make several of each from a small object). */
export interface DownloadSizes {
  partSize: number;
  flushEvery: number;
}

export const DEFAULT_SIZES: DownloadSizes = { partSize: PART_SIZE, flushEvery: FLUSH_EVERY };

/** A download's hooks: also the object's size, known from the first answer, before any byte is written. */
export interface DownloadHooks extends TransferHooks {
  sized(total: number): void;
}

/** Downloads the whole object into `path` (created or emptied), fsynced; returns its size. `width` GETs at once. */
export async function fetchObject(target: ObjectTarget, path: string, width: number, hooks: DownloadHooks, { partSize, flushEvery }: DownloadSizes = DEFAULT_SIZES): Promise<number> {
  const pool = new ConnectionPool(target);
  const fh = await open(path, 'w', 0o644);
  try {
    const flusher = new Flusher(fh, flushEvery);
    const { stopped } = hooks;
    let total = -1;
    let whole = false;
    /** Counts written bytes into a part's counter (where its retry resumes), the caller's count and the flusher. */
    const written = (counter: { done: number }) => (n: number) => {
      counter.done += n;
      hooks.moved(n);
      flusher.add(n);
    };
    /** Bytes of part 0 the first answer wrote (a retry of part 0 resumes after them). */
    const first = { done: 0 };
    let sized!: () => void;
    const sizeKnown = new Promise<void>((resolve) => (sized = resolve));
    const firstAbort = new AbortController();
    const firstGet = (range: string | undefined): ObjectRequest => ({
      method: 'GET',
      range,
      fd: fh.fd,
      stopped,
      signal: firstAbort.signal,
      onWritten: written(first),
      place: (status, headers, length) => {
        const r = contentRange(headers);
        if (status === 206 && r) {
          if (r.first !== 0 || r.last !== Math.min(partSize, r.total) - 1 || length !== r.last + 1) {
            throw new Error(`the S3 server answered bytes ${r.first}-${r.last}/${r.total} (${length} bytes) to ${range ?? 'a GET'}`);
          }
          total = r.total;
        } else {
          // the whole object in one answer (empty, or a server that ignores ranges)
          total = length;
          whole = true;
        }
        hooks.sized(total);
        sized();
        return 0;
      },
    });
    /** Starts the first GET; returns its body's promise once the answer's head came. */
    const start = async (range: string | undefined): Promise<{ body: Promise<void> }> => {
      const body = pool.request(firstGet(range));
      body.catch(() => undefined); // awaited by part 0
      await Promise.race([sizeKnown, body]);
      return { body };
    };
    const never = new AbortController().signal;
    let part0: Promise<void>;
    try {
      ({ body: part0 } = await withRetry(never, stopped, () => start(`bytes=0-${partSize - 1}`)));
    } catch (e) {
      // an empty object has no byte 0: fetch it whole
      if (statusOf(e) !== 416) throw e;
      ({ body: part0 } = await withRetry(never, stopped, () => start(undefined)));
    }
    if (whole) {
      await part0;
    } else {
      const count = Math.ceil(total / partSize);
      await runParts(count, width, async (i, signal) => {
        const from = i * partSize;
        const length = Math.min(partSize, total - from);
        const counter = i === 0 ? first : { done: 0 };
        if (i === 0) signal.addEventListener('abort', () => firstAbort.abort(signal.reason), { once: true });
        await withRetry(signal, stopped, async (attempt) => {
          // the answer already open carries part 0; it stops with the others on a failure
          if (i === 0 && attempt === 1) return part0;
          const at = from + counter.done;
          const range = `bytes=${at}-${from + length - 1}`;
          await pool.request({
            method: 'GET',
            range,
            fd: fh.fd,
            stopped,
            signal,
            onWritten: written(counter),
            place: (status, headers, n) => {
              const r = contentRange(headers);
              if (status !== 206 || !r || r.first !== at || r.last !== from + length - 1 || r.total !== total || n !== length - counter.done) {
                throw new Error(`the S3 server answered ${status} ${headers.get('content-range') ?? 'without a Content-Range'} to ${range} of ${total} bytes`);
              }
              return at;
            },
          });
        });
      });
    }
    await flusher.settle();
    await fh.sync();
    return total;
  } finally {
    pool.close();
    await fh.close();
  }
}
