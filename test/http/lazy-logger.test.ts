/** request.log made on first use (lazy-logger.ts): the same lines as fastify's eager pino child, and no child for a request that logs nothing. */
import { describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { lazyChildLogger } from '../../src/http/lazy-logger.js';

function capture(level: string): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level, base: { pid: 1 }, timestamp: false, redact: { paths: ['authorization', '*.pak'], censor: '[redacted]' } }, stream);
  return { logger, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('lazyChildLogger', () => {
  it('writes exactly the lines an eager child writes: bindings, redaction, levels', () => {
    const lazy = capture('info');
    const eager = capture('info');
    const logs = [lazyChildLogger(lazy.logger as unknown as FastifyBaseLogger, { reqId: 'req-7' }, {}), eager.logger.child({ reqId: 'req-7' })];
    for (const log of logs) {
      log.info({ route: '/x', status: 200 }, 'request');
      log.debug('below the level');
      log.error({ err: { message: 'boom' }, body: { pak: 'brk_secret' } }, 'unhandled error');
      log.child({ extra: 1 }).warn('from a grandchild');
    }
    expect(lazy.lines()).toEqual(eager.lines());
    expect(lazy.lines()).toHaveLength(3);
    expect(lazy.lines()[0]).toMatchObject({ reqId: 'req-7', route: '/x', msg: 'request' });
    expect(JSON.stringify(lazy.lines())).not.toContain('brk_secret');
  });

  it('makes no child while nothing is logged at an enabled level', () => {
    const { logger, lines } = capture('info');
    const child = vi.spyOn(logger, 'child');
    const log = lazyChildLogger(logger as unknown as FastifyBaseLogger, { reqId: 'r' }, {}) as FastifyBaseLogger & { isLevelEnabled(l: string): boolean };
    log.debug('not written');
    log.trace('not written');
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(log.isLevelEnabled('info')).toBe(true);
    expect(log.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    log.info('written');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines()).toHaveLength(1);
  });

  it("a route's own level gets a real child at once, with that level", () => {
    const { logger, lines } = capture('info');
    const log = lazyChildLogger(logger as unknown as FastifyBaseLogger, { reqId: 'r' }, { level: 'debug' });
    log.debug('written at the route level');
    expect(lines()).toEqual([expect.objectContaining({ reqId: 'r', level: 20, msg: 'written at the route level' })]);
  });
});
