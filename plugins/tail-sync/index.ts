// The tail-sync feature family. Its RPCs are listed in core/plugins/families.ts; until they are built
// they answer UNIMPLEMENTED with a message saying so.
import type { VolumePlugin } from '../../core/plugins/contract.js';

const plugin: VolumePlugin = { name: 'tail-sync' };

export default plugin;
