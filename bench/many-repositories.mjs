// Scenario 6 — many repositories in one daemon (issue 13): 100 repositories × 100 stacks, each a
// local repository the daemon watches. Measured: the first sync of all of them (daemon start to
// every first pass done), commit → agent for a commit in one of them (a probe agent long-polls
// a stack of that repository), the same figure for one repository of 100 stacks in the same run
// (the ratio is the goal: ≤ 1.5×), and the daemon's RSS with everything synced.
//
//   npm run build && node bench/many-repositories.mjs [--repositories 100] [--stacks 100] [--commits 20]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker } from './lib/child.mjs';
import { getState } from './lib/fleet.mjs';
import { git } from './lib/gen-repo.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const WORKER = new URL('./lib/repos-worker.mjs', import.meta.url).pathname;
const ADMIN_PAK = 'brk_bench-many-repositories-admin-0123456789';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Repository `r` with `stacks` stacks named r<r>-s<i> (names are unique across repositories); stack 0 carries the label probe-r<r>. */
function makeRepository(dir, r, stacks) {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < stacks; i++) {
    const stack = join(dir, `s${i}`);
    mkdirSync(stack, { recursive: true });
    const labels = i === 0 ? `[probe-r${r}, team-${r % 10}]` : `[team-${r % 10}]`;
    writeFileSync(join(stack, 'stack.yaml'), `name: r${r}-s${i}\nlabels: ${labels}\n`);
    writeFileSync(join(stack, 'config.yaml'), configMap(r, i, 1));
  }
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', `repository ${r}`]);
}

const configMap = (r, i, v) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r${r}-s${i}\ndata:\n  VERSION: "${v}"\n  OWNER: team-${r % 10}\n`;

/** commit → the probe agent's next changed answer, `commits` times, on repository `r` of `dir`. */
async function commitToAgent(worker, url, dir, r, commits) {
  const agent = await worker.call({ cmd: 'agent', name: `probe-r${r}`, label: `probe-r${r}` });
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let { etag } = await getState(url, agent, { httpAgent });
  const latencies = [];
  for (let c = 0; c < commits; c++) {
    const parked = getState(url, agent, { etag, wait: 30, httpAgent });
    await sleep(30); // the poll is parked before the commit
    writeFileSync(join(dir, 's0', 'config.yaml'), configMap(r, 0, 2 + c));
    git(dir, ['commit', '-q', '-am', `bump r${r}-s0 to ${2 + c}`]);
    const t0 = performance.now();
    const answer = await parsed(parked);
    if (answer.status !== 200) throw new Error(`probe of repository ${r}: expected a changed answer, got ${answer.status}`);
    latencies.push(answer.at - t0);
    etag = answer.etag;
    await sleep(50 + Math.random() * 50);
  }
  httpAgent.destroy();
  return latencies;
}

const parsed = (p) => p.then((r) => r);

async function daemonOver(base, repositories) {
  const worker = startWorker(WORKER, { quiet: true });
  const started = await worker.call({ cmd: 'start', repositories, dir: join(base, `db-${repositories.length}`), adminPak: ADMIN_PAK });
  return { worker, ...started };
}

export async function run({ repositories = 100, stacks = 100, commits = 20 } = {}) {
  const startedAt = Date.now();
  const host = machine();
  const base = mkdtempSync(join(tmpdir(), 'brokkr-bench-repos-'));
  try {
    const t0 = performance.now();
    const dirs = [];
    for (let r = 0; r < repositories; r++) {
      const dir = join(base, `repo-${r}`);
      makeRepository(dir, r, stacks);
      dirs.push(dir);
    }
    console.log(`many repositories: ${repositories} repositories × ${stacks} stacks generated in ${fmt((performance.now() - t0) / 1000, 1)} s`);

    // The one-repository figure, same method, same machine, same run.
    const oneDir = join(base, 'single');
    makeRepository(oneDir, 0, stacks);
    const one = await daemonOver(base, [{ name: 'single', url: oneDir }]);
    const single = await commitToAgent(one.worker, one.url, oneDir, 0, commits);
    await one.worker.stop();
    console.log(`  one repository: commit → agent median ${fmt(summarize(single).median)} ms`);

    const many = await daemonOver(base, dirs.map((url, r) => ({ name: `repo-${r}`, url })));
    console.log(`  ${repositories} repositories: first sync of ${many.stacks} stacks in ${fmt(many.firstSyncMs / 1000, 2)} s`);
    const target = Math.floor(repositories / 2);
    const multi = await commitToAgent(many.worker, many.url, dirs[target], target, commits);
    const rssSamples = [];
    for (let i = 0; i < 5; i++) {
      rssSamples.push((await many.worker.call({ cmd: 'memory' })).rssMiB);
      await sleep(300);
    }
    await many.worker.stop();

    const s1 = summarize(single);
    const sN = summarize(multi);
    const ratio = sN.median / s1.median;
    const rss = summarize(rssSamples);
    const rows = [
      { metric: `first sync, ${repositories} repositories × ${stacks} stacks`, value: `${fmt(many.firstSyncMs / 1000, 2)} s`, goal: '', pass: null },
      { metric: `commit → agent in one of ${repositories} repositories, median / p99`, value: `${fmt(sN.median)} / ${fmt(sN.p99)} ms`, goal: '', pass: null },
      { metric: `commit → agent, one repository of ${stacks} stacks, median / p99`, value: `${fmt(s1.median)} / ${fmt(s1.p99)} ms`, goal: '', pass: null },
      { metric: `ratio of the medians (${repositories} repositories / one)`, value: `${fmt(ratio, 2)}×`, goal: '≤ 1.5×', pass: ratio <= 1.5 },
      { metric: `daemon RSS, ${repositories} repositories synced and watched`, value: `${fmt(rss.median, 0)} MiB`, goal: '', pass: null },
    ];
    return {
      scenario: 'many-repositories',
      title: '6. Many repositories',
      date: new Date().toISOString(),
      durationS: (Date.now() - startedAt) / 1000,
      machine: host,
      rows,
      summary: `One daemon (\`startDaemon\` with a repositories list, as \`serve --config\`), ${repositories} local repositories watched, SQLite.`,
      details: [
        `Each repository has ${stacks} stacks (a stack.yaml and one ConfigMap); stack names are unique across repositories. A probe agent ` +
          'long-polls (`wait=30`, If-None-Match) the one stack it is associated with; each commit changes that stack, and the latency is from ' +
          '`git commit` returning to the probe\'s changed answer. The one-repository figure is measured the same way in the same run.',
        '',
        '| figure | value |',
        '| --- | --- |',
        `| commit → agent, ${repositories} repositories: median (min–max) ms | ${spread(sN)} |`,
        `| commit → agent, one repository: median (min–max) ms | ${spread(s1)} |`,
        `| daemon RSS samples (MiB) | ${rssSamples.map((x) => fmt(x, 0)).join(', ')} |`,
      ],
      raw: { single, multi, firstSyncMs: many.firstSyncMs, rssSamples },
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { repositories: { type: 'string' }, stacks: { type: 'string' }, commits: { type: 'string' } } });
    finish(await run({ repositories: positive(values, 'repositories'), stacks: positive(values, 'stacks'), commits: positive(values, 'commits') }));
  });
}
