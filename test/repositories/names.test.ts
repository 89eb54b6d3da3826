/**
 * SPEC §9 cross-repository names: a stack of repository B claiming the name of a live stack of
 * repository A is invalid (its own row counts it, the error names the path of B's stack), B's
 * other stacks sync, and A's stack never moves: same row, same repository, same path, same objects.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryList } from '../../src/daemon/repository-spec.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { startRepoDaemon, tempDir, until, writeStack, type RepoDaemon } from './support/world.js';

let a: TestRepo;
let b: TestRepo;
let dir: string;
let d: RepoDaemon;

beforeAll(async () => {
  a = makeRepoSync('brokkr-names-a-');
  b = makeRepoSync('brokkr-names-b-');
  writeStack(a, 'apps/shared', 'shared', 'from-a').commit('a: shared');
  writeStack(b, 'svc/shared', 'shared', 'from-b');
  writeStack(b, 'svc/own', 'b-own', 'b1').commit('b: shared + own');
  dir = tempDir();
  d = await startRepoDaemon({ dir, repositories: parseRepositoryList([{ name: 'alpha', url: a.path, interval: 1 }]) });
  await d.daemon.firstSync;
});

afterAll(async () => {
  await d?.close();
  a?.cleanup();
  b?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function stackNamed(name: string) {
  return ((await d.call('GET', '/api/v1/stacks')).body as any[]).find((s) => s.name === name);
}

async function bErrors(): Promise<any[]> {
  const beta = await d.generator('beta');
  return ((await d.call('GET', '/api/v1/sync/status')).body.errors as any[]).filter((e) => e.generator_id === beta.id);
}

describe('stack names across repositories', () => {
  it("B's stack claiming A's live name is invalid on B's row; A's stack does not move", async () => {
    const alpha = await d.generator('alpha');
    const incumbent = await stackNamed('shared');
    expect(incumbent).toMatchObject({ generator_id: alpha.id, path: 'apps/shared' });
    const objectsBefore = (await d.call('GET', `/api/v1/stacks/${incumbent.id}/deployment-objects`)).body as any[];

    const added = await d.call('POST', '/api/v1/generators', { body: { name: 'beta', url: b.path, interval: 1 } });
    expect(added.status).toBe(201);
    const beta = await until(async () => {
      const g = await d.generator('beta');
      return g?.cursor_commit === b.head() && g;
    }, 'beta to sync');
    expect(beta).toMatchObject({ stacks: 1, invalid_stacks: 1, last_error: null });
    expect((await stackNamed('b-own'))?.generator_id).toBe(beta.id);

    const errors = await bErrors();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ stack_path: 'svc/shared', stack_name: 'shared', file: 'svc/shared/stack.yaml', line: 1 });
    expect(errors[0].message).toMatch(/"shared" is already used by repository alpha/);

    // A new commit of B touching the claimant changes nothing for A.
    writeStack(b, 'svc/shared', 'shared', 'from-b-2').commit('b: claim again');
    await until(async () => (await d.generator('beta'))?.cursor_commit === b.head(), 'beta to sync again');
    const after = await stackNamed('shared');
    expect(after).toMatchObject({ id: incumbent.id, generator_id: alpha.id, path: 'apps/shared', updated_at: incumbent.updated_at });
    const objectsAfter = (await d.call('GET', `/api/v1/stacks/${incumbent.id}/deployment-objects`)).body as any[];
    expect(objectsAfter.map((o) => o.id)).toEqual(objectsBefore.map((o) => o.id));
    expect(objectsAfter.every((o) => o.yaml_content.includes('from-a'))).toBe(true);
    expect(await bErrors()).toHaveLength(1);

    // A keeps syncing its stack as usual.
    writeStack(a, 'apps/shared', 'shared', 'from-a-2').commit('a: update');
    await until(async () => (await d.generator('alpha'))?.cursor_commit === a.head(), 'alpha to sync');
    const latest = (await d.call('GET', `/api/v1/stacks/${incumbent.id}/deployment-objects`)).body as any[];
    expect(latest.some((o) => o.yaml_content.includes('from-a-2'))).toBe(true);
    expect(latest.some((o) => o.yaml_content.includes('from-b'))).toBe(false);
  });

  // SPEC §9: "invalid, with an error naming that repository and path".
  it('the error names the incumbent repository and its path', async () => {
    const [error] = (await until(() => bErrors().then((e) => e.length > 0 && e), 'the error on beta')) as any[];
    expect(error.message).toContain('alpha');
    expect(error.message).toContain('apps/shared');
  });
});
