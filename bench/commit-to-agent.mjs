// Scenario 4 — commit → agent: 8 probe agents wait in long polls (`?wait=30`, If-None-Match) on
// the real daemon (ref watcher on), while 1,000 other agents are parked the same way from another
// process. Each round changes one of the 8 probe stacks in the work tree and runs `git commit`;
// the latency is from `git commit` returning to each probe agent's response (8 samples a round).
// The daemon's memory with everything parked is sampled along the way (scenario 5 uses the same).
//
//   npm run build && node bench/commit-to-agent.mjs [--commits 60] [--probes 8]
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profileDir, startWorker } from './lib/child.mjs';
import { getState, startFleet } from './lib/fleet.mjs';
import { deployment, git, stackDir } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const PARK = new URL('./lib/park-worker.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A probe agent: one keep-alive connection, always one long poll in flight; `next()` = its next 200. */
export function probe(url, agent) {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let etag = null;
  let parked = false;
  let stopped = false;
  let waiter = null;
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const answers = [];
  const run = (async () => {
    etag = (await getState(url, agent, { httpAgent })).etag;
    while (!stopped) {
      parked = true;
      let r;
      try {
        r = await getState(url, agent, { etag, wait: 30, httpAgent, signal: controller.signal });
      } catch (err) {
        if (stopped) break;
        throw err;
      } finally {
        parked = false;
      }
      if (r.status === 200) {
        etag = r.etag;
        answers.push(r.at);
        waiter?.(r.at);
        waiter = null;
      } else if (r.status !== 304) throw new Error(`probe ${agent.name}: ${r.status} ${r.body.slice(0, 200)}`);
    }
  })();
  return {
    get parked() {
      return parked;
    },
    /** Resolves with performance.now() of the next changed answer (or null after timeoutMs). */
    next(timeoutMs) {
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          waiter = null;
          resolve(null);
        }, timeoutMs);
        waiter = (at) => {
          clearTimeout(t);
          resolve(at);
        };
      });
    },
    async stop() {
      stopped = true;
      controller.abort();
      await run.catch(() => undefined);
      httpAgent.destroy();
    },
  };
}

export async function run({ commits = 60, probes = 8, others = 1000, profile = null } = {}) {
  const started = Date.now();
  const host = machine(); // at the start: its load average is the other work competing with this run
  const fleet = await startFleet({ agents: others, probes, worktree: true, watch: true });
  let park = null;
  const probeAgents = [];
  const latencies = [];
  const perCommitMax = [];
  const memory = [];
  let missed = 0;
  let commitMs = [];
  const stages = [];
  try {
    console.log(`commit → agent: fleet ready (daemon start + first sync ${fmt(fleet.startMs)} ms); parking ${others} polls`);
    park = startWorker(PARK);
    if (others > 0) await park.call({ cmd: 'park', url: fleet.url, agents: fleet.agents, wait: 30 });
    for (const agent of fleet.probes) probeAgents.push(probe(fleet.url, agent));
    const waitParked = async () => {
      for (let i = 0; i < 500; i++) {
        const m = await fleet.daemon.call({ cmd: 'memory' });
        if (m.waiting >= others + probes && probeAgents.every((p) => p.parked)) return m;
        await sleep(10);
      }
      throw new Error('the long polls did not all park within 5 s');
    };
    memory.push({ at: 'parked', ...(await waitParked()) });
    if (profile) await fleet.daemon.call({ cmd: 'profileStart' });
    for (let c = 0; c < commits; c++) {
      const m = await waitParked();
      if (c % 10 === 0 && c > 0) memory.push({ at: `after ${c} commits`, ...m });
      const i = c % probes;
      const path = `${stackDir(i)}/deployment.yaml`;
      writeFileSync(join(fleet.repo, path), deployment(`svc-${i}`, i, 100 + c));
      git(fleet.repo, ['add', path]);
      const answers = probeAgents.map((p) => p.next(10_000));
      await fleet.daemon.call({ cmd: 'trace' }); // drop what came before this commit
      const c0 = performance.now();
      git(fleet.repo, ['commit', '-q', '-m', `bump svc-${i} to 1.0.${100 + c}`]);
      const t0 = performance.now();
      commitMs.push(t0 - c0);
      const ats = await Promise.all(answers);
      const round = [];
      for (const at of ats) {
        if (at === null) missed++;
        else {
          latencies.push(at - t0);
          round.push(at - t0);
        }
      }
      perCommitMax.push(Math.max(...round));
      // Where the time went: ref change seen (sync requested), objects committed (feed notified), answers.
      const { trace } = await fleet.daemon.call({ cmd: 'trace' });
      const base = performance.timeOrigin + t0;
      const request = trace.find((e) => e.kind === 'request');
      const notify = trace.find((e) => e.kind === 'notify');
      if (request && notify) {
        stages.push({ detect: request.t - base, sync: notify.t - request.t, deliver: Math.max(...round) - (notify.t - base), first: Math.min(...round) - (notify.t - base) });
      }
      if (c % 10 === 9) console.log(`  ${c + 1}/${commits} commits: median so far ${fmt(summarize(latencies).median)} ms`);
      await sleep(50 + Math.random() * 100);
    }
    memory.push({ at: `after ${commits} commits`, ...(await waitParked()) });
    if (profile) console.log(`profile: ${(await fleet.daemon.call({ cmd: 'profileStop', file: join(profile, 'commit-to-agent.cpuprofile') })).file}`);
  } finally {
    for (const p of probeAgents) await p.stop();
    const parkStats = park ? await park.call({ cmd: 'stats' }).catch(() => null) : null;
    if (parkStats) console.log(`  parked agents: ${parkStats.changed} changed answers, ${parkStats.errors} errors`);
    await park?.stop();
    await fleet.close();
  }
  const lat = summarize(latencies);
  const worst = summarize(perCommitMax);
  const rss = summarize(memory.map((m) => m.rssMiB));
  const rows = [
    {
      metric: `commit → agent, median (${latencies.length} answers, ${commits} commits)`,
      value: `${fmt(lat.median)} ms (${fmt(lat.min)}–${fmt(lat.max)})`,
      goal: '≤ 200 ms',
      pass: lat.median <= 200 && missed === 0,
    },
    { metric: 'commit → agent, p99', value: `${fmt(lat.p99)} ms`, goal: '≤ 1 s', pass: lat.p99 <= 1000 && missed === 0 },
  ];
  if (missed > 0) rows.push({ metric: 'answers missing after 10 s', value: String(missed), goal: '0', pass: false });
  const details = [
    `${probes} probe agents share the label of the ${probes} stacks the commits change (each commit changes one of them, so every probe gets a new ` +
      `answer per commit); ${others} other agents hold parked long polls from another process (the ${Math.round((others / 200) * probes)} of them whose ` +
      'label group contains a changed stack get answers too). The ref watcher triggers the sync.',
    '',
    `| figure | value |`,
    '| --- | --- |',
    `| latency, all answers: median, p90, p99, max (ms) | ${fmt(lat.median)}, ${fmt(lat.p90)}, ${fmt(lat.p99)}, ${fmt(lat.max)} |`,
    `| latency of the slowest probe per commit: median (min–max) (ms) | ${spread(worst)} |`,
    `| \`git commit\` itself (ms, not included) | ${spread(summarize(commitMs))} |`,
    `| breakdown, median (min–max) ms: ref change seen after \`git commit\` returned (ref watcher, its debounce included) | ${stages.length ? spread(summarize(stages.map((s) => s.detect))) : '–'} |`,
    `| breakdown: sync pass until the change feed is notified | ${stages.length ? spread(summarize(stages.map((s) => s.sync))) : '–'} |`,
    `| breakdown: notified until the first / the last probe has its answer | ${stages.length ? `${spread(summarize(stages.map((s) => s.first)))} / ${spread(summarize(stages.map((s) => s.deliver)))}` : '–'} |`,
    `| daemon RSS while parked (MiB), samples | ${memory.map((m) => `${m.at}: ${fmt(m.rssMiB, 0)}`).join('; ')} |`,
  ];
  return {
    scenario: 'commit-to-agent',
    title: '4. Commit → agent',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary: 'Loopback, real daemon (`startDaemon`, watch on), 10,000 stacks.',
    details,
    raw: { latencies, perCommitMax, memory, commitMs, missed, rss, stages },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({
      options: { commits: { type: 'string' }, probes: { type: 'string' }, others: { type: 'string' }, profile: { type: 'boolean' } },
    });
    const profile = profileDir(values.profile);
    finish(await run({ commits: positive(values, 'commits'), probes: positive(values, 'probes'), others: positive(values, 'others'), profile }));
  });
}
