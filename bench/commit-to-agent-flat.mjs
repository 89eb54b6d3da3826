// Scenario 12 — commit → agent by repository size (issue 16 item 2): is the latency flat in the
// number of stacks? One daemon per size (`startDaemon`, ref watcher on), all running at once; one
// probe agent long-polls (`?wait=30`, If-None-Match) the one stack the commits change. The rounds
// go round robin over the sizes (in a shuffled order each round), so drift in the machine's load
// hits every size alike; the figure is each size's median over the smallest size's.
//
//   npm run build && node bench/commit-to-agent-flat.mjs [--sizes 50,5000,10000] [--commits 30] [--profile]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { probe } from './commit-to-agent.mjs';
import { profileDir } from './lib/child.mjs';
import { startFleet } from './lib/fleet.mjs';
import { deployment, git, stackDir } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive, positiveList } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shuffle = (list) => {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

export async function run({ sizes = [50, 5_000, 10_000], commits = 30, profile = null } = {}) {
  const started = Date.now();
  const host = machine();
  sizes = [...sizes].sort((a, b) => a - b);
  const runs = [];
  try {
    for (const stacks of sizes) {
      const fleet = await startFleet({ stacks, agents: 0, probes: 1, worktree: true, watch: true });
      const p = probe(fleet.url, fleet.probes[0]);
      runs.push({ stacks, fleet, probe: p, latencies: [], commitMs: [], cpuMs: [], stages: [] });
      console.log(`commit → agent by size: ${stacks} stacks ready (daemon start + first sync ${fmt(fleet.startMs)} ms)`);
    }
    const parked = async (r) => {
      for (let i = 0; i < 500; i++) {
        const m = await r.fleet.daemon.call({ cmd: 'memory' });
        if (m.waiting >= 1 && r.probe.parked) return;
        await sleep(10);
      }
      throw new Error(`${r.stacks} stacks: the probe's long poll did not park within 5 s`);
    };
    if (profile) for (const r of runs) await r.fleet.daemon.call({ cmd: 'profileStart' });
    for (let c = 0; c < commits; c++) {
      for (const r of shuffle(runs)) {
        await parked(r);
        const path = `${stackDir(0)}/deployment.yaml`;
        const answer = r.probe.next(10_000);
        await r.fleet.daemon.call({ cmd: 'trace' }); // drop what came before this commit
        const cpu0 = await r.fleet.daemon.call({ cmd: 'cpuUsage' });
        // `git commit` in steps, so the clock can start when the ref moves: in a large work tree
        // `git commit` spends most of its time on the index (before and after the ref update), and
        // a clock started when it returns would credit the larger repositories with a head start.
        const c0 = performance.now();
        writeFileSync(join(r.fleet.repo, path), deployment('svc-0', 0, 100 + c));
        git(r.fleet.repo, ['add', path]);
        const parent = git(r.fleet.repo, ['rev-parse', 'HEAD']);
        const commit = git(r.fleet.repo, ['commit-tree', git(r.fleet.repo, ['write-tree']), '-p', parent, '-m', `bump svc-0 to 1.0.${100 + c}`]);
        const t0 = performance.now();
        git(r.fleet.repo, ['update-ref', 'refs/heads/main', commit, parent]);
        r.commitMs.push(t0 - c0);
        const at = await answer;
        if (at === null) throw new Error(`${r.stacks} stacks: no answer within 10 s of commit ${c + 1}`);
        const cpu1 = await r.fleet.daemon.call({ cmd: 'cpuUsage' });
        r.cpuMs.push((cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000);
        r.latencies.push(at - t0);
        const { trace } = await r.fleet.daemon.call({ cmd: 'trace' });
        const base = performance.timeOrigin + t0;
        const request = trace.find((e) => e.kind === 'request');
        const notify = trace.find((e) => e.kind === 'notify');
        if (request && notify) r.stages.push({ detect: request.t - base, sync: notify.t - request.t, deliver: at - t0 - (notify.t - base) });
        await sleep(30 + Math.random() * 40);
      }
      if (c % 10 === 9) console.log(`  ${c + 1}/${commits} rounds: medians ${runs.map((r) => `${r.stacks}: ${fmt(summarize(r.latencies).median)} ms`).join(', ')}`);
    }
    if (profile) {
      for (const r of runs) {
        const file = join(profile, `commit-to-agent-flat-${r.stacks}.cpuprofile`);
        console.log(`profile: ${(await r.fleet.daemon.call({ cmd: 'profileStop', file })).file}`);
      }
    }
  } finally {
    for (const r of runs) {
      await r.probe.stop();
      await r.fleet.close();
    }
  }

  const base = summarize(runs[0].latencies).median;
  const med = (list) => (list.length ? spread(summarize(list)) : '–');
  const rows = runs.slice(1).map((r) => {
    const s = summarize(r.latencies);
    const ratio = s.median / base;
    return {
      metric: `commit → agent, ${r.stacks.toLocaleString('en-US')} / ${sizes[0].toLocaleString('en-US')} stacks (medians of ${r.latencies.length} commits each)`,
      value: `${fmt(s.median)} / ${fmt(base)} ms = ${fmt(ratio, 2)}×`,
      goal: '≤ 1.5× (issue 16)',
      pass: ratio <= 1.5,
    };
  });
  const cpuBase = summarize(runs[0].cpuMs).median;
  rows.push({
    metric: `daemon CPU per commit (\`git add\` to the answer), ${runs.map((r) => r.stacks.toLocaleString('en-US')).join(' / ')} stacks`,
    value: `${runs.map((r) => fmt(summarize(r.cpuMs).median)).join(' / ')} ms (${runs
      .slice(1)
      .map((r) => `${fmt(summarize(r.cpuMs).median / cpuBase, 2)}×`)
      .join(', ')})`,
  });
  const details = [
    `One daemon per size, all started before the first commit and measured round robin (${commits} rounds, sizes in a shuffled order each round). ` +
      'Each commit changes the one stack (`svc-0`, label `probe`) the probe agent is associated with; the probe holds a long poll ' +
      '(`wait=30`, If-None-Match) on a keep-alive connection. A commit is `git add` of the changed file in the work tree, `write-tree`, ' +
      '`commit-tree`, then `update-ref` of main: the latency runs from just before `update-ref` (the ref moving) to the changed answer ' +
      '(`git commit` does the same steps, but in a large work tree spends most of its time on the index around the ref update). ' +
      'No other agents. The ref watcher triggers the sync. Daemon CPU per commit is its user+system time from before `git add` to the answer.',
    '',
    '| stacks | commit → agent: median (min–max) ms | p90 (ms) | ratio to the smallest | ref change seen (ms) | sync pass until notified (ms) | notified → answer (ms) | daemon CPU per commit (ms) | `git add` … `commit-tree` (ms, not included) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...runs.map((r) => {
      const s = summarize(r.latencies);
      return (
        `| ${r.stacks} | ${spread(s)} | ${fmt(s.p90)} | ${fmt(s.median / base, 2)} | ${med(r.stages.map((x) => x.detect))} | ` +
        `${med(r.stages.map((x) => x.sync))} | ${med(r.stages.map((x) => x.deliver))} | ${med(r.cpuMs)} | ${med(r.commitMs)} |`
      );
    }),
  ];
  return {
    scenario: 'commit-to-agent-flat',
    title: '13. Commit → agent by repository size',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary: `Loopback, real daemons (\`startDaemon\`, SQLite, watch on), one per size: ${sizes.join(', ')} stacks; one probe agent each.`,
    details,
    raw: Object.fromEntries(runs.map((r) => [r.stacks, { latencies: r.latencies, commitMs: r.commitMs, cpuMs: r.cpuMs, stages: r.stages }])),
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { sizes: { type: 'string' }, commits: { type: 'string' }, profile: { type: 'boolean' } } });
    const profile = profileDir(values.profile);
    finish(await run({ sizes: positiveList(values, 'sizes'), commits: positive(values, 'commits'), profile }));
  });
}
