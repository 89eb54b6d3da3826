/** `wait --timeout`: the durations CI files are written with. */
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/cli/commands/wait.js';

describe('wait --timeout', () => {
  it.each([
    ['90', 90_000],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'ten minutes', '10x', '5m junk'])('%j is a usage error', (text) => {
    expect(() => parseDuration(text)).toThrow(/expected a duration/);
  });
});
