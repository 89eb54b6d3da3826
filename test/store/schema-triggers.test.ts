/** The data model's triggers and constraints, exercised with plain SQL on a plain connection (no product code involved). */
import { describe, expect, it } from 'vitest';
import { ISO_MS, MD5_EMPTY, Seed, UUID_V4, migratedPlainDb, nextMillisecond } from './store-fixture.js';

async function setup() {
  const { db, path } = await migratedPlainDb();
  return { db, path, seed: new Seed(db) };
}

describe('timestamps', () => {
  const tables = [
    { table: 'generators', make: (s: Seed) => s.generator(), set: "description = 'x'", key: 'id' },
    { table: 'stacks', make: (s: Seed) => s.stack(s.generator()), set: "description = 'x'", key: 'id' },
    { table: 'agents', make: (s: Seed) => s.agent(), set: "status = 'ACTIVE'", key: 'id' },
    {
      table: 'deployment_objects',
      make: (s: Seed) => {
        const g = s.generator();
        return s.object(s.stack(g), g).id;
      },
      set: `deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`,
      key: 'id',
    },
    {
      table: 'agent_events',
      make: (s: Seed) => {
        const g = s.generator();
        return s.event(s.agent(), s.object(s.stack(g), g).id);
      },
      set: "message = 'x'",
      key: 'id',
    },
  ];

  it.each(tables)('updated_at of $table changes on update and created_at does not', async ({ table, make, set }) => {
    const { seed } = await setup();
    const id = make(seed);
    const before = seed.row<{ created_at: string; updated_at: string }>(`SELECT created_at, updated_at FROM ${table} WHERE id = ?`, id);
    expect(before.created_at).toMatch(ISO_MS);
    expect(before.updated_at).toBe(before.created_at);
    await nextMillisecond();
    seed.db.prepare(`UPDATE ${table} SET ${set} WHERE id = ?`).run(id);
    const after = seed.row<{ created_at: string; updated_at: string }>(`SELECT created_at, updated_at FROM ${table} WHERE id = ?`, id);
    expect(after.created_at).toBe(before.created_at);
    expect(after.updated_at).toMatch(ISO_MS);
    expect(after.updated_at > before.updated_at).toBe(true);
  });

  it('the updated_at trigger terminates with recursive_triggers on', async () => {
    const { db, seed } = await setup();
    db.pragma('recursive_triggers = ON');
    const stack = seed.stack(seed.generator());
    await nextMillisecond();
    db.prepare("UPDATE stacks SET description = 'again' WHERE id = ?").run(stack);
    db.prepare("UPDATE stacks SET description = 'and again' WHERE id = ?").run(stack);
    const row = seed.row<{ updated_at: string; created_at: string }>('SELECT created_at, updated_at FROM stacks WHERE id = ?', stack);
    expect(row.updated_at > row.created_at).toBe(true);
  });

  it('created_at cannot be changed', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    expect(() => db.prepare("UPDATE generators SET created_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").run(g)).toThrow(
      /created_at cannot be changed/,
    );
  });

  it('ids default to random version 4 UUIDs generated in SQL', async () => {
    const { seed } = await setup();
    const ids = new Set([seed.generator(), seed.generator(), seed.agent()]);
    expect(ids.size).toBe(3);
    for (const id of ids) expect(id).toMatch(UUID_V4);
  });
});

describe('stack soft delete', () => {
  it('soft-deletes the stack objects and inserts one deletion marker', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    const other = seed.stack(g);
    const o1 = seed.object(stack, g);
    const o2 = seed.object(stack, g);
    const untouched = seed.object(other, g);
    const deletedAt = '2030-01-02T03:04:05.678Z';
    db.prepare('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(deletedAt, stack);

    expect(seed.count('deployment_objects', 'stack_id = ? AND is_deletion_marker = 0 AND deleted_at = ?', stack, deletedAt)).toBe(2);
    expect(seed.count('deployment_objects', 'id = ? AND deleted_at IS NULL', untouched.id)).toBe(1);
    const markers = seed.rows<Record<string, unknown>>('SELECT * FROM deployment_objects WHERE is_deletion_marker = 1');
    expect(markers).toHaveLength(1);
    const m = markers[0]!;
    expect(m).toMatchObject({
      stack_id: stack,
      yaml_content: '',
      yaml_checksum: MD5_EMPTY,
      submitted_at: deletedAt,
      generator_id: g,
      deleted_at: null,
      is_deletion_marker: 1,
    });
    expect(m.id).toMatch(UUID_V4);
    expect(m.sequence_id as number).toBeGreaterThan(Math.max(o1.sequence_id, o2.sequence_id, untouched.sequence_id));
  });

  it('a deletion time written as CURRENT_TIMESTAMP still gives the marker an ISO timestamp', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    seed.object(stack, g);
    db.prepare('UPDATE stacks SET deleted_at = CURRENT_TIMESTAMP WHERE id = ?').run(stack);
    const rows = seed.rows<{ submitted_at: string; deleted_at: string | null }>(
      'SELECT submitted_at, deleted_at FROM deployment_objects WHERE stack_id = ? ORDER BY sequence_id',
      stack,
    );
    expect(rows[0]!.deleted_at).toMatch(ISO_MS);
    expect(rows[1]!.submitted_at).toMatch(ISO_MS);
  });

  it('updating an already deleted stack adds no second marker', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    db.prepare(`UPDATE stacks SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`).run(stack);
    db.prepare(`UPDATE stacks SET deleted_at = '2040-01-01T00:00:00.000Z', description = 'x' WHERE id = ?`).run(stack);
    expect(seed.count('deployment_objects', 'stack_id = ? AND is_deletion_marker = 1', stack)).toBe(1);
  });
});

describe('stack hard delete', () => {
  it('removes targets, labels, annotations, events, objects and provenance before the stack', async () => {
    const { db, seed } = await setup();
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const g = seed.generator();
    const stack = seed.stack(g);
    const keep = seed.stack(g);
    const agent = seed.agent();
    const o = seed.object(stack, g);
    const kept = seed.object(keep, g);
    seed.event(agent, o.id);
    seed.event(agent, kept.id);
    seed.target(agent, stack);
    db.prepare("INSERT INTO stack_labels (stack_id, label) VALUES (?, 'prod')").run(stack);
    db.prepare("INSERT INTO stack_annotations (stack_id, key, value) VALUES (?, 'k', 'v')").run(stack);
    db.prepare(
      "INSERT INTO object_provenance (deployment_object_id, commit_sha, author_name, author_email, subject, committed_at) VALUES (?, 'sha', 'a', 'e', 's', 't')",
    ).run(o.id);
    db.prepare('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), stack); // a marker too

    db.prepare('DELETE FROM stacks WHERE id = ?').run(stack);
    for (const [table, col] of [
      ['agent_targets', 'stack_id'],
      ['stack_labels', 'stack_id'],
      ['stack_annotations', 'stack_id'],
      ['deployment_objects', 'stack_id'],
    ] as const) {
      expect(seed.count(table, `${col} = ?`, stack), table).toBe(0);
    }
    expect(seed.count('agent_events', 'deployment_object_id = ?', o.id)).toBe(0);
    expect(seed.count('object_provenance')).toBe(0);
    expect(seed.count('agent_events', 'deployment_object_id = ?', kept.id)).toBe(1);
    expect(seed.count('stacks', 'id = ?', keep)).toBe(1);
  });
});

describe('deployment object immutability', () => {
  it('refuses a content change with a clear error and leaves the row unchanged', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const o = seed.object(seed.stack(g), g, 'a: 1\n');
    const before = seed.row('SELECT * FROM deployment_objects WHERE id = ?', o.id);
    for (const set of ["yaml_content = 'a: 2'", "yaml_checksum = 'other'", 'sequence_id = 999', 'is_deletion_marker = 1', "submitted_at = '2000-01-01T00:00:00.000Z'"]) {
      expect(() => db.prepare(`UPDATE deployment_objects SET ${set} WHERE id = ?`).run(o.id), set).toThrow(
        /deployment objects are immutable: only soft deletion \(setting deleted_at\) and updates of deletion markers are allowed/,
      );
    }
    expect(seed.row('SELECT * FROM deployment_objects WHERE id = ?', o.id)).toEqual(before);
  });

  it('allows a soft delete, which also moves updated_at', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const o = seed.object(seed.stack(g), g);
    const before = seed.row<{ updated_at: string }>('SELECT updated_at FROM deployment_objects WHERE id = ?', o.id);
    await nextMillisecond();
    db.prepare('UPDATE deployment_objects SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), o.id);
    const after = seed.row<{ updated_at: string; deleted_at: string }>('SELECT updated_at, deleted_at FROM deployment_objects WHERE id = ?', o.id);
    expect(after.deleted_at).toMatch(ISO_MS);
    expect(after.updated_at > before.updated_at).toBe(true);
  });

  it('refuses undeleting or re-dating a soft-deleted object', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const o = seed.object(seed.stack(g), g);
    db.prepare("UPDATE deployment_objects SET deleted_at = '2030-01-01T00:00:00.000Z' WHERE id = ?").run(o.id);
    expect(() => db.prepare('UPDATE deployment_objects SET deleted_at = NULL WHERE id = ?').run(o.id)).toThrow(/immutable/);
    expect(() => db.prepare("UPDATE deployment_objects SET deleted_at = '2031-01-01T00:00:00.000Z' WHERE id = ?").run(o.id)).toThrow(
      /immutable/,
    );
  });

  it('allows updates of deletion markers', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    db.prepare('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), stack);
    db.prepare("UPDATE deployment_objects SET submitted_at = '2035-01-01T00:00:00.000Z' WHERE stack_id = ? AND is_deletion_marker = 1").run(stack);
    expect(seed.count('deployment_objects', "submitted_at = '2035-01-01T00:00:00.000Z'")).toBe(1);
  });
});

describe('generator cascades', () => {
  it('a generator soft delete soft-deletes its stacks (with markers) and every object it wrote', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const other = seed.generator();
    const s1 = seed.stack(g);
    const s2 = seed.stack(g);
    const foreign = seed.stack(other);
    seed.object(s1, g);
    seed.object(s2, g);
    const onForeign = seed.object(foreign, g); // written by g onto another generator's stack
    const otherObject = seed.object(foreign, other);
    const when = '2030-05-05T05:05:05.555Z';
    db.prepare('UPDATE generators SET deleted_at = ? WHERE id = ?').run(when, g);

    expect(seed.count('stacks', 'generator_id = ? AND deleted_at = ?', g, when)).toBe(2);
    expect(seed.count('deployment_objects', 'stack_id IN (?, ?) AND is_deletion_marker = 1', s1, s2)).toBe(2);
    expect(seed.count('deployment_objects', 'generator_id = ? AND deleted_at IS NULL', g)).toBe(0);
    expect(seed.count('deployment_objects', 'id = ? AND deleted_at = ?', onForeign.id, when)).toBe(1);
    expect(seed.count('stacks', 'id = ? AND deleted_at IS NULL', foreign)).toBe(1);
    expect(seed.count('deployment_objects', 'id = ? AND deleted_at IS NULL', otherObject.id)).toBe(1);
  });

  it('a generator hard delete removes its stacks, objects, events and sync rows first', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    const o = seed.object(stack, g);
    seed.event(seed.agent(), o.id);
    db.prepare("INSERT INTO sync_state (generator_id, repo, branch) VALUES (?, '/r', 'main')").run(g);
    db.prepare("INSERT INTO sync_errors (generator_id, stack_path, commit_sha, message) VALUES (?, 'p', 'sha', 'bad')").run(g);
    db.prepare('DELETE FROM generators WHERE id = ?').run(g);
    expect(seed.count('stacks')).toBe(0);
    expect(seed.count('deployment_objects')).toBe(0);
    expect(seed.count('agent_events')).toBe(0);
    expect(seed.count('sync_state')).toBe(0);
    expect(seed.count('sync_errors')).toBe(0);
  });
});

describe('agent cascades', () => {
  it('an agent soft delete soft-deletes its events only', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const o = seed.object(seed.stack(g), g);
    const a = seed.agent();
    const b = seed.agent();
    seed.event(a, o.id);
    seed.event(a, o.id, 'FAILURE');
    const kept = seed.event(b, o.id);
    db.prepare('UPDATE agents SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), a);
    expect(seed.count('agent_events', 'agent_id = ? AND deleted_at IS NOT NULL', a)).toBe(2);
    expect(seed.count('agent_events', 'id = ? AND deleted_at IS NULL', kept)).toBe(1);
  });

  it('an agent hard delete removes its labels, annotations, targets and events first', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    const o = seed.object(stack, g);
    const a = seed.agent();
    seed.event(a, o.id);
    seed.target(a, stack);
    db.prepare("INSERT INTO agent_labels (agent_id, label) VALUES (?, 'prod')").run(a);
    db.prepare("INSERT INTO agent_annotations (agent_id, key, value) VALUES (?, 'k', 'v')").run(a);
    db.prepare('DELETE FROM agents WHERE id = ?').run(a);
    for (const table of ['agent_labels', 'agent_annotations', 'agent_targets', 'agent_events']) {
      expect(seed.count(table, 'agent_id = ?', a), table).toBe(0);
    }
    expect(seed.count('deployment_objects', 'id = ?', o.id)).toBe(1);
  });
});

describe('uniqueness', () => {
  it('a stack name is reusable after soft delete but two live stacks cannot share one', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const first = seed.stack(g, 'web');
    expect(() => seed.stack(g, 'web')).toThrow(/UNIQUE constraint failed: stacks.name/);
    db.prepare('UPDATE stacks SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), first);
    const second = seed.stack(g, 'web');
    expect(second).not.toBe(first);
    expect(() => seed.stack(g, 'web')).toThrow(/UNIQUE/);
  });

  it('live agents are unique by (name, cluster_name)', async () => {
    const { db, seed } = await setup();
    const a = seed.agent('edge', 'eu');
    seed.agent('edge', 'us');
    expect(() => seed.agent('edge', 'eu')).toThrow(/UNIQUE constraint failed: agents.name, agents.cluster_name/);
    db.prepare('UPDATE agents SET deleted_at = ? WHERE id = ?').run(new Date().toISOString(), a);
    expect(seed.agent('edge', 'eu')).toMatch(UUID_V4);
  });

  it('targets, labels and annotations are unique per pair', async () => {
    const { db, seed } = await setup();
    const stack = seed.stack(seed.generator());
    const agent = seed.agent();
    const pairs: [string, unknown[]][] = [
      ['INSERT INTO agent_targets (agent_id, stack_id) VALUES (?, ?)', [agent, stack]],
      ["INSERT INTO stack_labels (stack_id, label) VALUES (?, 'l')", [stack]],
      ["INSERT INTO stack_annotations (stack_id, key, value) VALUES (?, 'k', 'v1')", [stack]],
      ["INSERT INTO agent_labels (agent_id, label) VALUES (?, 'l')", [agent]],
      ["INSERT INTO agent_annotations (agent_id, key, value) VALUES (?, 'k', 'v1')", [agent]],
    ];
    for (const [sql, params] of pairs) {
      db.prepare(sql).run(...params);
      const again = sql.replace("'v1'", "'v2'"); // an annotation key is unique whatever its value
      expect(() => db.prepare(again).run(...params), sql).toThrow(/UNIQUE constraint failed/);
    }
  });

  it('labels and annotations longer than 64 characters are refused', async () => {
    const { db, seed } = await setup();
    const stack = seed.stack(seed.generator());
    expect(() => db.prepare('INSERT INTO stack_labels (stack_id, label) VALUES (?, ?)').run(stack, 'x'.repeat(65))).toThrow(/CHECK/);
    db.prepare('INSERT INTO stack_labels (stack_id, label) VALUES (?, ?)').run(stack, 'x'.repeat(64));
  });
});

describe('sequence_id', () => {
  it('is assigned by the database, strictly increasing, and never reused after hard deletes', async () => {
    const { db, seed } = await setup();
    const g = seed.generator();
    const stack = seed.stack(g);
    const seqs = [1, 2, 3].map(() => seed.object(stack, g).sequence_id);
    expect(seqs[1]! > seqs[0]! && seqs[2]! > seqs[1]!).toBe(true);
    db.prepare('DELETE FROM deployment_objects WHERE sequence_id = ?').run(seqs[2]);
    const next = seed.object(stack, g).sequence_id;
    expect(next).toBeGreaterThan(seqs[2]!);
    db.prepare('DELETE FROM stacks WHERE id = ?').run(stack); // every object gone
    const fresh = seed.object(seed.stack(g), g).sequence_id;
    expect(fresh).toBeGreaterThan(next);
  });
});
