/**
 * A line diff (Myers' O(ND) algorithm) with a bound on the work: past `maxEdits` differing lines
 * the middle is reported as one block removed and one added, which is still a correct diff, only
 * not a minimal one. Pure: no DOM, so it is unit-tested in Node.
 */

export interface DiffLine {
  kind: 'same' | 'add' | 'del';
  text: string;
  /** 1-based line number in the old text (same, del). */
  oldNo?: number;
  /** 1-based line number in the new text (same, add). */
  newNo?: number;
}

export interface LineDiff {
  lines: DiffLine[];
  /** False when the edit bound was hit and the middle fell back to remove-all/add-all. */
  minimal: boolean;
  added: number;
  removed: number;
}

/** Split text into lines; a trailing newline does not make an extra empty line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Diff two texts line by line. */
export function lineDiff(oldText: string, newText: string, maxEdits = 2000): LineDiff {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  // Common prefix and suffix cost nothing and shrink the search to the changed middle.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // Compare integers, not strings, in the inner loop.
  const ids = new Map<string, number>();
  const idOf = (line: string) => {
    let id = ids.get(line);
    if (id === undefined) ids.set(line, (id = ids.size));
    return id;
  };
  const midA = Int32Array.from(a.slice(start, endA), idOf);
  const midB = Int32Array.from(b.slice(start, endB), idOf);
  const script = myers(midA, midB, maxEdits);
  const middle: ('same' | 'add' | 'del')[] = script ?? [...Array<'del'>(midA.length).fill('del'), ...Array<'add'>(midB.length).fill('add')];

  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  const same = () => {
    lines.push({ kind: 'same', text: a[i], oldNo: i + 1, newNo: j + 1 });
    i++;
    j++;
  };
  while (i < start) same();
  for (const kind of middle) {
    if (kind === 'same') same();
    else if (kind === 'del') lines.push({ kind, text: a[i], oldNo: ++i });
    else lines.push({ kind, text: b[j], newNo: ++j });
  }
  while (i < a.length) same();
  const count = (kind: DiffLine['kind']) => lines.filter((l) => l.kind === kind).length;
  return { lines, minimal: script !== null, added: count('add'), removed: count('del') };
}

/** The shortest edit script from a to b, oldest first; null when it needs more than maxEdits edits. */
function myers(a: Int32Array, b: Int32Array, maxEdits: number): ('same' | 'add' | 'del')[] | null {
  const n = a.length;
  const m = b.length;
  const limit = Math.min(n + m, maxEdits);
  const off = limit + 1;
  const v = new Int32Array(2 * limit + 3);
  // trace[d] = the furthest x on every diagonal k in [-d, d] after d edits (index k + d).
  const trace: Int32Array[] = [];
  for (let d = 0; d <= limit; d++) {
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        trace.push(v.slice(off - d, off + d + 1));
        return backtrack(trace, n, m);
      }
    }
    trace.push(v.slice(off - d, off + d + 1));
  }
  return null;
}

/** Walk the trace back from (n, m) to (0, 0), collecting the edits in reverse. */
function backtrack(trace: Int32Array[], n: number, m: number): ('same' | 'add' | 'del')[] {
  const out: ('same' | 'add' | 'del')[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1];
    const at = (k: number) => prev[k + d - 1];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push('same');
      x--;
      y--;
    }
    if (x === prevX) {
      out.push('add');
      y--;
    } else {
      out.push('del');
      x--;
    }
  }
  while (x > 0 && y > 0) {
    out.push('same');
    x--;
    y--;
  }
  return out.reverse();
}

export type DiffRow = DiffLine | { kind: 'skip'; count: number };

/** Keep `context` unchanged lines around each change and fold longer unchanged runs into one skip row. */
export function foldUnchanged(lines: DiffLine[], context = 3): DiffRow[] {
  const keep = new Uint8Array(lines.length);
  lines.forEach((line, idx) => {
    if (line.kind === 'same') return;
    for (let c = Math.max(0, idx - context); c <= Math.min(lines.length - 1, idx + context); c++) keep[c] = 1;
  });
  const rows: DiffRow[] = [];
  for (let idx = 0; idx < lines.length; ) {
    if (keep[idx]) {
      rows.push(lines[idx++]);
      continue;
    }
    let end = idx;
    while (end < lines.length && !keep[end]) end++;
    rows.push({ kind: 'skip', count: end - idx });
    idx = end;
  }
  return rows;
}
