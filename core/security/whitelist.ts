// Whitelist entries (-whiteList and security.toml `[guard] white_list`), with Go's matching rules
// (weed/security/guard.go UpdateWhiteList/IsWhiteListed): an entry with a `/` is a CIDR, any other
// entry matches the remote host exactly as text. Stricter than Go: a bad CIDR is refused instead of
// being dropped (Go drops it and, if nothing else is listed, lets everyone in).
import { BlockList, isIP } from 'node:net';

/** A whitelist entry that cannot be used; the message is one line naming the entry. */
export class WhiteListError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`invalid whitelist entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = 'WhiteListError';
  }
}

/** A parsed, non-empty or empty whitelist. */
export interface WhiteList {
  /** No entries: nothing is restricted (Go's isEmptyWhiteList). */
  readonly empty: boolean;
  /** True when `host` (a peer address, IPv4-mapped IPv6 allowed) is listed. */
  allows(host: string): boolean;
}

function family(ip: string): 'ipv4' | 'ipv6' | undefined {
  const f = isIP(ip);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

/** `::ffff:1.2.3.4` (a dual-stack socket's view of an IPv4 peer) → `1.2.3.4`. */
function unmapped(host: string): string {
  return host.toLowerCase().startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
}

/**
 * Parses whitelist entries (trimmed; blank ones skipped). Throws WhiteListError for a CIDR whose
 * address or prefix length is invalid (e.g. `10.0.0.0/33`), so a typo never opens the server.
 */
export function parseWhiteList(entries: readonly string[]): WhiteList {
  const exact = new Set<string>();
  const nets = new BlockList();
  let count = 0;
  for (const raw of entries) {
    const e = raw.trim();
    if (e === '') continue;
    count++;
    const slash = e.indexOf('/');
    if (slash < 0) {
      // Go compares the text; an IP is also matched in its canonical form (`::1` = `0::1`).
      exact.add(e);
      const fam = family(e);
      if (fam) nets.addAddress(e, fam);
      continue;
    }
    const addr = e.slice(0, slash);
    const bitsText = e.slice(slash + 1);
    const fam = family(addr);
    if (!fam) throw new WhiteListError(e, `invalid CIDR address: ${JSON.stringify(addr)} is not an IP address`);
    const max = fam === 'ipv4' ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(bitsText) || Number(bitsText) > max) {
      throw new WhiteListError(e, `invalid CIDR address: prefix length must be 0-${max} for ${fam === 'ipv4' ? 'IPv4' : 'IPv6'}`);
    }
    nets.addSubnet(addr, Number(bitsText), fam);
  }
  const empty = count === 0;
  return {
    empty,
    allows(host: string): boolean {
      if (empty) return true;
      if (exact.has(host)) return true;
      const h = unmapped(host);
      if (h !== host && exact.has(h)) return true;
      const fam = family(h);
      return fam !== undefined && nets.check(h, fam);
    },
  };
}
