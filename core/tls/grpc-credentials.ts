// gRPC mutual TLS (weed/security/tls.go LoadServerTLS / LoadClientTLS): the server requires and
// verifies a client certificate against grpc.ca; clients present theirs and verify the server's
// chain. Like Go (advancedtls CertVerification) the server's host name is not matched against
// the address dialed — peers are dialed by IP — only the optional allowed_server_* lists apply.
import { createSecureContext, type PeerCertificate, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { clientAllowed, commonName, serverRefusal, type NameAllowList } from './names.js';
import type { ProtocolOptions } from './protocol.js';
import type { GrpcMaterial } from './settings.js';

function contextOptions(m: GrpcMaterial, protocol: ProtocolOptions): SecureContextOptions {
  return { ca: m.ca, cert: m.pair.cert, key: m.pair.key, ...protocol };
}

/** Server credentials whose certificate can be swapped; new connections use the new one. */
export class ReloadableServerCredentials extends grpc.ServerCredentials {
  constructor(m: GrpcMaterial, protocol: ProtocolOptions) {
    super({ requestCert: true, rejectUnauthorized: true, ...protocol }, contextOptions(m, protocol));
  }

  update(m: GrpcMaterial, protocol: ProtocolOptions): void {
    this.updateSecureContextOptions(contextOptions(m, protocol));
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * Refuses calls whose client certificate CN is not allowed (Go's Authenticator.Authenticate). Go
 * fails the handshake; grpc-js has no handshake hook, so the call is refused before its handler
 * runs, with UNAUTHENTICATED and Go's message.
 */
export function commonNameInterceptor(allow: NameAllowList): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const cert = call.getAuthContext().sslPeerCertificate;
            if (clientAllowed(cert, allow)) {
              mdNext(metadata);
              return;
            }
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details: `Authenticate: invalid subject client common name: ${commonName(cert)}`,
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
}

export function channelCredentials(m: GrpcMaterial, protocol: ProtocolOptions, allow: NameAllowList | undefined): grpc.ChannelCredentials {
  const context = createSecureContext(contextOptions(m, protocol));
  return grpc.credentials.createFromSecureContext(context, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      if (!allow) return undefined;
      const names = serverRefusal(cert, allow);
      return names ? new Error(`AuthenticateServer: untrusted server identity [${names.join(' ')}]`) : undefined;
    },
  });
}
