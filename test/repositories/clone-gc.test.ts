/**
 * A real daemon cleans its data dir (issue 16 item 7): at start it deletes clones no configured
 * repository owns and the temp folders of clones a crash interrupted; removing a repository
 * deletes its clone; nothing outside the data dir is touched (a symbolic link, a stray file).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { cloneDirFor } from '../../src/git/open-git-source.js';
import { makeBareRemote, makeRepoSync, type BareRemote, type TestRepo } from '../helpers/git-repo.js';
import { startRepoDaemon, tempDir, until, writeStack, type RepoDaemon } from './support/world.js';

let dir: string;
let outside: string;
const remotes: Record<'alpha' | 'beta', BareRemote> = {} as never;
const authors: TestRepo[] = [];
let d: RepoDaemon | null = null;

const data = () => join(dir, 'data');
const start = () =>
  startRepoDaemon({ dir, repositories: parseRepositoryList((['alpha', 'beta'] as const).map((name) => ({ name, url: remotes[name].url, interval: 60 }))) });

beforeAll(async () => {
  dir = tempDir('brokkr-gc-');
  outside = tempDir('brokkr-gc-outside-');
  for (const name of ['alpha', 'beta'] as const) {
    remotes[name] = makeBareRemote(`brokkr-gc-${name}-`);
    const author = makeRepoSync(`brokkr-gc-${name}-src-`);
    authors.push(author);
    writeStack(author, `stacks/${name}`, `gc-${name}`).commit(name);
    author.push(remotes[name].path, 'main');
  }
});

afterAll(async () => {
  await d?.close();
  for (const r of Object.values(remotes)) r.cleanup();
  for (const a of authors) a.cleanup();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('the data dir is garbage-collected', () => {
  it('at start: clones of repositories no longer configured and crashed temp folders go; the configured clones, links and stray files stay', async () => {
    d = await start();
    await d.daemon.firstSync;
    const alpha = cloneDirFor(data(), remotes.alpha.url);
    const beta = cloneDirFor(data(), remotes.beta.url);
    expect(existsSync(join(alpha, 'HEAD')) && existsSync(join(beta, 'HEAD'))).toBe(true);
    await d.close();

    // What a repository removed while the daemon was down, and a crash mid-clone, leave behind.
    const orphan = cloneDirFor(data(), 'https://git.example.com/removed-while-down.git');
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'HEAD'), 'ref: refs/heads/main\n');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const crashed = `${alpha}.tmp-${deadPid}-1700000000000`;
    mkdirSync(join(crashed, 'objects'), { recursive: true });
    // Things that are not ours: a link named like a clone to a folder outside, and stray files.
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    const link = join(data(), 'repos', basename(cloneDirFor(data(), 'https://git.example.com/linked.git')));
    symlinkSync(outside, link);
    writeFileSync(join(data(), 'repos', 'README.txt'), 'an operator note');

    d = await start();
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(crashed)).toBe(false);
    expect(existsSync(join(alpha, 'HEAD')) && existsSync(join(beta, 'HEAD'))).toBe(true);
    expect(existsSync(link)).toBe(true);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(join(data(), 'repos', 'README.txt'))).toBe(true);
    const said = d.log.lines.map((l) => `${l.msg} ${String(l.dir ?? '')}`);
    expect(said).toContain(`removed the clone of a repository no longer synced ${orphan}`);
    expect(said.some((s) => s.startsWith('removed the temp folder of a clone that did not finish') && s.endsWith(crashed))).toBe(true);
    await d.daemon.firstSync;
  });

  it('removing a repository deletes its clone; the other stays', async () => {
    const beta = await d!.generator('beta');
    expect((await d!.call('DELETE', `/api/v1/generators/${beta.id}`)).status).toBe(204);
    await until(() => !existsSync(cloneDirFor(data(), remotes.beta.url)), "beta's clone to be deleted");
    expect(existsSync(join(cloneDirFor(data(), remotes.alpha.url), 'HEAD'))).toBe(true);
    expect((await d!.generator('alpha')).condition).toBe('synced');
  });
});
