// Replicas for the scale-out scenarios (SPEC §8): an embedded PostgreSQL server, one database,
// a generated repository with a work tree, and `serve` replicas of the real daemon, each in its own
// process (bench/lib/daemon-worker.mjs: startDaemon with the postgres:// URL, its own data dir,
// the shipped lease settings unless told otherwise). Agents are seeded through a replica's store.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker } from './child.mjs';
import { generateRepo } from './gen-repo.mjs';
import { startPostgres } from './postgres.mjs';

const DAEMON = new URL('./daemon-worker.mjs', import.meta.url).pathname;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start PostgreSQL, a repository of `stacks` stacks (work tree checked out, so `git commit` works)
 * and `replicas` replicas, one after the other (the first takes the lease and does the first sync;
 * the others start as standbys). Returns { pg, dbUrl, repo, adminPak, replicas: [...], startReplica,
 * holder(), close() }; a replica is { name, worker, url, replicaId, pid, alive }.
 */
export async function startReplicaSet({ name, stacks = 1000, groups = 200, probes = 0, replicas = 2, leaseTtlMs, watch = true } = {}) {
  const tmp = mkdtempSync(join(tmpdir(), `brokkr-bench-${name}-`));
  const repo = join(tmp, 'repo');
  const adminPak = `bench-admin-${randomBytes(16).toString('hex')}`;
  let pg = null;
  const all = [];
  let started = 0;
  const set = {
    tmp,
    repo,
    adminPak,
    pg: null,
    dbUrl: null,
    replicas: all,
    /** A new replica process (a fresh --data-dir); resolves once it serves. */
    async startReplica(label) {
      const n = started++;
      const worker = startWorker(DAEMON, { quiet: true });
      try {
        const s = await worker.call({ cmd: 'start', repo, dir: join(tmp, `replica-${n}`), watch, adminPak, db: set.dbUrl, leaseTtlMs });
        const replica = { name: label ?? String.fromCharCode(65 + n), worker, url: s.url, replicaId: s.replicaId, pid: s.pid, alive: true, startMs: s.startMs };
        all.push(replica);
        return replica;
      } catch (err) {
        worker.kill();
        throw err;
      }
    },
    /** The live replica holding the repository's lease now (asked of each), or null. */
    async holder() {
      for (const r of all) {
        if (!r.alive) continue;
        if ((await r.worker.call({ cmd: 'lease' })).holdsLease) return r;
      }
      return null;
    },
    /** kill -9: no shutdown, the lease stays in the database until it runs out. */
    kill(replica) {
      replica.worker.kill();
      replica.alive = false;
    },
    async close() {
      for (const r of all) if (r.alive) await r.worker.stop(30_000).catch(() => r.worker.kill());
      await pg?.stop().catch(() => undefined);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  try {
    pg = await startPostgres();
    set.pg = pg;
    set.dbUrl = await pg.createDatabase(`bench_${name.replace(/[^a-z0-9]/gi, '_')}`);
    await generateRepo(repo, { stacks, groups, probes, worktree: true });
    for (let i = 0; i < replicas; i++) await set.startReplica();
    return set;
  } catch (err) {
    await set.close();
    throw err;
  }
}

/** One request with a JSON body (or none); resolves { status, body, at } (`at`: performance.now() at the end). */
export function request(baseUrl, method, path, { pak, body, httpAgent, headers = {}, signal } = {}) {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: httpAgent,
        signal,
        headers: {
          ...(pak ? { authorization: `Bearer ${pak}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, body: parsed, etag: res.headers.etag, at: performance.now() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
