import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled files live in <root>/dist/core/; sources in <root>/core/. Either way the project root is
// the nearest ancestor holding proto/, found once here so assets resolve from any entry point.
const here = dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = here.includes(`${join('dist', 'core')}`) ? join(here, '..', '..') : join(here, '..');
export const PROTO_DIR = join(PROJECT_ROOT, 'proto');
export const STATIC_DIR = join(PROJECT_ROOT, 'core', 'http', 'static');
