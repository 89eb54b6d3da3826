#!/usr/bin/env node
/**
 * Sync at scale: first sync of a generated N-stack repository (3 files per stack) and the cost of
 * one commit touching one stack, in a 5,000-stack and a 50-stack repository.
 *
 *   npm run build && node bench/sync-scale.mjs [--stacks 5000] [--small 50] [--runs 5]
 *
 * Repositories are written with `git fast-import` (seconds, not minutes). Imports come from dist/.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../dist/store/open-store.js';
import { createSyncer } from '../dist/sync/syncer.js';

const { values } = parseArgs({
  options: { stacks: { type: 'string', default: '5000' }, small: { type: 'string', default: '50' }, runs: { type: 'string', default: '5' } },
});
const LARGE = Number(values.stacks);
const SMALL = Number(values.small);
const RUNS = Number(values.runs);

const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (cwd, args, input) => execFileSync('git', args, { cwd, env, input, maxBuffer: 1 << 30, encoding: 'utf8' });

function stackFiles(i, version = 1) {
  const team = `team-${String(i % 50).padStart(2, '0')}`;
  const name = `svc-${String(i).padStart(5, '0')}`;
  const dir = `stacks/${team}/${name}`;
  return [
    [`${dir}/stack.yaml`, `name: ${name}\ndescription: Service ${i}\nlabels: [${team}, env-prod]\nannotations:\n  region: eu-west-${i % 3}\n`],
    [
      `${dir}/deployment.yaml`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  labels: {app: ${name}}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/${name}:v${version}\n          ports: [{containerPort: 8080}]\n`,
    ],
    [`${dir}/service.yaml`, `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  selector: {app: ${name}}\n  ports: [{port: 80, targetPort: 8080}]\n`],
  ];
}

/** One commit via fast-import: `files` as [path, text][], on top of `parent` (or a root commit). */
function fastImportCommit(repo, files, message, parent) {
  const chunks = [`commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> ${Math.floor(Date.now() / 1000)} +0000\n`];
  chunks.push(`data ${Buffer.byteLength(message)}\n${message}\n`);
  if (parent) chunks.push(`from ${parent}\n`);
  for (const [path, text] of files) chunks.push(`M 100644 inline ${path}\ndata ${Buffer.byteLength(text)}\n${text}\n`);
  chunks.push('done\n');
  git(repo, ['fast-import', '--quiet', '--done'], chunks.join(''));
  return git(repo, ['rev-parse', 'refs/heads/main']).trim();
}

function makeRepo(stacks) {
  const dir = mkdtempSync(join(tmpdir(), `brokkr-bench-${stacks}-`));
  git(dir, ['init', '-q', '--bare', '-b', 'main']);
  const files = [];
  for (let i = 0; i < stacks; i++) files.push(...stackFiles(i));
  const started = performance.now();
  fastImportCommit(dir, files, `${stacks} stacks`);
  return { dir, genMs: performance.now() - started };
}

const ms = (n) => `${n.toFixed(0)} ms`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(stacks) {
  const repo = makeRepo(stacks);
  const tmp = mkdtempSync(join(tmpdir(), 'brokkr-bench-db-'));
  const dbPath = join(tmp, 'brokkr.db');
  const store = await openStore(dbPath);
  try {
    const syncer = createSyncer({ store, repo: repo.dir, branch: 'main', dataDir: `${dbPath}.d`, watch: false });
    let t = performance.now();
    const first = await syncer.syncOnce();
    const firstMs = performance.now() - t;
    if (first.failure) throw new Error(first.failure.message);
    const objects = first.commits[0].created.length;

    // Steady state (the daemon): the syncer already holds its view; one commit touching one stack.
    const hot = [];
    for (let run = 0; run < RUNS; run++) {
      const parent = git(repo.dir, ['rev-parse', 'refs/heads/main']).trim();
      const i = Math.floor(stacks / 2) + run;
      fastImportCommit(repo.dir, stackFiles(i % stacks, run + 2).slice(1, 2), `bump ${i}`, parent);
      t = performance.now();
      const r = await syncer.syncOnce();
      hot.push(performance.now() - t);
      if (r.failure || r.commits.length !== 1 || r.commits[0].stacks_read !== 1) throw new Error(`unexpected report ${JSON.stringify(r.failure ?? r.commits.length)}`);
    }
    await syncer.stop();

    // Cold (`brokkr-sync sync` in cron): a new syncer loads the stored state and the cursor's layout first.
    const cold = [];
    for (let run = 0; run < RUNS; run++) {
      const parent = git(repo.dir, ['rev-parse', 'refs/heads/main']).trim();
      fastImportCommit(repo.dir, stackFiles(run, run + 100).slice(1, 2), `cold bump ${run}`, parent);
      const fresh = createSyncer({ store, repo: repo.dir, branch: 'main', dataDir: `${dbPath}.d`, watch: false });
      t = performance.now();
      const r = await fresh.syncOnce();
      cold.push(performance.now() - t);
      await fresh.stop();
      if (r.failure || r.commits.length !== 1) throw new Error('unexpected cold report');
    }
    return { stacks, files: stacks * 3, genMs: repo.genMs, firstMs, objects, hotMs: median(hot), coldMs: median(cold) };
  } finally {
    await store.close();
    rmSync(repo.dir, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

const results = [];
for (const n of [LARGE, SMALL]) results.push(await measure(n));
console.log(`node ${process.version}, git ${git('.', ['--version']).trim().split(' ').pop()}, ${RUNS} runs per incremental figure (median)\n`);
for (const r of results) {
  console.log(
    `${String(r.stacks).padStart(5)} stacks (${r.files} files): generate ${ms(r.genMs)}, first sync ${ms(r.firstMs)} (${r.objects} objects), ` +
      `one-stack commit: ${ms(r.hotMs)} in a running syncer, ${ms(r.coldMs)} cold (new process state)`,
  );
}
