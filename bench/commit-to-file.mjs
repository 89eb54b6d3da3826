#!/usr/bin/env node
/**
 * Time from `git commit` returning to the agent's file changing on disk, end to end: a real daemon
 * (startDaemon from dist/, ref watcher on a local repository) and a real agent process
 * (`node dist/cli/main.js agent`) long-polling it. Run after `npm run build`:
 *
 *   node bench/commit-to-file.mjs [--commits 20]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/cli/main.js');
if (!existsSync(main)) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { startDaemon } = await import(join(root, 'dist/daemon/daemon.js'));

const commits = Number(process.argv[process.argv.indexOf('--commits') + 1]) || 20;
const work = mkdtempSync(join(tmpdir(), 'brokkr-bench-c2f-'));
const repo = join(work, 'repo');
const out = join(work, 'out');
const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};
const git = (...args) => execFileSync('git', args, { cwd: repo, env: gitEnv, stdio: ['ignore', 'pipe', 'pipe'] });
const manifest = (i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\ndata:\n  value: "${i}"\n`;

mkdirSync(join(repo, 'bench'), { recursive: true });
writeFileSync(join(repo, 'bench/stack.yaml'), 'labels: [bench]\n');
writeFileSync(join(repo, 'bench/configmap.yaml'), manifest(0));
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-q', '-m', 'initial');

const daemon = await startDaemon({ repo, branch: 'main', db: join(work, 'brokkr.db'), port: 0, logger: pino({ level: 'silent' }), dashboard: false, rateLimit: false });
await daemon.firstSync;
const res = await fetch(`${daemon.url}/api/v1/agents`, {
  method: 'POST',
  headers: { authorization: `Bearer ${daemon.adminPak}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'bench', cluster_name: 'bench', labels: ['bench'] }),
});
const { initial_pak: pak } = await res.json();

const agent = spawn(process.execPath, [main, 'agent', '--url', daemon.url, '--pak', pak, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
let agentLog = '';
agent.stderr.on('data', (d) => (agentLog += d));
const file = join(out, 'bench.yaml');

/** Resolve when `file` holds version i (the content may carry `# Source:` comments): fs.watch on OUT wakes us, a 2 ms poll backs it up. */
function waitForVersion(i, deadlineMs = 30_000) {
  const expected = `value: "${i}"`;
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        if (readFileSync(file, 'utf8').includes(expected)) return finish(null);
      } catch {
        /* not there yet */
      }
      if (Date.now() > deadline) finish(new Error(`timed out; agent log:\n${agentLog}`));
    };
    const deadline = Date.now() + deadlineMs;
    let watcher = null;
    try {
      watcher = watch(out, check);
    } catch {
      /* OUT not created yet */
    }
    const timer = setInterval(check, 2);
    const finish = (err) => {
      clearInterval(timer);
      watcher?.close();
      err ? reject(err) : resolve();
    };
    check();
  });
}

try {
  await waitForVersion(0);
  const samples = [];
  const synced = [];
  for (let i = 1; i <= commits; i++) {
    writeFileSync(join(repo, 'bench/configmap.yaml'), manifest(i));
    git('add', '-A');
    const version = daemon.feed.version;
    git('commit', '-q', '-m', `change ${i}`);
    const t0 = performance.now();
    // The syncer notifies the change feed once the commit's objects are in the database; other
    // notifications (heartbeats, event reports) wake us too, so check the stack's latest object.
    void (async () => {
      for (let v = version; ; v = daemon.feed.version) {
        await daemon.feed.waitFor(v, 30_000);
        const [stack] = await daemon.store.listStacks();
        if (stack?.latest_object?.sequence_id === i + 1) return synced.push(performance.now() - t0);
      }
    })();
    await waitForVersion(i);
    samples.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 200)); // let the agent report and re-park its long poll (quiet feed before the next commit)
  }
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  const line = (xs) => {
    xs.sort((a, b) => a - b);
    const q = (p) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
    return `median ${fmt(q(50))}   p90 ${fmt(q(90))}   p99 ${fmt(q(99))}   min ${fmt(xs[0])}   max ${fmt(xs.at(-1))}`;
  };
  console.log(`${samples.length} commits; daemon (ref watcher) in this process, agent in its own process`);
  console.log(`  commit → objects in the database: ${line(synced)}`);
  console.log(`  commit → file on disk:            ${line(samples)}`);
} finally {
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  await daemon.close();
  rmSync(work, { recursive: true, force: true });
}
