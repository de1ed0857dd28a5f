// One volume of the store; the implementation lives in ./volume/ (one file per concern, along the
// Go server's volume*.go seams). Callers import the volume from here.
export { Volume } from './volume/volume.js';
export {
  FILE_COPY_CHUNK,
  PAGED_READ_LIMIT,
  SYNC_BATCH_MAX_BYTES,
  SYNC_BATCH_MAX_REQUESTS,
  SYNC_READ_LIMIT,
  nowNs,
  type FileDataSource,
  type ReadOptions,
  type VolumeCreateParams,
  type VolumeInformationFields,
  type VolumeOpenOptions,
  type WriteOptions,
  type WriteResult,
} from './volume/options.js';
