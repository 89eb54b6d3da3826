/** The long-lived diff-tree child: git's own diff in one request, an unreadable tree refused without losing the stream, restarts. */
import { afterEach, describe, expect, it } from 'vitest';
import { DiffTreeProcess } from '../../src/git/diff-tree-process.js';
import { parseDiffTree } from '../../src/git/parse-git-output.js';
import { GitError } from '../../src/git/git-error.js';
import { makeRepo, type TestRepo } from '../helpers/git-repo.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function repo(): Promise<TestRepo> {
  const r = await makeRepo();
  cleanups.push(() => r.cleanup());
  return r;
}

function differ(r: TestRepo): DiffTreeProcess {
  const d = new DiffTreeProcess(r.path);
  cleanups.push(() => d.close());
  return d;
}

const treeOf = (r: TestRepo, commit: string) => r.git('rev-parse', `${commit}^{tree}`);
const gitDiff = (r: TestRepo, a: string, b: string) => parseDiffTree(Buffer.from(r.git('diff-tree', '-r', '--no-renames', '-z', a, b), 'utf8'));

describe('DiffTreeProcess', () => {
  it("answers as git diff-tree -r does — deep changes, a file turned directory, a path with a line break — and names the changed directories' new trees", async () => {
    const r = await repo();
    r.writeAll({ 'a/b/c/deep.yaml': 'd: 1\n', 'swap': 'a file\n', 'keep/k.yaml': 'k: 1\n', 'line\nbreak.yaml': 'x: 1\n' });
    const one = r.commit('one');
    r.write('a/b/c/deep.yaml', 'd: 2\n').remove('swap').write('swap/inside.yaml', 'now a directory\n').write('line\nbreak.yaml', 'x: 2\n');
    const two = r.commit('two');
    const d = differ(r);
    const dirs: [string, string | null][] = [];
    const changes = await d.diff(treeOf(r, one), treeOf(r, two), (path, oid) => dirs.push([path, oid]));
    expect(changes).toEqual(gitDiff(r, treeOf(r, one), treeOf(r, two)));
    expect(changes.map((c) => c.path)).toContain('line\nbreak.yaml');
    expect(dirs).toEqual(
      expect.arrayContaining([
        ['a', r.git('rev-parse', `${two}:a`)],
        ['a/b/c', r.git('rev-parse', `${two}:a/b/c`)],
        ['swap', r.git('rev-parse', `${two}:swap`)],
      ]),
    );
    expect(dirs.map(([p]) => p)).not.toContain('keep');
    expect(await d.diff(treeOf(r, two), treeOf(r, two))).toEqual([]);
  });

  it('an unreadable tree is refused with a GitError, and the next request is answered right', async () => {
    const r = await repo();
    r.writeAll({ 'a.yaml': '1\n' });
    const one = r.commit('one');
    r.write('a.yaml', '2\n');
    const two = r.commit('two');
    const d = differ(r);
    await expect(d.diff(treeOf(r, one), 'deadbeef'.repeat(5))).rejects.toBeInstanceOf(GitError);
    expect(await d.diff(treeOf(r, one), treeOf(r, two))).toEqual(gitDiff(r, treeOf(r, one), treeOf(r, two)));
  });

  it('requests made together are answered each its own, and across the restart after 500 requests', async () => {
    const r = await repo();
    const trees: string[] = [];
    for (let i = 0; i < 4; i++) {
      r.write(`f${i}.yaml`, `${i}\n`);
      trees.push(treeOf(r, r.commit(`c${i}`)));
    }
    const d = differ(r);
    const pairs = Array.from({ length: 520 }, (_, i) => [trees[i % 4]!, trees[(i + 1) % 4]!] as const);
    const expected = new Map(trees.map((a, i) => [a, gitDiff(r, a, trees[(i + 1) % 4]!)]));
    const answers = await Promise.all(pairs.map(([a, b]) => d.diff(a, b)));
    answers.forEach((changes, i) => expect(changes).toEqual(expected.get(pairs[i]![0])));
  });
});
