/** How the CLI reports failures: one clear line on stderr and an exit code, never a stack trace. */

/** An expected failure with the exit code to use (1 failure, 2 usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Print an error as one line (stack traces only with BROKKR_DEBUG=1) and return the exit code. */
export function reportError(err: unknown): number {
  const debug = process.env.BROKKR_DEBUG === '1';
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
