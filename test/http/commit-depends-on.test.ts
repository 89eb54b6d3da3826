/**
 * `GET /commits/{sha}` and `brokkr-sync wait` for a stack held back by `dependsOn` (SPEC §10): an
 * agent whose wave has the object but whose dependency has not passed the gate there is not
 * released — the answer names the dependency — and wait keeps waiting for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import yargs from 'yargs';
import { afterEach, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../src/change-feed.js';
import { waitCommand } from '../../src/cli/commands/wait.js';
import { reportError } from '../../src/cli/errors.js';
import type { CommitStatus } from '../../src/http/commit-status.js';
import { createServer } from '../../src/http/server.js';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

async function daemon() {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-commit-deps-'));
  const store: Store = await openStore(join(dir, 'brokkr.db'));
  const adminPak = generatePak();
  await store.setAdminPakHash(hashPak(adminPak));
  const app: FastifyInstance = await createServer({ store, feed: new ChangeFeed(), rateLimit: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close(), () => app.close());
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: dir, branch: 'main', root: '' });
  const stack = (name: string, depends_on: string[]) => ({
    name,
    path: name,
    description: null,
    labels: ['app'],
    annotations: {},
    content: { yaml: `${name}: 1\n`, checksum: `${name}1` },
    rollout: { waves: [], gate: 'success' as const, depends_on },
  });
  const result = await store.applyCommit({
    generatorId: g.id,
    commit: { sha: SHA, author_name: 'a', author_email: 'a@x', subject: 'web and its database', committed_at: new Date().toISOString() },
    expectedCursor: null,
    upserts: [stack('postgres', []), stack('web', ['postgres'])],
    deletes: [],
    errors: [],
  });
  const objectOf = (name: string) => result.created.find((c) => c.name === name)!.object_id;
  const agent = await store.createAgent({ name: 'edge-1', cluster_name: 'c', pak_hash: hashPak(generatePak()) });
  await store.addLabel('agent', agent.id, 'app');
  const succeed = (objectId: string) => store.createEvent({ agent_id: agent.id, deployment_object_id: objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
  const commitStatus = async () => {
    const res = await fetch(`${url}/api/v1/commits/${SHA.slice(0, 12)}`, { headers: { authorization: `Bearer ${adminPak}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as CommitStatus;
  };
  /** `brokkr-sync wait SHA --timeout T`, in process. */
  const wait = async (timeout: string) => {
    let stdout = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
    let code = 0;
    try {
      await yargs()
        .exitProcess(false)
        .strict()
        .fail((msg, e) => {
          throw e ?? new Error(msg); // as main.ts: the error alone, no usage text
        })
        .command(waitCommand).parseAsync(['wait', SHA, '--timeout', timeout, '--url', url, '--pak', adminPak]);
    } catch (e) {
      code = reportError(e);
    } finally {
      process.stdout.write = write;
    }
    return { code, stdout };
  };
  return { store, agent, objectOf, succeed, commitStatus, wait };
}

const delivery = (s: CommitStatus, stack: string) => s.stacks.find((x) => x.stack_name === stack)!.agents[0]!;

describe('a commit held back by dependsOn', () => {
  it('is not released to an agent until its dependency passed the gate there, naming the dependency; wait keeps waiting', async () => {
    const d = await daemon();
    expect((await d.store.targetStateIds(d.agent.id, 'full')).map((e) => e.id)).toEqual([d.objectOf('postgres')]);

    let status = await d.commitStatus();
    expect(delivery(status, 'web')).toMatchObject({ released: false, waiting_on: ['postgres'], state: 'pending' });
    expect(delivery(status, 'postgres')).toMatchObject({ released: true, waiting_on: [], state: 'pending' });
    expect(status.state).toBe('pending');

    await d.succeed(d.objectOf('postgres'));
    const held = await d.wait('1s');
    expect(held.code).toBe(2);
    expect(held.stdout).toMatch(/WAITING .*web.*: not applied yet/);
    status = await d.commitStatus();
    expect(delivery(status, 'web')).toMatchObject({ released: true, waiting_on: [], state: 'pending' });
    expect(delivery(status, 'postgres')).toMatchObject({ released: true, state: 'applied' });

    await d.succeed(d.objectOf('web'));
    const done = await d.wait('5s');
    expect(done.code).toBe(0);
  });

  it('wait names the dependency an agent waits on when it times out', async () => {
    const d = await daemon();
    const held = await d.wait('1s');
    expect(held.code).toBe(2);
    expect(held.stdout).toMatch(/WAITING .*web.*: not released yet, waiting for postgres to pass the gate on it/);
    expect(held.stdout).toMatch(/WAITING .*postgres.*: not applied yet/);
  });
});
