/** The agent's log: one concise line per event on stderr (timestamped text, or JSON lines with --json-logs). */

export type LogLevel = 'info' | 'warn' | 'error';

export interface AgentLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  json?: boolean;
  /** Where lines go (default: process.stderr). */
  write?: (line: string) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * A tiny logger instead of pino-pretty: the agent prints a handful of lines per change, and a
 * human watching a terminal should read them without a formatter.
 */
export function createLogger({ json = false, write, now = () => new Date() }: LoggerOptions = {}): AgentLogger {
  const out = write ?? ((line: string) => void process.stderr.write(line));
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    const time = now().toISOString();
    if (json) {
      out(`${JSON.stringify({ time, level, msg: message, ...fields })}\n`);
      return;
    }
    out(`${time} ${level.padEnd(5)} ${message}\n`);
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that keeps lines in memory (tests). */
export function createMemoryLogger(): AgentLogger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => void lines.push(line.trimEnd()) });
  return Object.assign(logger, { lines });
}
