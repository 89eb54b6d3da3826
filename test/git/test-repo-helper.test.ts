/** The shared git fixture helper behaves as the other suites expect. */
import { afterEach, describe, expect, it } from 'vitest';
import { makeBareRemote, makeRepo, type TestRepo } from '../helpers/git-repo.js';

describe('test repo helper', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('commits written files on main and returns the sha', async () => {
    const repo: TestRepo = await makeRepo();
    cleanups.push(() => repo.cleanup());
    repo.write('a/stack.yaml', 'name: a\n');
    const sha = repo.commit('first');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(repo.git('symbolic-ref', '--short', 'HEAD')).toBe('main');
    expect(repo.git('show', `${sha}:a/stack.yaml`)).toBe('name: a');
  });

  it('records a given author and pushes to a bare remote', async () => {
    const repo = await makeRepo();
    const remote = makeBareRemote();
    cleanups.push(() => repo.cleanup(), () => remote.cleanup());
    repo.write('x.yaml', 'a: 1\n');
    const sha = repo.commit('by alice', { author: { name: 'Alice', email: 'alice@example.com' } });
    expect(repo.git('log', '-1', '--format=%an <%ae>')).toBe('Alice <alice@example.com>');
    repo.push(remote.url);
    expect(repo.git('ls-remote', remote.url, 'refs/heads/main').split('\t')[0]).toBe(sha);
  });
});
