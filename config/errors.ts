// Errors raised while building the server configuration.

/** A configuration problem the launcher reports on one line before exiting with `exitCode`. */
export class ConfigError extends Error {
  exitCode = 2;

  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `-h`/`-help`/`--help` was given: the message is the usage text, the launcher prints it and exits 0. */
export class HelpRequested extends ConfigError {
  override exitCode = 0;

  constructor(usageText: string) {
    super(usageText);
    this.name = 'HelpRequested';
  }
}
