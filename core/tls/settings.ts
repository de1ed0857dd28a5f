// security.toml TLS sections → the certificate material each listener and client uses, with the
// rules of weed/security/tls.go (loadServerTLS, loadClientTLS) and weed/command/volume.go
// (startClusterHttpService). Where Go silently falls back to plaintext on a half-filled section
// this refuses instead.
import { ConfigError } from '../../config/errors.js';
import type { SecurityConfig } from '../../config/types.js';
import { readCa, readKeyPair, type KeyPair } from './material.js';
import { protocolOptions, type ProtocolOptions } from './protocol.js';

export interface HttpsServerMaterial {
  pair: KeyPair;
  /** Set: clients must present a certificate signed by it (Go's RequireAndVerifyClientCert). */
  ca?: Buffer;
}

export interface GrpcMaterial {
  pair: KeyPair;
  ca: Buffer;
}

export interface HttpsClientMaterial {
  pair?: KeyPair;
  ca?: Buffer;
  insecureSkipVerify: boolean;
}

export interface TlsMaterial {
  https?: HttpsServerMaterial;
  grpcServer?: GrpcMaterial;
  grpcClient?: GrpcMaterial;
  httpsClient?: HttpsClientMaterial;
  protocol: ProtocolOptions;
  /** Every file read, for change detection. */
  files: string[];
}

function bothOrNone(cert: string, key: string, section: string, certKey = 'cert', keyKey = 'key'): boolean {
  if ((cert === '') !== (key === '')) throw new ConfigError(`${section}.${certKey} and ${section}.${keyKey} must both be set`);
  return cert !== '';
}

/** Reads and checks every configured file; throws ConfigError naming the key or file at fault. */
export function loadTlsMaterial(s: SecurityConfig): TlsMaterial {
  const files: string[] = [];
  const m: TlsMaterial = { protocol: protocolOptions(s.tls), files };

  const hv = s.httpsVolume;
  if (bothOrNone(hv.cert, hv.key, 'https.volume')) {
    m.https = { pair: readKeyPair(hv.cert, hv.key, 'https.volume') };
    files.push(hv.cert, hv.key);
    if (hv.ca) {
      m.https.ca = readCa(hv.ca, 'https.volume');
      files.push(hv.ca);
    }
  } else if (hv.ca) {
    throw new ConfigError('https.volume.ca is set but https.volume.cert and https.volume.key are not');
  }

  const gv = s.grpcVolume;
  if (bothOrNone(gv.cert, gv.key, 'grpc.volume')) {
    if (!s.grpcCa) throw new ConfigError('grpc.volume cert and key are set but grpc.ca is not');
    m.grpcServer = { pair: readKeyPair(gv.cert, gv.key, 'grpc.volume'), ca: readCa(s.grpcCa, 'grpc.ca') };
    files.push(gv.cert, gv.key, s.grpcCa);
  }

  // The client side prefers a dedicated client pair: CAs may issue certificates with only one of
  // the serverAuth/clientAuth usages.
  let clientCert = gv.cert;
  let clientKey = gv.key;
  if (bothOrNone(gv.clientCert, gv.clientKey, 'grpc.volume', 'client_cert', 'client_key')) {
    clientCert = gv.clientCert;
    clientKey = gv.clientKey;
  }
  if (clientCert !== '') {
    if (!s.grpcCa) throw new ConfigError('grpc.volume cert and key are set but grpc.ca is not');
    m.grpcClient = { pair: readKeyPair(clientCert, clientKey, 'grpc.volume client'), ca: readCa(s.grpcCa, 'grpc.ca') };
    files.push(clientCert, clientKey, s.grpcCa);
  }

  const hc = s.httpsClient;
  if (hc.enabled) {
    const client: HttpsClientMaterial = { insecureSkipVerify: hc.insecureSkipVerify };
    if (bothOrNone(hc.cert, hc.key, 'https.client')) {
      client.pair = readKeyPair(hc.cert, hc.key, 'https.client');
      files.push(hc.cert, hc.key);
    }
    if (hc.ca) {
      client.ca = readCa(hc.ca, 'https.client');
      files.push(hc.ca);
    }
    m.httpsClient = client;
  }
  return m;
}

/** Which parts are on: a reload cannot switch a listener between plaintext and TLS. */
export function tlsShape(m: TlsMaterial): string {
  return [
    m.https ? (m.https.ca ? 'https+ca' : 'https') : 'http',
    m.grpcServer ? 'grpc-tls' : 'grpc',
    m.grpcClient ? 'grpc-client-tls' : 'grpc-client',
    m.httpsClient ? 'https-client' : 'http-client',
  ].join(',');
}
