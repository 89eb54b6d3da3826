/**
 * Rate limits with real processes: `brokkr-sync serve` with tiny budgets from its `--config` file,
 * an agent PAK over its budget answered 429 while the admin still passes, and the admin CLI and
 * the reference agent (both `brokkr-sync` processes) waiting out their 429s and succeeding.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import { makeRepoSync, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { freePort, killAll, requireBuild, runCli, startCli, until, type CliProcess } from './cli-process.js';

const ADMIN_PAK = 'e2e-rate-limit-admin-pak-0123456789abcdef';
/** Requests per second of a readonly operator: one per 10 s (see beforeAll). */
const READONLY_RATE = 0.1;

let repo: TestRepo;
let work: { path: string; cleanup(): void };
let url: string;
let daemon: CliProcess;
let agent: CliProcess | null = null;
const admin = () => ({ BROKKR_URL: url, BROKKR_PAK: ADMIN_PAK });

/** Send until the daemon answers 429; that answer. */
async function spend(path: string, pak: string): Promise<Response> {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${pak}` } });
    if (res.status === 429) return res;
    await res.arrayBuffer();
  }
  throw new Error(`${path} never answered 429`);
}

async function createAgent(name: string): Promise<{ id: string; pak: string }> {
  const r = await runCli(['agents', 'create', name, '--cluster', 'local', '--label', 'prod', '--json'], { env: admin() });
  expect(r.code, r.stderr).toBe(0);
  const created = JSON.parse(r.stdout) as { agent: { id: string }; initial_pak: string };
  return { id: created.agent.id, pak: created.initial_pak };
}

beforeAll(async () => {
  requireBuild();
  work = makeTempDir('brokkr-e2e-rate-');
  repo = makeRepoSync('brokkr-e2e-rate-repo-');
  repo.writeAll({
    'web/stack.yaml': 'labels: [prod]\n',
    'web/cm.yaml': 'kind: ConfigMap\n',
    'db/stack.yaml': 'labels: [prod]\n',
    'db/cm.yaml': 'kind: ConfigMap\n',
    'queue/stack.yaml': 'labels: [prod]\n',
    'queue/cm.yaml': 'kind: ConfigMap\n',
  });
  repo.commit('three stacks');
  // The README's mapping form. An agent: 1 request a second, 3 at once. The admin: one every 5 s.
  // A readonly operator: one request every 10 s, no burst — a CLI process started after its bucket
  // ran dry finds it still empty unless it took 10 s to start, and the Retry-After it is given
  // (≤ 10 s) is within what the CLI waits (60 s), so the outcome does not hang on the machine's speed.
  const config = join(work.path, 'serve.yaml');
  writeFileSync(config, `rate-limit:\n  agent: 1/3\n  admin: 0.2/3\n  readonly: ${READONLY_RATE}/1\n`);
  const port = await freePort();
  daemon = startCli(['serve', '--config', config, '--repo', repo.path, '--branch', 'main', '--db', join(work.path, 'brokkr.db'), '--port', String(port)], {
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
  });
  url = (await daemon.waitFor(/serving (http:\/\/\S+)/, 'the daemon to serve'))[1]!;
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await daemon?.stop();
  killAll();
  work?.cleanup();
  repo?.cleanup();
});

describe('rate limits per role, with real processes', () => {
  it('an agent over its budget is answered 429 with Retry-After while the admin still gets through', async () => {
    const { id, pak } = await createAgent('greedy');
    const limited = await spend(`/api/v1/agents/${id}`, pak);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as { code: string }).code).toBe('rate_limited');
    const asAdmin = await fetch(`${url}/api/v1/agents/${id}`, { headers: { authorization: `Bearer ${ADMIN_PAK}` } });
    expect(asAdmin.status).toBe(200);
  });

  it('the admin CLI, finding its budget spent, waits Retry-After and succeeds', async () => {
    // A readonly operator of its own: its bucket is nobody else's, and refills slowly (one per 10 s).
    const created = await fetch(`${url}/api/v1/paks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_PAK}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cli-viewer', role: 'readonly' }),
    });
    expect(created.status).toBe(201);
    const viewerPak = ((await created.json()) as { pak: string }).pak;
    const limited = await spend('/api/v1/agents', viewerPak);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(2);
    expect(retryAfter).toBeLessThanOrEqual(60); // within what the CLI waits
    const r = await runCli(['agents', 'list', '--json'], { env: { BROKKR_URL: url, BROKKR_PAK: viewerPak } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rate limited by the daemon \(429\); retrying in \d+ s/);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((a) => a.name)).toContain('greedy');
  }, 90_000);

  it('the reference agent, over its budget while applying, waits each Retry-After and applies every stack', async () => {
    const { id, pak } = await createAgent('edge');
    const out = join(work.path, 'edge');
    agent = startCli(['agent', '--url', url, '--pak', pak, '--out', out]);
    // Connecting, reading the target state and the stacks, then an event per stack: more than 3 at once.
    await until(() => ['web', 'db', 'queue'].every((s) => existsSync(join(out, `${s}.yaml`))), 'the agent to write every stack', 40_000);
    // Watched in the database file, not through the API: polling as the admin (one request per 5 s)
    // would wait out its own Retry-After between looks. The API is asked once, at the end.
    const db = new Database(join(work.path, 'brokkr.db'), { readonly: true, fileMustExist: true });
    try {
      const successes = db.prepare("SELECT count(*) AS n FROM agent_events WHERE agent_id = ? AND status = 'SUCCESS'");
      await until(() => (successes.get(id) as { n: number }).n === 3, 'three SUCCESS events', 40_000);
    } finally {
      db.close();
    }
    const client = new AdminClient(url, ADMIN_PAK); // waits out the admin's own tiny budget too
    expect((await client.listEvents({ agentId: id })).filter((e) => e.status === 'SUCCESS')).toHaveLength(3);
    const log = agent.stderr() + agent.stdout();
    expect(log).toMatch(/rate limited by the daemon \(429\) on \S+ \/api\/v1\/agents\/[^ ]+: waiting \d+ s as its Retry-After asks/);
    // Never handed to the reconnect backoff as if the daemon were down.
    expect(log).not.toMatch(/retrying with backoff|lost connection/);
  }, 90_000);
});
