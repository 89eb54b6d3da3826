// A worker process owning one store and one syncer (watch off): the parent asks it to sync and to
// time the git floor of a commit. Timing happens here, so both figures share one event loop.
import childProcess, { spawn } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, serve } from './child.mjs';
import { GIT_ENV } from './gen-repo.mjs';
import { load } from './product.mjs';

const { openStore } = await load('store/open-store.js');
const { createSyncer } = await load('sync/syncer.js');

// Count the product's git spawns and the time the event loop is blocked inside spawn() (fork
// copies the page tables, so it grows with the process's RSS). Patched before the product loads.
const spawnStats = { calls: 0, ms: 0 };
const realSpawn = childProcess.spawn;
childProcess.spawn = function timedSpawn(...args) {
  const t0 = performance.now();
  try {
    return realSpawn.apply(this, args);
  } finally {
    spawnStats.calls++;
    spawnStats.ms += performance.now() - t0;
  }
};
syncBuiltinESMExports();

let store = null;
let syncer = null;
let repo = null;
let gitToClose = null;
let dataDir = null;

serve(
  {
    async open({ repo: r, dir, experiment = null }) {
      repo = r;
      mkdirSync(dir, { recursive: true });
      store = await openStore(join(dir, 'brokkr.db'));
      let git;
      if (experiment === 'catfile') {
        const { openGitSource } = await load('git/open-git-source.js');
        const { CatFileGitSource } = await import('./catfile-git-source.mjs');
        git = gitToClose = new CatFileGitSource(await openGitSource({ repo, dataDir: dir }), repo);
      }
      syncer = createSyncer({ store, repo, branch: 'main', dataDir: dir, watch: false, git });
      dataDir = dir;
      return { ok: true };
    },
    /** A fresh syncer on the same database: what a `brokkr-sync sync` run (cron, CI) starts from. */
    async reopen() {
      await syncer.stop();
      syncer = createSyncer({ store, repo, branch: 'main', dataDir, watch: false });
      return { ok: true };
    },
    async sync() {
      const spawns0 = { ...spawnStats };
      const t0 = process.hrtime.bigint();
      const report = await syncer.syncOnce();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const spawns = { calls: spawnStats.calls - spawns0.calls, ms: spawnStats.ms - spawns0.ms };
      if (report.failure) throw new Error(`sync failed: ${report.failure.code}: ${report.failure.message}`);
      const objects = report.commits.reduce((n, c) => n + c.created.length + c.updated.filter((u) => u.object).length, 0);
      const invalid = report.invalid_stacks.length;
      return { ms, spawns, objects, commits: report.commits.length, invalid, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...memoryOf() };
    },
    /** The bare git work for one commit: diff-tree, then cat-file --batch of the touched stack's files. */
    async floor({ from, to }) {
      const spawns0 = { ...spawnStats };
      const t0 = process.hrtime.bigint();
      const diff = await run(['diff-tree', '-r', '--no-renames', '-z', from, to]);
      const paths = diff.toString('utf8').split('\0').filter((_, i) => i % 2 === 1);
      const dirs = [...new Set(paths.map((p) => p.slice(0, p.lastIndexOf('/'))))];
      const names = dirs.flatMap((d) => ['stack.yaml', 'deployment.yaml', 'service.yaml', 'configmap.yaml'].map((f) => `${to}:${d}/${f}\n`));
      const blobs = await run(['cat-file', '--batch'], names.join(''));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { ms, spawns: { calls: spawnStats.calls - spawns0.calls, ms: spawnStats.ms - spawns0.ms }, paths: paths.length, bytes: blobs.length, ...memoryOf() };
    },
  },
  async () => {
    await syncer?.stop();
    await store?.close();
    await gitToClose?.close();
  },
);

function run(args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: repo, env: GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git ${args[0]} exited ${code}`))));
    child.stdin.end(input);
  });
}
