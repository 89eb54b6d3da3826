import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, sleep } from '../../src/agent/backoff.js';
import { RetrySchedule } from '../../src/agent/retry-schedule.js';
import { ConnectionMonitor } from '../../src/agent/connection-monitor.js';
import { createMemoryLogger } from '../../src/agent/logger.js';

describe('backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    const max = (n: number) => backoffDelay(n, { baseMs: 500, capMs: 30_000, random: () => 0.999999 });
    expect([1, 2, 3, 4].map(max)).toEqual([500, 1000, 2000, 4000]);
    expect(max(7)).toBe(30_000);
    expect(max(1000)).toBe(30_000);
  });

  it('jitters each delay between half and all of the exponential value', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, { baseMs: 500, capMs: 30_000 });
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
    expect(backoffDelay(4, { random: () => 0 })).toBe(2000);
  });

  it('resets after a success', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 400]);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('sleep wakes early when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await p;
  });
});

describe('RetrySchedule', () => {
  it('makes a failed object wait, longer after each failure, and forgets it on success', () => {
    let now = 0;
    const r = new RetrySchedule({ baseMs: 1000, capMs: 8000, random: () => 0.999999 }, () => now);
    expect(r.isDue('o1')).toBe(true);
    expect(r.failed('o1', 'boom')).toEqual({ attempts: 1, delayMs: 1000, newMessage: true });
    expect(r.isDue('o1')).toBe(false);
    expect(r.msUntilNext(['o1', 'o2'])).toBe(1000);
    now = 1000;
    expect(r.isDue('o1')).toBe(true);
    expect(r.failed('o1', 'boom')).toEqual({ attempts: 2, delayMs: 2000, newMessage: false });
    expect(r.failed('o1', 'other')).toMatchObject({ attempts: 3, newMessage: true });
    expect(r.succeeded('o1')).toBe(3);
    expect(r.isDue('o1')).toBe(true);
    expect(r.msUntilNext(['o1'])).toBeNull();
  });

  it('drops objects the daemon no longer sends', () => {
    const r = new RetrySchedule({ baseMs: 1000, capMs: 8000 }, () => 0);
    r.failed('old', 'x');
    r.keepOnly(new Set(['new']));
    expect(r.isDue('old')).toBe(true);
  });
});

describe('ConnectionMonitor', () => {
  it('logs one line when the connection is lost and one when it is back, not one per attempt', () => {
    let now = 0;
    const log = createMemoryLogger();
    const m = new ConnectionMonitor('http://127.0.0.1:1', log, () => now);
    m.up();
    for (let i = 0; i < 10; i++) m.down('connect ECONNREFUSED');
    now = 12_000;
    m.up();
    m.up();
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]).toMatch(/warn .*lost connection to http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    expect(log.lines[1]).toMatch(/info .*connected again to http:\/\/127\.0\.0\.1:1 \(after 12s\)/);
  });

  it('says "cannot reach" and then "reached" when it had never connected', () => {
    const log = createMemoryLogger();
    const m = new ConnectionMonitor('http://x', log);
    m.down('ENOTFOUND');
    m.up();
    expect(log.lines[0]).toContain('cannot reach http://x: ENOTFOUND');
    expect(log.lines[1]).toMatch(/reached http:\/\/x \(after \d+s\)/);
  });
});
