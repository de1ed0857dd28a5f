// The process logger: pino everywhere; on a terminal each JSON line is rewritten into one readable
// line like Go's glog (`I1130 06:32:41.451 volumes loaded  volumes=0 ms=1`), JSON lines otherwise
// or when -logFormat=json asks for them.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

const LEVEL_LETTERS: Record<number, string> = { 10: 'T', 20: 'D', 30: 'I', 40: 'W', 50: 'E', 60: 'F' };
/** Fields every line has, shown in the prefix or not at all. */
const PREFIX_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') {
    return JSON.stringify((v as { message: string }).message); // a serialized Error: its message is enough on a terminal
  }
  return JSON.stringify(v);
}

/** One pino JSON line as a glog-like text line (local time, as glog prints). */
export function formatTextLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now());
  const letter = LEVEL_LETTERS[o.level as number] ?? 'I';
  const stamp = `${pad(t.getMonth() + 1)}${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  const fields = Object.entries(o)
    .filter(([k, v]) => !PREFIX_FIELDS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  return `${letter}${stamp} ${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`;
}

/** A stream taking pino's JSON lines and writing text lines to `out`. */
class TextLines extends Writable {
  private pending = '';

  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const text = this.pending + String(chunk);
    const lines = text.split('\n');
    this.pending = lines.pop() ?? '';
    const formatted = lines.filter((l) => l !== '').map((l) => `${formatTextLine(l)}\n`);
    if (formatted.length > 0) this.out.write(formatted.join(''));
    cb();
  }
}

/** '' picks text on a terminal and JSON otherwise. */
export function resolveLogFormat(format: '' | 'text' | 'json', out: { isTTY?: boolean } = process.stdout): 'text' | 'json' {
  return format === '' ? (out.isTTY ? 'text' : 'json') : format;
}

export function createLogger(opts: { level: string; format: '' | 'text' | 'json' }, out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Logger {
  if (resolveLogFormat(opts.format, out) === 'json') {
    const json = { level: opts.level, base: { pid: process.pid } };
    // pino's own fd-1 writer when writing to stdout, as before this module existed.
    return out === process.stdout ? pino(json) : pino(json, out);
  }
  return pino({ level: opts.level, base: undefined }, new TextLines(out));
}
