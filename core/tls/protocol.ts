// `[tls] min_version / max_version / cipher_suites` (weed/security/tls.go TlsVersionByName,
// TlsCipherSuiteByNames) translated to node's TLS options. Go names the suites by their IANA
// names; OpenSSL (node) by its own, so the secure suites Go lists are mapped here.
import type { SecureVersion } from 'node:tls';
import { ConfigError } from '../../config/errors.js';
import type { TlsProtocolConfig } from '../../config/types.js';

const VERSIONS: Record<string, SecureVersion | null> = {
  '': null,
  'TLS 1.0': 'TLSv1',
  'TLS 1.1': 'TLSv1.1',
  'TLS 1.2': 'TLSv1.2',
  'TLS 1.3': 'TLSv1.3',
};

/** Go's crypto/tls CipherSuites() (the secure ones) → OpenSSL names. */
const SUITES: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/** Go keeps every TLS 1.3 suite whatever the list says; node would drop TLS 1.3 without one. */
const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

export interface ProtocolOptions {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

function version(key: string, name: string): SecureVersion | undefined {
  if (!(name in VERSIONS)) throw new ConfigError(`invalid tls version ${name} (tls.${key})`);
  return VERSIONS[name] ?? undefined;
}

export function protocolOptions(cfg: TlsProtocolConfig): ProtocolOptions {
  const out: ProtocolOptions = {};
  const min = version('min_version', cfg.minVersion);
  const max = version('max_version', cfg.maxVersion);
  if (min) out.minVersion = min;
  if (max) out.maxVersion = max;
  const names = cfg.cipherSuites.trim();
  if (names !== '') {
    const suites = names.split(',').map((n) => {
      const s = SUITES[n.trim()];
      if (!s) throw new ConfigError(`invalid tls cipher suite name ${n.trim()} (tls.cipher_suites)`);
      return s;
    });
    for (const s of TLS13_SUITES) if (!suites.includes(s)) suites.push(s);
    out.ciphers = suites.join(':');
  }
  return out;
}
