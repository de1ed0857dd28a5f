// Go's loopback companion listener (weed/util/net_timeout.go NewIpAndLocalListeners, used by
// weed/command/volume.go): with -ip.bind unset, each port also listens on localhost beside the
// detected address, so `curl localhost:8080/status` answers on a fresh start. An explicit -ip.bind
// pins each port to that address only.
import { createServer, type Server } from 'node:net';
import type { Logger } from 'pino';

/** Go's IsLoopbackOrWildcardAddress: such a bind already covers loopback. */
export function isLoopbackOrWildcard(host: string): boolean {
  return ['', 'localhost', '0.0.0.0', '127.0.0.1', '::', '::1', '[::]', '[::1]'].includes(host);
}

/** Whether a port bound to `bindIp` needs a loopback companion. */
export function wantsLoopbackCompanion(listenOnLocalhost: boolean, bindIp: string): boolean {
  return listenOnLocalhost && !isLoopbackOrWildcard(bindIp);
}

/**
 * Listens on 127.0.0.1:port and hands every accepted socket to `target` (an http, https or any
 * net server), which then serves it exactly like its own connections: same handler, TLS, timeouts
 * and shutdown tracking. A failure is logged and skipped, as Go does.
 */
export async function listenLoopbackCompanion(target: Server, port: number, logger: Logger): Promise<Server | undefined> {
  const companion = createServer({ pauseOnConnect: false }, (socket) => target.emit('connection', socket));
  try {
    await new Promise<void>((resolve, reject) => {
      companion.once('error', reject);
      companion.listen({ host: '127.0.0.1', port }, () => {
        companion.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    logger.info({ port, err: (e as Error).message }, 'skip starting localhost listener');
    return undefined;
  }
  return companion;
}

/**
 * Stops accepting on a companion. Not awaited: net.Server.close() calls back only once every socket
 * it ever accepted has ended, and those now belong to the main server, whose close ends them.
 */
export function stopAccepting(server: Server): void {
  server.close();
}
