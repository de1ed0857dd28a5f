// Peer-identity rules of weed/security/tls.go (Authenticator.Authenticate / AuthenticateServer,
// matchesWildcardDomain, isDomainName): which certificate names an allow-list accepts.
import type { PeerCertificate } from 'node:tls';

/** A label list of letters, digits, '-', '_' with at least one non-digit (a bare IP never passes). */
export function isDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  let nonNumeric = false;
  for (const label of name.split('.')) {
    if (label.length === 0 || label.length > 63 || label.startsWith('-') || label.endsWith('-')) return false;
    for (const c of label) {
      const digit = c >= '0' && c <= '9';
      if (!digit && c !== '-' && c !== '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z')) return false;
      if (!digit) nonNumeric = true;
    }
  }
  return nonNumeric;
}

/** `name` is a real subdomain of `domain` (one trailing root dot ignored; a leading `*.` label allowed). */
export function matchesWildcardDomain(name: string, domain: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const d = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  if (d === '' || n.length <= d.length || !n.endsWith(d)) return false;
  if (d[0] !== '.' && n[n.length - d.length - 1] !== '.') return false;
  return isDomainName(n.startsWith('*.') ? n.slice(2) : n);
}

export interface NameAllowList {
  names: ReadonlySet<string>;
  wildcardDomain: string;
}

export function allowList(names: string[], wildcardDomain: string): NameAllowList | undefined {
  if (names.length === 0 && wildcardDomain === '') return undefined;
  return { names: new Set(names), wildcardDomain };
}

/** The single subject CN of a certificate ('' when absent). */
export function commonName(cert: PeerCertificate | undefined): string {
  const cn = cert?.subject?.CN as string | string[] | undefined;
  if (Array.isArray(cn)) return cn[0] ?? '';
  return cn ?? '';
}

/** Server side: a client is accepted by its subject CN only. */
export function clientAllowed(cert: PeerCertificate | undefined, allow: NameAllowList): boolean {
  const cn = commonName(cert);
  return matchesWildcardDomain(cn, allow.wildcardDomain) || allow.names.has(cn);
}

/** DNS and URI names of a certificate's subjectAltName. */
function altNames(cert: PeerCertificate): { dns: string[]; uris: string[] } {
  const dns: string[] = [];
  const uris: string[] = [];
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('URI:')) uris.push(part.slice(4));
  }
  return { dns, uris };
}

/**
 * Client side: a server is accepted when its CN or a DNS name is listed or under the wildcard
 * domain, or a URI name is listed exactly. Returns the names seen when refused, else undefined.
 */
export function serverRefusal(cert: PeerCertificate, allow: NameAllowList): string[] | undefined {
  const { dns, uris } = altNames(cert);
  const names = [commonName(cert), ...dns];
  for (const n of names) if (allow.names.has(n) || matchesWildcardDomain(n, allow.wildcardDomain)) return undefined;
  for (const u of uris) if (allow.names.has(u)) return undefined;
  return [...names, ...uris];
}
