// Scenario 11 — rollout waves (issue 14 item 7): 1,000 agents on one stack rolled out in 3 waves
// (`rollout.waves`: wave-1, wave-2, then the implicit last wave), every agent holding a parked
// long poll (`?wait=30`, If-None-Match) on the real daemon. Each round commits a new version of
// the stack; wave 1 gets it at once; then, for k = 1, 2, every wave-k agent but one reports
// SUCCESS, and the last one's SUCCESS — the gate-passing event — is timed: from sending it to each
// wave-(k+1) agent's answer holding the new object, and the daemon process's CPU time from just
// before that event until every wave-(k+1) agent has its answer (the cost of one release).
//
//   npm run build && node bench/rollout-waves.mjs [--rounds 10] [--waves 100,300,600] [--profile]
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profileDir, startWorker } from './lib/child.mjs';
import { getState } from './lib/fleet.mjs';
import { git } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive, positiveList, UsageError } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const WORKER = new URL('./lib/rollout-worker.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const STACK_YAML = `name: web
labels: [fleet]
rollout:
  waves:
    - labels: [wave-1]
    - labels: [wave-2]
  gate: success
`;
const content = (v) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  version: "${v}"\n`;

/** One agent's long poll, always parked; `seen` = performance.now() when an answer first held each object id. */
function poller(url, agent) {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const seen = new Map();
  let stopped = false;
  let parked = false;
  let errors = 0;
  const run = (async () => {
    let etag = null;
    while (!stopped) {
      let r;
      parked = etag !== null;
      try {
        r = await getState(url, agent, { etag, wait: etag ? 30 : undefined, httpAgent, signal: controller.signal });
      } catch (err) {
        if (stopped) break;
        errors++;
        await sleep(100);
        continue;
      } finally {
        parked = false;
      }
      if (r.status === 200) {
        etag = r.etag;
        for (const o of JSON.parse(r.body)) if (!seen.has(o.id)) seen.set(o.id, { at: r.at, seq: o.sequence_id, stack: o.stack_id });
      } else if (r.status !== 304) {
        errors++;
        await sleep(100);
      }
    }
  })();
  return {
    agent,
    seen,
    get parked() {
      return parked;
    },
    get errors() {
      return errors;
    },
    async stop() {
      stopped = true;
      controller.abort();
      await run.catch(() => undefined);
      httpAgent.destroy();
    },
  };
}

const eventAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
/**
 * A kept-alive socket the daemon closed while idle (its keep-alive timeout passed between two
 * batches) fails the next request on it with ECONNRESET before anything was sent: send again.
 */
async function postSuccess(url, agent, objectId) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postSuccessOnce(url, agent, objectId);
    } catch (err) {
      if (attempt >= 3 || err?.code !== 'ECONNRESET') throw err;
    }
  }
}
function postSuccessOnce(url, agent, objectId) {
  const body = JSON.stringify({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: 'bench' });
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(`/api/v1/agents/${agent.id}/events`, url),
      { method: 'POST', agent: eventAgent, headers: { authorization: `Bearer ${agent.pak}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 201 ? resolve(performance.now()) : reject(new Error(`event for ${agent.name}: ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

async function until(check, what, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export async function run({ rounds = 10, waves = [100, 300, 600], profile = null } = {}) {
  if (waves.length !== 3) throw new UsageError('--waves takes three sizes: wave 1, wave 2, the implicit last wave');
  const started = Date.now();
  const host = machine();
  const tmp = mkdtempSync(join(tmpdir(), 'brokkr-bench-rollout-'));
  const repo = join(tmp, 'repo');
  mkdirSync(join(repo, 'web'), { recursive: true });
  git(repo, ['init', '-q', '-b', 'main']);
  writeFileSync(join(repo, 'web', 'stack.yaml'), STACK_YAML);
  writeFileSync(join(repo, 'web', 'configmap.yaml'), content(0));
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'web v0']);
  const daemon = startWorker(WORKER, { quiet: true });
  const pollers = [];
  const latencies = [[], []];
  const lastAnswer = [[], []];
  const cpuMs = [[], []];
  const eventMs = [];
  let errors = 0;
  let adminPak;
  try {
    adminPak = `bench-admin-${randomBytes(16).toString('hex')}`;
    const { url } = await daemon.call({ cmd: 'start', repo, dir: join(tmp, 'data'), adminPak, log: 'info' });
    const specs = [];
    waves.forEach((n, w) => {
      for (let j = 0; j < n; j++) specs.push({ name: `w${w + 1}-${j}`, labels: w < 2 ? ['fleet', `wave-${w + 1}`] : ['fleet'] });
    });
    const { agents } = await daemon.call({ cmd: 'agents', specs });
    for (const a of agents) pollers.push(poller(url, a));
    const byWave = [0, 1, 2].map((w) => pollers.filter((p) => p.agent.name.startsWith(`w${w + 1}-`)));
    const total = pollers.length;
    const allParked = () => until(async () => pollers.every((p) => p.parked) && (await daemon.call({ cmd: 'waiting' })).waiting >= total, 'every long poll to park');
    console.log(`rollout waves: ${waves.join(' / ')} agents; ${rounds} rounds`);
    let lastSeq = 0;
    for (let r = 1; r <= rounds; r++) {
      await allParked();
      for (const p of pollers) for (const x of p.seen.values()) lastSeq = Math.max(lastSeq, x.seq);
      writeFileSync(join(repo, 'web', 'configmap.yaml'), content(r));
      git(repo, ['commit', '-q', '-am', `web v${r}`]);
      // Wave 1 gets the new object at once; learn its id from the first answer.
      const target = await until(() => {
        for (const p of byWave[0]) for (const [id, s] of p.seen) if (s.seq > lastSeq) return { id, seq: s.seq, stack: s.stack };
        return null;
      }, `round ${r}: the new object to reach wave 1`);
      lastSeq = target.seq;
      await until(() => byWave[0].every((p) => p.seen.has(target.id)), `round ${r}: every wave-1 agent to get the object`);
      for (const k of [0, 1]) {
        const reporters = byWave[k];
        await inBatches(reporters.slice(0, -1), 32, (p) => postSuccess(url, p.agent, target.id));
        if (byWave[k + 1].some((p) => p.seen.has(target.id))) {
          const res = await fetch(new URL(`/api/v1/stacks/${target.stack}/rollout`, url), { headers: { authorization: `Bearer ${adminPak}` } }).then((x) => x.text());
          throw new Error(`round ${r}: wave ${k + 2} got the object before wave ${k + 1} passed ${res}`);
        }
        await allParked();
        if (profile) await daemon.call({ cmd: 'profileStart' });
        const cpu0 = await daemon.call({ cmd: 'cpu' });
        const t0 = performance.now();
        const tEvent = await postSuccess(url, reporters.at(-1).agent, target.id);
        eventMs.push(tEvent - t0);
        await until(() => byWave[k + 1].every((p) => p.seen.has(target.id)), `round ${r}: every wave-${k + 2} agent to get the object`, 10_000);
        const cpu1 = await daemon.call({ cmd: 'cpu' });
        if (profile) console.log(`profile: ${(await daemon.call({ cmd: 'profileStop', file: join(profile, `rollout-waves-${r}-${k + 1}.cpuprofile`) })).file}`);
        const ats = byWave[k + 1].map((p) => p.seen.get(target.id).at - t0);
        latencies[k].push(...ats);
        lastAnswer[k].push(Math.max(...ats));
        cpuMs[k].push((cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000);
      }
      console.log(`  round ${r}: wave 2 all answered ${fmt(lastAnswer[0].at(-1))} ms, wave 3 ${fmt(lastAnswer[1].at(-1))} ms after the gate-passing event`);
    }
  } finally {
    for (const p of pollers) errors += p.errors;
    await Promise.all(pollers.map((p) => p.stop()));
    eventAgent.destroy();
    await daemon.stop(30_000);
    rmSync(tmp, { recursive: true, force: true });
  }
  const all = summarize(latencies.flat());
  const perWave = latencies.map(summarize);
  const last = lastAnswer.map(summarize);
  const cpu = cpuMs.map(summarize);
  const rows = [
    {
      metric: `gate-passing event → each next-wave agent's answer, median (${all.n} answers, ${rounds * 2} releases)`,
      value: `${fmt(all.median)} ms (${fmt(all.min)}–${fmt(all.max)})`,
      goal: '≤ 100 ms (issue 14)',
      pass: all.median <= 100 && errors === 0,
    },
    { metric: 'gate-passing event → each next-wave agent’s answer, p99', value: `${fmt(all.p99)} ms`, goal: '', pass: undefined },
    {
      metric: `daemon CPU per release (${waves[1]} / ${waves[2]} agents answered)`,
      value: `${fmt(cpu[0].median)} / ${fmt(cpu[1].median)} ms`,
      goal: '',
      pass: undefined,
    },
  ];
  const details = [
    `One stack (\`labels: [fleet]\`, \`rollout.waves: [{labels: [wave-1]}, {labels: [wave-2]}]\`, gate success) and ${waves.reduce((a, b) => a + b, 0)} agents: ` +
      `${waves[0]} in wave 1, ${waves[1]} in wave 2, ${waves[2]} in the implicit last wave, each with one keep-alive long poll (\`?wait=30\`, ` +
      'If-None-Match, incremental) held by the bench process. Each round commits a new version (ref watcher on); for k = 1, 2 every wave-k agent ' +
      'but one reports SUCCESS (32 at a time), then — with every poll parked again — the last one does: the latency is from sending that event to ' +
      'each wave-(k+1) answer holding the new object (client side, so it includes parsing 1 answer per agent in one Node process); the CPU is the ' +
      'daemon process’s user+system time over the same window (the event, the release in its transaction, every parked poll re-evaluated, the answers, ' +
      'the re-parked polls).',
    '',
    '| figure | wave 1 → 2 | wave 2 → 3 |',
    '| --- | --- | --- |',
    `| answers per release | ${waves[1]} | ${waves[2]} |`,
    `| latency, all answers: median, p90, p99, max (ms) | ${fmt(perWave[0].median)}, ${fmt(perWave[0].p90)}, ${fmt(perWave[0].p99)}, ${fmt(perWave[0].max)} | ${fmt(perWave[1].median)}, ${fmt(perWave[1].p90)}, ${fmt(perWave[1].p99)}, ${fmt(perWave[1].max)} |`,
    `| every agent of the wave answered: median (min–max) (ms) | ${spread(last[0])} | ${spread(last[1])} |`,
    `| daemon CPU per release: median (min–max) (ms) | ${spread(cpu[0])} | ${spread(cpu[1])} |`,
    `| daemon CPU per answered agent, median (ms) | ${fmt(cpu[0].median / waves[1], 2)} | ${fmt(cpu[1].median / waves[2], 2)} |`,
    `| the gate-passing POST /events itself, median (ms) | ${fmt(summarize(eventMs).median)} | |`,
    `| poll errors | ${errors} | |`,
  ];
  return {
    scenario: 'rollout-waves',
    title: '11. Rollout waves',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary: 'Loopback, real daemon (`startDaemon`, SQLite, watch on) in its own process, 1,000 agents on one stack in 3 waves.',
    details,
    raw: { latencies, lastAnswer, cpuMs, eventMs, errors, waves, rounds },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { rounds: { type: 'string' }, waves: { type: 'string' }, profile: { type: 'boolean' } } });
    const result = await run({ rounds: positive(values, 'rounds'), waves: positiveList(values, 'waves'), profile: profileDir(values.profile) });
    // A profiled run is slower than it measures: printed, never saved.
    if (values.profile) console.log(result.rows.map((r) => `${r.metric}: ${r.value}`).join('\n'));
    else finish(result);
  });
}
