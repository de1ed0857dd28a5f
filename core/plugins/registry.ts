// Loads the enabled feature families from plugins/<family>/index.js and checks each one's shape
// before use, so a broken plugin fails startup with a clear message instead of at first request.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PLUGIN_FAMILIES, type PluginFamily, type ServerConfig } from '../../config/types.js';
import { PROJECT_ROOT } from '../paths.js';
import type { VolumePlugin } from './contract.js';
import { FAMILY_RPCS } from './families.js';

export class PluginLoadError extends Error {
  constructor(family: string, reason: string) {
    super(`plugin ${family}: ${reason}`);
    this.name = 'PluginLoadError';
  }
}

function pluginEntry(family: PluginFamily): string {
  return join(PROJECT_ROOT, 'dist', 'plugins', family, 'index.js');
}

export function checkPluginShape(family: PluginFamily, candidate: unknown): VolumePlugin {
  if (!candidate || typeof candidate !== 'object') throw new PluginLoadError(family, 'default export is not an object');
  const p = candidate as Record<string, unknown>;
  if (p.name !== family) throw new PluginLoadError(family, `name is ${JSON.stringify(p.name)}, expected "${family}"`);
  for (const hook of ['http', 'httpFastPath', 'workerFastPath', 'grpc', 'prepare', 'start', 'stop']) {
    if (p[hook] !== undefined && typeof p[hook] !== 'function') {
      throw new PluginLoadError(family, `${hook} must be a function`);
    }
  }
  return candidate as VolumePlugin;
}

/** Verifies that a plugin's gRPC handlers only claim RPCs its family owns. */
export function checkPluginRpcs(family: PluginFamily, handlers: Record<string, unknown>): void {
  const owned = FAMILY_RPCS[family];
  for (const [rpc, fn] of Object.entries(handlers)) {
    if (!owned.includes(rpc)) throw new PluginLoadError(family, `claims RPC ${rpc}, which it does not own`);
    if (typeof fn !== 'function') throw new PluginLoadError(family, `handler for ${rpc} is not a function`);
  }
}

export interface LoadedPlugins {
  enabled: VolumePlugin[];
  disabled: PluginFamily[];
}

export async function loadEnabledPlugins(config: ServerConfig): Promise<LoadedPlugins> {
  const enabled: VolumePlugin[] = [];
  const disabled: PluginFamily[] = [];
  for (const family of PLUGIN_FAMILIES) {
    if (!config.plugins[family].enabled) {
      disabled.push(family);
      continue;
    }
    const entry = pluginEntry(family);
    if (!existsSync(entry)) throw new PluginLoadError(family, `module ${entry} is missing (run npm run build)`);
    const mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
    enabled.push(checkPluginShape(family, mod.default));
  }
  return { enabled, disabled };
}
