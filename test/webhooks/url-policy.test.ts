/** Where webhooks may go, and how long they are retried: the rules alone. */
import { describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_RETRY, nextRetryAt, retryableStatus } from '../../src/webhooks/retry-policy.js';
import { internalKind, UrlPolicy } from '../../src/webhooks/url-policy.js';

describe('URL policy', () => {
  it('knows internal addresses, IPv4-mapped IPv6 included, and calls everything else public', () => {
    expect(internalKind('127.0.0.1')).toBe('a loopback');
    expect(internalKind('10.1.2.3')).toBe('a private');
    expect(internalKind('172.31.255.255')).toBe('a private');
    expect(internalKind('172.32.0.1')).toBeNull();
    expect(internalKind('169.254.169.254')).toBe('a link-local');
    expect(internalKind('100.64.0.1')).toBe('a carrier-grade NAT');
    expect(internalKind('0.0.0.0')).toMatch(/unspecified/);
    expect(internalKind('::1')).toBe('a loopback');
    expect(internalKind('::ffff:127.0.0.1')).toBe('a loopback');
    expect(internalKind('fd00::1')).toMatch(/private/);
    expect(internalKind('fe80::1')).toBe('a link-local');
    expect(internalKind('8.8.8.8')).toBeNull();
    expect(internalKind('2001:4860:4860::8888')).toBeNull();
  });

  it('the operator allows by name, *.suffix, address, CIDR range or *', async () => {
    const policy = new UrlPolicy(['hooks.internal', '*.corp.example', '10.20.0.0/16', '192.168.1.5']);
    expect(policy.hostAllowed('hooks.internal')).toBe(true);
    expect(policy.hostAllowed('HOOKS.internal')).toBe(true);
    expect(policy.hostAllowed('a.b.corp.example')).toBe(true);
    expect(policy.hostAllowed('corp.example.evil')).toBe(false);
    expect(() => policy.checkAddress('x', '10.20.3.4')).not.toThrow();
    expect(() => policy.checkAddress('x', '192.168.1.5')).not.toThrow();
    expect(() => policy.checkAddress('x', '10.21.0.1')).toThrow(/x resolves to 10\.21\.0\.1, a private address.*--webhook-allow-hosts x/);
    await expect(policy.check('http://10.20.0.9:8080/hook')).resolves.toBeInstanceOf(URL);
    await expect(policy.check('http://10.30.0.9/hook')).rejects.toThrow(/10\.30\.0\.9 is a private address/);
    await expect(new UrlPolicy(['*']).check('http://127.0.0.1/x')).resolves.toBeInstanceOf(URL);
    await expect(new UrlPolicy().check('gopher://x/y')).rejects.toThrow(/scheme gopher is not allowed/);
  });
});

describe('retry policy', () => {
  it('by default retries with growing, jittered back-off for at least an hour after the event, then gives up', () => {
    const created = '2026-01-01T00:00:00.000Z';
    const t0 = Date.parse(created);
    let now = t0;
    let attempts = 0;
    for (;;) {
      attempts++;
      const next = nextRetryAt(attempts, created, now);
      if (next === null) break;
      now = Date.parse(next);
    }
    expect(now - t0).toBeGreaterThanOrEqual(DEFAULT_RETRY.retryForMs);
    expect(attempts).toBeGreaterThan(8);
    expect(backoffMs(1, {}, () => 0)).toBe(1000);
    expect(backoffMs(1, {}, () => 0.999)).toBe(1999);
    expect(backoffMs(20, {}, () => 0.999)).toBe(599_700);
    expect([500, 502, 408, 425, 429, 302].every(retryableStatus)).toBe(true);
    expect([400, 401, 404, 422].some(retryableStatus)).toBe(false);
  });
});
