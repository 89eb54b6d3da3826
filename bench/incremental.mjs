// Scenario 2 — incremental sync: one commit changing one file of one stack, in repositories of
// 100, 1,000 and 10,000 stacks. A running syncer (the daemon's steady state) syncs it; the same
// worker process then times the git floor of that commit: `git diff-tree -r` of the two commits
// and one `git cat-file --batch` reading the touched stack's four files (two child processes,
// timed the same way). Order alternates per commit so neither side always gets the warm cache.
//
//   npm run build && node bench/incremental.mjs [--sizes 100,1000,10000] [--commits 20]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profileDir, startWorker } from './lib/child.mjs';
import { commitStackChange, generateRepo, git } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive, positiveList } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const WORKER = new URL('./lib/sync-worker.mjs', import.meta.url).pathname;
const COLD_COMMITS = 5;

async function measureSize(tmp, stacks, commits, profile, experiment) {
  const repo = join(tmp, `repo-${stacks}`);
  await generateRepo(repo, { stacks });
  const w = startWorker(WORKER);
  try {
    await w.call({ cmd: 'open', repo, dir: join(tmp, `data-${stacks}`), experiment });
    await w.call({ cmd: 'sync' }); // snapshot
    const one = async (k) => {
      const from = git(repo, ['rev-parse', 'main']);
      const to = await commitStackChange(repo, (k * 7919) % stacks, k + 2);
      let sync;
      let floor;
      if (k % 2 === 0) {
        sync = await w.call({ cmd: 'sync' });
        floor = await w.call({ cmd: 'floor', from, to });
      } else {
        floor = await w.call({ cmd: 'floor', from, to });
        sync = await w.call({ cmd: 'sync' });
      }
      if (sync.commits !== 1 || sync.objects !== 1) throw new Error(`commit ${k}: expected one commit and one object, got ${sync.commits}/${sync.objects}`);
      return { sync: sync.ms, floor: floor.ms, syncSpawns: sync.spawns.calls, syncSpawnMs: sync.spawns.ms, floorSpawnMs: floor.spawns.ms, rssMiB: sync.rssMiB };
    };
    // The first commit after start also lists the cursor's tree once (the stack layout), so it
    // is reported on its own; the figures are the steady state after it.
    const first = await one(0);
    const samples = [];
    if (profile) await w.call({ cmd: 'profileStart' });
    for (let k = 1; k <= commits; k++) samples.push(await one(k));
    if (profile) console.log(`profile: ${(await w.call({ cmd: 'profileStop', file: join(profile, `incremental-${stacks}.cpuprofile`) })).file}`);
    // Cold: a new syncer per commit (a `brokkr-sync sync` run from cron), which loads the stored
    // stacks and lists the cursor's tree once before it can diff.
    const cold = [];
    if (!experiment) {
      for (let k = 0; k < COLD_COMMITS; k++) {
        await w.call({ cmd: 'reopen' });
        await commitStackChange(repo, (k * 104729) % stacks, 1000 + k);
        cold.push((await w.call({ cmd: 'sync' })).ms);
      }
    }
    return { stacks, first, samples, cold };
  } finally {
    await w.stop();
  }
}

export async function run({ sizes = [100, 1000, 10000], commits = 20, profile = null, experiment = null } = {}) {
  const started = Date.now();
  const host = machine(); // at the start: its load average is the other work competing with this run
  const tmp = mkdtempSync(join(tmpdir(), 'brokkr-bench-incremental-'));
  const bySize = [];
  try {
    for (const stacks of sizes) {
      const r = await measureSize(tmp, stacks, commits, profile, experiment);
      const sync = summarize(r.samples.map((s) => s.sync));
      const floor = summarize(r.samples.map((s) => s.floor));
      const ratio = summarize(r.samples.map((s) => s.sync / s.floor));
      const spawnMs = summarize(r.samples.map((s) => s.syncSpawnMs));
      const floorSpawnMs = summarize(r.samples.map((s) => s.floorSpawnMs));
      const spawns = summarize(r.samples.map((s) => s.syncSpawns));
      const rss = summarize(r.samples.map((s) => s.rssMiB));
      const cold = summarize(r.cold);
      bySize.push({ ...r, sync, floor, ratio, spawnMs, floorSpawnMs, spawns, rss, coldSummary: cold });
      console.log(
        `incremental ${stacks} stacks: sync ${spread(sync)} ms (${fmt(spawns.median, 0)} git spawns blocking ${fmt(spawnMs.median)} ms), ` +
          `floor ${spread(floor)} ms (2 spawns blocking ${fmt(floorSpawnMs.median)} ms), ratio ${spread(ratio)}, RSS ${fmt(rss.median, 0)} MiB ` +
          `(first commit after start ${fmt(r.first.sync)} ms)`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const rows = [];
  const details = [
    '| stacks | sync (ms) | p90 (ms) | git floor (ms) | ratio sync/floor (per commit) | git spawns per sync: count, ms blocked in spawn() | floor: ms blocked in spawn() | worker RSS (MiB) | first commit after start (ms) | cold: new syncer per commit (ms) | commits |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const s of bySize) {
    details.push(
      `| ${s.stacks} | ${spread(s.sync)} | ${fmt(s.sync.p90)} | ${spread(s.floor)} | ${spread(s.ratio, 2)} | ${fmt(s.spawns.median, 0)}, ${spread(s.spawnMs)} | ` +
        `${spread(s.floorSpawnMs)} | ${fmt(s.rss.median, 0)} | ${fmt(s.first.sync)} | ${s.cold.length ? spread(s.coldSummary) : '–'} | ${s.samples.length} |`,
    );
    rows.push({
      metric: `one-stack commit, ${s.stacks.toLocaleString('en')} stacks: time, ratio to git floor`,
      value: `${spread(s.sync)} ms; floor ${fmt(s.floor.median)} ms; ratio ${spread(s.ratio, 2)}`,
      goal: '≤ 3× floor',
      pass: s.ratio.median <= 3,
    });
  }
  const small = bySize.find((s) => s.stacks === Math.min(...sizes));
  const large = bySize.find((s) => s.stacks === Math.max(...sizes));
  if (small && large && small !== large) {
    const flat = large.sync.median / small.sync.median;
    rows.push({
      metric: `flatness: ${large.stacks.toLocaleString('en')}-stack / ${small.stacks}-stack commit time`,
      value: `${fmt(flat, 2)}× (floor itself: ${fmt(large.floor.median / small.floor.median, 2)}×)`,
      goal: '≤ 1.5×',
      pass: flat <= 1.5,
    });
  }
  return {
    scenario: 'incremental',
    title: '2. Incremental sync',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary:
      `A running syncer (watch off, \`syncOnce()\` timed from call to return: resolve the branch, list new commits, diff, read the ` +
      `touched stack, build, one transaction) versus the bare git work for the same commit. Median (min–max) over ${commits} commits per size; ` +
      'the ratio is computed per commit, then summarised.',
    details,
    raw: bySize.map(({ stacks, first, samples, cold }) => ({ stacks, first, samples, cold })),
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({
      options: { sizes: { type: 'string' }, commits: { type: 'string' }, profile: { type: 'boolean' }, experiment: { type: 'string' } },
    });
    const profile = profileDir(values.profile);
    const result = await run({
      sizes: positiveList(values, 'sizes'),
      commits: positive(values, 'commits'),
      profile,
      // --experiment catfile: the what-if GitSource of bench/lib/catfile-git-source.mjs (not saved as a result).
      experiment: values.experiment ?? null,
    });
    if (values.experiment) console.log(`experiment ${values.experiment}: results printed above, not saved`);
    else finish(result);
  });
}
