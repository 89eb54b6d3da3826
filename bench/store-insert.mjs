// Store benchmarks (run after `npm run build`): node bench/store-insert.mjs [objects=50000] [bytes=2048]
// 1. deployment objects per second inside one transaction (applyCommit, and a bare INSERT loop);
// 2. targetStateIds latency for an agent associated with 50 of 10,000 stacks.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../dist/store/open-store.js';

const N = Number(process.argv[2] ?? 50_000);
const BYTES = Number(process.argv[3] ?? 2048);
const dir = mkdtempSync(join(tmpdir(), 'brokkr-bench-'));
const yaml = (i, v) => `# Source: stack-${i}/deploy.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s${i}-v${v}\ndata:\n  blob: "${'x'.repeat(Math.max(0, BYTES - 90))}"\n`;
const commit = (sha) => ({ sha, author_name: 'Bench', author_email: 'b@example.com', subject: sha, committed_at: new Date().toISOString() });
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

try {
  const path = join(dir, 'bench.db');
  const store = await openStore(path);
  const g = await store.ensureGenerator('bench', null);
  await store.saveSyncTarget(g.id, { repo: '/bench', branch: 'main', root: '' });
  const upserts = (v, ids) =>
    Array.from({ length: N }, (_, i) => ({
      ...(ids ? { id: ids[i] } : {}),
      name: `stack-${i}`, path: `stack-${i}`, description: null,
      labels: [`team-${i % 100}`], annotations: { shard: String(i % 200) },
      content: { yaml: yaml(i, v), checksum: `v${v}-${i}` },
    }));

  let t0 = process.hrtime.bigint();
  const first = await store.applyCommit({ generatorId: g.id, commit: commit('c1'), expectedCursor: null, upserts: upserts(1), deletes: [], errors: [] });
  let t = ms(t0);
  console.log(`applyCommit, ${N} new stacks (stack + label + annotation + object + provenance each): ${t.toFixed(0)} ms, ${Math.round(N / (t / 1000))} stacks/s`);

  const ids = first.created.map((c) => c.stack_id);
  t0 = process.hrtime.bigint();
  await store.applyCommit({ generatorId: g.id, commit: commit('c2'), expectedCursor: 'c1', upserts: upserts(2, ids), deletes: [], errors: [] });
  t = ms(t0);
  console.log(`applyCommit, ${N} new objects of ~${BYTES} B on existing stacks (object + provenance, tags compared): ${t.toFixed(0)} ms, ${Math.round(N / (t / 1000))} objects/s`);
  await store.close();

  // The bare table: one prepared INSERT in one transaction, through every index and trigger.
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insert = db.prepare('INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, generator_id) VALUES (?, ?, ?, ?)');
  t0 = process.hrtime.bigint();
  db.transaction(() => {
    for (let i = 0; i < N; i++) insert.run(ids[i % ids.length], yaml(i, 3), `v3-${i}`, g.id);
  })();
  t = ms(t0);
  console.log(`bare INSERT deployment_objects, ${N} rows of ~${BYTES} B in one transaction: ${t.toFixed(0)} ms, ${Math.round(N / (t / 1000))} rows/s`);
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// --- target state: one agent associated with 50 of 10,000 stacks ------------------------------
const dir2 = mkdtempSync(join(tmpdir(), 'brokkr-bench-'));
try {
  const STACKS = 10_000;
  const store = await openStore(join(dir2, 'ts.db'));
  const g = await store.ensureGenerator('bench', null);
  await store.saveSyncTarget(g.id, { repo: '/bench', branch: 'main', root: '' });
  // 50 stacks labelled 'mine' (20 by label, 15 by annotation, 15 by target); the rest share other labels.
  const r = await store.applyCommit({
    generatorId: g.id, commit: commit('c1'), expectedCursor: null, deletes: [], errors: [],
    upserts: Array.from({ length: STACKS }, (_, i) => ({
      name: `s${i}`, path: `s${i}`, description: null,
      labels: i < 20 ? ['mine', 'common'] : [`l${i % 50}`, 'common'],
      annotations: i >= 20 && i < 35 ? { region: 'mine' } : { region: `r${i % 30}` },
      content: { yaml: yaml(i, 1).slice(0, 300), checksum: `c${i}` },
    })),
  });
  // a few more versions for every stack, so "latest object" has history to skip
  for (let v = 2; v <= 3; v++) {
    const prev = `c${v - 1}`;
    await store.applyCommit({
      generatorId: g.id, commit: commit(`c${v}`), expectedCursor: prev, deletes: [], errors: [],
      upserts: r.created.map((c, i) => ({
        id: c.stack_id, name: `s${i}`, path: `s${i}`, description: null,
        labels: i < 20 ? ['mine', 'common'] : [`l${i % 50}`, 'common'],
        annotations: i >= 20 && i < 35 ? { region: 'mine' } : { region: `r${i % 30}` },
        content: { yaml: `v${v}: ${i}\n`, checksum: `c${i}-${v}` },
      })),
    });
  }
  const agent = await store.createAgent({ name: 'mine', cluster_name: 'bench', pak_hash: 'h' });
  await store.addLabel('agent', agent.id, 'mine');
  await store.setAnnotation('agent', agent.id, 'region', 'mine');
  for (let i = 35; i < 50; i++) await store.addTarget(agent.id, r.created[i].stack_id);
  const busy = await store.createAgent({ name: 'everything', cluster_name: 'bench', pak_hash: 'h2' });
  await store.addLabel('agent', busy.id, 'common');
  // SUCCESS events for half of the agent's objects
  const full = await store.targetStateIds(agent.id, 'full');
  for (const e of full.slice(0, 25)) {
    await store.createEvent({ agent_id: agent.id, deployment_object_id: e.id, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
  }
  const time = async (label, fn, runs = 500) => {
    for (let i = 0; i < 20; i++) await fn();
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      samples.push(ms(t0));
    }
    samples.sort((a, b) => a - b);
    const n = (await fn()).length;
    console.log(`${label}: ${n} entries, median ${samples[runs >> 1].toFixed(3)} ms, p99 ${samples[Math.floor(runs * 0.99)].toFixed(3)} ms`);
  };
  await time('targetStateIds full, agent with 50 of 10,000 stacks', () => store.targetStateIds(agent.id, 'full'));
  await time('targetStateIds incremental, same agent (25 already SUCCESS)', () => store.targetStateIds(agent.id, 'incremental'));
  await time('targetStateIds full, agent matching all 10,000 stacks', () => store.targetStateIds(busy.id, 'full'), 20);
  await time('agentDeliverySummary, 2 agents', () => store.agentDeliverySummary(), 20);
  await time('listStacks, 10,000 stacks', () => store.listStacks(), 5);
  await store.close();
} finally {
  rmSync(dir2, { recursive: true, force: true });
}
