/**
 * SPEC §9 webhooks per repository: `POST /webhooks/git/{name}` signed with that repository's own
 * secret syncs it now (the interval is an hour, so only the hook can explain the sync); a wrong
 * signature is 401 and an unknown name 404, both syncing nothing; the generic `/webhooks/git`
 * with a GitHub push payload naming one repository's URL syncs that one and not the other.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { call, hubSignature, startGitHttpServer, startRepoDaemon, tempDir, until, writeStack, type GitHttpServer, type RepoDaemon } from './support/world.js';

const ALPHA_SECRET = 'alpha-hook-secret-5c1e';
const BETA_SECRET = 'beta-hook-secret-93d0';

let server: GitHttpServer;
let alpha: TestRepo;
let beta: TestRepo;
let dir: string;
let d: RepoDaemon;

beforeAll(async () => {
  server = await startGitHttpServer();
  alpha = makeRepoSync('brokkr-hook-alpha-');
  beta = makeRepoSync('brokkr-hook-beta-');
  writeStack(alpha, 'apps/a', 'hook-alpha', 'a1').commit('a1');
  writeStack(beta, 'apps/b', 'hook-beta', 'b1').commit('b1');
  server.publish('alpha', alpha);
  server.publish('beta', beta);
  dir = tempDir();
  const env = { ALPHA_HOOK: ALPHA_SECRET };
  d = await startRepoDaemon({
    dir,
    webhookSecret: 'daemon-wide-secret',
    repositories: parseRepositoryList(
      [
        { name: 'alpha', url: server.urlOf('alpha'), interval: 3600, webhookSecret: '${ALPHA_HOOK}' },
        { name: 'beta', url: server.urlOf('beta'), interval: 3600, webhookSecret: BETA_SECRET },
      ],
      env,
    ),
  });
  await d.daemon.firstSync;
});

afterAll(async () => {
  await d?.close();
  await server?.stop();
  alpha?.cleanup();
  beta?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cursor = async (name: string) => (await d.generator(name))?.cursor_commit as string | null;
const hook = (path: string, body: string, signature: string | null, headers: Record<string, string> = {}) =>
  call(d.url, 'POST', `/api/v1/webhooks/git${path}`, {
    pak: null,
    raw: body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...(signature ? { 'x-hub-signature-256': signature } : {}), ...headers },
  });

describe('push hooks per repository', () => {
  it('the named route syncs that repository now with its own secret; a wrong signature is 401, an unknown name 404', async () => {
    expect(await cursor('alpha')).toBe(alpha.head());
    const before = alpha.head();
    writeStack(alpha, 'apps/a', 'hook-alpha', 'a2').commit('a2');
    server.push('alpha', alpha);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: alpha.head() });

    // Refused hooks sync nothing.
    const requestsBefore = server.requests();
    expect((await hook('/alpha', body, hubSignature('not-the-secret', body))).status).toBe(401);
    expect((await hook('/alpha', body, null)).status).toBe(401);
    // The daemon's secret does not stand in for a repository that has its own.
    expect((await hook('/alpha', body, hubSignature('daemon-wide-secret', body))).status).toBe(401);
    const unknown = await hook('/nobody', body, hubSignature(ALPHA_SECRET, body));
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/nobody/);
    expect(server.requests()).toBe(requestsBefore);
    expect(await cursor('alpha')).toBe(before);

    const ok = await hook('/alpha', body, hubSignature(ALPHA_SECRET, body));
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ accepted: true, repository: 'alpha' });
    await until(async () => (await cursor('alpha')) === alpha.head(), 'the hooked commit to reach the database', 10_000);
    const stack = ((await d.call('GET', '/api/v1/stacks')).body as any[]).find((s) => s.name === 'hook-alpha');
    const objects = (await d.call('GET', `/api/v1/stacks/${stack.id}/deployment-objects`)).body as any[];
    expect(objects.some((o) => o.yaml_content.includes('"a2"'))).toBe(true);
  });

  it('the generic route finds the repository by the URL in a GitHub payload and syncs only that one', async () => {
    const alphaBefore = await cursor('alpha');
    writeStack(alpha, 'apps/a', 'hook-alpha', 'a3').commit('a3');
    server.push('alpha', alpha);
    writeStack(beta, 'apps/b', 'hook-beta', 'b2').commit('b2');
    server.push('beta', beta);

    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: beta.head(),
      repository: { name: 'beta', full_name: 'team/beta', clone_url: server.urlOf('beta'), html_url: `${server.base}/beta` },
      pusher: { name: 'someone' },
    });
    // Signed with alpha's secret, the hook that names beta is refused.
    expect((await hook('', body, hubSignature(ALPHA_SECRET, body))).status).toBe(401);
    const ok = await hook('', body, hubSignature(BETA_SECRET, body));
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ accepted: true, repository: 'beta' });
    await until(async () => (await cursor('beta')) === beta.head(), 'beta to sync from the generic hook', 10_000);
    // alpha was not asked: its new commit waits for its own hook (or its hour).
    expect(await cursor('alpha')).toBe(alphaBefore);
  });
});
