/** Progressive delivery on PostgreSQL: the SQLite module's queries in this dialect, around the same shared release rules. */
import type { RolloutAction, RolloutConfig, RolloutObjectRef, RolloutStatus, RollbackProvenance } from '../rollout-records.js';
import { waveOf } from '../../manifest/rollout-manifest.js';
import {
  advanceRollout,
  fitReleased,
  gateInputOf,
  gateOf,
  promoteRollout,
  reportMayChange,
  resolveTargetState,
  rolloutNeeded,
  startRelease,
  type AgentGateInput,
  type RolloutMember,
  type RolloutRow,
} from '../rollout-rules.js';
import type { MembershipChange, WaveSelector } from '../rollout-records.js';
import { changed, mergeOutcomes, type RolloutOutcome } from '../rollout-outcome.js';
import { buildRolloutStatus, plainRow } from '../rollout-status.js';
import { ConflictError, NotFoundError, type TargetStateEntry } from '../store.js';
import { annotationsByOwner, labelsByOwner } from './owner-tags.js';
import { uuidParam, type Sql } from './pg-db.js';
import { holdsStackSql } from '../holds-stack-sql.js';

type Row = { stack_id: string; waves: string; gate: string; depends_on: string; target_object_id: string | null; released: string; paused: boolean; halt_reason: string | null; acknowledged_seq: number };

function parse(r: Row): RolloutRow {
  return {
    stack_id: r.stack_id,
    config: { waves: JSON.parse(r.waves), gate: r.gate as RolloutConfig['gate'], depends_on: JSON.parse(r.depends_on) },
    target_object_id: r.target_object_id,
    released: JSON.parse(r.released),
    paused: r.paused,
    halt_reason: r.halt_reason,
    acknowledged_seq: Number(r.acknowledged_seq),
  };
}

/** The row, locked against a concurrent release on another replica when forUpdate. */
async function readRollout(sql: Sql, stackId: string, forUpdate = false): Promise<RolloutRow | null> {
  const r = await sql.one<Row>(`SELECT * FROM stack_rollouts WHERE stack_id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [uuidParam(stackId)]);
  return r ? parse(r) : null;
}

async function writeRollout(sql: Sql, row: RolloutRow): Promise<void> {
  await sql.run(
    `INSERT INTO stack_rollouts (stack_id, waves, gate, depends_on, target_object_id, released, paused, halt_reason, acknowledged_seq)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (stack_id) DO UPDATE SET waves = excluded.waves, gate = excluded.gate, depends_on = excluded.depends_on,
       target_object_id = excluded.target_object_id, released = excluded.released, paused = excluded.paused,
       halt_reason = excluded.halt_reason, acknowledged_seq = excluded.acknowledged_seq, updated_at = now()`,
    [
      row.stack_id,
      JSON.stringify(row.config.waves),
      row.config.gate,
      JSON.stringify(row.config.depends_on),
      row.target_object_id,
      JSON.stringify(fitReleased(row.released, row.config.waves.length)),
      row.paused,
      row.halt_reason,
      row.acknowledged_seq,
    ],
  );
}

/** A live agent associated with the stack $1 (`a` is the agent). */
const MEMBER = `a.deleted_at IS NULL AND ${holdsStackSql('a.id', '$1')}`;

/** As SQLite's members: with `like`, only the agents matching a wave's first condition, found through the tag indexes. */
async function members(sql: Sql, stackId: string, like?: WaveSelector): Promise<(RolloutMember & { cluster_name: string })[]> {
  const params: unknown[] = [uuidParam(stackId)];
  let narrow = '';
  const [annotation] = Object.entries(like?.annotations ?? {});
  if (like && like.labels.length > 0) {
    narrow = 'a.id IN (SELECT agent_id FROM agent_labels WHERE label = ANY($2::text[])) AND';
    params.push(like.labels);
  } else if (annotation) {
    narrow = 'a.id IN (SELECT agent_id FROM agent_annotations WHERE key = $2 AND value = $3) AND';
    params.push(...annotation);
  }
  const agents = await sql.rows<{ agent_id: string; name: string; cluster_name: string }>(
    `SELECT a.id AS agent_id, a.name, a.cluster_name FROM agents a WHERE ${narrow} ${MEMBER}
     ORDER BY a.name COLLATE "C", a.cluster_name COLLATE "C"`,
    params,
  );
  const ids = agents.map((a) => a.agent_id);
  const labels = await labelsByOwner(sql, 'agent', ids);
  const annotations = await annotationsByOwner(sql, 'agent', ids);
  return agents.map((a) => ({ ...a, labels: labels.get(a.agent_id) ?? [], annotations: annotations.get(a.agent_id) ?? {} }));
}

/** Each agent's latest event (and health) on the object; with `agents`, theirs only. */
async function gateInputs(sql: Sql, objectId: string | null, acknowledged = 0, agents?: readonly string[]): Promise<Map<string, AgentGateInput>> {
  const out = new Map<string, AgentGateInput>();
  if (objectId === null) return out;
  const events = await sql.rows<{ agent_id: string; status: string; message: string | null }>(
    `SELECT agent_id, status, message FROM agent_events WHERE deployment_object_id = $1 AND deleted_at IS NULL
       AND (status <> 'FAILURE' OR seq > $2) ${agents ? 'AND agent_id = ANY($3::uuid[])' : ''} ORDER BY seq`,
    agents ? [uuidParam(objectId), acknowledged, agents] : [uuidParam(objectId), acknowledged],
  );
  for (const e of events) out.set(e.agent_id, { status: e.status, message: e.message, health: out.get(e.agent_id)?.health ?? null });
  const health = await sql.rows<{ agent_id: string; status: string }>(
    `SELECT agent_id, status FROM deployment_health WHERE deployment_object_id = $1 ${agents ? 'AND agent_id = ANY($2::uuid[])' : ''}`,
    agents ? [uuidParam(objectId), agents] : [uuidParam(objectId)],
  );
  for (const h of health) {
    const g = out.get(h.agent_id);
    out.set(h.agent_id, { status: g?.status ?? null, message: g?.message ?? null, health: h.status });
  }
  return out;
}

async function advanceAndSave(sql: Sql, row: RolloutRow): Promise<RolloutOutcome> {
  const result = advanceRollout(row, await members(sql, row.stack_id), await gateInputs(sql, row.target_object_id, row.acknowledged_seq));
  await writeRollout(sql, result.row);
  return { releasedTo: result.releasedTo, halted: result.halted };
}

/** As SQLite's reportMayChangeRollout: the reporter, and at most the members of its wave. */
async function reportMayChangeRollout(sql: Sql, row: RolloutRow, agentId: string, sinceLastEvent: boolean): Promise<boolean> {
  const member = await sql.one<{ id: string }>(`SELECT a.id FROM agents a WHERE a.id = $2 AND ${MEMBER}`, [uuidParam(row.stack_id), uuidParam(agentId)]);
  if (!member) return false;
  const labels = (await labelsByOwner(sql, 'agent', [agentId])).get(agentId) ?? [];
  const annotations = (await annotationsByOwner(sql, 'agent', [agentId])).get(agentId) ?? {};
  const wave = waveOf(row.config.waves, labels, annotations);
  const target = row.target_object_id!;
  const events = (
    await sql.rows<{ status: string; message: string | null }>(
      `SELECT status, message FROM agent_events WHERE agent_id = $1 AND deployment_object_id = $2 AND deleted_at IS NULL
         AND (status <> 'FAILURE' OR seq > $3) ORDER BY seq DESC LIMIT 2`,
      [uuidParam(agentId), uuidParam(target), row.acknowledged_seq],
    )
  ).reverse();
  const health =
    (await sql.one<{ status: string }>('SELECT status FROM deployment_health WHERE agent_id = $1 AND deployment_object_id = $2', [uuidParam(agentId), uuidParam(target)]))
      ?.status ?? null;
  const gate = row.config.gate;
  const after = gateOf(gateInputOf(events, health), gate);
  const before = sinceLastEvent ? gateOf(gateInputOf(events.slice(0, -1), health), gate) : null;
  const may = reportMayChange(row, wave, { before, after });
  if (may !== 'if-wave-passed') return may === 'yes';
  const inWave = (await members(sql, row.stack_id, row.config.waves[wave])).filter((m) => waveOf(row.config.waves, m.labels, m.annotations) === wave);
  const gates = await gateInputs(sql, target, row.acknowledged_seq, inWave.map((m) => m.agent_id));
  return inWave.every((m) => gateOf(gates.get(m.agent_id), gate) === 'passed');
}

async function latestObjectId(sql: Sql, stackId: string, except: string | null = null): Promise<string | null> {
  const r = await sql.one<{ id: string }>(
    `SELECT id FROM deployment_objects WHERE stack_id = $1 AND ($2::uuid IS NULL OR id <> $2::uuid) AND (deleted_at IS NULL OR is_deletion_marker)
     ORDER BY sequence_id DESC LIMIT 1`,
    [uuidParam(stackId), except],
  );
  return r?.id ?? null;
}

/** As SQLite's rolloutOfCommit: inside applyCommit, record a stack's settings and start releasing its new object. */
export async function rolloutOfCommit(sql: Sql, stackId: string, config: RolloutConfig | null | undefined, newObject: string | null): Promise<boolean> {
  const existing = await readRollout(sql, stackId, true);
  if (!config && !existing) return false;
  let row = existing ?? plainRow(stackId, await latestObjectId(sql, stackId, newObject));
  const before = JSON.stringify(row.config);
  if (config !== undefined) row = { ...row, config: config ?? { waves: [], gate: 'success', depends_on: [] } };
  if (newObject !== null) row = startRelease(row, newObject);
  if (!rolloutNeeded(row)) {
    await sql.run('DELETE FROM stack_rollouts WHERE stack_id = $1', [stackId]);
    return true;
  }
  await advanceAndSave(sql, row);
  return existing === null || newObject !== null || before !== JSON.stringify(row.config);
}

/** As SQLite's rolloutOfEvent; the row is locked so two replicas' events release a wave once. */
export async function rolloutOfEvent(sql: Sql, objectId: string, agentId: string): Promise<RolloutOutcome | null> {
  const r = await sql.one<Row>('SELECT * FROM stack_rollouts WHERE target_object_id = $1 FOR UPDATE', [uuidParam(objectId)]);
  if (!r) return null;
  const row = parse(r);
  if (row.paused || row.halt_reason !== null || !(await reportMayChangeRollout(sql, row, agentId, true))) return null;
  return changed(await advanceAndSave(sql, row));
}

/** As SQLite's rolloutOfHealth; rows locked in object-id order, so concurrent reports cannot deadlock. */
export async function rolloutOfHealth(sql: Sql, agentId: string, objectIds: readonly string[]): Promise<RolloutOutcome | null> {
  const outcomes: RolloutOutcome[] = [];
  for (const objectId of [...new Set(objectIds)].sort()) {
    const r = await sql.one<Row>("SELECT * FROM stack_rollouts WHERE target_object_id = $1 AND gate = 'healthy' FOR UPDATE", [uuidParam(objectId)]);
    if (!r) continue;
    const row = parse(r);
    if (row.paused || row.halt_reason !== null || !(await reportMayChangeRollout(sql, row, agentId, false))) continue;
    outcomes.push(await advanceAndSave(sql, row));
  }
  return changed(mergeOutcomes(outcomes));
}

/** As SQLite's rolloutsOfMembership (call inside a transaction); rows locked in stack-id order. */
export async function rolloutsOfMembership(sql: Sql, change: MembershipChange): Promise<RolloutOutcome | null> {
  const rows = await sql.rows<Row>(
    `SELECT r.* FROM stack_rollouts r WHERE r.stack_id IN (
       SELECT $2::uuid WHERE $2::uuid IS NOT NULL
       UNION SELECT stack_id FROM agent_targets WHERE agent_id = $1
       UNION SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = $1
       UNION SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value WHERE aa.agent_id = $1
       UNION SELECT stack_id FROM stack_labels WHERE label = $3
       UNION SELECT stack_id FROM stack_annotations WHERE key = $4)
     AND NOT r.paused AND r.halt_reason IS NULL ORDER BY r.stack_id FOR UPDATE`,
    [uuidParam(change.agentId), uuidParam(change.stackId), change.label ?? null, change.annotationKey ?? null],
  );
  const outcomes: RolloutOutcome[] = [];
  for (const r of rows) outcomes.push(await advanceAndSave(sql, parse(r)));
  return changed(mergeOutcomes(outcomes));
}

export async function resolveManaged(sql: Sql, agentId: string, entries: TargetStateEntry[], managed: Set<string>, mode: 'incremental' | 'full'): Promise<TargetStateEntry[]> {
  const rows = new Map<string, RolloutRow>();
  for (const r of await sql.rows<Row>('SELECT * FROM stack_rollouts WHERE stack_id = ANY($1::uuid[])', [[...managed]])) rows.set(r.stack_id, parse(r));
  const ids = new Set<string>();
  for (const row of rows.values()) for (const id of [row.target_object_id, ...row.released]) if (id) ids.add(id);
  const objects = new Map<string, TargetStateEntry & { is_deletion_marker: boolean }>();
  for (const o of await sql.rows<TargetStateEntry & { is_deletion_marker: boolean }>(
    'SELECT id, sequence_id, stack_id, is_deletion_marker FROM deployment_objects WHERE id = ANY($1::uuid[])',
    [[...ids]],
  )) {
    objects.set(o.id, o);
  }
  const withDeps = [...rows.values()].some((r) => r.config.depends_on.length > 0);
  const stackNames = new Map<string, string>();
  if (withDeps) {
    for (const s of await sql.rows<{ id: string; name: string }>(
      `SELECT s.id, s.name FROM stacks s WHERE s.deleted_at IS NULL AND s.id IN (
         SELECT stack_id FROM agent_targets WHERE agent_id = $1
         UNION SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = $1
         UNION SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value WHERE aa.agent_id = $1)`,
      [uuidParam(agentId)],
    )) {
      stackNames.set(s.id, s.name);
    }
  }
  const stacks = withDeps ? [...stackNames.keys()] : [...managed];
  const succeeded = await sql.rows<TargetStateEntry & { healthy: boolean }>(
    `SELECT DISTINCT o.id, o.sequence_id, o.stack_id,
       EXISTS (SELECT 1 FROM deployment_health h WHERE h.agent_id = e.agent_id AND h.deployment_object_id = o.id AND h.status = 'healthy') AS healthy
     FROM agent_events e JOIN deployment_objects o ON o.id = e.deployment_object_id
     WHERE e.agent_id = $1 AND e.status = 'SUCCESS' AND e.deleted_at IS NULL AND o.stack_id = ANY($2::uuid[])`,
    [uuidParam(agentId), stacks],
  );
  const labels = (await labelsByOwner(sql, 'agent', [agentId])).get(agentId) ?? [];
  const annotations = (await annotationsByOwner(sql, 'agent', [agentId])).get(agentId) ?? {};
  return resolveTargetState(entries, managed, { rows, labels, annotations, objects, succeeded, stackNames }, mode);
}

async function objectRefs(sql: Sql, ids: (string | null)[]): Promise<Map<string, RolloutObjectRef>> {
  const out = new Map<string, RolloutObjectRef>();
  for (const o of await sql.rows<RolloutObjectRef>('SELECT id, sequence_id, is_deletion_marker FROM deployment_objects WHERE id = ANY($1::uuid[])', [
    ids.filter((i) => i !== null),
  ])) {
    out.set(o.id, o);
  }
  return out;
}

async function requireStack(sql: Sql, stackId: string): Promise<{ id: string; name: string; deleted_at: string | null; generator_id: string | null }> {
  const stack = await sql.one<{ id: string; name: string; deleted_at: string | null; generator_id: string | null }>(
    'SELECT id, name, deleted_at, generator_id FROM stacks WHERE id = $1',
    [uuidParam(stackId)],
  );
  if (!stack) throw new NotFoundError(`stack ${stackId} not found`);
  return stack;
}

export async function rolloutStatus(sql: Sql, stackId: string): Promise<RolloutStatus> {
  const { id, name } = await requireStack(sql, stackId);
  const row = (await readRollout(sql, stackId)) ?? plainRow(stackId, await latestObjectId(sql, stackId));
  const rollback = row.target_object_id
    ? ((await sql.one<RollbackProvenance>('SELECT * FROM object_rollbacks WHERE deployment_object_id = $1', [row.target_object_id])) ?? null)
    : null;
  return buildRolloutStatus({
    stack: { id, name },
    row,
    members: await members(sql, stackId),
    gates: await gateInputs(sql, row.target_object_id, row.acknowledged_seq),
    objects: await objectRefs(sql, [row.target_object_id, ...row.released]),
    rollback,
  });
}

/** Call inside a transaction. */
export async function rolloutAction(sql: Sql, stackId: string, action: RolloutAction): Promise<void> {
  await requireStack(sql, stackId);
  const latest = await latestObjectId(sql, stackId);
  let row = (await readRollout(sql, stackId, true)) ?? plainRow(stackId, latest);
  const acknowledged = (await sql.one<{ seq: number }>('SELECT coalesce(max(seq), 0) AS seq FROM agent_events'))!.seq;
  if (action !== 'pause') row = { ...row, acknowledged_seq: acknowledged };
  if (action === 'pause') row = { ...row, paused: true };
  else if (action === 'promote') row = promoteRollout(row);
  else {
    row = { ...row, paused: false, halt_reason: null };
    if (latest !== null && latest !== row.target_object_id) row = startRelease(row, latest);
  }
  if (!rolloutNeeded(row)) await sql.run('DELETE FROM stack_rollouts WHERE stack_id = $1', [stackId]);
  else if (action === 'pause') await writeRollout(sql, row);
  else await advanceAndSave(sql, row);
}

/** Call inside a transaction. */
export async function rollback(sql: Sql, stackId: string, toSequence: number, actor: string): Promise<{ id: string; sequence_id: number }> {
  const stack = await requireStack(sql, stackId);
  if (stack.deleted_at !== null) throw new ConflictError('the stack is deleted; commit it back instead of rolling back');
  const source = await sql.one<{ id: string; sequence_id: number; yaml_content: string; yaml_checksum: string; is_deletion_marker: boolean }>(
    'SELECT id, sequence_id, yaml_content, yaml_checksum, is_deletion_marker FROM deployment_objects WHERE stack_id = $1 AND sequence_id = $2',
    [stackId, toSequence],
  );
  if (!source) throw new NotFoundError(`stack ${stackId} has no object with sequence ${toSequence}`);
  if (source.is_deletion_marker) throw new ConflictError(`object ${toSequence} is a deletion marker; roll back to an object with content`);
  const existing = await readRollout(sql, stackId, true);
  const replacedId = await latestObjectId(sql, stackId);
  const replaced = replacedId ? (await objectRefs(sql, [replacedId])).get(replacedId)! : null;
  const object = (await sql.one<{ id: string; sequence_id: number }>(
    `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
     VALUES ($1, $2, $3, now(), FALSE, $4) RETURNING id, sequence_id`,
    [stackId, source.yaml_content, source.yaml_checksum, stack.generator_id],
  ))!;
  await sql.run(
    `INSERT INTO object_rollbacks (deployment_object_id, source_object_id, source_sequence_id, replaced_object_id, replaced_sequence_id, actor)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [object.id, source.id, source.sequence_id, replaced?.id ?? null, replaced?.sequence_id ?? null, actor],
  );
  const row = existing ?? plainRow(stackId, replacedId);
  await writeRollout(sql, { ...row, target_object_id: object.id, released: Array(row.config.waves.length + 1).fill(object.id), paused: true, halt_reason: null });
  return object;
}
