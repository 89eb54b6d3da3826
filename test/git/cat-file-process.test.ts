/** The long-lived cat-file child: pipelined answers in order, missing objects, restart after a crash. */
import { afterEach, describe, expect, it } from 'vitest';
import { CatFileProcess } from '../../src/git/cat-file-process.js';
import { makeRepo, type TestRepo } from '../helpers/git-repo.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function repoWith(files: Record<string, string>): Promise<TestRepo> {
  const repo = await makeRepo();
  cleanups.push(() => repo.cleanup());
  repo.writeAll(files).commit('files');
  return repo;
}

describe('CatFileProcess', () => {
  it('answers many pipelined requests in order, bodies byte-exact', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`f${i}.txt`] = `${i}\n`.repeat(i + 1);
    files['nl.txt'] = 'a\n\n\nb'; // bodies containing line breaks must not confuse the parser
    const repo = await repoWith(files);
    const proc = new CatFileProcess(repo.path, 'batch');
    cleanups.push(() => proc.close());
    const names = Object.keys(files);
    const replies = await Promise.all(names.map((n) => proc.request(`HEAD:${n}`)));
    replies.forEach((r, i) => {
      expect(r.header?.type).toBe('blob');
      expect(r.body?.toString()).toBe(files[names[i]]);
    });
  });

  it('reports missing objects as null headers and keeps going', async () => {
    const repo = await repoWith({ 'a.txt': 'a' });
    const proc = new CatFileProcess(repo.path, 'batch-check');
    cleanups.push(() => proc.close());
    const [missing, found, missingPath] = await Promise.all([proc.request('f'.repeat(40)), proc.request('HEAD:a.txt'), proc.request('HEAD:no such file')]);
    expect(missing.header).toBeNull();
    expect(found.header).toMatchObject({ type: 'blob', size: 1 });
    expect(missingPath.header).toBeNull();
  });

  it('restarts after its child dies, failing only the requests in flight', async () => {
    const repo = await repoWith({ 'a.txt': 'a' });
    const proc = new CatFileProcess(repo.path, 'batch');
    cleanups.push(() => proc.close());
    expect((await proc.request('HEAD:a.txt')).body?.toString()).toBe('a');
    (proc as unknown as { child: { kill(): void } }).child.kill();
    const inFlight = proc.request('HEAD:a.txt');
    await inFlight.then(
      (reply) => expect(reply.body?.toString()).toBe('a'), // written before the kill landed: fine too
      (err: Error) => expect(err.message).toMatch(/cat-file/),
    );
    expect((await proc.request('HEAD:a.txt')).body?.toString()).toBe('a');
  });

  it('refuses object names with line breaks', async () => {
    const proc = new CatFileProcess('.', 'batch-check');
    await expect(proc.request('HEAD\nHEAD')).rejects.toThrow(/line breaks/);
  });
});
