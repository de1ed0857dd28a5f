// Reading certificate files: checked up front so a typo'd or unparseable file fails startup (or a
// reload) with a clear line instead of surfacing at handshake time (weed/security/tls.go checkTLSFiles).
import fs from 'node:fs';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../../config/errors.js';

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

/** A certificate chain and its private key, checked to belong together. */
export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export function readKeyPair(certFile: string, keyFile: string, section: string): KeyPair {
  const cert = readFile(certFile, `${section} certificate`);
  const key = readFile(keyFile, `${section} key`);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`${section}: certificate ${certFile} and key ${keyFile} do not load: ${(err as Error).message}`);
  }
  return { cert, key };
}

/** A CA bundle with at least one certificate. */
export function readCa(caFile: string, section: string): Buffer {
  const ca = readFile(caFile, `${section} CA`);
  try {
    new X509Certificate(ca);
  } catch {
    throw new ConfigError(`no CA certificates found in ${caFile} (${section})`);
  }
  return ca;
}

/** Size and mtime of each file: a change means the files were rotated and should be re-read. */
export function filesStamp(files: string[]): string {
  return files
    .filter((f) => f !== '')
    .map((f) => {
      try {
        const st = fs.statSync(f);
        return `${f}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${f}:missing`;
      }
    })
    .join('|');
}
