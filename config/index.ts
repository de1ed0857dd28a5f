// loadConfig(): the server configuration from defaults, an optional JSON config file, an optional
// `-options` file, the environment and the command line (lowest to highest precedence), with derived
// values resolved and security.toml read.

import os from 'node:os';

import convict from 'convict';

import { ConfigError, HelpRequested } from './errors.js';
import { type FlagValues, findOptionsInRest, parseArgv, readEnv, readOptionsFile } from './flags.js';
import { resolveServerConfig } from './resolve.js';
import { FLAGS, buildSchema, flagByName, type FlagDef } from './schema.js';
import { loadSecurityConfig } from './security.js';
import type { ServerConfig } from './types.js';

export { ConfigError, HelpRequested } from './errors.js';
export { loadSecurityConfig, findSecurityFile, securitySearchPath } from './security.js';
export { detectHostAddress, parseGoDuration } from './values.js';
export type { ServerConfig, SecurityConfig } from './types.js';

type Props = Record<string, unknown>;

function oneLine(text: string): string {
  return text.split('\n').filter((l) => l.trim() !== '').join('; ');
}

function applyValues(cfg: convict.Config<Props>, values: FlagValues): void {
  for (const [name, value] of values) {
    const flag = flagByName(name) as FlagDef;
    cfg.set(flag.key, value);
  }
}

/**
 * Builds the configuration of one volume server.
 * @param argv command-line words after the executable and script (e.g. `process.argv.slice(2)`); may
 *   start with Go global flags and the `volume` sub-command word.
 * @param env environment consulted for flag fallbacks and security.toml overrides.
 * @throws HelpRequested (exitCode 0, message = usage text) for -h/-help/--help
 * @throws ConfigError (exitCode 2) with a one-line message for any invalid input
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const cli = parseArgv(argv);
  if (cli.help) throw new HelpRequested(usage());

  const fromEnv = readEnv(env, FLAGS, new Set(cli.values.keys()));

  const optionsFile =
    (cli.values.get('options') as string | undefined) ??
    (fromEnv.get('options') as string | undefined) ??
    findOptionsInRest(cli.rest);
  const fromOptions = optionsFile
    ? readOptionsFile(optionsFile, new Set([...cli.values.keys(), ...fromEnv.keys()]))
    : new Map();

  const cfg = convict<Props>(buildSchema() as convict.Schema<Props>, { env: {}, args: [] });
  const configFile = (cli.values.get('config') as string | undefined) ?? (fromEnv.get('config') as string | undefined);
  if (configFile) {
    try {
      cfg.loadFile(configFile);
      cfg.validate({ allowed: 'strict' });
    } catch (err) {
      throw new ConfigError(`invalid config file ${configFile}: ${oneLine((err as Error).message)}`);
    }
  }
  applyValues(cfg, fromOptions);
  applyValues(cfg, fromEnv);
  applyValues(cfg, cli.values);
  try {
    cfg.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${oneLine((err as Error).message)}`);
  }

  const home = env.HOME && env.HOME !== '' ? env.HOME : os.homedir();
  const resolved = resolveServerConfig(cfg.getProperties(), { home });
  const security = loadSecurityConfig({
    securityFile: resolved.securityFile,
    configDir: resolved.configDir,
    env,
  });
  return { ...resolved, security };
}

function flagLine(flag: FlagDef): string {
  const typeName: Record<FlagDef['kind'], string> = {
    int: ' int',
    uint: ' uint',
    port: ' int',
    string: ' string',
    bool: '',
    duration: ' duration',
    offset: ' int',
    verbosity: ' level',
  };
  let def = '';
  if (flag.defaultText) def = ` (default ${flag.defaultText})`;
  else if (flag.kind === 'string' && flag.default !== '') def = ` (default ${JSON.stringify(flag.default)})`;
  else if (flag.kind !== 'string' && flag.default !== false && flag.default !== 0) def = ` (default ${flag.default})`;
  const extras = [`env ${flag.env.join(' or ')}`];
  if (flag.key.includes('.')) extras.push(`config key ${flag.key} as nested objects`);
  else if (flag.key !== flag.name) extras.push(`config key ${flag.key}`);
  return `  -${flag.name}${typeName[flag.kind]}\n    \t${flag.doc}${def} [${extras.join('; ')}]`;
}

/** Usage text for -h/--help: every flag with its default, env variable and config file key. */
export function usage(): string {
  const byName = (a: FlagDef, b: FlagDef) => a.name.localeCompare(b.name);
  const volumeFlags = FLAGS.filter((f) => !f.global).sort(byName);
  const globalFlags = FLAGS.filter((f) => f.global).sort(byName);
  return [
    'Usage: weed-volume [global flags] [volume] [flags]',
    '  start a volume server; flags are written -name=value, -name value, --name=value or --name value',
    '  (booleans: -name or -name=false); precedence: flags > environment > -options file > --config file > defaults',
    '',
    'Flags:',
    ...volumeFlags.map(flagLine),
    '',
    'Global flags (Go style, before the volume word; log flags are accepted and ignored):',
    ...globalFlags.map(flagLine),
    '',
  ].join('\n');
}
