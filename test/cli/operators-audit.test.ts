/**
 * Operators and the audit log end to end: the built CLI (`npm run build` first) against a real
 * daemon (temp git repository, temp SQLite file) — named PAKs, a readonly operator refused every
 * write, the audit log naming who did what, and never a PAK, hash, secret or credential in it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { hashPak } from '../../src/http/pak.js';
import { makeRepoSync, makeTempDir, type TestRepo } from '../helpers/git-repo.js';

const MAIN = resolve('dist/cli/main.js');
const GIT_TOKEN = 'tok-SECRET-5b1e';
const HOOK_SECRET = 'hook-SECRET-91ac';
const PUSH_SECRET = 'push-SECRET-77d2';

let repo: TestRepo;
let data: { path: string; cleanup(): void };
let daemon: Daemon;
let url: string;
let ADMIN_PAK: string;

interface Run { code: number; stdout: string; stderr: string }

function cli(args: string[], pak: string): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BROKKR_')));
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...clean, BROKKR_URL: url, BROKKR_PAK: pak } }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function api(method: string, path: string, pak: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${pak}`, 'user-agent': 'operators-e2e', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  repo = makeRepoSync('brokkr-operators-');
  repo.writeAll({ 'web/stack.yaml': 'labels: [prod]\n', 'web/cm.yaml': 'kind: ConfigMap\n' });
  repo.commit('Initial stacks');
  data = makeTempDir('brokkr-operators-data-');
  daemon = await startDaemon({
    repo: repo.path,
    db: join(data.path, 'brokkr.db'),
    port: 0,
    env: { GIT_USER: 'bob', GIT_TOKEN },
    dashboard: false,
    watch: false,
    rateLimit: false,
    webhooks: { allowHosts: ['127.0.0.1'] },
    logger: pino({ level: 'silent' }),
  });
  await daemon.firstSync;
  ADMIN_PAK = daemon.adminPak!;
  url = daemon.url;
});

afterAll(async () => {
  await daemon?.close();
  repo?.cleanup();
  data?.cleanup();
});

describe('operators and the audit log (CLI against a real daemon)', () => {
  const paks: Record<string, string> = {};
  const secrets: string[] = [GIT_TOKEN, HOOK_SECRET, PUSH_SECRET];

  it('the bootstrap admin PAK is the operator "admin"; paks create prints a new PAK once; paks list never shows one', async () => {
    const alice = await cli(['paks', 'create', 'alice', '--role', 'admin'], ADMIN_PAK);
    expect(alice.code, alice.stderr).toBe(0);
    paks.alice = /\n(brk_\S+)\n/.exec(alice.stdout)![1]!;
    const viewer = await cli(['paks', 'create', 'viewer', '--role', 'readonly', '--json'], ADMIN_PAK);
    paks.viewer = JSON.parse(viewer.stdout).pak;
    expect(JSON.parse(viewer.stdout).operator).toMatchObject({ name: 'viewer', role: 'readonly' });
    const dup = await cli(['paks', 'create', 'viewer'], ADMIN_PAK);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/already exists/);
    const list = await cli(['paks', 'list'], paks.alice);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+ROLE\s+CREATED\s+LAST USED/);
    expect(list.stdout).toMatch(/\nadmin\s+admin\s/);
    expect(list.stdout).toMatch(/\nalice\s+admin\s.*(ago|now)\s*\n/); // alice's own call counts as a use
    expect(list.stdout).toMatch(/\nviewer\s+readonly\s.*never/);
    for (const pak of [ADMIN_PAK, paks.alice, paks.viewer]) {
      expect(list.stdout).not.toContain(pak);
      expect(list.stdout).not.toContain(hashPak(pak));
    }
    expect((await api('POST', '/auth/pak', paks.viewer)).body).toEqual({ admin: false, agent: null, generator: null, readonly: true });
  });

  it('alice writes (agents, PAK rotation, a repository with credentials, a webhook with a secret); each is recorded under her name', async () => {
    const created = await cli(['agents', 'create', 'edge-1', '--cluster', 'eu', '--label', 'prod', '--json'], paks.alice);
    expect(created.code, created.stderr).toBe(0);
    const agent = JSON.parse(created.stdout);
    paks.agent = agent.initial_pak;
    const rotated = await cli(['agents', 'rotate-pak', 'edge-1', '--json'], paks.alice);
    expect(rotated.code, rotated.stderr).toBe(0);
    paks.rotated = JSON.parse(rotated.stdout).pak;
    const repoAdd = await api('POST', '/generators', paks.alice, {
      name: 'platform',
      url: 'https://git.example.invalid/platform/stacks.git',
      webhook_secret: PUSH_SECRET,
      auth: { username_env: 'GIT_USER', password_env: 'GIT_TOKEN' },
    });
    expect(repoAdd.status, JSON.stringify(repoAdd.body)).toBe(201);
    const hook = await api('POST', '/webhooks', paks.alice, { name: 'oncall', url: 'http://127.0.0.1:9/brokkr', event_types: ['deployment.failed'], secret: HOOK_SECRET });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const audit = await cli(['audit', '--actor', 'alice', '--json'], paks.alice);
    expect(audit.code, audit.stderr).toBe(0);
    const logs = JSON.parse(audit.stdout).logs as { action: string; actor_name: string; ip_address: string; resource_type: string }[];
    expect(logs.map((l) => l.action).reverse()).toEqual(['agent.created', 'agent.pak_rotated', 'repository.saved', 'webhook.created']);
    for (const l of logs) expect(l).toMatchObject({ actor_name: 'alice', ip_address: '127.0.0.1' });
    const human = await cli(['audit', '--resource', `agent:${agent.agent.id}`], paks.viewer);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^TIME\s+ACTOR\s+ACTION\s+RESOURCE\s+FROM\s+DETAILS/);
    expect(human.stdout).toMatch(/alice\s+agent\.pak_rotated\s+agent /);
    const operators = await api('GET', '/audit-logs?resource=operator', ADMIN_PAK);
    expect(operators.body.logs.map((l: { action: string; actor_name: string; details: { name: string } }) => [l.action, l.actor_name, l.details.name])).toEqual([
      ['pak.created', 'admin', 'viewer'],
      ['pak.created', 'admin', 'alice'],
    ]);
  });

  it('a readonly operator reads but every write is refused with 403 and leaves no trace', async () => {
    const before = (await api('GET', '/audit-logs', paks.viewer)).body.total;
    const del = await cli(['agents', 'delete', 'edge-1'], paks.viewer);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toMatch(/readonly PAK: it may read but not write/);
    const create = await cli(['paks', 'create', 'mallory', '--role', 'admin'], paks.viewer);
    expect(create.stderr).toMatch(/readonly PAK/);
    expect((await cli(['agents', 'list'], paks.viewer)).code).toBe(0);
    expect((await api('GET', '/audit-logs', paks.viewer)).body.total).toBe(before);
  });

  it('revoking works at once; the last admin cannot be revoked', async () => {
    const revoke = await cli(['paks', 'revoke', 'viewer'], paks.alice);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect((await api('GET', '/agents', paks.viewer)).status).toBe(401);
    expect((await cli(['paks', 'revoke', 'alice'], ADMIN_PAK)).code).toBe(0);
    const last = await cli(['paks', 'revoke', 'admin'], ADMIN_PAK);
    expect(last.code).not.toBe(0);
    expect(last.stderr).toMatch(/"admin" is the last admin: create another admin PAK/);
    expect((await api('GET', '/agents', ADMIN_PAK)).status).toBe(200);
    const missing = await cli(['paks', 'revoke', 'nobody'], ADMIN_PAK);
    expect(missing.stderr).toMatch(/no operator named "nobody"/);
  });

  it('no audit row, read by the API or straight from the database file, holds a PAK, a PAK hash, a secret or a credential', async () => {
    const answer = JSON.stringify((await api('GET', '/audit-logs?limit=1000', ADMIN_PAK)).body);
    const db = new Database(join(data.path, 'brokkr.db'), { readonly: true });
    const rows = JSON.stringify(db.prepare('SELECT * FROM audit_logs').all());
    db.close();
    expect(JSON.parse(answer).total).toBeGreaterThanOrEqual(8);
    const forbidden = [...secrets, ...Object.values(paks), ADMIN_PAK, ...[...Object.values(paks), ADMIN_PAK].map(hashPak)];
    for (const text of [answer, rows]) for (const value of forbidden) expect(text).not.toContain(value);
  });
});
