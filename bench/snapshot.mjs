// Scenario 1 — snapshot: the first sync of generated repositories of 100, 1,000 and 10,000 stacks
// (stack.yaml + 3 resource files each), each run in a fresh process with a fresh database:
// time of syncOnce() and the process's peak RSS.
//
//   npm run build && node bench/snapshot.mjs [--sizes 100,1000,10000] [--runs 5,5,3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker } from './lib/child.mjs';
import { generateRepo } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive, positiveList } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const WORKER = new URL('./lib/sync-worker.mjs', import.meta.url).pathname;

export async function run({ sizes = [100, 1000, 10000], runs = [5, 5, 3] } = {}) {
  const started = Date.now();
  const host = machine(); // at the start: its load average is the other work competing with this run
  const rows = [];
  const details = ['| stacks | files | generate repo (ms) | first sync (ms) | stacks/s | peak RSS (MiB) | runs |', '| --- | --- | --- | --- | --- | --- | --- |'];
  const raw = {};
  const tmp = mkdtempSync(join(tmpdir(), 'brokkr-bench-snapshot-'));
  try {
    for (const [k, stacks] of sizes.entries()) {
      const repo = join(tmp, `repo-${stacks}`);
      const g0 = performance.now();
      await generateRepo(repo, { stacks });
      const genMs = performance.now() - g0;
      const times = [];
      const rss = [];
      const count = runs[k] ?? runs[runs.length - 1];
      for (let r = 0; r < count; r++) {
        const w = startWorker(WORKER);
        try {
          await w.call({ cmd: 'open', repo, dir: join(tmp, `data-${stacks}-${r}`) });
          const res = await w.call({ cmd: 'sync' });
          if (res.objects !== stacks || res.invalid !== 0) throw new Error(`snapshot of ${stacks} stacks made ${res.objects} objects, ${res.invalid} invalid`);
          times.push(res.ms);
          rss.push(res.maxRssMiB);
          console.log(`snapshot ${stacks} stacks, run ${r + 1}/${count}: ${fmt(res.ms)} ms, peak RSS ${fmt(res.maxRssMiB)} MiB`);
        } finally {
          await w.stop();
        }
        rmSync(join(tmp, `data-${stacks}-${r}`), { recursive: true, force: true });
      }
      const t = summarize(times);
      const m = summarize(rss);
      raw[stacks] = { genMs, times, rss };
      details.push(`| ${stacks} | ${stacks * 4} | ${fmt(genMs)} | ${spread(t)} | ${fmt((stacks / t.median) * 1000, 0)} | ${spread(m)} | ${count} |`);
      const goal = stacks === 10000;
      rows.push({
        metric: `first sync, ${stacks.toLocaleString('en')} stacks`,
        value: `${fmt(t.median / 1000, 2)} s (${fmt(t.min / 1000, 2)}–${fmt(t.max / 1000, 2)})`,
        goal: goal ? '≤ 30 s' : undefined,
        pass: goal ? t.median <= 30_000 : undefined,
      });
      rows.push({ metric: `peak RSS of that sync, ${stacks.toLocaleString('en')} stacks`, value: `${spread(m, 0)} MiB` });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return {
    scenario: 'snapshot',
    title: '1. Snapshot (first sync)',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary:
      'Fresh process and database per run; the figure is `createSyncer(...).syncOnce()` from call to return (open repository, ' +
      'list the tree, read every blob through `git cat-file --batch`, build and validate every stack, one SQLite transaction). ' +
      'Peak RSS is `process.resourceUsage().maxRSS` of that process (Node heap, SQLite page cache, the batch of blobs in flight).',
    details,
    raw,
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { sizes: { type: 'string' }, runs: { type: 'string' } } });
    finish(await run({ sizes: positiveList(values, 'sizes'), runs: positiveList(values, 'runs') }));
  });
}
