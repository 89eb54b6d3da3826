/** The dashboard's line diff: minimal edit scripts, correct line numbers, and a bounded fallback. */
import { describe, expect, it } from 'vitest';
import { foldUnchanged, lineDiff, splitLines } from '../../src/dashboard/line-diff.js';

/** Rebuild both sides from a diff: a correct diff must give back exactly the two inputs. */
function sides(lines: ReturnType<typeof lineDiff>['lines']) {
  return {
    old: lines.filter((l) => l.kind !== 'add').map((l) => l.text),
    new: lines.filter((l) => l.kind !== 'del').map((l) => l.text),
  };
}

function randomText(seed: number, lines: number, alphabet = 6): string {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: lines }, () => `line ${next() % alphabet}`).join('\n');
}

describe('lineDiff', () => {
  it('reports nothing changed for identical texts', () => {
    const d = lineDiff('a\nb\nc\n', 'a\nb\nc\n');
    expect(d.added + d.removed).toBe(0);
    expect(d.lines.map((l) => l.kind)).toEqual(['same', 'same', 'same']);
  });

  it('finds a single changed line with both line numbers', () => {
    const d = lineDiff('a\nb\nc\n', 'a\nB\nc\n');
    expect(d.lines).toEqual([
      { kind: 'same', text: 'a', oldNo: 1, newNo: 1 },
      { kind: 'del', text: 'b', oldNo: 2 },
      { kind: 'add', text: 'B', newNo: 2 },
      { kind: 'same', text: 'c', oldNo: 3, newNo: 3 },
    ]);
  });

  it('diffs against empty texts (a created or deleted stack)', () => {
    expect(lineDiff('', 'x\ny').lines.map((l) => l.kind)).toEqual(['add', 'add']);
    expect(lineDiff('x\ny', '').lines.map((l) => l.kind)).toEqual(['del', 'del']);
  });

  it('finds the minimal number of edits (classic ABCABBA → CBABAC is 5)', () => {
    const d = lineDiff('A\nB\nC\nA\nB\nB\nA', 'C\nB\nA\nB\nA\nC');
    expect(d.added + d.removed).toBe(5);
    expect(sides(d.lines)).toEqual({ old: splitLines('A\nB\nC\nA\nB\nB\nA'), new: splitLines('C\nB\nA\nB\nA\nC') });
  });

  it('always reconstructs both inputs from random texts', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const a = randomText(seed, 30 + (seed % 7));
      const b = randomText(seed * 7 + 3, 25 + (seed % 5));
      const d = lineDiff(a, b);
      expect(d.minimal).toBe(true);
      expect(sides(d.lines)).toEqual({ old: splitLines(a), new: splitLines(b) });
    }
  });

  it('falls back to a correct but non-minimal diff past the edit bound', () => {
    const a = randomText(11, 3000, 1000);
    const b = randomText(12, 3000, 1000);
    const d = lineDiff(a, b, 50);
    expect(d.minimal).toBe(false);
    expect(sides(d.lines)).toEqual({ old: splitLines(a), new: splitLines(b) });
  });
});

describe('foldUnchanged', () => {
  it('keeps context around changes and folds long unchanged runs', () => {
    const old = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
    const next = old.replace('l10', 'changed');
    const rows = foldUnchanged(lineDiff(old, next).lines, 2);
    expect(rows.map((r) => (r.kind === 'skip' ? `skip ${r.count}` : r.kind))).toEqual([
      'skip 8', 'same', 'same', 'del', 'add', 'same', 'same', 'skip 7',
    ]);
  });
});
