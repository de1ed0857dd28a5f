// Version strings as the Go server prints them: "<size limit> <major.minor>" plus an implementation
// tag where Go prints its commit, so tools that parse the number keep working and operators can
// still tell the implementations apart.
import { OffsetWidth } from './storage/offset-width.js';

export const SEAWEED_COMPAT_VERSION = '4.53';
export const IMPLEMENTATION_TAG = 'ts-weed-volume-0.1.0';

export function sizeLimitLabel(width: OffsetWidth): string {
  return width === 5 ? '8000GB' : '30GB';
}

/** `VERSION` in Go: used in the Server header. */
export function serverVersion(width: OffsetWidth): string {
  return `${sizeLimitLabel(width)} ${SEAWEED_COMPAT_VERSION}`;
}

/** `Version()` in Go: used in /status, VolumeServerStatus. */
export function fullVersion(width: OffsetWidth): string {
  return `${serverVersion(width)} ${IMPLEMENTATION_TAG}`;
}
