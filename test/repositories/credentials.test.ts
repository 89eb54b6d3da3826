/**
 * SPEC §9 credentials: a repository behind HTTP basic auth (a real `git http-backend`) declared
 * with auth: {usernameEnv, passwordEnv} syncs with the variables set, fails with a clear error on
 * its own row when the password is wrong, and the password is never written anywhere we can read:
 * not in any table, not in the log, not in any API answer, not in the clone's config.
 */
import Database from 'better-sqlite3';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { startGitHttpServer, startRepoDaemon, tempDir, until, writeStack, type GitHttpServer, type RepoDaemon } from './support/world.js';

const USER = 'deploy-bot';
const PASSWORD = 'Pa55-w0rd_7f3c9e1d-never-stored';
const WRONG = 'Wr0ng-pa55_0b8a44c2-never-stored';

let server: GitHttpServer;
let repo: TestRepo;
let dir: string;
let d: RepoDaemon;

beforeAll(async () => {
  server = await startGitHttpServer({ user: USER, password: PASSWORD });
  repo = makeRepoSync('brokkr-cred-');
  writeStack(repo, 'apps/vault', 'cred-vault').commit('vault');
  server.publish('secure', repo);
  server.publish('secure-too', repo);
  dir = tempDir();
  const env = { GIT_USER: USER, GIT_TOKEN: PASSWORD, BAD_TOKEN: WRONG };
  d = await startRepoDaemon({
    dir,
    env,
    repositories: parseRepositoryList([{ name: 'secure', url: server.urlOf('secure'), interval: 1, auth: { usernameEnv: 'GIT_USER', passwordEnv: 'GIT_TOKEN' } }], env),
  });
  await d.daemon.firstSync;
});

afterAll(async () => {
  await d?.close();
  await server?.stop();
  repo?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a repository behind basic auth', () => {
  it('syncs with the credentials from the environment; a wrong password is an error on its own row', async () => {
    const secure = await until(async () => {
      const g = await d.generator('secure');
      return g?.cursor_commit === repo.head() && g;
    }, 'the authenticated repository to sync');
    expect(secure).toMatchObject({ last_error: null, stacks: 1, repository: { name: 'secure', auth: 'token', url: server.urlOf('secure') } });
    const stacks = (await d.call('GET', '/api/v1/stacks')).body as any[];
    expect(stacks.find((s) => s.name === 'cred-vault')?.generator_id).toBe(secure.id);

    // The same server, another repository, a password variable holding a wrong value.
    const added = await d.call('POST', '/api/v1/generators', {
      body: { name: 'secure-too', url: server.urlOf('secure-too'), interval: 1, auth: { username_env: 'GIT_USER', password_env: 'BAD_TOKEN' } },
    });
    expect(added.status).toBe(201);
    const failing = await until(async () => {
      const g = await d.generator('secure-too');
      return g?.last_error && g;
    }, 'the wrong password to be recorded on its row');
    console.log(`credentials: the wrong password's row says: ${failing.last_error}`);
    expect(failing.last_error).toMatch(/auth/i);
    expect(failing.last_error).toContain('127.0.0.1');
    expect(failing.cursor_commit).toBeNull();
    // Its neighbour is untouched by the failure, and the daemon stays ready.
    expect((await d.generator('secure')).last_error).toBeNull();
    expect((await d.call('GET', '/readyz', { pak: null })).status).toBe(200);
    expect(server.refused()).toBeGreaterThan(0);
  });

  it('the password is in no table, no log line, no API answer and no clone config', async () => {
    await until(async () => (await d.generator('secure-too'))?.last_error, 'the failing repository to have failed');
    const secrets = [PASSWORD, WRONG, encodeURIComponent(PASSWORD), Buffer.from(`${USER}:${PASSWORD}`).toString('base64')];

    // Every table of the database, every row.
    const db = new Database(d.dbPath, { readonly: true, fileMustExist: true });
    const dump: string[] = [];
    try {
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[];
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['generators', 'repositories', 'sync_state', 'stacks']));
      for (const { name } of tables) dump.push(name, JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()));
    } finally {
      db.close();
    }
    const dumped = dump.join('\n');
    expect(dumped).toContain('GIT_TOKEN'); // the variable's name is what is kept
    expect(dumped).toContain('BAD_TOKEN');

    const answers: string[] = [];
    for (const path of ['/api/v1/generators', '/api/v1/status', '/api/v1/sync/status', '/metrics']) {
      const res = await d.call('GET', path);
      expect(res.status, path).toBe(200);
      answers.push(res.text);
    }
    for (const g of (await d.call('GET', '/api/v1/generators')).body as any[]) answers.push((await d.call('GET', `/api/v1/generators/${g.id}`)).text);
    const reports = (await d.call('POST', `/api/v1/generators/${(await d.generator('secure-too')).id}/sync`)).text;
    // The sync asked for is an admin write: audited under the operator, naming the repository only.
    const audited = (await d.call('GET', '/api/v1/audit-logs?action=repository.sync_requested')).body.logs as any[];
    expect(audited).toEqual([
      expect.objectContaining({ actor_type: 'admin', actor_name: 'admin', resource_id: (await d.generator('secure-too')).id, details: expect.objectContaining({ name: 'secure-too' }) }),
    ]);
    answers.push(JSON.stringify(audited));

    const cloneConfigs = readdirSync(join(dir, 'data', 'repos'))
      .filter((name) => !name.includes('.tmp-'))
      .map((name) => readFileSync(join(dir, 'data', 'repos', name, 'config'), 'utf8'));
    expect(cloneConfigs.join('\n')).toContain(server.urlOf('secure'));

    const logs = d.log.text();
    expect(logs).toMatch(/secure-too/);
    for (const secret of secrets) {
      expect(dumped, 'database').not.toContain(secret);
      expect(logs, 'log').not.toContain(secret);
      expect(answers.join('\n'), 'API').not.toContain(secret);
      expect(reports, 'sync report').not.toContain(secret);
      expect(cloneConfigs.join('\n'), 'clone config').not.toContain(secret);
    }
  });
});
