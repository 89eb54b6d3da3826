/**
 * SPEC §8–§9 repositories shared by replicas: two real `serve --config` processes on one
 * PostgreSQL database and four repositories end with every repository synced, each repository's
 * lease held by exactly one replica and both replicas holding some (read from `sync_leases`, and
 * agreeing with each replica's own `syncing_here`); after kill -9 of one, the survivor holds all
 * four within the lease bound (SPEC: 10 s) and syncs new commits of every one of them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, requireBuild, startCli, type CliProcess } from '../e2e/cli-process.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { createTestDatabase } from '../support/postgres.js';
import { ADMIN_PAK, call, until, writeStack } from './support/world.js';

const NAMES = ['north', 'south', 'east', 'west'] as const;
const LEASE_TTL_MS = 1_000;

interface Replica {
  proc: CliProcess;
  url: string;
  id: string;
}

let db: string;
let dir: string;
let observer: pg.Client;
const repos = {} as Record<(typeof NAMES)[number], TestRepo>;
const replicas: Replica[] = [];

async function startReplica(config: string, name: string): Promise<Replica> {
  const proc = startCli(['serve', '--config', config, '--db', db, '--data-dir', mkdtempSync(join(dir, `${name}-`)), '--port', '0', '--log-level', 'warn'], {
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK, BROKKR_LEASE_TTL_MS: String(LEASE_TTL_MS), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
  const [, url, id] = await proc.waitFor(/brokkr-sync serving (http:\/\/\S+) [^\n]*\ndatabase [^\n]*, replica (\S+)\n/, `replica ${name} to serve`, 30_000);
  return { proc, url: url!, id: id! };
}

/** Live leases by repository name (the database's clock decides what is live). */
async function leases(): Promise<Map<string, string>> {
  const { rows } = await observer.query<{ name: string; holder: string }>(
    `SELECT g.name, l.holder FROM sync_leases l JOIN generators g ON g.id = l.generator_id
      WHERE l.expires_at > clock_timestamp() AND g.deleted_at IS NULL`,
  );
  return new Map(rows.map((r) => [r.name, r.holder]));
}

async function cursors(): Promise<Map<string, string | null>> {
  const { rows } = await observer.query<{ name: string; cursor_commit: string | null }>(
    'SELECT g.name, s.cursor_commit FROM generators g LEFT JOIN sync_state s ON s.generator_id = g.id WHERE g.deleted_at IS NULL',
  );
  return new Map(rows.map((r) => [r.name, r.cursor_commit]));
}

const allSynced = async () => {
  const c = await cursors();
  return NAMES.every((n) => c.get(n) === repos[n].head());
};

beforeAll(async () => {
  requireBuild();
  db = await createTestDatabase('repos_replicas');
  dir = mkdtempSync(join(tmpdir(), 'brokkr-repos-replicas-'));
  for (const name of NAMES) {
    repos[name] = makeRepoSync(`brokkr-rr-${name}-`);
    writeStack(repos[name], `stacks/${name}`, `rr-${name}`).commit(`${name} v1`);
  }
  const config = join(dir, 'brokkr.yaml');
  writeFileSync(config, ['repositories:', ...NAMES.flatMap((n) => [`  - name: ${n}`, `    url: ${repos[n].path}`, '    interval: 1']), ''].join('\n'));
  replicas.push(...(await Promise.all([startReplica(config, 'a'), startReplica(config, 'b')])));
  observer = new pg.Client({ connectionString: db });
  await observer.connect();
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.proc.stop('SIGTERM')));
  killAll();
  await observer?.end().catch(() => undefined);
  for (const r of Object.values(repos)) r.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('two replicas, four repositories', () => {
  it('every repository is synced, each lease held by exactly one replica, both replicas holding some', async () => {
    const [a, b] = replicas as [Replica, Replica];
    expect(a.id).not.toBe(b.id);
    await until(allSynced, 'the four repositories to be synced', 20_000);
    // The share settles: every repository leased, by a live replica, and nobody holding them all.
    const shared = await until(async () => {
      const held = await leases();
      const holders = [...held.values()];
      return NAMES.every((n) => held.has(n)) && holders.includes(a.id) && holders.includes(b.id) && held;
    }, 'both replicas to hold some of the four leases', 15_000);
    for (const holder of shared.values()) expect([a.id, b.id]).toContain(holder);
    // And it evens out: two each (each replica's fair share is ⌈4 / 2⌉).
    const t0 = performance.now();
    await until(async () => {
      const held = [...(await leases()).values()];
      return held.length === 4 && held.filter((h) => h === a.id).length === 2 && held.filter((h) => h === b.id).length === 2;
    }, 'two leases each', 15_000);
    console.log(`replicas: settled two each ${(performance.now() - t0).toFixed(0)} ms after both held some`);

    // Each replica's own view agrees with the database: it syncs exactly what it holds.
    await until(async () => {
      const held = await leases();
      for (const r of [a, b]) {
        const here = ((await call(r.url, 'GET', '/api/v1/generators')).body as any[]).filter((g) => g.repository?.syncing_here).map((g) => g.name).sort();
        const mine = NAMES.filter((n) => held.get(n) === r.id).sort();
        if (JSON.stringify(here) !== JSON.stringify(mine)) return false;
      }
      return true;
    }, 'each replica’s syncing_here to match sync_leases', 10_000);

    // Stacks of all four are there once, each with its repository's generator.
    const { rows } = await observer.query<{ name: string; generator: string }>(
      'SELECT s.name, g.name AS generator FROM stacks s JOIN generators g ON g.id = s.generator_id WHERE s.deleted_at IS NULL ORDER BY s.name',
    );
    expect(rows).toEqual(NAMES.map((n) => ({ name: `rr-${n}`, generator: n })).sort((x, y) => x.name.localeCompare(y.name)));
  });

  it('kill -9 of one replica: the other holds all four within the lease bound and syncs their commits', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const before = await leases();
    const victim = [a, b].find((r) => [...before.values()].includes(r.id))!;
    const survivor = victim === a ? b : a;
    const moved = NAMES.filter((n) => before.get(n) === victim.id);
    expect(moved.length).toBeGreaterThan(0);

    const killed = performance.now();
    await victim.proc.stop('SIGKILL');
    await until(async () => {
      const held = await leases();
      return NAMES.every((n) => held.get(n) === survivor.id);
    }, 'the survivor to hold every lease (SPEC §8: within 10 s)', 10_000);
    const tookOver = performance.now() - killed;

    for (const name of NAMES) writeStack(repos[name], `stacks/${name}`, `rr-${name}`, 'v2').commit(`${name} v2`);
    await until(allSynced, 'the survivor to sync a new commit of every repository', 10_000);
    const here = ((await call(survivor.url, 'GET', '/api/v1/generators')).body as any[]).filter((g) => g.repository?.syncing_here).map((g) => g.name);
    expect(here.sort()).toEqual([...NAMES].sort());
    console.log(`replicas: ${moved.join(', ')} moved to the survivor ${tookOver.toFixed(0)} ms after kill -9 (lease TTL ${LEASE_TTL_MS} ms)`);
  });
});
