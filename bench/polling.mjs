// Scenario 3 — polling: 1,000 agents, each associated with 50 of 10,000 stacks, poll their target
// state through 64 keep-alive connections (autocannon in its own process, requests rotating over
// all 1,000 agents' ids and PAKs). Two cases: conditional polls answered 304 (If-None-Match = the
// current ETag), and unconditional polls answered 200 with the 50 objects. Each run is paired
// with a bare node:http server (another process) answering the same URLs with the same bytes.
//
//   npm run build && node bench/polling.mjs [--runs 3] [--duration 5] [--connections 64] [--daemon-flag --no-optimize-for-size] [--only 304]
//
// --daemon-flag (repeatable): a Node/V8 flag for the daemon's process only, e.g. --no-optimize-for-size
// to measure without `serve`'s memory setting (src/daemon/heap-settings.ts; NODE_OPTIONS refuses it).
// --only 304|200: one case. Both are experiments: printed, never saved.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CPUS, profileDir, startWorker } from './lib/child.mjs';
import { getState, startFleet, statePath } from './lib/fleet.mjs';
import { finish, isMain, machine, main, positive, UsageError } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const LOAD = new URL('./lib/load-worker.mjs', import.meta.url).pathname;
const BARE = new URL('./lib/bare-worker.mjs', import.meta.url).pathname;
const SKIP_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

export async function run({ runs = 3, duration = 5, connections = 64, profile = null, log = 'info', daemonFlags = [], only = null } = {}) {
  const started = Date.now();
  const host = machine(); // at the start: its load average is the other work competing with this run
  const fleet = await startFleet({ log, cpu: CPUS.server, execArgv: daemonFlags });
  let bare = null;
  let load = null;
  const results = { daemon304: [], bare304: [], daemon200: [], bare200: [] };
  let bodyBytes = [];
  let objects = [];
  try {
    console.log(`polling: fleet ready (${fleet.agents.length} agents, daemon start + first sync ${fmt(fleet.startMs)} ms)`);
    // Capture every agent's answers, 200 and 304: the ETags for the 304 case, the bytes (status,
    // headers, body) for the bare server.
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const captured = [];
    for (const agent of fleet.agents) {
      const r = await getState(fleet.url, agent, { httpAgent });
      if (r.status !== 200) throw new Error(`agent ${agent.name}: target-state answered ${r.status}: ${r.body.slice(0, 200)}`);
      const headers = Object.fromEntries(Object.entries(r.headers).filter(([k]) => !SKIP_HEADERS.has(k)));
      // And its 304: the bare server answers conditional polls with exactly these headers too.
      const n = await getState(fleet.url, agent, { httpAgent, etag: r.etag });
      if (n.status !== 304) throw new Error(`agent ${agent.name}: a conditional poll with its own ETag answered ${n.status}`);
      const headers304 = Object.fromEntries(Object.entries(n.headers).filter(([k]) => !SKIP_HEADERS.has(k)));
      captured.push({ url: statePath(agent), etag: r.etag, headers, headers304, body: r.body });
      bodyBytes.push(Buffer.byteLength(r.body));
      objects.push(JSON.parse(r.body).length);
    }
    httpAgent.destroy();
    const file = join(fleet.tmp, 'captured.json');
    writeFileSync(file, JSON.stringify(captured));
    bare = startWorker(BARE, { cpu: CPUS.server });
    const bareUrl = (await bare.call({ cmd: 'start', file })).url;
    load = startWorker(LOAD, { cpu: CPUS.load });

    const req = (withEtag) =>
      fleet.agents.map((agent, i) => ({
        method: 'GET',
        path: statePath(agent),
        headers: { authorization: `Bearer ${agent.pak}`, ...(withEtag ? { 'if-none-match': captured[i].etag } : {}) },
      }));
    const r304 = req(true);
    const r200 = req(false);
    const cases = [
      ['daemon304', fleet.url, r304],
      ['bare304', bareUrl, r304],
      ['daemon200', fleet.url, r200],
      ['bare200', bareUrl, r200],
    ].filter(([name]) => only === null || name.endsWith(only));
    for (let k = 0; k < runs; k++) {
      // Alternate which server goes first, so slow drift (other load, thermal) hits both.
      const order = k % 2 === 0 ? cases : cases.map((_, i) => cases[i ^ 1]);
      for (const [name, url, requests] of order) {
        const profiled = profile && k === 0 && name.startsWith('daemon');
        if (profiled) await fleet.daemon.call({ cmd: 'profileStart' });
        const server = name.startsWith('daemon') ? fleet.daemon : bare;
        await load.call({ cmd: 'run', url, requests, connections, duration: 1, warmup: 0 });
        const isDaemon = name.startsWith('daemon');
        const gc0 = isDaemon ? await server.call({ cmd: 'gcStats' }) : null;
        const threads0 = isDaemon ? await server.call({ cmd: 'threadCpu' }) : null;
        const cpu0 = await server.call({ cmd: 'cpuUsage' });
        const res = await load.call({ cmd: 'run', url, requests, connections, duration, warmup: 0 });
        const cpu1 = await server.call({ cmd: 'cpuUsage' });
        // Server CPU per answer: robust against other load on the machine, unlike req/s.
        res.cpuUsPerRequest = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / res.total;
        if (isDaemon) {
          // The daemon's main thread (its event loop: HTTP) apart from its other threads (GC helpers, the webhook delivery process…).
          const threads1 = await server.call({ cmd: 'threadCpu' });
          res.mainThreadUsPerRequest = (threads1.main - threads0.main) / res.total;
          res.otherThreadsUsPerRequest = (threads1.others - threads0.others) / res.total;
          // The daemon's GC pauses in the run (main thread; concurrent marking on helper threads is in the CPU figure only).
          const gc1 = await server.call({ cmd: 'gcStats' });
          res.gc = Object.fromEntries(['minor', 'major', 'other'].map((k) => [k, { n: gc1[k].n - gc0[k].n, ms: gc1[k].ms - gc0[k].ms }]));
          res.gc.newSpaceMiB = gc1.newSpaceMiB;
          res.gc.oldSpaceMiB = gc1.oldSpaceMiB;
          res.gcUsPerRequest = ((res.gc.minor.ms + res.gc.major.ms + res.gc.other.ms) * 1000) / res.total;
        }
        if (profiled) console.log(`profile: ${(await fleet.daemon.call({ cmd: 'profileStop', file: join(profile, `polling-${name}.cpuprofile`) })).file}`);
        const expected = name.endsWith('304') ? '304' : '200';
        const wrong = Object.entries(res.statusCodes).filter(([code]) => code !== expected);
        if (wrong.length > 0 || res.errors > 0) {
          console.warn(`  ${name}: unexpected answers ${JSON.stringify(res.statusCodes)}, ${res.errors} errors, ${res.timeouts} timeouts`);
        }
        results[name].push(res);
        console.log(
          `  run ${k + 1}/${runs} ${name.padEnd(9)} ${fmt(res.requestsPerSecond, 0).padStart(6)} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms, ` +
            `server CPU ${fmt(res.cpuUsPerRequest)} µs/answer` +
            (res.mainThreadUsPerRequest !== undefined ? ` (main thread ${fmt(res.mainThreadUsPerRequest)}, other threads ${fmt(res.otherThreadsUsPerRequest)})` : '') +
            (res.gc
              ? `, GC ${fmt(res.gcUsPerRequest)} µs/answer (minor ${res.gc.minor.n}, major ${res.gc.major.n}, other ${res.gc.other.n}; ` +
                `${fmt(res.total / Math.max(1, res.gc.minor.n), 0)} answers per minor GC; new space ${fmt(res.gc.newSpaceMiB, 1)} MiB, old ${fmt(res.gc.oldSpaceMiB, 0)} MiB)`
              : ''),
        );
      }
    }
  } finally {
    await load?.stop();
    await bare?.stop();
    await fleet.close();
  }

  const rps = (list) => summarize(list.map((r) => r.requestsPerSecond));
  const lat = (list, p) => summarize(list.map((r) => r.latency[p]));
  const ratio = (a, b) => summarize(results[a].map((r, i) => r.requestsPerSecond / results[b][i].requestsPerSecond));
  const cpu = (name) => summarize(results[name].map((r) => r.cpuUsPerRequest));
  // Bare CPU per answer over the daemon's: the throughput ratio the daemon would reach if the server were the only bottleneck.
  const cpuRatio = (a, b) => summarize(results[a].map((r, i) => results[b][i].cpuUsPerRequest / r.cpuUsPerRequest));
  const bytes = summarize(bodyBytes);
  const objs = summarize(objects);
  const row = (name) =>
    `| ${name} | ${spread(rps(results[name]), 0)} | ${spread(lat(results[name], 'p50'), 0)} | ${spread(lat(results[name], 'p99'), 0)} | ${fmt(
      summarize(results[name].map((r) => r.latency.max)).median,
      0,
    )} | ${spread(cpu(name))} | ${name.startsWith('daemon') ? spread(summarize(results[name].map((r) => r.gcUsPerRequest))) : '–'} | ${JSON.stringify(results[name].at(-1)?.statusCodes ?? {})} |`;
  const details = [
    `Each 200 answer carries ${fmt(objs.median, 0)} objects, ${fmt(bytes.median / 1024, 1)} KiB (${fmt(bytes.min / 1024, 1)}–${fmt(bytes.max / 1024, 1)}); ` +
      `${connections} connections, ${duration} s per run after a 1 s warm-up, ${runs} runs per case, the two servers alternating; latency resolution 1 ms ` +
      "(autocannon's histogram). Server CPU per answer is the server process's user+system CPU time during the run divided by the answers: " +
      'unlike req/s it hardly moves when other processes compete for the cores. GC pauses are the daemon\'s main-thread garbage-collection time in the run ' +
      "(V8's `gc` performance entries) per answer; concurrent marking on V8's helper threads counts only in the CPU figure.",
    '',
    '| server, answer | req/s | p50 (ms) | p99 (ms) | max (ms, median of runs) | server CPU per answer (µs) | of which GC pauses (µs) | status codes (last run) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...['daemon304', 'bare304', 'daemon200', 'bare200'].filter((name) => results[name].length > 0).map(row),
  ];
  const p99_304 = lat(results.daemon304, 'p99');
  const ratio304 = ratio('daemon304', 'bare304');
  const ratio200 = ratio('daemon200', 'bare200');
  const rows = [
    { metric: '304 polls: throughput', value: `${spread(rps(results.daemon304), 0)} req/s; bare node:http ${fmt(rps(results.bare304).median, 0)} req/s` },
    { metric: '304 polls: ratio to bare node:http', value: `${spread(ratio304, 2)}×`, goal: '≥ 0.5×', pass: ratio304.median >= 0.5 },
    {
      metric: '304 polls: server CPU per answer, bare / daemon',
      value: `${fmt(cpu('bare304').median)} / ${fmt(cpu('daemon304').median)} µs = ${spread(cpuRatio('daemon304', 'bare304'), 2)}×`,
    },
    { metric: '304 polls: p50 / p99 latency', value: `${fmt(lat(results.daemon304, 'p50').median, 0)} / ${spread(p99_304, 0)} ms`, goal: `p99 ≤ 20 ms at ${connections} connections`, pass: p99_304.median <= 20 },
    { metric: '200 polls (50 objects): throughput', value: `${spread(rps(results.daemon200), 0)} req/s; bare node:http ${fmt(rps(results.bare200).median, 0)} req/s` },
    { metric: '200 polls: ratio to bare node:http', value: `${spread(ratio200, 2)}×` },
    {
      metric: '200 polls: server CPU per answer, bare / daemon',
      value: `${fmt(cpu('bare200').median)} / ${fmt(cpu('daemon200').median)} µs = ${spread(cpuRatio('daemon200', 'bare200'), 2)}×`,
    },
    { metric: '200 polls: p50 / p99 latency', value: `${fmt(lat(results.daemon200, 'p50').median, 0)} / ${spread(lat(results.daemon200, 'p99'), 0)} ms` },
  ];
  return {
    scenario: 'polling',
    title: '3. Polling',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary:
      `The real daemon (\`startDaemon\` as shipped: rate limits, the request log at level ${log} to a discarded stdout, metrics, ` +
      'the dashboard) in one process, ' +
      'autocannon in another, the bare node:http server in a third; all on loopback. ' +
      (CPUS.server === null ? 'No CPU pinning (taskset missing or one core).' : `The server under test is pinned to CPU ${CPUS.server} and autocannon to CPU ${CPUS.load} (taskset).`) +
      (daemonFlags.length > 0 ? ` The daemon's Node flags: ${daemonFlags.join(' ')} (an experiment, not as shipped).` : ''),
    details,
    raw: results,
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({
      options: {
        runs: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        profile: { type: 'boolean' },
        log: { type: 'string' }, // the daemon's log level (default info, as shipped); experiments only
        'daemon-flag': { type: 'string', multiple: true }, // e.g. --daemon-flag=--no-optimize-for-size; experiments only
        only: { type: 'string' }, // 304 or 200: run one case only (an experiment, not saved)
      },
    });
    const profile = profileDir(values.profile);
    const only = values.only ?? null;
    if (only !== null && only !== '304' && only !== '200') throw new UsageError(`--only: expected 304 or 200, not ${JSON.stringify(only)}`);
    const daemonFlags = values['daemon-flag'] ?? [];
    const result = await run({ runs: positive(values, 'runs'), duration: positive(values, 'duration'), connections: positive(values, 'connections'), profile, log: values.log, daemonFlags, only });
    // An experiment (other daemon flags, one case only) is printed, never saved: the saved figures are the daemon as shipped.
    if (only !== null || daemonFlags.length > 0) {
      const figures = result.rows.filter((r) => !/NaN|undefined/.test(r.value)).map((r) => `${r.metric}: ${r.value}`);
      console.log(`\n${result.details.join('\n')}\n\n${figures.join('\n')}\n\n${result.summary}\n(an experiment: printed, not saved)`);
    } else finish(result);
  });
}
