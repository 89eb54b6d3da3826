/**
 * The built CLI (`node dist/cli/main.js`, so `npm run build` first — `npm test` does) against a
 * real in-process daemon: temp git repository, temp SQLite file, syncer and HTTP server.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js';
import { makeRepoSync, makeTempDir, type TestRepo } from '../helpers/git-repo.js';
import { runCli } from './admin-run-cli.js';

const MAIN = resolve('dist/cli/main.js');

let repo: TestRepo;
let data: { path: string; cleanup(): void };
let daemon: Daemon;
let url: string;
let ADMIN_PAK: string;
let cursor: string;

interface Run { code: number; stdout: string; stderr: string }

/** Run the built CLI with the daemon's URL and admin PAK in the environment, as a user would. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BROKKR_')));
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...clean, BROKKR_URL: url, BROKKR_PAK: ADMIN_PAK, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

/** Who a PAK belongs to, asked of the daemon itself. */
async function whoIs(pak: string): Promise<{ status: number; agent?: string | null }> {
  const res = await fetch(`${url}/api/v1/auth/pak`, { method: 'POST', headers: { authorization: `Bearer ${pak}` } });
  return { status: res.status, ...(res.ok ? ((await res.json()) as { agent: string | null }) : {}) };
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  repo = makeRepoSync('brokkr-cli-e2e-');
  repo.writeAll({
    'payments/stack.yaml': 'name: payments-api\nlabels: [prod]\nannotations:\n  tier: backend\n',
    'payments/deploy.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: payments\n',
    'web/stack.yaml': 'labels: [dev]\n',
    'web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n',
    'broken/stack.yaml': 'labels: [prod]\nlables: [typo]\n',
    'broken/cm.yaml': 'kind: ConfigMap\n',
  });
  cursor = repo.commit('Initial stacks');
  data = makeTempDir('brokkr-cli-e2e-data-');
  // No BROKKR_ADMIN_PAK: the daemon generates the admin PAK on first start, as for a new user.
  daemon = await startDaemon({
    repo: repo.path,
    db: join(data.path, 'brokkr.db'),
    port: 0,
    env: {},
    dashboard: false,
    watch: false,
    rateLimit: false,
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

describe('brokkr-sync admin commands against a real daemon', () => {
  let agentId: string;
  let pak: string;

  it('creates an agent with a label, prints a working PAK and the command to run it', async () => {
    const r = await cli(['agents', 'create', 'edge-1', '--cluster', 'prod-eu', '--label', 'prod']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const run = /brokkr-sync agent --url (\S+) --pak (\S+) --out \.\/deployed\n/.exec(r.stdout);
    expect(run?.[1]).toBe(url);
    pak = run![2];
    agentId = /id ([0-9a-f-]{36})/.exec(r.stdout)![1];
    expect(await whoIs(pak)).toMatchObject({ status: 200, agent: agentId });
  });

  it('lists the agent and shows the stack its label matches', async () => {
    const list = await cli(['agents', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${agentId}\\s+edge-1\\s+prod-eu\\s+\\S+\\s+never$`, 'm'));
    const show = await cli(['agents', 'show', 'edge-1']);
    expect(show.stdout).toMatch(/^Labels\s+prod$/m);
    expect(show.stdout).toMatch(/Associated stacks\nID\s+NAME\s+STATE\s+HEALTH\n\S+\s+payments-api\s+live\s+-\n$/);
  });

  it('label, annotate and target change the agent as the daemon sees it', async () => {
    // In-process (same command modules, same daemon): this is about the daemon's answers, not about processes.
    const admin = (...args: string[]) => runCli([...args, '--url', url, '--pak', ADMIN_PAK]);
    expect((await admin('agents', 'label', 'edge-1', 'dev')).code).toBe(0);
    expect((await admin('agents', 'label', 'edge-1', 'prod', '--remove')).code).toBe(0);
    expect((await admin('agents', 'annotate', agentId, 'tier=backend')).code).toBe(0);
    expect((await admin('agents', 'target', 'edge-1', 'payments-api')).stdout).toBe(`Agent edge-1 (${agentId}) now targets stack payments-api\n`);
    type Shown = { labels: { label: string }[]; annotations: { key: string; value: string }[]; targets: { stack_id: string }[]; stacks: { name: string }[] };
    const shown = JSON.parse((await admin('agents', 'show', 'edge-1', '--json')).stdout) as Shown;
    expect(shown.labels.map((l) => l.label)).toEqual(['dev']);
    expect(shown.annotations.map((a) => [a.key, a.value])).toEqual([['tier', 'backend']]);
    expect(shown.targets).toHaveLength(1);
    expect(shown.stacks.map((s) => s.name).sort()).toEqual(['payments-api', 'web']);
    expect((await admin('agents', 'target', 'edge-1', 'payments-api', '--remove')).code).toBe(0);
    expect((JSON.parse((await admin('agents', 'show', 'edge-1', '--json')).stdout) as Shown).targets).toEqual([]);
    expect(await admin('agents', 'label', 'edge-1', 'x'.repeat(65))).toMatchObject({ code: 1, stdout: '' });
  });

  it('rotates the PAK: the new one works, the old one is refused at once', async () => {
    const r = await cli(['agents', 'rotate-pak', 'edge-1']);
    const fresh = /^ {2}(\S+)$/m.exec(r.stdout)![1];
    expect(fresh).not.toBe(pak);
    expect(await whoIs(fresh)).toMatchObject({ status: 200, agent: agentId });
    expect((await whoIs(pak)).status).toBe(401);
  });

  it('lists the repository\'s stacks with the invalid one marked', async () => {
    const r = await cli(['stacks', 'list']);
    expect(r.code).toBe(0);
    const short = cursor.slice(0, 7);
    expect(r.stdout).toMatch(new RegExp(`^payments-api\\s+prod\\s+tier=backend\\s+\\d+\\s+${short}\\s+ok$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^web\\s+dev\\s+-\\s+\\d+\\s+${short}\\s+ok$`, 'm'));
    expect(r.stdout).toMatch(/^broken\s.*INVALID$/m);
    const objects = await cli(['objects', 'list', 'payments-api']);
    expect(objects.stdout).toMatch(new RegExp(`^\\d+\\s+\\S{36}\\s+[0-9a-f]{12}\\s+${short}\\s+Test Author\\s+Initial stacks\\s+\\d+s ago$`, 'm'));
  });

  it('status shows the repository, the cursor commit with its subject, the invalid stack and the agent', async () => {
    const r = await cli(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Repository\\s+${repo.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(r.stdout).toMatch(/^Branch\s+main$/m);
    expect(r.stdout).toMatch(new RegExp(`^Cursor\\s+${cursor.slice(0, 7)} Initial stacks \\(committed \\d+s ago\\)$`, 'm'));
    expect(r.stdout).toMatch(/^Stacks\s+\d+ total, 1 invalid\n {2}broken\/stack\.yaml(:\d+)?: .*lables/m);
    expect(r.stdout).toMatch(/^edge-1\s+prod-eu\s+\S+\s+never\s+\d+\s+0$/m);
  });

  it('shows what an agent reported in events', async () => {
    const fresh = /^ {2}(\S+)$/m.exec((await cli(['agents', 'rotate-pak', agentId])).stdout)![1];
    const [web] = (await cliJson<{ id: string; latest_object: { id: string } }[]>(['stacks', 'list'])).filter((s) => (s as unknown as { name: string }).name === 'web');
    const res = await fetch(`${url}/api/v1/agents/${agentId}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fresh}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deployment_object_id: web.latest_object.id, event_type: 'DEPLOY', status: 'FAILURE', message: 'kubectl: forbidden' }),
    });
    expect(res.status).toBe(201);
    const r = await cli(['events', '--agent', 'edge-1']);
    expect(r.stdout).toMatch(/^\d+s ago\s+edge-1\s+DEPLOY\s+FAILURE\s+web\s+\d+\s+kubectl: forbidden$/m);
  });

  it('reports daemon errors as one line with exit 1', async () => {
    expect(await cli(['agents', 'show', '00000000-0000-4000-8000-000000000000'])).toMatchObject({ code: 1, stdout: '' });
    const wrong = await cli(['agents', 'list'], { BROKKR_PAK: 'brk_not-a-real-pak' });
    expect(wrong).toMatchObject({ code: 1, stdout: '' });
    expect(wrong.stderr).toMatch(/^error: 401 \S+: .*\(check --pak or BROKKR_PAK\)\n$/);
  });

  it('deletes the agent: its PAK stops working and its name is gone', async () => {
    expect((await cli(['agents', 'delete', 'edge-1'])).stdout).toBe(`Deleted agent edge-1 (${agentId})\n`);
    expect((await cli(['agents', 'show', 'edge-1'])).stderr).toBe('error: no agent named edge-1 (brokkr-sync agents list shows them)\n');
  });
});
