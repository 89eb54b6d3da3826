/** Clone garbage collection under a data dir: what it deletes, and everything it must never touch. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectClones } from '../../src/git/clone-gc.js';
import { cloneDirFor } from '../../src/git/open-git-source.js';
import { makeTempDir } from '../helpers/git-repo.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function temp(prefix: string): string {
  const dir = makeTempDir(prefix);
  cleanups.push(dir.cleanup);
  return dir.path;
}

/** A directory that looks like a clone (a bare repository's HEAD is enough for the layout). */
function fakeClone(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
  return dir;
}

/** The id of a process that has exited (its temp folder is a crash leftover). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

const KEPT_URL = 'https://git.example.com/kept.git';
const GONE_URL = 'https://git.example.com/gone.git';

describe('collectClones', () => {
  it('deletes the clones no repository owns and the temp folders of dead clones; keeps the owned clone and a live clone in progress', async () => {
    const data = temp('brokkr-gc-data-');
    const kept = fakeClone(cloneDirFor(data, KEPT_URL));
    const gone = fakeClone(cloneDirFor(data, GONE_URL));
    const crashed = fakeClone(`${cloneDirFor(data, GONE_URL)}.tmp-${deadPid()}-1700000000000`);
    const inProgress = fakeClone(`${cloneDirFor(data, KEPT_URL)}.tmp-${process.pid}-1700000000000`);

    // Credentials are no part of a clone's identity: the owned URL may carry them.
    const result = await collectClones(data, ['https://bot:token@git.example.com/kept.git', '/a/local/path']);
    expect(result).toEqual({ removedClones: [gone], removedTemps: [crashed] });
    expect(existsSync(kept)).toBe(true);
    expect(existsSync(inProgress)).toBe(true);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(crashed)).toBe(false);
  });

  it('never deletes outside the data dir: a symbolic link named like a clone, a link inside an orphan clone, stray files and other folders stay', async () => {
    const data = temp('brokkr-gc-data-');
    const outside = temp('brokkr-gc-outside-');
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    const repos = join(data, 'repos');
    mkdirSync(repos, { recursive: true });
    // A link with a clone's name, pointing at a directory outside.
    const link = join(repos, basename(cloneDirFor(data, 'https://git.example.com/linked.git')));
    symlinkSync(outside, link);
    // An orphan clone holding a link to the outside file: the link goes with the clone, the file stays.
    const orphan = fakeClone(cloneDirFor(data, GONE_URL));
    symlinkSync(join(outside, 'precious.txt'), join(orphan, 'escape'));
    // A stray file named like a clone, one named otherwise, and a folder of another name.
    const strayLikeClone = join(repos, 'a'.repeat(24));
    writeFileSync(strayLikeClone, 'not a directory');
    writeFileSync(join(repos, 'NOTES.txt'), 'an operator note');
    mkdirSync(join(repos, 'backup'));
    writeFileSync(join(data, 'brokkr.db'), 'not ours to judge');

    const result = await collectClones(data, []);
    expect(result).toEqual({ removedClones: [orphan], removedTemps: [] });
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(existsSync(link)).toBe(true);
    expect(readFileSync(strayLikeClone, 'utf8')).toBe('not a directory');
    expect(existsSync(join(repos, 'NOTES.txt'))).toBe(true);
    expect(existsSync(join(repos, 'backup'))).toBe(true);
    expect(existsSync(join(data, 'brokkr.db'))).toBe(true);
  });

  it('a repos folder that is itself a symbolic link is left alone, and a data dir without clones is no error', async () => {
    const data = temp('brokkr-gc-data-');
    const elsewhere = temp('brokkr-gc-elsewhere-');
    const clone = fakeClone(join(elsewhere, 'b'.repeat(24)));
    symlinkSync(elsewhere, join(data, 'repos'));
    expect(await collectClones(data, [])).toEqual({ removedClones: [], removedTemps: [] });
    expect(existsSync(clone)).toBe(true);
    expect(await collectClones(join(data, 'never-created'), [])).toEqual({ removedClones: [], removedTemps: [] });
  });
});
