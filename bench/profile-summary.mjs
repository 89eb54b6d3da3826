// Summarise a V8 .cpuprofile (from `--cpu-prof` on a scenario): top functions by self time and by
// inclusive time, so a profile can be quoted in docs/BENCHMARKS.md without opening DevTools.
//
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 25] [--filter dist/]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, filter: { type: 'string' } } });
if (positionals.length !== 1) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--filter SUBSTRING]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample time per node: timeDeltas[i] belongs to samples[i].
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const label = (n) => {
  const f = n.callFrame;
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|dist)\//, '$1/') : '';
  return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
};

const self = new Map();
const inclusive = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  // Inclusive: every distinct frame on the stack gets the sample once.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}
const print = (title, map) => {
  console.log(`\n${title}`);
  const rows = [...map].filter(([l]) => !values.filter || l.includes(values.filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [l, us] of rows) console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${l}`);
};
console.log(`${positionals[0]}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time', self);
print('inclusive time', inclusive);
