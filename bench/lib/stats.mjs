// Summaries of repeated measurements: median with min–max, and percentiles (nearest rank).

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** { n, median, min, max, p50, p90, p99, mean } of a list of numbers. */
export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    median: percentile(s, 50),
    min: s[0],
    max: s[s.length - 1],
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    mean,
  };
}

/** Milliseconds since a process.hrtime.bigint() reading. */
export const msSince = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/** A number with a sensible number of digits for a table. */
export function fmt(x, digits) {
  if (x === undefined || x === null || Number.isNaN(x)) return '–';
  if (digits !== undefined) return x.toFixed(digits);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** "median (min–max)" of a summary. */
export const spread = (s, digits) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/**
 * How much a statistic differs from side A to side B, with a 95 % bootstrap interval: each side's
 * clusters (arrays of samples that belong together, e.g. the agents answering one commit) are
 * drawn with replacement, `stat` of the pooled draw on B minus that on A, `iterations` times.
 * An interval that holds 0 is a difference the runs cannot tell from noise. The draws are random
 * (not seeded): computed again, the interval's ends move a little.
 * Returns { diff, low, high } (diff: on the samples as measured).
 */
export function bootstrapDiff(clustersA, clustersB, stat, { iterations = 2000 } = {}) {
  const pooled = (clusters) => clusters.flat();
  const draw = (clusters) => {
    const out = [];
    for (let i = 0; i < clusters.length; i++) out.push(...clusters[Math.floor(Math.random() * clusters.length)]);
    return out;
  };
  const diffs = [];
  for (let i = 0; i < iterations; i++) diffs.push(stat(draw(clustersB)) - stat(draw(clustersA)));
  diffs.sort((x, y) => x - y);
  return { diff: stat(pooled(clustersB)) - stat(pooled(clustersA)), low: percentile(diffs, 2.5), high: percentile(diffs, 97.5) };
}

/** The median of a list of numbers, and its 99th percentile (nearest rank). */
export const median = (samples) => summarize(samples).median;
export const p99 = (samples) => summarize(samples).p99;
