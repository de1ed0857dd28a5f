// Owns the server's TLS state: builds the HTTPS options, gRPC server and channel credentials and
// the peer HTTP client from security.toml, and re-reads the certificate files on SIGHUP or when
// they change on disk (checked every WEED_TLS_CERT_REFRESH_INTERVAL, default 5h, as Go's
// weed/security/certreload pemfile providers do). New connections use the new certificates;
// established ones keep theirs.
import type { Server as TlsServer } from 'node:tls';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SecurityConfig } from '../../config/types.js';
import { parseGoDuration } from '../../config/values.js';
import { channelCredentials, commonNameInterceptor, ReloadableServerCredentials } from './grpc-credentials.js';
import { filesStamp } from './material.js';
import { allowList } from './names.js';
import { configurePeerHttp } from './peer-http.js';
import { loadTlsMaterial, tlsShape, type TlsMaterial } from './settings.js';

export const DEFAULT_REFRESH_MS = 5 * 60 * 60 * 1000;

/** WEED_TLS_CERT_REFRESH_INTERVAL as a Go duration; a bad or non-positive value keeps the default. */
export function refreshIntervalMs(env: NodeJS.ProcessEnv): number {
  const text = env.WEED_TLS_CERT_REFRESH_INTERVAL;
  if (!text) return DEFAULT_REFRESH_MS;
  try {
    const ms = parseGoDuration(text);
    return ms > 0 ? ms : DEFAULT_REFRESH_MS;
  } catch {
    return DEFAULT_REFRESH_MS;
  }
}

export class TlsManager {
  private material: TlsMaterial;
  private security: SecurityConfig;
  private stamp: string;
  private readonly httpsServers: TlsServer[] = [];
  private grpcServerCreds: ReloadableServerCredentials | undefined;
  private channelCreds: grpc.ChannelCredentials;
  private readonly channelListeners: ((c: grpc.ChannelCredentials) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** Reads and checks every configured file; throws ConfigError on a bad section or file. */
  constructor(
    security: SecurityConfig,
    private readonly logger: Logger,
  ) {
    this.security = security;
    this.material = loadTlsMaterial(security);
    this.stamp = filesStamp(this.material.files);
    this.channelCreds = this.buildChannelCredentials();
    configurePeerHttp(this.material.httpsClient);
  }

  get httpsEnabled(): boolean {
    return this.material.https !== undefined;
  }

  get grpcEnabled(): boolean {
    return this.material.grpcServer !== undefined;
  }

  /** Options for https.createServer, or undefined for plain http. */
  httpsServerOptions(): HttpsServerOptions | undefined {
    const h = this.material.https;
    if (!h) return undefined;
    return {
      cert: h.pair.cert,
      key: h.pair.key,
      ...this.material.protocol,
      ...(h.ca ? { ca: h.ca, requestCert: true, rejectUnauthorized: true } : {}),
    };
  }

  /** Registers a listening HTTPS server so reloads reach it. */
  attachHttps(server: TlsServer): void {
    this.httpsServers.push(server);
  }

  grpcServerCredentials(): grpc.ServerCredentials {
    const g = this.material.grpcServer;
    if (!g) return grpc.ServerCredentials.createInsecure();
    this.grpcServerCreds ??= new ReloadableServerCredentials(g, this.material.protocol);
    return this.grpcServerCreds;
  }

  /** Interceptors for the gRPC server: the allowed_commonNames / allowed_wildcard_domain check. */
  grpcServerInterceptors(): grpc.ServerInterceptor[] {
    if (!this.material.grpcServer) return [];
    const a = this.security.grpcAuth;
    const allow = allowList(a.allowedCommonNames, a.allowedWildcardDomain);
    return allow ? [commonNameInterceptor(allow)] : [];
  }

  channelCredentials(): grpc.ChannelCredentials {
    return this.channelCreds;
  }

  /** `cb` gets the new channel credentials after each reload that changed them. */
  onChannelCredentials(cb: (c: grpc.ChannelCredentials) => void): void {
    this.channelListeners.push(cb);
  }

  private buildChannelCredentials(): grpc.ChannelCredentials {
    const c = this.material.grpcClient;
    if (!c) return grpc.credentials.createInsecure();
    const a = this.security.grpcAuth;
    return channelCredentials(c, this.material.protocol, allowList(a.allowedServerCommonNames, a.allowedServerWildcardDomain));
  }

  /**
   * Re-reads the files named by `security`. A failure (unreadable file, mismatched pair) or a
   * change of which sections are set keeps everything as it was and throws.
   */
  reload(security: SecurityConfig): void {
    const next = loadTlsMaterial(security);
    if (tlsShape(next) !== tlsShape(this.material)) {
      throw new Error(`TLS sections changed (${tlsShape(this.material)} → ${tlsShape(next)}): turning TLS on or off needs a restart`);
    }
    this.material = next;
    this.security = security;
    this.stamp = filesStamp(next.files);
    const https = this.httpsServerOptions();
    if (https) {
      const { cert, key, ca, minVersion, maxVersion, ciphers } = https;
      for (const s of this.httpsServers) s.setSecureContext({ cert, key, ca, minVersion, maxVersion, ciphers });
    }
    if (next.grpcServer) this.grpcServerCreds?.update(next.grpcServer, next.protocol);
    this.channelCreds = this.buildChannelCredentials();
    for (const cb of this.channelListeners) cb(this.channelCreds);
    configurePeerHttp(next.httpsClient);
  }

  /** Re-reads the files when their size or mtime changed, every `intervalMs`. */
  watch(intervalMs: number): void {
    if (this.material.files.length === 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (filesStamp(this.material.files) === this.stamp) return;
      try {
        this.reload(this.security);
        this.logger.info({ files: this.material.files }, 'TLS certificates changed on disk; reloaded');
      } catch (err) {
        // Keep the previous certificates; retried at the next tick.
        this.logger.error({ err: (err as Error).message }, 'TLS certificate reload failed; keeping the previous ones');
      }
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
