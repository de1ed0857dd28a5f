// The scrub-query feature family: ScrubVolume (index and full checks of regular volumes, optional
// read-only marking of broken ones), ScrubEcVolume (EC volumes in INDEX, LOCAL, FULL, READS and
// CHECKSUM modes, through core's EcVolumeAccess) and Query (JSON-lines selection and filtering of a needle).
import type { VolumePlugin } from '../../core/plugins/contract.js';
import { scrubQueryRpcs } from './grpc/handlers.js';

const plugin: VolumePlugin = {
  name: 'scrub-query',
  grpc: (cradle) => scrubQueryRpcs(cradle),
};

export default plugin;
