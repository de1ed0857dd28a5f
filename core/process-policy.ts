// What the process does with an error nothing handled. Policy: log it (structured, with where it
// came from) and exit with status 1 — never keep serving in an unknown state and never hang
// silently. This is what the Go server does with a panic outside a recovered handler (the process
// dies) and what node does by default with an unhandled rejection; the supervisor (systemd, k8s)
// restarts the server, the master re-learns its volumes from the next heartbeat, and the volume
// files are recovered at load as after any crash. Errors inside request handlers never get here:
// fastify and the gRPC layer turn them into error answers.
import type { Logger } from 'pino';

export type ExitFn = (code: number) => void;

/** Installs the handlers once per process; `exit` is process.exit in the server (tests pass their own). */
export function installProcessPolicy(logger: Logger, exit: ExitFn = (code) => process.exit(code)): void {
  let exiting = false;
  const die = (err: unknown, origin: string) => {
    // A second failure while exiting (e.g. from a logger stream) must not loop or hide the first.
    if (exiting) return;
    exiting = true;
    try {
      logger.fatal({ err, origin }, `${origin}: exiting`);
      logger.flush?.();
    } catch {
      process.stderr.write(`${origin}: ${(err as Error)?.stack ?? String(err)}\n`);
    }
    exit(1);
  };
  process.on('uncaughtException', (err, origin) => die(err, origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'));
  process.on('unhandledRejection', (reason) => die(reason, 'unhandled rejection'));
}
