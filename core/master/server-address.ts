// SeaweedFS server addresses: `host:port` (gRPC at port+10000) or `host:port.grpcPort`.

export interface ServerAddress {
  host: string;
  port: number;
  grpcPort: number;
}

export function parseServerAddress(text: string): ServerAddress | undefined {
  const s = text.trim();
  const colon = s.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = s.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const rest = s.slice(colon + 1);
  const [portText, grpcText] = rest.split('.', 2);
  if (!/^\d+$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  let grpcPort = port + 10000;
  if (grpcText !== undefined) {
    if (!/^\d+$/.test(grpcText)) return undefined;
    grpcPort = Number(grpcText);
    if (grpcPort < 1 || grpcPort > 65535) return undefined;
  }
  return { host, port, grpcPort };
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The HTTP form `host:port`, used as the identity of a server when comparing addresses. */
export function toHttpAddress(text: string): string {
  const a = parseServerAddress(text);
  return a ? joinHostPort(a.host, a.port) : '';
}

export function toGrpcAddress(text: string): string {
  const a = parseServerAddress(text);
  return a ? joinHostPort(a.host, a.grpcPort) : '';
}

/** The address for a Location{url, grpc_port}: grpc_port 0 means url port + 10000. */
export function grpcAddressOfLocation(url: string, grpcPort: number): string {
  const a = parseServerAddress(url);
  if (!a) return '';
  return joinHostPort(a.host, grpcPort || a.port + 10000);
}
