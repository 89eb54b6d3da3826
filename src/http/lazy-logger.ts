/**
 * `request.log`, made only when something is logged.
 *
 * fastify gives every request a pino child logger bound to its request id; making one serializes
 * the bindings and runs them through the logger's redaction paths (~2 µs, a few percent of a 304
 * poll, whose success is not even logged at the shipped level — bench F13). Here the child is
 * made on the first call at an enabled level, from the same logger with the same bindings, so
 * every line written is exactly what the eager child would have written.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

class LazyChild {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  #child: Logger | undefined = undefined;

  constructor(parent: Logger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #real(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }
  #log(level: Level, args: unknown[]): void {
    if (this.isLevelEnabled(level)) (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }
  fatal(...args: unknown[]): void {
    this.#log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#log('error', args);
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args);
  }
  info(...args: unknown[]): void {
    this.#log('info', args);
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args);
  }
  silent(): void {}
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options);
  }
  bindings(): Bindings {
    return this.#real().bindings();
  }
  setBindings(bindings: Bindings): void {
    this.#real().setBindings(bindings);
  }
  flush(cb?: (err?: Error) => void): void {
    this.#parent.flush(cb);
  }
}

/** fastify's `childLoggerFactory`: a lazy child, or the usual one when the route sets its own level or serializers. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  for (const _ in opts) return logger.child(bindings, opts as never);
  return new LazyChild(logger as unknown as Logger, bindings) as unknown as FastifyBaseLogger;
}
