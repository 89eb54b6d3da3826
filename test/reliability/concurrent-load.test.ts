/**
 * Concurrent load while writing: hundreds of agents poll and long-poll a real daemon while more
 * than a hundred commits sync through the real syncer and a second process writes to the same
 * database (file or PostgreSQL). No SQLITE_BUSY reaches a client, nothing answers 5xx, every agent converges.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { checkDatabase } from '../../src/store/open-store.js';
import type { StoreEngine } from '../../src/store/store.js';
import { ENGINES } from '../store/store-fixture.js';
import { ROOT } from './support/cli.js';
import { startTestDaemon, type TestDaemon } from './support/daemon.js';
import { ImportStream, makeImportRepo, remove, write, type FileOp } from './support/fast-import.js';
import { makeRng } from './support/prng.js';

const GROUPS = 6;
const STACKS = 48;
const AGENTS = 240;
/**
 * Commit batches per engine. SQLite: 13 (104 commits). PostgreSQL: 5 (40 commits): there the daemon
 * syncs far slower under this load (measured: 104 commits synced 30–59 s after the last arrived, SQLite
 * ~13 s; each commit wakes the 160 parked polls, whose queries share a 10-connection pool with the
 * syncer), and the extra 64 commits repeat what the first 40 already do — same agents, modes, second
 * writer, model and checks; only the number of wake rounds differs.
 */
const BATCHES: Record<StoreEngine, number> = { sqlite: 13, postgres: 5 };
const COMMITS_PER_BATCH = 8;
/** Seeds of the generated history; PostgreSQL's gives its 40 commits 4 deletions and 3 new stacks (asserted below: both kinds occur). */
const SEEDS: Record<StoreEngine, number> = { sqlite: 0x5eed10ad, postgres: 0x5eed10af };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface ModelStack {
  name: string;
  group: number;
  value: number;
  deleted: boolean;
}

const stackDir = (s: ModelStack) => `stacks/${s.name}`;
const stackOps = (s: ModelStack): FileOp[] => [
  write(`${stackDir(s)}/stack.yaml`, `name: ${s.name}\nlabels: [group-${s.group}]\n`),
  write(`${stackDir(s)}/config.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${s.name}\ndata:\n  value: "${s.value}"\n`),
];

/** The value a stack's content carries (parsed, not pattern-matched). */
function valueOf(content: string): string | undefined {
  const docs = yaml.loadAll(content) as { data?: { value?: string } }[];
  return docs.find((d) => d && d.data)?.data?.value;
}

interface Stats {
  requests: number;
  byStatus: Map<number, number>;
  bad: string[];
}

/**
 * A second process writing the same database again and again (an operator's script): it holds
 * SQLite's write lock, or on PostgreSQL the row's lock inside an open transaction, for 10 ms a time.
 */
const WRITER_SCRIPTS: Record<StoreEngine, string> = {
  sqlite: `
    import Database from 'better-sqlite3';
    const db = new Database(process.argv[1], { timeout: 10000 });
    const stmt = db.prepare("INSERT INTO agent_annotations (agent_id, key, value) VALUES (?, 'ops-touch', ?) ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value");
    const hold = new Int32Array(new SharedArrayBuffer(4));
    let n = 0;
    const tick = () => {
      db.exec('BEGIN IMMEDIATE');
      stmt.run(process.argv[2], String(++n));
      Atomics.wait(hold, 0, 0, 10); // hold the write lock for 10 ms
      db.exec('COMMIT');
      process.stdout.write('.');
      setTimeout(tick, 150);
    };
    tick();`,
  postgres: `
    import pg from 'pg';
    const db = new pg.Client({ connectionString: process.argv[1], application_name: 'brokkr-test-second-writer' });
    await db.connect();
    let n = 0;
    const tick = async () => {
      await db.query('BEGIN');
      await db.query("INSERT INTO agent_annotations (agent_id, key, value) VALUES ($1, 'ops-touch', $2) ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value", [process.argv[2], String(++n)]);
      await db.query('SELECT pg_sleep(0.01)'); // hold the row lock for 10 ms
      await db.query('COMMIT');
      process.stdout.write('.');
      setTimeout(tick, 150);
    };
    await tick();`,
};

function startLockingWriter(engine: StoreEngine, db: string, agentId: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER_SCRIPTS[engine], db, agentId], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let writes = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (writes += d.length));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    writes: () => writes,
    stderr: () => stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe.each(ENGINES)('concurrent load while writing (%s)', (engine) => {
  const BATCH_COUNT = BATCHES[engine];
  it(`${AGENTS} agents polling and long-polling during ${BATCH_COUNT * COMMITS_PER_BATCH} synced commits and a second writer process: no 5xx, no SQLITE_BUSY, all converge`, async () => {
    const rng = makeRng(SEEDS[engine]);
    const repo = makeImportRepo('brokkr-load-repo-');
    cleanups.push(() => repo.cleanup());

    // The model: stacks in groups; agents labelled with one group each.
    const model: ModelStack[] = Array.from({ length: STACKS }, (_, i) => ({ name: `load-${i}`, group: i % GROUPS, value: 0, deleted: false }));
    const initial = new ImportStream();
    initial.commit('refs/heads/main', 'initial stacks', model.flatMap(stackOps));
    await initial.run(repo.path);

    // Commit batches, computed up front so that every agent knows its final state.
    const batches: ImportStream[] = [];
    let tip = repo.git('rev-parse', 'main');
    const batchCommits: { message: string; ops: FileOp[] }[][] = [];
    let added = 0;
    for (let b = 0; b < BATCH_COUNT; b++) {
      const commits: { message: string; ops: FileOp[] }[] = [];
      for (let c = 0; c < COMMITS_PER_BATCH; c++) {
        const ops: FileOp[] = [];
        const live = model.filter((s) => !s.deleted);
        for (let k = rng.int(1, 3); k > 0; k--) {
          const s = rng.pick(live);
          s.value += 1;
          ops.push(...stackOps(s).slice(1));
        }
        if (rng.next() < 0.05 && live.length > STACKS - 4) {
          const gone = rng.pick(live);
          gone.deleted = true;
          ops.push(remove(stackDir(gone)));
        } else if (rng.next() < 0.05) {
          const fresh: ModelStack = { name: `late-${added++}`, group: rng.int(0, GROUPS - 1), value: 0, deleted: false };
          model.push(fresh);
          ops.push(...stackOps(fresh));
        }
        commits.push({ message: `load ${b}.${c}`, ops });
      }
      batchCommits.push(commits);
    }
    const finalValue = new Map(model.map((s) => [s.name, s]));
    // The history deletes stacks and adds new ones while the agents poll (deletion markers, unknown stack ids).
    expect(model.filter((s) => s.deleted).length).toBeGreaterThan(0);
    expect(added).toBeGreaterThan(0);

    const dir = mkdtempSync(join(tmpdir(), 'brokkr-load-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const d: TestDaemon = await startTestDaemon({ repo: repo.path, intervalSeconds: 1, dir, engine });
    cleanups.push(() => d.close());
    const t0 = Date.now();
    const phase: string[] = [];
    await d.daemon.firstSync;
    expect(d.daemon.syncer.isReady()).toBe(true);

    // Agents are created through the store (the admin API would rate-limit one admin key's burst).
    const agents: { id: string; pak: string; group: number; mode: 'poll' | 'long' | 'incremental' }[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const pak = generatePak();
      const agent = await d.daemon.store.createAgent({ name: `agent-${i}`, cluster_name: 'load', pak_hash: hashPak(pak) });
      const group = i % GROUPS;
      await d.daemon.store.addLabel('agent', agent.id, `group-${group}`);
      agents.push({ id: agent.id, pak, group, mode: (['poll', 'long', 'incremental'] as const)[i % 3] });
    }
    const ops = await d.daemon.store.createAgent({ name: 'ops', cluster_name: 'load', pak_hash: hashPak(generatePak()) });
    const writer = startLockingWriter(engine, d.dbPath, ops.id);
    cleanups.push(() => writer.stop());

    const stats: Stats = { requests: 0, byStatus: new Map(), bad: [] };
    let allCommitted = false;
    let abandoned = false;
    const names = new Map<string, string>(); // stack id -> name
    const refreshNames = async () => {
      for (const s of await d.daemon.store.listStacks({ includeDeleted: true })) names.set(s.id, s.name);
    };

    /** What an agent holds: per stack name, the newest object it received. */
    type Held = Map<string, { seq: number; marker: boolean; value: string | undefined }>;
    const converged = (group: number, held: Held) =>
      [...finalValue.values()]
        .filter((s) => s.group === group)
        .every((s) => {
          const got = held.get(s.name);
          return got !== undefined && (s.deleted ? got.marker : !got.marker && got.value === String(s.value));
        }) && [...held.keys()].every((name) => finalValue.get(name)?.group === group);

    async function request(agent: (typeof agents)[number], method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${agent.pak}`, ...init.headers };
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${d.daemon.url}/api/v1${path}`, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
      const text = await res.text();
      stats.requests += 1;
      stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
      if (res.status >= 500 || /SQLITE|database is locked/i.test(text)) stats.bad.push(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
      return { res, text };
    }

    async function runAgent(agent: (typeof agents)[number]): Promise<Held> {
      const held: Held = new Map();
      let etag: string | undefined;
      const mode = agent.mode === 'incremental' ? 'incremental' : 'full';
      for (let i = 0; i < 3000 && !abandoned; i++) {
        const wait = agent.mode === 'poll' ? '' : '&wait=10';
        const { res, text } = await request(agent, 'GET', `/agents/${agent.id}/target-state?mode=${mode}${wait}`, {
          headers: etag ? { 'if-none-match': etag } : {},
        });
        if (res.status === 200) {
          etag = res.headers.get('etag') ?? undefined;
          const objects = JSON.parse(text) as { id: string; stack_id: string; sequence_id: number; yaml_content: string; is_deletion_marker: boolean }[];
          if (objects.some((o) => !names.has(o.stack_id))) await refreshNames();
          for (const o of objects) {
            const name = names.get(o.stack_id)!;
            const prev = held.get(name);
            if (!prev || prev.seq < o.sequence_id) held.set(name, { seq: o.sequence_id, marker: o.is_deletion_marker, value: valueOf(o.yaml_content) });
            if (agent.mode === 'incremental') {
              await request(agent, 'POST', `/agents/${agent.id}/events`, {
                body: { deployment_object_id: o.id, event_type: o.is_deletion_marker ? 'DELETE' : 'DEPLOY', status: 'SUCCESS' },
              });
            }
          }
        } else if (res.status !== 304) {
          stats.bad.push(`unexpected ${res.status}: ${text.slice(0, 200)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        if (i % 10 === 0) await request(agent, 'POST', `/agents/${agent.id}/heartbeat`);
        if (allCommitted && converged(agent.group, held)) return held;
        if (agent.mode === 'poll') await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 250)));
      }
      return held;
    }

    await refreshNames();
    const running = agents.map((a) => runAgent(a));
    // A failed check below leaves the agents polling a daemon being closed: stop them, and let their
    // failures then not surface as unhandled rejections (Promise.all below still sees every one).
    cleanups.push(() => void (abandoned = true));
    for (const r of running) r.catch(() => undefined);

    // Commit the batches while the agents poll: each batch is one fast-import run moving main.
    for (const commits of batchCommits) {
      const stream = new ImportStream();
      commits.forEach((c, i) => stream.commit('refs/heads/main', c.message, c.ops, i === 0 ? { from: tip } : {}));
      await stream.run(repo.path);
      tip = repo.git('rev-parse', 'main');
      batches.push(stream);
      await new Promise((r) => setTimeout(r, 150));
    }
    allCommitted = true;
    phase.push(`committed ${Date.now() - t0} ms`);
    const finalTip = tip;
    // Wait (bounded) for the syncer to reach the tip: 90 s, where 30 s ran out once at load 12 (3 test workers beside other benchmarks).
    const syncDeadline = Date.now() + 90_000;
    while (Date.now() < syncDeadline && (await d.daemon.store.listSyncStates())[0]?.cursor_commit !== finalTip) await new Promise((r) => setTimeout(r, 100));
    expect((await d.daemon.store.listSyncStates())[0]?.cursor_commit).toBe(finalTip);

    phase.push(`synced ${Date.now() - t0} ms`);
    const results = await Promise.all(running);
    phase.push(`converged ${Date.now() - t0} ms`);
    await writer.stop();
    const summary = [...stats.byStatus.entries()].sort().map(([s, n]) => `${s}×${n}`).join(' ');
    console.log(`concurrent load: ${AGENTS} agents, ${BATCH_COUNT * COMMITS_PER_BATCH} commits, ${stats.requests} requests (${summary}), second writer committed ${writer.writes()} times; ${phase.join(', ')}`);

    expect(stats.bad).toEqual([]);
    expect([...stats.byStatus.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(writer.writes()).toBeGreaterThan(10);
    expect(writer.stderr()).toBe('');
    const notConverged = agents.filter((a, i) => !converged(a.group, results[i]!)).map((a) => `agent-${agents.indexOf(a)} (${a.mode})`);
    expect(notConverged).toEqual([]);
    expect(d.log.lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    await d.close();
    const check = await checkDatabase(d.dbPath);
    expect(check.problems).toEqual([]);
  }, 180_000);
});
