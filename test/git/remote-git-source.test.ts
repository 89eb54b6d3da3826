/** Remote repositories: cloned into the data dir once, fetched later, force-pushes seen, credentials never shown. */
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cloneDirFor, openGitSource } from '../../src/git/open-git-source.js';
import type { GitSource } from '../../src/git/git-source.js';
import { makeBareRemote, makeRepo, makeTempDir } from '../helpers/git-repo.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const work = await makeRepo();
  const remote = makeBareRemote();
  const data = makeTempDir('brokkr-data-');
  cleanups.push(() => work.cleanup(), () => remote.cleanup(), () => data.cleanup());
  work.write('web/stack.yaml', 'name: web\n');
  const first = work.commit('first');
  work.push(remote.url);
  return { work, remote, data, first };
}

async function open(repo: string, dataDir: string): Promise<GitSource> {
  const source = await openGitSource({ repo, dataDir });
  cleanups.push(() => source.close());
  return source;
}

describe('a file:// remote', () => {
  it('is cloned into <dataDir>/repos/<hash> and read like a local repository', async () => {
    const { remote, data, first } = await setup();
    const source = await open(remote.url, data.path);
    expect(source.displayName).toBe(remote.url);
    expect(existsSync(cloneDirFor(data.path, remote.url))).toBe(true);
    expect(await source.resolveBranch('main')).toBe(first);
    expect(await source.currentBranch()).toBe('main');
    const [entry] = await source.listTree(first, 'web');
    expect((await source.readBlobs([entry.oid], 100)).get(entry.oid)?.toString()).toBe('name: web\n');
  });

  it('sees new commits only after fetch()', async () => {
    const { work, remote, data, first } = await setup();
    const source = await open(remote.url, data.path);
    work.write('web/x.yaml', 'a: 1\n');
    const second = work.commit('second');
    work.push(remote.url);
    expect(await source.resolveBranch('main')).toBe(first);
    await source.fetch();
    expect(await source.resolveBranch('main')).toBe(second);
    expect((await source.listFirstParentCommits(first, second)).map((c) => c.subject)).toEqual(['second']);
  });

  it('sees a force-push that rewrote history, and a deleted branch disappears', async () => {
    const { work, remote, data, first } = await setup();
    work.write('a.yaml', 'a: 1\n');
    const doomed = work.commit('doomed');
    work.branch('feature');
    work.push(remote.url);
    work.push(remote.url, 'feature');
    const source = await open(remote.url, data.path);
    expect(await source.resolveBranch('main')).toBe(doomed);
    expect(await source.resolveBranch('feature')).toBe(doomed);

    work.resetHard(first);
    work.write('b.yaml', 'b: 1\n');
    const rewritten = work.commit('rewritten');
    work.push(remote.url); // --force
    work.git('push', '-q', remote.url, ':refs/heads/feature');
    await source.fetch();
    expect(await source.resolveBranch('main')).toBe(rewritten);
    expect(await source.isAncestor(doomed, rewritten)).toBe(false);
    expect(await source.resolveBranch('feature')).toBeNull();
  });

  it('reuses the clone when opened again (a restart) and fetches concurrently without failing', async () => {
    const { work, remote, data } = await setup();
    const one = await open(remote.url, data.path);
    await one.close();
    work.write('c.yaml', 'c: 1\n');
    const tip = work.commit('while down');
    work.push(remote.url);
    const two = await open(remote.url, data.path);
    expect(readdirSync(join(data.path, 'repos'))).toHaveLength(1);
    await Promise.all([two.fetch(), two.fetch(), two.fetch()]);
    expect(await two.resolveBranch('main')).toBe(tip);
  });

  it('an unreachable remote is a clear REMOTE_UNREACHABLE error', async () => {
    const data = makeTempDir();
    cleanups.push(() => data.cleanup());
    await expect(openGitSource({ repo: 'file:///nonexistent/brokkr/remote.git', dataDir: data.path })).rejects.toMatchObject({
      code: 'REMOTE_UNREACHABLE',
      message: expect.stringMatching(/^cannot clone file:\/\/\/nonexistent\/brokkr\/remote\.git: .+/),
    });
    expect(readdirSync(join(data.path, 'repos'))).toEqual([]);
  });

  it('a fetch from a remote that went away fails clearly and keeps the clone readable', async () => {
    const { remote, data, first } = await setup();
    const source = await open(remote.url, data.path);
    remote.cleanup();
    await expect(source.fetch()).rejects.toMatchObject({ code: 'REMOTE_UNREACHABLE', message: expect.stringMatching(/^cannot fetch /) });
    expect(await source.resolveBranch('main')).toBe(first);
  });
});

describe('credentials in remote URLs', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  it('never appear in errors, and git never waits for a password', async () => {
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(req.headers.authorization ?? '');
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const { port } = server.address() as { port: number };
    const data = makeTempDir();
    cleanups.push(() => data.cleanup());
    const url = `http://deploy-bot:s3cr3t-token@127.0.0.1:${port}/org/stacks.git`;
    const error = await openGitSource({ repo: url, dataDir: data.path }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toMatchObject({ code: 'REMOTE_UNREACHABLE' });
    expect(error!.message).toContain(`http://***@127.0.0.1:${port}/org/stacks.git`);
    expect(error!.message).not.toContain('s3cr3t');
    expect(error!.message).not.toContain('deploy-bot');
    expect(requests.length).toBeGreaterThan(0);
  });

  it('are not stored in the clone’s config', async () => {
    const { remote, data } = await setup();
    // file:// URLs ignore userinfo, so a credentialed URL still clones: the token must not land on disk.
    const url = remote.url.replace('file://', 'file://user:tok3n@');
    const source = await open(url, data.path);
    expect(source.displayName).toBe(remote.url.replace('file://', 'file://***@'));
    const config = readFileSync(join(cloneDirFor(data.path, url), 'config'), 'utf8');
    expect(config).not.toContain('tok3n');
    await source.fetch(); // fetch passes the URL itself, so it still works
    expect(cloneDirFor(data.path, url)).toBe(cloneDirFor(data.path, remote.url.replace('file://', 'file://other:creds@')));
  });
});
