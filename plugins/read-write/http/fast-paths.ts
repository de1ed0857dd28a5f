// The data path's fast paths (core/http/fast-path.ts): small plain reads on every listener, small
// uploads on the admin one (the public port takes no writes). -fastPath=false turns both off, so
// every request takes the routed handlers, which answer the same.
import type { Cradle } from '../../../core/container.js';
import type { FastPath } from '../../../core/http/fast-path.js';
import type { HttpPluginOptions } from '../../../core/plugins/contract.js';
import { readFastPath } from './read-fast.js';
import { writeFastPath } from './write-fast.js';

export function dataFastPath(cradle: Cradle, opts: HttpPluginOptions): FastPath {
  if (!cradle.config.fastPath) return () => false;
  const read = readFastPath(cradle);
  if (opts.listener !== 'admin') return read;
  const write = writeFastPath(cradle);
  return (req, res, reply) => (req.method === 'POST' || req.method === 'PUT' ? write(req, res, reply) : read(req, res, reply));
}
