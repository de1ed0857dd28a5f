// Client traffic of a families run: filling a volume over HTTP with large needles (and a set of
// 1 KB ones to read back later), and the Go helper under bench/go (built at run time into a temp
// dir) for klauspost's codec figures and for 1 KB GETs from keep-alive clients.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { formatFileId } from '../../core/storage/file-id.js';

const COOKIE = 0x5eed1e55;
/** Keys of the 1 KB needles start here, above the large ones. */
const SMALL_BASE = 1_000_000n;

function post(agent: Agent, url: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, timeout: 120_000, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${url}: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function pool(count: number, width: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

/**
 * Writes ~`mb` MiB of 8 MiB needles and `small` 1 KB needles into volume `vid` of the server at
 * `baseUrl`; returns the URLs of the 1 KB needles.
 */
export async function fillVolume(baseUrl: string, vid: number, mb: number, small: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const bigMiB = Math.min(8, mb);
    const big = randomBytes(bigMiB << 20);
    await pool(Math.max(1, Math.round(mb / bigMiB)), 4, (i) => post(agent, `${baseUrl}/${formatFileId(vid, BigInt(i + 1), COOKIE)}`, big));
    const urls = Array.from({ length: small }, (_, i) => `${baseUrl}/${formatFileId(vid, SMALL_BASE + BigInt(i), COOKIE)}`);
    const kb = randomBytes(1024);
    await pool(small, 16, (i) => post(agent, urls[i], kb));
    return urls;
  } finally {
    agent.destroy();
  }
}

/** Builds bench/go into `dir`; the module cache of the SeaweedFS build holds its one dependency. */
export function buildGoTool(dir: string): string {
  const out = join(dir, 'benchgo');
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: join(PROJECT_ROOT, 'bench', 'go'),
    env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod', GOSUMDB: 'off' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
  });
  return out;
}

export interface ReadFigures {
  requests: number;
  failed: number;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  /** The first failed GET's status and body, when any failed. */
  firstFailure?: string;
}

/** `n` GETs over `urls` from `c` keep-alive clients (the Go helper, so the client is not node). */
export function readLoad(tool: string, dir: string, urls: string[], n: number, c = 16): ReadFigures {
  const list = join(dir, `urls-${process.hrtime.bigint()}.txt`);
  writeFileSync(list, urls.join('\n') + '\n');
  const out = execFileSync(tool, ['get', '-c', String(c), '-n', String(n), '-list', list, '-timeout', '120s'], { encoding: 'utf8', timeout: 180_000 });
  const num = (k: string) => Number(new RegExp(`${k} ([\\d.]+)`).exec(out)?.[1]);
  const firstFailure = /^first failure: (.*)$/m.exec(out)?.[1];
  return { requests: num('requests'), failed: num('failed'), reqPerSec: num('reqPerSec'), p50ms: num('p50ms'), p99ms: num('p99ms'), firstFailure };
}

/** klauspost/reedsolomon 10+4 MB/s on this machine, one goroutine and the library default. */
export function klauspost(tool: string): Record<string, { encodeMBs: number; reconstructMBs: number }> {
  const out = execFileSync(tool, ['rs', '-mb', '256'], { encoding: 'utf8', timeout: 120_000 });
  const res: Record<string, { encodeMBs: number; reconstructMBs: number }> = {};
  for (const m of out.matchAll(/klauspost (.+): encode (\d+) MB\/s reconstruct (\d+) MB\/s/g)) res[m[1]] = { encodeMBs: Number(m[2]), reconstructMBs: Number(m[3]) };
  return res;
}
