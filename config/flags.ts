// Command-line, environment and `-options` file readers. Each returns typed flag values keyed by flag
// name; index.ts layers them. Syntax accepted on the command line:
//   Go style       weed [-global flags] volume -port=8080 -dir /d -volume.allowUntrustedRemoteEndpoints
//   harness style  --port 8080 --dir /d --volume.allowUntrustedRemoteEndpoints --readMode proxy
// A non-boolean flag takes `=value` or the next argument; a boolean takes only `=value`.
// Parsing stops at `--` or at the first non-flag word (except a leading `volume` sub-command word).

import fs from 'node:fs';

import { ConfigError } from './errors.js';
import { type FlagDef, flagByName } from './schema.js';
import { parseGoBool, parseGoDuration, parseGoInt } from './values.js';

export type FlagValue = number | string | boolean;
export type FlagValues = Map<string, FlagValue>;

export interface ParsedArgs {
  values: FlagValues;
  /** `-h`, `-help`, `--help` was given. */
  help: boolean;
  /** Words left after parsing stopped. */
  rest: string[];
}

/** Converts the text of a flag to its typed value; throws a plain Error explaining a bad value. */
export function convertFlagValue(flag: FlagDef, text: string): FlagValue {
  switch (flag.kind) {
    case 'bool':
      return parseGoBool(text);
    case 'string':
      return text;
    case 'int':
      return parseGoInt(text);
    case 'uint':
    case 'verbosity': {
      const n = parseGoInt(text);
      if (n < 0) throw new Error('must not be negative');
      return n;
    }
    case 'port': {
      const n = parseGoInt(text);
      if (n < 0 || n > 65535) throw new Error('port must be within 0..65535');
      return n;
    }
    case 'duration':
      parseGoDuration(text);
      return text;
    case 'offset': {
      const n = parseGoInt(text);
      if (n !== 4 && n !== 5) throw new Error('must be 4 or 5');
      return n;
    }
  }
}

function invalid(flag: FlagDef, text: string, err: unknown, origin: string): ConfigError {
  const reason = err instanceof Error ? err.message : String(err);
  const where = origin === '' ? '' : ` (from ${origin})`;
  if (flag.kind === 'bool') {
    return new ConfigError(`invalid boolean value ${JSON.stringify(text)} for -${flag.name}${where}: ${reason}`);
  }
  return new ConfigError(`invalid value ${JSON.stringify(text)} for flag -${flag.name}${where}: ${reason}`);
}

/** convertFlagValue with the ConfigError the launcher reports. */
export function flagValue(flag: FlagDef, text: string, origin = ''): FlagValue {
  try {
    return convertFlagValue(flag, text);
  } catch (err) {
    throw invalid(flag, text, err, origin);
  }
}

const HELP_NAMES = new Set(['h', 'help']);

/** Reads flags from argv (without the node executable and script). */
export function parseArgv(argv: readonly string[]): ParsedArgs {
  const values: FlagValues = new Map();
  let help = false;
  // The `volume` word is skipped when it comes before any flag of the sub-command (after globals only).
  let subcommandAllowed = true;
  let i = 0;
  while (i < argv.length) {
    const word = argv[i];
    if (word === '--') {
      i++;
      break;
    }
    if (word.length < 2 || word[0] !== '-') {
      if (word === 'volume' && subcommandAllowed) {
        subcommandAllowed = false;
        i++;
        continue;
      }
      break;
    }
    const dashes = word[1] === '-' ? 2 : 1;
    let name = word.slice(dashes);
    if (name === '' || name[0] === '-' || name[0] === '=') throw new ConfigError(`bad flag syntax: ${word}`);
    i++;
    let inlineValue: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq > 0) {
      inlineValue = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const flag = flagByName(name);
    if (!flag) {
      if (HELP_NAMES.has(name)) {
        help = true;
        break;
      }
      throw new ConfigError(`flag provided but not defined: -${name}`);
    }
    if (!flag.global) subcommandAllowed = false;
    let text: string;
    if (flag.kind === 'bool') {
      text = inlineValue ?? 'true';
    } else if (inlineValue !== undefined) {
      text = inlineValue;
    } else if (i < argv.length) {
      text = argv[i];
      i++;
    } else {
      throw new ConfigError(`flag needs an argument: -${name}`);
    }
    values.set(flag.name, flagValue(flag, text));
  }
  return { values, help, rest: argv.slice(i) };
}

/** `-options <file>` / `-options=<file>` among the words left after parsing stopped (as Go looks there too). */
export function findOptionsInRest(rest: readonly string[]): string | undefined {
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i].replace(/^--?/, '-');
    if (word === '-options' && i + 1 < rest.length) return rest[i + 1];
    if (word.startsWith('-options=')) return word.slice('-options='.length);
  }
  return undefined;
}

/**
 * Flags from the environment, for flags not in `skip`. An empty variable counts as unset.
 * Each flag's variables are tried in order (FlagDef.env); the first one set wins.
 */
export function readEnv(env: NodeJS.ProcessEnv, flags: readonly FlagDef[], skip: ReadonlySet<string>): FlagValues {
  const values: FlagValues = new Map();
  for (const flag of flags) {
    if (skip.has(flag.name)) continue;
    for (const variable of flag.env) {
      const text = env[variable];
      if (text === undefined || text === '') continue;
      values.set(flag.name, flagValue(flag, text, `environment variable ${variable}`));
      break;
    }
  }
  return values;
}

/** Names that an options file may not set (they select the files themselves). */
const NOT_IN_OPTIONS_FILE = new Set(['options', 'config']);

/**
 * An `-options` file: one `name=value`, `name value` or `name:value` a line (split at the first of
 * those separators, both sides trimmed), one leading `-` stripped from the name, blank and `#` lines
 * skipped, unknown names ignored, a boolean without value meaning true. Flags in `skip` are ignored.
 */
export function parseOptionsText(text: string, file: string, skip: ReadonlySet<string>): FlagValues {
  const values: FlagValues = new Map();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sep = line.search(/[= :]/);
    let name = sep < 0 ? line : line.slice(0, sep).trim();
    const value = sep < 0 ? '' : line.slice(sep + 1).trim();
    if (name.startsWith('-')) name = name.slice(1);
    const flag = flagByName(name);
    if (!flag || skip.has(flag.name) || NOT_IN_OPTIONS_FILE.has(flag.name)) continue;
    const textValue = flag.kind === 'bool' && value === '' ? 'true' : value;
    values.set(flag.name, flagValue(flag, textValue, `options file ${file}`));
  }
  return values;
}

export function readOptionsFile(file: string, skip: ReadonlySet<string>): FlagValues {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`cannot read options file ${file}: ${reason}`);
  }
  return parseOptionsText(text, file, skip);
}
