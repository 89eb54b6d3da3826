/**
 * Preloaded into a child (`node --import .../rss-probe.mjs`): samples the resident set size every
 * 20 ms and writes the peak (bytes) to $BROKKR_RSS_PROBE_FILE when the process exits.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BROKKR_RSS_PROBE_FILE;
if (file) {
  let peak = process.memoryUsage().rss;
  const sample = () => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  };
  setInterval(sample, 20).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(file, String(peak));
  });
}
