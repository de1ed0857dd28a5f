// Entry point: parse config, build the container, start, and stop cleanly on signals.
import { ConfigError, loadConfig } from '../config/index.js';
import { buildContainer } from './container.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './logging.js';
import { startupFailure } from './startup-failure.js';
import { installProcessPolicy } from './process-policy.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      // -h is a ConfigError with exit code 0 whose message is the usage text.
      (e.exitCode === 0 ? process.stdout : process.stderr).write(`${e.message}\n`);
      process.exit(e.exitCode);
    }
    throw e;
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  // Unhandled errors are logged and end the process (exit 1); see process-policy.ts for why.
  installProcessPolicy(logger);
  const container = buildContainer(config, logger);
  const lifecycle = new Lifecycle(container);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    lifecycle.shutdown(sig).then(
      () => process.exit(0),
      (e) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => void lifecycle.reload());

  try {
    await lifecycle.start();
  } catch (e) {
    const { fields, message } = startupFailure(e, config);
    logger.fatal(fields, message);
    await lifecycle.shutdown('startup failure').catch(() => undefined);
    process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`fatal: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
