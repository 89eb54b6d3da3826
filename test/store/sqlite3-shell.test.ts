/** The cascades hold for other clients of the file: the sqlite3 shell (foreign keys off) and a plain second connection. */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openTestStore, plainConnection, Seed, sqlite3, MD5_EMPTY, UUID_V4, ISO_MS } from './store-fixture.js';
import type { CommitInfo } from '../../src/store/records.js';

const COMMIT: CommitInfo = { sha: 'c1', author_name: 'A', author_email: 'a@example.com', subject: 'add', committed_at: '2030-01-01T00:00:00.000Z' };

/** A store-written database with one stack (two objects, label, annotation, target, event). */
async function populated() {
  const { store, path } = await openTestStore();
  const g = await store.ensureGenerator('repo', null);
  await store.saveSyncTarget(g.id, { repo: '/r', branch: 'main', root: '' });
  const plan = (sha: string, cursor: string | null, yaml: string, id?: string) => ({
    generatorId: g.id,
    commit: { ...COMMIT, sha },
    expectedCursor: cursor,
    upserts: [{ ...(id ? { id } : {}), name: 'web', path: 'web', description: null, labels: ['prod'], annotations: { tier: 'fe' }, content: { yaml, checksum: yaml } }],
    deletes: [],
    errors: [],
  });
  const r1 = await store.applyCommit(plan('c1', null, 'a: 1\n'));
  const stackId = r1.created[0]!.stack_id;
  const r2 = await store.applyCommit(plan('c2', 'c1', 'a: 2\n', stackId));
  const agent = await store.createAgent({ name: 'edge', cluster_name: 'eu', pak_hash: 'h' });
  await store.addTarget(agent.id, stackId);
  await store.createEvent({ agent_id: agent.id, deployment_object_id: r2.created[0]!.object_id, event_type: 'DEPLOY', status: 'SUCCESS', message: null });
  await store.close();
  return { path, generatorId: g.id, stackId, agentId: agent.id };
}

describe('the sqlite3 shell', () => {
  it('runs with foreign keys off, the case the triggers exist for', async () => {
    const { path } = await populated();
    expect(sqlite3(path, 'PRAGMA foreign_keys;').trim()).toBe('0');
  });

  it('a stack soft delete from the shell soft-deletes its objects and inserts the deletion marker', async () => {
    const { path, stackId } = await populated();
    sqlite3(path, `UPDATE stacks SET deleted_at = CURRENT_TIMESTAMP WHERE id = '${stackId}';`);
    const seed = new Seed(plainConnection(path));
    expect(seed.count('deployment_objects', 'stack_id = ? AND is_deletion_marker = 0 AND deleted_at IS NULL', stackId)).toBe(0);
    const marker = seed.row<Record<string, unknown>>('SELECT * FROM deployment_objects WHERE stack_id = ? AND is_deletion_marker = 1', stackId);
    expect(marker).toMatchObject({ yaml_content: '', yaml_checksum: MD5_EMPTY, sequence_id: 3 });
    expect(marker.id).toMatch(UUID_V4);
    expect(marker.submitted_at).toMatch(ISO_MS);
  });

  it('a stack hard delete from the shell leaves no orphaned rows', async () => {
    const { path, stackId } = await populated();
    sqlite3(path, `DELETE FROM stacks WHERE id = '${stackId}';`);
    const seed = new Seed(plainConnection(path));
    for (const table of ['deployment_objects', 'agent_targets', 'stack_labels', 'stack_annotations', 'agent_events', 'object_provenance']) {
      expect(seed.count(table), table).toBe(0);
    }
    expect(seed.rows('PRAGMA foreign_key_check')).toEqual([]);
  });

  it('a generator soft delete and an agent hard delete from the shell cascade', async () => {
    const { path, generatorId, agentId, stackId } = await populated();
    sqlite3(path, `UPDATE generators SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = '${generatorId}';\nDELETE FROM agents WHERE id = '${agentId}';`);
    const seed = new Seed(plainConnection(path));
    expect(seed.count('stacks', 'id = ? AND deleted_at IS NOT NULL', stackId)).toBe(1);
    expect(seed.count('deployment_objects', 'deleted_at IS NULL')).toBe(0);
    expect(seed.count('deployment_objects', 'is_deletion_marker = 1')).toBe(1);
    for (const table of ['agent_targets', 'agent_events']) expect(seed.count(table), table).toBe(0);
    expect(seed.rows('PRAGMA foreign_key_check')).toEqual([]);
  });

  it('refuses to change a deployment object from the shell with the immutability message', async () => {
    const { path, stackId } = await populated();
    expect(() => sqlite3(path, `UPDATE deployment_objects SET yaml_content = 'x' WHERE stack_id = '${stackId}';`)).toThrow(
      /deployment objects are immutable/,
    );
    const seed = new Seed(plainConnection(path));
    expect(seed.count('deployment_objects', "yaml_content = 'x'")).toBe(0);
  });
});

describe('a second plain connection', () => {
  it('fires the cascades with no functions or pragmas set up by the product', async () => {
    const { path, stackId } = await populated();
    const db = new Database(path);
    try {
      db.prepare('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), stackId);
      const seed = new Seed(db);
      expect(seed.count('deployment_objects', 'stack_id = ? AND is_deletion_marker = 1', stackId)).toBe(1);
      db.prepare('DELETE FROM stacks WHERE id = ?').run(stackId);
      expect(seed.count('deployment_objects')).toBe(0);
    } finally {
      db.close();
    }
  });
});
