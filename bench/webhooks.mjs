// Scenario — outbound webhooks under load (issue 15 item 4): agents report 1,000 events a second
// through the real daemon while probe agents wait in long polls for commits and a sampler reads
// target states; run twice, without and with a subscription to every event (`*`) whose receiver
// answers each POST after 200 ms. Compares target-state p99 and commit → agent latency between the
// two runs, and measures the deliveries: how many were sent during the run, their lag (event
// created → receiver has it), what is left queued, the daemon's RSS, and its CPU during the load:
// its main thread (the API's event loop) apart from the whole process (the webhook delivery thread).
//
//   npm run build && node bench/webhooks.mjs [--seconds 20] [--rate 1000] [--concurrency N (default: the daemon's, 512)]
//     [--profile DIR: --cpu-prof the daemon, a .cpuprofile per thread in DIR/without and DIR/with; results not saved]
//
// Each run prints `uptime` (the machine is shared: the load average says how much the figures mean).
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker } from './lib/child.mjs';
import { getState, startFleet } from './lib/fleet.mjs';
import { deployment, git, stackDir } from './lib/gen-repo.mjs';
import { request } from './lib/replicas.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, summarize } from './lib/stats.mjs';
import { probe } from './commit-to-agent.mjs';

const EVENTS = new URL('./lib/events-worker.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

/**
 * CPU seconds (user + system) of a process's main thread — the task whose id is the process's: the
 * event loop serving the API — and of the whole process (the webhook thread, libuv's pool, GC
 * helpers besides). Linux /proc; null elsewhere.
 */
function cpuOf(pid) {
  const seconds = (path) => {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  };
  try {
    return { main: seconds(`/proc/${pid}/task/${pid}/stat`), all: seconds(`/proc/${pid}/stat`) };
  } catch {
    return null;
  }
}

/** A receiver that answers every POST after `delayMs`; records when each event arrived. */
async function startReceiver(delayMs) {
  const arrivals = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        arrivals.push({ at, type: body.event_type, createdAt: Date.parse(body.data?.created_at ?? body.timestamp) });
      } catch {
        /* counted as nothing */
      }
      setTimeout(() => res.end('ok'), delayMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, arrivals, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** One run: a fresh fleet; with `subscribe`, a `*` subscription to a 200 ms receiver. */
async function once({ subscribe, seconds, rate, concurrency, commits, profile }) {
  const receiver = subscribe ? await startReceiver(200) : null;
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', join(profile, subscribe ? 'with' : 'without')] : [];
  const fleet = await startFleet({ stacks: 1000, groups: 100, agents: 200, probes: 4, worktree: true, watch: true, execArgv, webhooks: { allowHosts: ['127.0.0.1'], ...(concurrency ? { concurrency } : {}) } });
  const probes = [];
  const events = startWorker(EVENTS);
  try {
    if (receiver) {
      const r = await request(fleet.url, 'POST', '/api/v1/webhooks', { pak: fleet.adminPak, body: { name: 'everything', url: receiver.url, event_types: ['*'], secret: 'bench-secret' } });
      if (r.status !== 201) throw new Error(`subscription: ${r.status} ${JSON.stringify(r.body)}`);
    }
    // Each agent reports events on the newest object of its target state.
    const agents = [];
    for (const a of fleet.agents) {
      const s = await getState(fleet.url, a);
      agents.push({ id: a.id, pak: a.pak, objectId: JSON.parse(s.body)[0].id });
    }
    for (const a of fleet.probes) probes.push(probe(fleet.url, a));
    await sleep(500);
    const before = await fleet.daemon.call({ cmd: 'memory' });
    const loadBefore = uptime();
    const cpuBefore = cpuOf(fleet.pid);
    const load = events.call({ cmd: 'events', url: fleet.url, agents, rate, seconds });
    // During the load: target-state reads (20 a second) and a commit every seconds/commits.
    const stateMs = [];
    const commitMs = [];
    const memory = [];
    const t0 = performance.now();
    const sampler = (async () => {
      let i = 0;
      const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      while (performance.now() - t0 < seconds * 1000) {
        const a = fleet.agents[i++ % fleet.agents.length];
        const s0 = performance.now();
        const r = await getState(fleet.url, a, { httpAgent });
        if (r.status === 200) stateMs.push(r.at - s0);
        await sleep(50);
      }
      httpAgent.destroy();
    })();
    for (let c = 0; c < commits; c++) {
      await sleep((seconds * 1000) / (commits + 1));
      const i = c % 4;
      const path = `${stackDir(i)}/deployment.yaml`;
      writeFileSync(join(fleet.repo, path), deployment(`svc-${i}`, i, 500 + c));
      git(fleet.repo, ['add', path]);
      const answers = probes.map((p) => p.next(15_000));
      git(fleet.repo, ['commit', '-q', '-m', `bump svc-${i}`]);
      const c0 = performance.now();
      for (const at of await Promise.all(answers)) if (at !== null) commitMs.push(at - c0);
      memory.push((await fleet.daemon.call({ cmd: 'memory' })).rssMiB);
    }
    const generated = await load;
    await sampler;
    const cpuAfter = cpuOf(fleet.pid);
    const cpu = cpuBefore && cpuAfter ? { main: cpuAfter.main - cpuBefore.main, all: cpuAfter.all - cpuBefore.all } : null;
    const endAt = Date.now();
    const hooks = await fleet.daemon.call({ cmd: 'webhooks' });
    memory.push((await fleet.daemon.call({ cmd: 'memory' })).rssMiB);
    const arrivals = receiver ? receiver.arrivals.filter((a) => a.at <= endAt) : [];
    return {
      subscribe,
      uptime: { before: loadBefore, after: uptime() },
      cpu,
      cpuPerEventUs: cpu ? { main: (cpu.main * 1e6) / Math.max(1, generated.sent), all: (cpu.all * 1e6) / Math.max(1, generated.sent) } : null,
      generated: { sent: generated.sent, errors: generated.errors, firstError: generated.firstError, seconds: generated.seconds, postMs: summarize(generated.latencies) },
      state: summarize(stateMs),
      commit: summarize(commitMs),
      commitSamples: commitMs.length,
      rss: { before: before.rssMiB, during: summarize(memory) },
      deliveries: hooks,
      lag: summarize(arrivals.map((a) => a.at - a.createdAt)),
      delivered: arrivals.length,
    };
  } finally {
    for (const p of probes) await p.stop();
    await events.stop();
    await fleet.close();
    await receiver?.close();
  }
}

export async function run({ seconds = 20, rate = 1000, concurrency, commits = 8, profile } = {}) {
  const started = Date.now();
  const host = machine();
  const slots = concurrency ?? 'default';
  console.log(`webhooks: ${rate} events/s for ${seconds} s, without then with a '*' subscription (receiver 200 ms, ${slots} in flight)`);
  const without = await once({ subscribe: false, seconds, rate, concurrency, commits, profile });
  const cpuText = (r) => (r.cpu ? `; daemon CPU main thread ${fmt(r.cpu.main, 1)} s (${fmt(r.cpuPerEventUs.main, 0)} µs/event), whole process ${fmt(r.cpu.all, 1)} s (${fmt(r.cpuPerEventUs.all, 0)} µs/event)` : '');
  console.log(`  without: target-state p99 ${fmt(without.state.p99)} ms, commit → agent median ${fmt(without.commit.median)} ms; POST /events median ${fmt(without.generated.postMs.median)} ms${cpuText(without)}\n    ${without.uptime.before}\n    ${without.uptime.after}`);
  const withSub = await once({ subscribe: true, seconds, rate, concurrency, commits, profile });
  console.log(`  with:    target-state p99 ${fmt(withSub.state.p99)} ms, commit → agent median ${fmt(withSub.commit.median)} ms; POST /events median ${fmt(withSub.generated.postMs.median)} ms${cpuText(withSub)}; ${withSub.delivered} delivered, lag median ${fmt(withSub.lag.median)} p99 ${fmt(withSub.lag.p99)} ms; queue ${JSON.stringify(withSub.deliveries.counts)}\n    ${withSub.uptime.before}\n    ${withSub.uptime.after}`);
  const c = withSub.deliveries.counts;
  const created = Object.values(c).reduce((a, b) => a + b, 0);
  const throughput = withSub.delivered / withSub.generated.seconds;
  const rows = [
    { metric: `target-state p99 during ${rate} events/s: without / with a \`*\` subscription`, value: `${fmt(without.state.p99)} / ${fmt(withSub.state.p99)} ms`, goal: 'unchanged within noise' },
    { metric: 'commit → agent median (p99): without / with', value: `${fmt(without.commit.median)} (${fmt(without.commit.p99)}) / ${fmt(withSub.commit.median)} (${fmt(withSub.commit.p99)}) ms`, goal: 'unchanged within noise' },
    { metric: `deliveries sent during the run (receiver 200 ms, ${slots} in flight)`, value: `${withSub.delivered} of ${created} (${fmt(throughput, 1)}/s)` },
    { metric: 'delivery lag, event → receiver: median (p99)', value: `${fmt(withSub.lag.median)} (${fmt(withSub.lag.p99)}) ms` },
    { metric: 'daemon RSS during the run: without / with', value: `${fmt(without.rss.during.max, 0)} / ${fmt(withSub.rss.during.max, 0)} MiB` },
  ];
  const details = [
    `A short run on a shared, loaded machine (${seconds} s of load per run, two runs). 1,000 stacks in 100 label groups, 200 agents reporting ` +
      `DEPLOY events (every 10th a FAILURE) round-robin from another process at ${rate}/s; 4 probe agents long-poll for the ${commits} commits made during the load; ` +
      'a sampler reads 20 target states a second (full answers). Run 2 adds one subscription to `*` whose receiver answers after 200 ms.',
    '',
    '| figure | without | with `*` subscription |',
    '| --- | --- | --- |',
    `| events posted (errors), POST /events median / p99 ms | ${without.generated.sent} (${without.generated.errors}), ${fmt(without.generated.postMs.median)} / ${fmt(without.generated.postMs.p99)} | ${withSub.generated.sent} (${withSub.generated.errors}), ${fmt(withSub.generated.postMs.median)} / ${fmt(withSub.generated.postMs.p99)} |`,
    `| target-state (200) median / p99 ms | ${fmt(without.state.median)} / ${fmt(without.state.p99)} | ${fmt(withSub.state.median)} / ${fmt(withSub.state.p99)} |`,
    `| commit → agent median / p99 ms (${without.commitSamples} / ${withSub.commitSamples} answers) | ${fmt(without.commit.median)} / ${fmt(without.commit.p99)} | ${fmt(withSub.commit.median)} / ${fmt(withSub.commit.p99)} |`,
    `| daemon CPU during the load: main thread (API's event loop) / whole process, µs per event posted | ${without.cpu ? `${fmt(without.cpuPerEventUs.main, 0)} / ${fmt(without.cpuPerEventUs.all, 0)}` : '–'} | ${withSub.cpu ? `${fmt(withSub.cpuPerEventUs.main, 0)} / ${fmt(withSub.cpuPerEventUs.all, 0)}` : '–'} |`,
    `| daemon RSS before load, max during (MiB) | ${fmt(without.rss.before, 0)}, ${fmt(without.rss.during.max, 0)} | ${fmt(withSub.rss.before, 0)}, ${fmt(withSub.rss.during.max, 0)} |`,
    `| deliveries at the end: ${Object.keys(c).join(' / ')} | – | ${Object.values(c).join(' / ')} |`,
    `| \`uptime\` before / after the load | ${without.uptime.before} / ${without.uptime.after} | ${withSub.uptime.before} / ${withSub.uptime.after} |`,
    `| delivery lag median / p90 / p99 / max ms | – | ${fmt(withSub.lag.median)} / ${fmt(withSub.lag.p90)} / ${fmt(withSub.lag.p99)} / ${fmt(withSub.lag.max)} |`,
  ];
  return {
    scenario: 'webhooks',
    title: '12. Outbound webhooks',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary: 'Loopback, real daemon (`startDaemon`, SQLite, watch on), a receiver in the bench process.',
    details,
    raw: { without, with: withSub },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { seconds: { type: 'string' }, rate: { type: 'string' }, concurrency: { type: 'string' }, commits: { type: 'string' }, profile: { type: 'string' } } });
    const options = { seconds: positive(values, 'seconds'), rate: positive(values, 'rate'), concurrency: positive(values, 'concurrency'), commits: positive(values, 'commits'), profile: values.profile };
    const result = await run(options);
    // A profiled run measures the profiler too: print it, but keep it out of the results and docs.
    if (values.profile) console.log(`profiles (one per thread) in ${values.profile}/without and ${values.profile}/with`);
    else finish(result);
  });
}
