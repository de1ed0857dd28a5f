// A streaming multipart/form-data reader modelled on Go's mime/multipart.Reader (pull style:
// NextPart, then the part's data), as Go's parseUpload walks an upload's parts
// (weed/storage/needle/needle_parse_upload.go). Part data is handed out as it arrives, never
// collected here; only a part's header block is buffered, up to MAX_PART_HEADER_BYTES.
import { parseMediaType } from './media-type.js';
import { canonicalHeaderKey, goBase } from './mime.js';
import { type BodyReader, UploadError } from './upload-body.js';

export interface PartHeaders {
  get(name: string): string;
}

export interface Part {
  headers: PartHeaders;
  fileName: string;
  formName: string;
}

const MAX_PART_HEADER_BYTES = 1 << 20;

/** Streaming multipart reader modelled on Go's mime/multipart.Reader (pull style). */
export class MultipartReader {
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  private started = false;
  private finished = false;
  private partOpen = false;
  private nl = '\r\n';
  private readonly dash: Buffer;
  private delim!: Buffer;

  constructor(
    private readonly body: BodyReader,
    boundary: string,
  ) {
    this.dash = Buffer.from('--' + boundary, 'latin1');
  }

  private async fill(): Promise<boolean> {
    if (this.eof) return false;
    const c = await this.body.next();
    if (!c) {
      this.eof = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
    return true;
  }

  /** Reads one line (including its line ending) or throws at EOF. */
  private async readLine(limit: number): Promise<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0) {
        const line = this.buf.subarray(0, i + 1);
        this.buf = this.buf.subarray(i + 1);
        return line;
      }
      if (this.buf.length > limit) throw new UploadError('multipart: message too large');
      if (!(await this.fill())) throw new UploadError('multipart: NextPart: EOF');
    }
  }

  private isBoundaryLine(line: Buffer): 'part' | 'final' | undefined {
    if (line.length < this.dash.length || !line.subarray(0, this.dash.length).equals(this.dash)) return undefined;
    let rest = line.subarray(this.dash.length).toString('latin1');
    let kind: 'part' | 'final' = 'part';
    if (rest.startsWith('--')) {
      kind = 'final';
      rest = rest.slice(2);
    }
    return /^[ \t]*\r?\n?$/.test(rest) ? kind : undefined;
  }

  /**
   * Reads the current part's data, passing it to `sink` piece by piece; a sink that returns a
   * promise (a pending spool write) holds off further reading until it settles.
   */
  async readPartData(sink: (b: Buffer) => void | Promise<void>): Promise<void> {
    if (!this.partOpen) return;
    for (;;) {
      const i = this.buf.indexOf(this.delim);
      if (i >= 0) {
        const piece = i > 0 ? this.buf.subarray(0, i) : undefined;
        this.buf = this.buf.subarray(i + this.nl.length);
        this.partOpen = false;
        if (piece) {
          const p = sink(piece);
          if (p) await p;
        }
        return;
      }
      const keep = this.delim.length - 1;
      if (this.buf.length > keep) {
        const piece = this.buf.subarray(0, this.buf.length - keep);
        this.buf = Buffer.from(this.buf.subarray(this.buf.length - keep));
        const p = sink(piece);
        if (p) await p;
      }
      if (!(await this.fill())) throw new UploadError('multipart: NextPart: EOF');
    }
  }

  async nextPart(): Promise<Part | null> {
    if (this.finished) return null;
    if (this.partOpen) await this.readPartData(() => {});
    if (!this.started) {
      this.started = true;
      for (;;) {
        const line = await this.readLine(64 * 1024 + this.dash.length);
        const kind = this.isBoundaryLine(line);
        if (kind === 'final') {
          this.finished = true;
          return null;
        }
        if (kind === 'part') {
          this.nl = line.length >= 2 && line[line.length - 2] === 13 ? '\r\n' : '\n';
          this.delim = Buffer.concat([Buffer.from(this.nl, 'latin1'), this.dash]);
          break;
        }
      }
    } else {
      const line = await this.readLine(64 * 1024 + this.dash.length);
      const kind = this.isBoundaryLine(line);
      if (kind === 'final') {
        this.finished = true;
        return null;
      }
      if (kind !== 'part') throw new UploadError(`multipart: expecting a new Part; got line ${JSON.stringify(line.toString('latin1'))}`);
    }
    // Headers up to the blank line.
    const headers = new Map<string, string>();
    let size = 0;
    let last = '';
    for (;;) {
      const raw = await this.readLine(MAX_PART_HEADER_BYTES);
      size += raw.length;
      if (size > MAX_PART_HEADER_BYTES) throw new UploadError('multipart: message too large');
      const line = raw.toString('utf8').replace(/\r?\n$/, '');
      if (line === '') break;
      if ((line[0] === ' ' || line[0] === '\t') && last) {
        headers.set(last, `${headers.get(last)} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new UploadError(`malformed MIME header line: ${line}`);
      const key = canonicalHeaderKey(line.slice(0, colon).trim());
      if (!headers.has(key)) headers.set(key, line.slice(colon + 1).trim());
      last = key;
    }
    this.partOpen = true;
    const disposition = parseMediaType(headers.get('Content-Disposition') ?? '');
    const filename = disposition?.params.filename ?? '';
    return {
      headers: { get: (name: string) => headers.get(canonicalHeaderKey(name)) ?? '' },
      fileName: filename === '' ? '' : goBase(filename),
      formName: disposition?.type === 'form-data' ? (disposition.params.name ?? '') : '',
    };
  }
}
