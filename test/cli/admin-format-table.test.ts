import { describe, expect, it } from 'vitest';
import { formatAge, formatFields, formatList, formatSeconds, formatSyncError, formatTable, shortSha, truncate } from '../../src/cli/format-table.js';

describe('formatTable', () => {
  it('aligns every column to its widest cell and does not pad the last one', () => {
    expect(formatTable(['NAME', 'SEQ', 'NOTE'], [['payments-api', '7', 'x'], ['web', '1234', '']])).toBe(
      'NAME          SEQ   NOTE\n' + 'payments-api  7     x\n' + 'web           1234\n',
    );
  });

  it('keeps a multi-line cell on one line so the rows below stay aligned', () => {
    expect(formatTable(['A', 'B'], [['line one\nline two', 'b']])).toBe('A                  B\nline one line two  b\n');
  });

  it('prints just the header for no rows and fills missing cells', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B\n');
    expect(formatTable(['A', 'B', 'C'], [['x']])).toBe('A  B  C\nx\n');
  });
});

describe('ages', () => {
  const now = Date.parse('2026-01-10T12:00:00.000Z');
  const ago = (seconds: number) => new Date(now - seconds * 1000).toISOString();

  it('counts seconds, minutes, hours and days, rounding down', () => {
    expect([0, 59, 60, 3599, 3600, 86_399, 86_400, 10 * 86_400].map((s) => formatAge(ago(s), now))).toEqual([
      '0s ago', '59s ago', '1m ago', '59m ago', '1h ago', '23h ago', '1d ago', '10d ago',
    ]);
  });

  it('says never for a missing timestamp and shows clock skew as the future', () => {
    expect(formatAge(null, now)).toBe('never');
    expect(formatAge(ago(-5), now)).toBe('in 5s');
    expect(formatSeconds(125)).toBe('2m ago');
  });

  it('shows an unparseable timestamp as it is', () => {
    expect(formatAge('yesterday', now)).toBe('yesterday');
  });
});

describe('small formatters', () => {
  it('shortens shas, truncates with an ellipsis and joins labels and annotations', () => {
    expect(shortSha('0123456789abcdef')).toBe('0123456');
    expect(shortSha(null)).toBe('-');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(formatList(['prod', 'eu'])).toBe('prod, eu');
    expect(formatList({ tier: 'web', region: 'eu' })).toBe('tier=web, region=eu');
    expect(formatList([])).toBe('-');
  });

  it('aligns key/value fields and leaves out undefined ones', () => {
    expect(formatFields([['ID', '1'], ['Missing', undefined], ['Cluster', 'c']])).toBe('ID       1\nCluster  c\n');
  });

  it('writes a sync error as file:line: message, or the stack directory when no file is known', () => {
    const base = { stack_path: 'teams/web', message: 'bad\nthing' };
    expect(formatSyncError({ ...base, file: 'teams/web/a.yaml', line: 4 })).toBe('teams/web/a.yaml:4: bad thing');
    expect(formatSyncError({ ...base, file: 'teams/web/a.yaml', line: null })).toBe('teams/web/a.yaml: bad thing');
    expect(formatSyncError({ ...base, file: null, line: null })).toBe('teams/web: bad thing');
    expect(formatSyncError({ ...base, stack_path: '', file: null, line: null })).toBe('.: bad thing');
  });
});
