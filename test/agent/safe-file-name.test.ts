import { describe, expect, it } from 'vitest';
import { resolve, dirname, join } from 'node:path';
import { safeFileName } from '../../src/agent/safe-file-name.js';

const fileOf = (name: string) => {
  const r = safeFileName(name);
  if (!r.ok) throw new Error(r.message);
  return r.file;
};

describe('safeFileName', () => {
  it('keeps a plain stack name readable', () => {
    expect(fileOf('payments-api')).toBe('payments-api.yaml');
    expect(fileOf('web_v1.2')).toBe('web_v1.2.yaml');
  });

  it('turns nested stack names into one file name with __', () => {
    expect(fileOf('teams/payments')).toBe('teams__payments.yaml');
    expect(fileOf('a/b/c')).toBe('a__b__c.yaml');
  });

  it('percent-encodes spaces, unicode and a leading dot', () => {
    expect(fileOf('my stack')).toBe('my%20stack.yaml');
    expect(fileOf('café')).toBe('caf%C3%A9.yaml');
    expect(fileOf('.hidden')).toBe('%2Ehidden.yaml');
    expect(fileOf('teams/.x')).toBe('teams__%2Ex.yaml');
  });

  it.each([
    ['..', '".." path segment'],
    ['../etc/passwd', '".." path segment'],
    ['teams/../../x', '".." path segment'],
    ['./x', '"." or ".." path segment'],
    ['/etc/passwd', 'absolute'],
    ['a//b', 'empty'],
    ['a/', 'empty'],
    ['a\u0000b', 'NUL'],
    ['a\nb', 'control'],
    ['a\\b', 'backslash'],
    ['', 'empty'],
  ])('refuses %j with a clear message', (name, why) => {
    const r = safeFileName(name);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('UNSAFE_STACK_NAME');
      expect(r.message).toContain('cannot be used as a file name');
      expect(r.message.toLowerCase()).toContain(why.toLowerCase().replace(/"/g, '"'));
    }
  });

  it('never yields a path outside OUT for any accepted name', () => {
    const out = '/srv/out';
    const names = ['a', 'a/b', 'x..y', '...', 'a/...', '%2e%2e', 'a%2F..', '~', '-rf', 'a:b', 'CON', '😀/x'];
    for (const name of names) {
      const r = safeFileName(name);
      if (!r.ok) continue;
      expect(r.file).not.toContain('/');
      expect(r.file.startsWith('.')).toBe(false);
      expect(dirname(resolve(join(out, r.file)))).toBe(out);
    }
  });

  it('shortens very long names but keeps them distinct', () => {
    const a = fileOf(`${'x'.repeat(300)}a`);
    const b = fileOf(`${'x'.repeat(300)}b`);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(200);
    expect(a).not.toBe(b);
    expect(a.endsWith('.yaml')).toBe(true);
  });
});
