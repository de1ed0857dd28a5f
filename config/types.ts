// The resolved server configuration every other module reads. Produced by loadConfig() in ./index.ts;
// all defaults applied and derived values (grpc port, public port, id, publicUrl) filled in.

export const PLUGIN_FAMILIES = ['read-write', 'ec', 'tiering', 'tail-sync', 'scrub-query'] as const;
export type PluginFamily = (typeof PLUGIN_FAMILIES)[number];

export type ReadMode = 'local' | 'proxy' | 'redirect';

/** Minimum free space of one data dir: a percentage of the disk, or an absolute byte count. */
export type MinFreeSpace = { kind: 'percent'; value: number } | { kind: 'bytes'; value: number };

export interface JwtKey {
  key: string;
  expiresAfterSeconds: number;
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** `[https.client]`: how this server dials peers over HTTP (weed/util/http/client NewHttpClient). */
export interface HttpsClientConfig {
  enabled: boolean; // false = plain http, as without the section
  cert: string;
  key: string;
  ca: string;
  insecureSkipVerify: boolean;
}

/** Peer-identity checks of weed/security/tls.go (Authenticator): names are exact, domains suffixes. */
export interface GrpcAuthConfig {
  /** `[grpc.volume] allowed_commonNames`: client certificate CNs the gRPC server accepts. */
  allowedCommonNames: string[];
  /** `[grpc] allowed_wildcard_domain`: any client CN under this domain is accepted. */
  allowedWildcardDomain: string;
  /** Outbound: `[grpc.volume] allowed_server_commonNames`, falling back to `[grpc]`. */
  allowedServerCommonNames: string[];
  /** Outbound: `[grpc.volume] allowed_server_wildcard_domain`, falling back to `[grpc]`. */
  allowedServerWildcardDomain: string;
}

/** `[tls]`: protocol limits for every TLS listener (weed/security/tls.go FixTlsConfig). */
export interface TlsProtocolConfig {
  minVersion: string; // Go names: '', 'TLS 1.2', 'TLS 1.3', ...
  maxVersion: string;
  cipherSuites: string; // comma-separated Go (IANA) suite names
}

export interface SecurityConfig {
  /** Path of the security.toml that was read, or '' when none. */
  source: string;
  jwtSigning: JwtKey; // key '' = off
  jwtSigningRead: JwtKey; // key '' = off
  accessUi: boolean;
  guardWhiteList: string[];
  httpsVolume: TlsFiles; // all '' = off
  grpcVolume: TlsFiles & { clientCert: string; clientKey: string };
  grpcCa: string;
  grpcAuth: GrpcAuthConfig;
  httpsClient: HttpsClientConfig;
  tls: TlsProtocolConfig;
}

export interface ServerConfig {
  port: number;
  grpcPort: number; // resolved: port + 10000 when the flag is 0
  publicPort: number; // resolved: port when the flag is 0
  ip: string; // resolved: detected when empty
  bindIp: string; // resolved: ip when empty
  /** -ip.bind unset: each port also listens on loopback beside bindIp (weed/command/volume.go). */
  listenOnLocalhost: boolean;
  id: string; // resolved: ip:port when empty
  publicUrl: string; // resolved: ip:publicPort when empty
  masters: string[]; // from -master (or -mserver), comma list
  dataCenter: string;
  rack: string;
  dirs: string[];
  maxCounts: number[]; // one per dir
  diskTypes: string[]; // one per dir, lower-cased; 'hdd' normalised to ''
  minFreeSpace: MinFreeSpace[]; // one per dir
  idxDir: string;
  tags: string[][]; // one group per dir (may be empty)
  index: string;
  readMode: ReadMode;
  fileSizeLimitMB: number;
  concurrentUploadLimitMB: number;
  concurrentDownloadLimitMB: number;
  inflightUploadDataTimeoutMs: number;
  inflightDownloadDataTimeoutMs: number;
  preStopSeconds: number;
  idleTimeoutSeconds: number;
  compactionMBps: number;
  maintenanceMBps: number;
  whiteList: string[];
  metricsPort: number;
  metricsIp: string;
  hasSlowRead: boolean;
  readBufferSizeMB: number;
  allowUntrustedRemoteEndpoints: boolean;
  imagesFixOrientation: boolean;
  offsetBytes: 4 | 5;
  /** -fastPath: small plain reads and uploads skip fastify's routing (same answers). */
  fastPath: boolean;
  /**
   * -workers resolved: HTTP worker threads (core/http/workers/); 1 = the main thread serves HTTP
   * itself. 0 on the command line means one per core. 1 by default: see README "HTTP worker threads".
   */
  workers: number;
  configDir: string;
  securityFile: string;
  /** '' = text on a terminal, json otherwise (core/logging.ts). */
  logFormat: '' | 'text' | 'json';
  logLevel: string; // pino level; from -v (0 → info ... 4 → trace)
  plugins: Record<PluginFamily, { enabled: boolean }>;
  security: SecurityConfig;
}
