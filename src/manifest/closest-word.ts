/** "Did you mean ...?" for unknown field names: the closest known word by edit distance. */

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions: "lables" → "labels" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[rows - 1][cols - 1];
}

/** The known word closest to `word` (case-insensitive), or null when none is plausibly meant. */
export function closestWord(word: string, known: readonly string[]): string | null {
  if (word.length > 100) return null;
  const lower = word.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === null) return null;
  // A third of the word may be wrong (at least 2 edits): "descripton", "label", "annotation".
  const allowed = Math.max(2, Math.floor(best.length / 3));
  const prefix = lower.length >= 3 && (best.startsWith(lower) || lower.startsWith(best.toLowerCase()));
  return bestDistance <= allowed || prefix ? best : null;
}
