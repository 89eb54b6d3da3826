// A worker process owning one store and one syncer (watch off): the parent asks it to sync and to
// time the git floor of a commit. Timing happens here, so both figures share one event loop.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, serve } from './child.mjs';
import { GIT_ENV } from './gen-repo.mjs';
import { load } from './product.mjs';

const { openStore } = await load('store/open-store.js');
const { createSyncer } = await load('sync/syncer.js');

let store = null;
let syncer = null;
let repo = null;

serve(
  {
    async open({ repo: r, dir }) {
      repo = r;
      mkdirSync(dir, { recursive: true });
      store = await openStore(join(dir, 'brokkr.db'));
      syncer = createSyncer({ store, repo, branch: 'main', dataDir: dir, watch: false });
      return { ok: true };
    },
    async sync() {
      const t0 = process.hrtime.bigint();
      const report = await syncer.syncOnce();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (report.failure) throw new Error(`sync failed: ${report.failure.code}: ${report.failure.message}`);
      const objects = report.commits.reduce((n, c) => n + c.created.length + c.updated.filter((u) => u.object).length, 0);
      const invalid = report.invalid_stacks.length;
      return { ms, objects, commits: report.commits.length, invalid, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...memoryOf() };
    },
    /** The bare git work for one commit: diff-tree, then cat-file --batch of the touched stack's files. */
    async floor({ from, to }) {
      const t0 = process.hrtime.bigint();
      const diff = await run(['diff-tree', '-r', '--no-renames', '-z', from, to]);
      const paths = diff.toString('utf8').split('\0').filter((_, i) => i % 2 === 1);
      const dirs = [...new Set(paths.map((p) => p.slice(0, p.lastIndexOf('/'))))];
      const names = dirs.flatMap((d) => ['stack.yaml', 'deployment.yaml', 'service.yaml', 'configmap.yaml'].map((f) => `${to}:${d}/${f}\n`));
      const blobs = await run(['cat-file', '--batch'], names.join(''));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { ms, paths: paths.length, bytes: blobs.length };
    },
  },
  async () => {
    await syncer?.stop();
    await store?.close();
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
