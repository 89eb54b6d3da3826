/**
 * SPEC §9 `brokkr-sync serve --config FILE` (the built CLI, a real process): three repositories —
 * two local, one remote over HTTP, one with `${VAR}` in its webhookSecret — all sync, every stack
 * carries its repository's generator_id, and `repos list` / GET /generators show cursor, last
 * sync and stack counts per repository. A config error is one line naming the entry and the
 * field, exit 2, no stack trace, nothing written.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, requireBuild, runCli, startCli, type CliProcess } from '../e2e/cli-process.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { ADMIN_PAK, call, hubSignature, startGitHttpServer, tempDir, until, writeStack, type GitHttpServer } from './support/world.js';

const HOOK_SECRET = 'platform-hook-secret-from-env-41aa';

let dir: string;
let server: GitHttpServer;
let platform: TestRepo;
let payments: TestRepo;
let edge: TestRepo;
let serve: CliProcess;
let base: string;

beforeAll(async () => {
  requireBuild();
  dir = tempDir('brokkr-serve-config-');
  platform = makeRepoSync('brokkr-cfg-platform-');
  payments = makeRepoSync('brokkr-cfg-payments-');
  edge = makeRepoSync('brokkr-cfg-edge-');
  writeStack(platform, 'core/dns', 'cfg-dns');
  writeStack(platform, 'core/ingress', 'cfg-ingress').commit('platform');
  writeStack(payments, 'svc/api', 'cfg-payments-api').commit('payments');
  writeStack(edge, 'clusters/eu/cdn', 'cfg-cdn');
  writeStack(edge, 'clusters/us/cdn', 'cfg-cdn-us');
  writeStack(edge, 'outside/ignored', 'cfg-outside-root').commit('edge');
  server = await startGitHttpServer();
  server.publish('payments', payments);

  const config = join(dir, 'brokkr.yaml');
  writeFileSync(
    config,
    [
      'repositories:',
      '  - name: platform',
      `    url: ${platform.path}`,
      '    webhookSecret: ${PLATFORM_HOOK_SECRET}',
      '  - name: payments',
      `    url: ${server.urlOf('payments')}`,
      '    branch: main',
      '    interval: 1',
      '  - name: edge',
      `    url: ${edge.path}`,
      '    root: clusters/',
      '    interval: 2',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  serve = startCli(['serve', '--config', config, '--db', join(dir, 'brokkr.db'), '--port', String(port), '--log-level', 'warn'], {
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK, PLATFORM_HOOK_SECRET: HOOK_SECRET },
  });
  const [, url, names] = await serve.waitFor(/brokkr-sync serving (http:\/\/\S+) \(3 repositories: (.*)\)/, 'serve to start');
  expect(names!.split('; ').sort()).toEqual(['edge', 'payments', 'platform']);
  base = url!;
});

afterAll(async () => {
  await serve?.stop();
  killAll();
  await server?.stop();
  for (const r of [platform, payments, edge]) r?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('serve --config with three repositories', () => {
  it('syncs all three; each stack carries its repository’s generator; repos list shows each one’s cursor, last sync and stacks', async () => {
    const heads: Record<string, string> = { platform: platform.head(), payments: payments.head(), edge: edge.head() };
    const generators = await until(async () => {
      const all = (await call(base, 'GET', '/api/v1/generators')).body as any[];
      return all.length === 3 && all.every((g) => g.cursor_commit === heads[g.repository?.name]) && all;
    }, 'the three repositories to sync');
    const byName = Object.fromEntries(generators.map((g) => [g.repository.name, g]));
    expect(byName.platform).toMatchObject({ name: 'platform', stacks: 2, invalid_stacks: 0, last_error: null, repository: { origin: 'config', webhook_secret: true, auth: 'none' } });
    expect(byName.payments).toMatchObject({ name: 'payments', stacks: 1, repository: { url: server.urlOf('payments'), branch: 'main', interval_seconds: 1, webhook_secret: false } });
    expect(byName.edge).toMatchObject({ name: 'edge', stacks: 2, repository: { root: 'clusters', interval_seconds: 2 } });
    for (const g of generators) expect(Date.parse(g.last_sync_at)).toBeGreaterThan(Date.now() - 60_000);

    const stacks = (await call(base, 'GET', '/api/v1/stacks')).body as any[];
    const owner = Object.fromEntries(stacks.map((s) => [s.name, s.generator_id]));
    expect(owner).toEqual({
      'cfg-dns': byName.platform.id,
      'cfg-ingress': byName.platform.id,
      'cfg-payments-api': byName.payments.id,
      'cfg-cdn': byName.edge.id,
      'cfg-cdn-us': byName.edge.id,
    });

    const json = await runCli(['repos', 'list', '--json', '--url', base, '--pak', ADMIN_PAK]);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as any[];
    expect(rows.map((r) => [r.repository.name, r.cursor_commit, r.stacks, r.last_sync_at !== null]).sort()).toEqual(
      [
        ['edge', heads.edge, 2, true],
        ['payments', heads.payments, 1, true],
        ['platform', heads.platform, 2, true],
      ],
    );
    const table = await runCli(['repos', 'list', '--url', base, '--pak', ADMIN_PAK]);
    expect(table.code, table.stderr).toBe(0);
    for (const name of ['platform', 'payments', 'edge']) {
      const line = table.stdout.split('\n').find((l) => l.startsWith(`${name} `));
      expect(line, table.stdout).toMatch(new RegExp(`${heads[name]!.slice(0, 7)}.*\\bok\\b`));
    }
  });

  it('the ${VAR} webhookSecret is the variable’s value: a hook signed with it syncs platform', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const literal = await call(base, 'POST', '/api/v1/webhooks/git/platform', { pak: null, raw: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature('${PLATFORM_HOOK_SECRET}', body) } });
    expect(literal.status).toBe(401);
    const signed = await call(base, 'POST', '/api/v1/webhooks/git/platform', { pak: null, raw: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(HOOK_SECRET, body) } });
    expect(signed.status).toBe(202);
  });

  it('a config error is one line naming the entry and the field, exit 2, no stack trace, nothing written', async () => {
    const entries = (lines: string[]) => ['repositories:', ...lines, ''].join('\n');
    const cases: Array<[string, string, RegExp]> = [
      ['unknown field', entries(['  - name: a', `    url: ${platform.path}`, '  - name: b', `    url: ${edge.path}`, '    colour: blue']), /repositories\[1\]\.colour: unknown field/],
      ['duplicate name', entries(['  - name: twin', `    url: ${platform.path}`, '  - name: twin', `    url: ${edge.path}`]), /repositories\[1\]\.name: "twin" is already used by repositories\[0\]/],
      ['unset variable', entries(['  - name: a', `    url: ${platform.path}`, '    webhookSecret: ${BROKKR_TEST_NEVER_SET_VAR}']), /repositories\[0\]\.webhookSecret: \$\{BROKKR_TEST_NEVER_SET_VAR\} is not set/],
      ['bad interval', entries(['  - name: a', `    url: ${platform.path}`, '    interval: 0']), /repositories\[0\]\.interval: must be a number of seconds/],
      ['credentials in the url', entries(['  - name: a', '    url: https://bot:tok3n@git.example.com/a.git']), /repositories\[0\]\.url: must not carry credentials/],
    ];
    // (Every other problem of an entry goes through the same parser: see the POST /generators cases in runtime.test.ts.)
    const runs = await Promise.all(
      cases.map(async ([what, yaml], i) => {
        const file = join(dir, `bad-${i}.yaml`);
        const db = join(dir, `bad-${i}.db`);
        writeFileSync(file, yaml);
        return { what, db, run: await runCli(['serve', '--config', file, '--db', db, '--port', '0'], { env: { BROKKR_ADMIN_PAK: ADMIN_PAK } }) };
      }),
    );
    runs.forEach(({ what, db, run }, i) => {
      expect(run.code, `${what}: ${run.stderr}`).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/^error: config file: /);
      expect(lines[0], what).toMatch(cases[i]![2]);
      expect(run.stderr, what).not.toMatch(/\s+at \S+/);
      expect(run.stdout, what).toBe('');
      expect(existsSync(db), `${what}: no database`).toBe(false);
    });
  });
});
