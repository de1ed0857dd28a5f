// Whitelist entries are checked while the configuration is read, so a bad entry is a one-line
// ConfigError (exit 2) at start and a refused reload on SIGHUP; the rules are core's.
import { parseWhiteList, WhiteListError } from '../core/security/whitelist.js';
import { ConfigError } from './errors.js';

/** Returns `entries` unchanged when every one is usable; throws ConfigError naming `where` otherwise. */
export function checkedWhiteList(entries: string[], where: string): string[] {
  try {
    parseWhiteList(entries);
  } catch (e) {
    if (e instanceof WhiteListError) throw new ConfigError(`${e.message} in ${where}`);
    throw e;
  }
  return entries;
}
