// The invariants every fuzz batch must keep (README "Torture"): the server process is alive, it
// answers /status within STATUS_BOUND_MS (a hang is a failure), its RSS stays within a bounded
// growth of the level measured after warm-up, and every reference needle stored before the fuzzing
// still reads back byte-exact.
import { rawRequest } from '../helpers/http.js';
import { procStatusKb, type VolumeServer } from '../helpers/processes.js';

export const STATUS_BOUND_MS = 5_000;
/** RSS may grow this much over the warm-up level (GC is lazy; a leak grows without bound). */
export const RSS_SLACK_KB = 96 * 1024;
export const RSS_FACTOR = 1.5;

export interface Violation {
  kind: string;
  detail: string;
}

export interface Reference {
  /** fid → exact bytes. The fuzz generators never name this volume id or its collection. */
  needles: Map<string, Buffer>;
  vid: number;
  collection: string;
}

export class InvariantChecker {
  private rssBaseKb = 0;
  maxRssKb = 0;

  constructor(
    private readonly vs: VolumeServer,
    private readonly ref: Reference,
  ) {}

  alive(): boolean {
    return this.vs.proc.exitCode === null && this.vs.proc.signalCode === null;
  }

  /** Call once after a warm-up batch: the level RSS growth is measured from. */
  setRssBaseline(): void {
    this.rssBaseKb = procStatusKb(this.vs.proc.pid!, 'VmRSS');
  }

  async check(): Promise<Violation[]> {
    const out: Violation[] = [];
    if (!this.alive()) {
      return [{ kind: 'crash', detail: `exit ${this.vs.proc.exitCode} signal ${this.vs.proc.signalCode}; log tail: ${this.vs.log().slice(-2000)}` }];
    }
    try {
      const r = await fetch(`${this.vs.url}/status`, { signal: AbortSignal.timeout(STATUS_BOUND_MS) });
      await r.arrayBuffer();
      if (!r.ok) out.push({ kind: 'status', detail: `/status answered ${r.status}` });
    } catch (e) {
      out.push({ kind: 'hang', detail: `/status did not answer within ${STATUS_BOUND_MS} ms: ${(e as Error).message}` });
      return out;
    }
    const rss = procStatusKb(this.vs.proc.pid!, 'VmRSS');
    this.maxRssKb = Math.max(this.maxRssKb, rss);
    if (this.rssBaseKb > 0 && rss > this.rssBaseKb * RSS_FACTOR + RSS_SLACK_KB) {
      out.push({ kind: 'rss', detail: `RSS ${rss} kB over the bound (warm-up ${this.rssBaseKb} kB)` });
    }
    for (const [fid, data] of this.ref.needles) {
      const r = await rawRequest('GET', `${this.vs.url}/${fid}`);
      if (r.status !== 200 || !r.body.equals(data)) {
        out.push({ kind: 'reference', detail: `${fid}: status ${r.status}, ${r.body.length} bytes (want ${data.length})` });
      }
    }
    return out;
  }
}

/**
 * Texts of 5xx answers that mean the server's own storage or state is at fault (allowed, see
 * README "Torture"): a read-only or full volume, no space, an I/O error, corrupt data on disk,
 * maintenance mode, no master to ask.
 */
export const STORAGE_FAULT = /read.?only|is full|volume size limit|exceed|not enough|no (free )?space|ENOSPC|EIO|input\/output|maintenance|no master|corrupt|crc/i;

/**
 * 5xx answers to a client's mistake that Go gives too and that a drop-in keeps: an overwrite with a
 * different cookie is "failed to write to local disk: mismatching cookie" with 500
 * (weed/storage/volume_write.go, weed/server/volume_server_handlers_write.go PostHandler).
 */
export const GO_PARITY_5XX = /mismatching cookie/;

/**
 * A stored chunk manifest whose chunks cannot be fetched (a chunk missing, chunk ranges that do not
 * cover the file): the stored file is incomplete, so the server's data is at fault. Go starts a 200
 * and cuts the body (weed/operation/chunked_file.go errors); we answer 500 with the same texts
 * before any byte is sent.
 */
export const BROKEN_MANIFEST = /^Invalid range$|^Range requests are not supported by the remote server$|^http:\/\/127\.0\.0\.1:\d+\/\S+: (404|5\d\d)\b|unexpected EOF$|: no location$/m;

/** Text that betrays an unhandled JavaScript exception leaking out as an answer. */
export const JS_BUG = /TypeError|RangeError|ReferenceError|SyntaxError|Cannot (read|set) propert|is not a function|is not iterable|\bundefined\b|ERR_OUT_OF_RANGE|ERR_INVALID_ARG|Maximum call stack|Invalid (typed )?array length|BigInt/;

/** Runs `tasks` with at most `n` in flight. */
export async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Parses `--name value` pairs of a runner's command line. */
export function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} needs a whole number`);
  return v;
}
