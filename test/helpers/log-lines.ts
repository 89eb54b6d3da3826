/** A pino logger at `level` whose lines (one JSON document each) are kept in `lines`, for tests that read what was logged. */
import { Writable } from 'node:stream';
import pino from 'pino';

export function logLines(level: string): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
