/** Field rules shared by stacks, agents and the HTTP API. */
import { describe, expect, it } from 'vitest';
import { MAX_LABEL, MAX_NAME, checkAnnotation, checkLabel, checkName, charLength } from '../../src/manifest/rules.js';

describe('labels', () => {
  it('accepts 1 and 64 characters', () => {
    expect(checkLabel('a')).toBeNull();
    expect(checkLabel('x'.repeat(MAX_LABEL))).toBeNull();
  });

  it('refuses a 65-character label naming the length and the limit', () => {
    expect(checkLabel('x'.repeat(65))).toMatch(/65 characters long; the limit is 64/);
  });

  it('counts characters, not UTF-16 units or bytes', () => {
    expect(checkLabel('🚀'.repeat(64))).toBeNull();
    expect(charLength('🚀é')).toBe(2);
  });

  it('refuses empty strings, non-strings, whitespace and control characters', () => {
    expect(checkLabel('')).toMatch(/must not be empty/);
    expect(checkLabel(2024)).toMatch(/must be a string, not a number \(quote it: "2024"\)/);
    expect(checkLabel(null)).toMatch(/must be a string/);
    expect(checkLabel('prod ')).toMatch(/whitespace/);
    expect(checkLabel('a\nb')).toMatch(/control characters/);
  });
});

describe('annotations', () => {
  it('accepts key and value of 1..64 characters, values may contain inner spaces', () => {
    expect(checkAnnotation('region', 'eu-west-1')).toBeNull();
    expect(checkAnnotation('k'.repeat(64), 'v'.repeat(64))).toBeNull();
    expect(checkAnnotation('owner', 'Platform Team')).toBeNull();
  });

  it('refuses long keys and values and non-string values', () => {
    expect(checkAnnotation('k'.repeat(65), 'v')).toMatch(/annotation key .* 65 characters/);
    expect(checkAnnotation('k', 'v'.repeat(65))).toMatch(/annotation "k" value .* 65 characters/);
    expect(checkAnnotation('replicas', 3)).toMatch(/must be a string, not a number \(quote it: "3"\)/);
    expect(checkAnnotation('k', '')).toMatch(/must not be empty/);
  });
});

describe('names', () => {
  it('accepts up to 255 characters and refuses more', () => {
    expect(checkName('payments-api')).toBeNull();
    expect(checkName('n'.repeat(MAX_NAME))).toBeNull();
    expect(checkName('n'.repeat(256))).toMatch(/256 characters long; the limit is 255/);
  });

  it('shortens a huge value in the message', () => {
    const message = checkName('n'.repeat(1_000_000))!;
    expect(message.length).toBeLessThan(200);
  });
});
