/** Progressive delivery on SQLite: loading and saving rollout rows around the shared release rules. */
import type { RolloutConfig, RolloutObjectRef, RolloutStatus, RollbackProvenance, RolloutAction } from '../rollout-records.js';
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
import { buildRolloutStatus, plainRow } from '../rollout-status.js';
import { ConflictError, NotFoundError, type TargetStateEntry } from '../store.js';
import { changed, mergeOutcomes, type RolloutOutcome } from '../rollout-outcome.js';
import type { SqliteDb } from './connection.js';
import { holdsStackSql } from '../holds-stack-sql.js';

type Row = { stack_id: string; waves: string; gate: string; depends_on: string; target_object_id: string | null; released: string; paused: number; halt_reason: string | null; acknowledged_seq: number };

/**
 * Parsed JSON columns by their text: a release answers hundreds of agents from the same row, and
 * each answer used to parse its settings again. Only for resolveManaged, which never mutates them
 * (resolveTargetState reads; fitReleased copies); a text keys exactly one value; bounded, cleared when full.
 */
const parsedJson = new Map<string, unknown>();
function parseJson<T>(text: string): T {
  let v = parsedJson.get(text);
  if (v === undefined) {
    if (parsedJson.size >= 256) parsedJson.clear();
    parsedJson.set(text, (v = JSON.parse(text)));
  }
  return v as T;
}

/** A row; `shared`: its settings are the memoized (shared, never to be mutated) values, for the target-state reads alone. */
function parse(r: Row, shared = false): RolloutRow {
  const json = shared ? parseJson : (text: string) => JSON.parse(text);
  return {
    stack_id: r.stack_id,
    config: { waves: json(r.waves), gate: r.gate as RolloutConfig['gate'], depends_on: json(r.depends_on) },
    target_object_id: r.target_object_id,
    released: json(r.released),
    paused: r.paused === 1,
    halt_reason: r.halt_reason,
    acknowledged_seq: Number(r.acknowledged_seq),
  };
}

export function readRollout(db: SqliteDb, stackId: string, shared = false): RolloutRow | null {
  const r = db.stmt<Row>('SELECT * FROM stack_rollouts WHERE stack_id = ?').get(stackId);
  return r ? parse(r, shared) : null;
}

function writeRollout(db: SqliteDb, row: RolloutRow): void {
  db.stmt(
    `INSERT INTO stack_rollouts (stack_id, waves, gate, depends_on, target_object_id, released, paused, halt_reason, acknowledged_seq)
     VALUES (@stack_id, @waves, @gate, @depends_on, @target, @released, @paused, @halt, @ack)
     ON CONFLICT (stack_id) DO UPDATE SET waves = excluded.waves, gate = excluded.gate, depends_on = excluded.depends_on,
       target_object_id = excluded.target_object_id, released = excluded.released, paused = excluded.paused,
       halt_reason = excluded.halt_reason, acknowledged_seq = excluded.acknowledged_seq, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`,
  ).run({
    stack_id: row.stack_id,
    waves: JSON.stringify(row.config.waves),
    gate: row.config.gate,
    depends_on: JSON.stringify(row.config.depends_on),
    target: row.target_object_id,
    released: JSON.stringify(fitReleased(row.released, row.config.waves.length)),
    paused: row.paused ? 1 : 0,
    halt: row.halt_reason,
    ack: row.acknowledged_seq,
  });
}

/** A live agent associated with the stack (`a` is the agent). */
const MEMBER = `a.deleted_at IS NULL AND ${holdsStackSql('a.id', '@stack')}`;

/**
 * Live agents associated with the stack, with the tags that pick their wave. With `like`, only
 * those matching a wave's first condition (one of its labels, or its first annotation), found
 * through the tag indexes: a superset of that wave's members, in proportion to it.
 */
function members(db: SqliteDb, stackId: string, like?: WaveSelector): (RolloutMember & { cluster_name: string })[] {
  const params: Record<string, string> = { stack: stackId };
  let narrow = '';
  const [annotation] = Object.entries(like?.annotations ?? {});
  if (like && like.labels.length > 0) {
    narrow = 'a.id IN (SELECT agent_id FROM agent_labels WHERE label IN (SELECT value FROM json_each(@labels))) AND';
    params.labels = JSON.stringify(like.labels);
  } else if (annotation) {
    narrow = 'a.id IN (SELECT agent_id FROM agent_annotations WHERE key = @key AND value = @value) AND';
    [params.key, params.value] = annotation;
  }
  // Each member's tags in the same statement, through the (agent_id, label|key) unique indexes in
  // their order: cheaper than two more queries over a JSON list of every member (F11).
  return db
    .stmt<{ agent_id: string; name: string; cluster_name: string; labels: string; annotations: string }>(
      `SELECT a.id AS agent_id, a.name, a.cluster_name,
         (SELECT json_group_array(label) FROM (SELECT label FROM agent_labels WHERE agent_id = a.id ORDER BY label)) AS labels,
         (SELECT json_group_object(key, value) FROM (SELECT key, value FROM agent_annotations WHERE agent_id = a.id ORDER BY key)) AS annotations
       FROM agents a WHERE ${narrow} ${MEMBER} ORDER BY a.name, a.cluster_name`,
    )
    .all(params)
    .map((a) => ({ ...a, labels: JSON.parse(a.labels) as string[], annotations: JSON.parse(a.annotations) as Record<string, string> }));
}

/**
 * One agent's labels and annotations in one statement, probing the (agent_id, …) unique indexes
 * directly: read once per answered poll of a rollout stack (labelsByOwner's id list costs a JSON
 * round trip and a sort). Label order does not matter here (waveOf tests membership).
 */
function agentTags(db: SqliteDb, agentId: string): { labels: string[]; annotations: Record<string, string> } {
  const labels: string[] = [];
  const annotations: Record<string, string> = {};
  for (const t of db
    .stmt<{ label: number; key: string; value: string | null }>(
      `SELECT 1 AS label, label AS key, NULL AS value FROM agent_labels WHERE agent_id = @agent
       UNION ALL SELECT 0, key, value FROM agent_annotations WHERE agent_id = @agent`,
    )
    .all({ agent: agentId })) {
    if (t.label === 1) labels.push(t.key);
    else annotations[t.key] = t.value!;
  }
  return { labels, annotations };
}

/** Each agent's latest event (and health) on the object; with `agents`, theirs only. */
function gateInputs(db: SqliteDb, objectId: string | null, acknowledged = 0, agents?: readonly string[]): Map<string, AgentGateInput> {
  const out = new Map<string, AgentGateInput>();
  if (objectId === null) return out;
  const only = agents ? 'AND agent_id IN (SELECT value FROM json_each(@agents))' : '';
  const params = agents ? { object: objectId, ack: acknowledged, agents: JSON.stringify(agents) } : { object: objectId, ack: acknowledged };
  for (const e of db
    .stmt<{ agent_id: string; status: string; message: string | null }>(
      `SELECT agent_id, status, message FROM agent_events WHERE deployment_object_id = @object AND deleted_at IS NULL
       AND (status <> 'FAILURE' OR seq > @ack) ${only} ORDER BY seq`,
    )
    .all(params)) {
    out.set(e.agent_id, { status: e.status, message: e.message, health: out.get(e.agent_id)?.health ?? null });
  }
  const healthParams = agents ? { object: objectId, agents: JSON.stringify(agents) } : { object: objectId };
  for (const h of db
    .stmt<{ agent_id: string; status: string }>(`SELECT agent_id, status FROM deployment_health WHERE deployment_object_id = @object ${only}`)
    .all(healthParams)) {
    const g = out.get(h.agent_id);
    out.set(h.agent_id, { status: g?.status ?? null, message: g?.message ?? null, health: h.status });
  }
  return out;
}

/** Re-evaluate the gates and save; the agents of the waves it released (and whether it halted). */
function advanceAndSave(db: SqliteDb, row: RolloutRow): RolloutOutcome {
  const result = advanceRollout(row, members(db, row.stack_id), gateInputs(db, row.target_object_id, row.acknowledged_seq));
  writeRollout(db, result.row);
  return { releasedTo: result.releasedTo, halted: result.halted };
}

/**
 * Whether a report of `agentId` on the row's target can change the rollout (see reportMayChange):
 * reads that agent, and at most the members of its wave. `sinceLastEvent`: the report is its
 * newest event, so its gate before that event is known; else (a health report) it is not.
 */
function reportMayChangeRollout(db: SqliteDb, row: RolloutRow, agentId: string, sinceLastEvent: boolean): boolean {
  const agent = db.stmt<{ agent_id: string }>(`SELECT a.id AS agent_id FROM agents a WHERE a.id = @agent AND ${MEMBER}`).get({ agent: agentId, stack: row.stack_id });
  if (!agent) return false; // not a member: the evaluation never looks at it
  const { labels, annotations } = agentTags(db, agentId);
  const wave = waveOf(row.config.waves, labels, annotations);
  const target = row.target_object_id!;
  const events = db
    .stmt<{ status: string; message: string | null }>(
      `SELECT status, message FROM agent_events WHERE agent_id = ? AND deployment_object_id = ? AND deleted_at IS NULL
       AND (status <> 'FAILURE' OR seq > ?) ORDER BY seq DESC LIMIT 2`,
    )
    .all(agentId, target, row.acknowledged_seq)
    .reverse();
  const health = db.stmt<{ status: string }>('SELECT status FROM deployment_health WHERE agent_id = ? AND deployment_object_id = ?').get(agentId, target)?.status ?? null;
  const gate = row.config.gate;
  const after = gateOf(gateInputOf(events, health), gate);
  const before = sinceLastEvent ? gateOf(gateInputOf(events.slice(0, -1), health), gate) : null;
  const may = reportMayChange(row, wave, { before, after });
  if (may !== 'if-wave-passed') return may === 'yes';
  const inWave = members(db, row.stack_id, row.config.waves[wave]).filter((m) => waveOf(row.config.waves, m.labels, m.annotations) === wave);
  const gates = gateInputs(db, target, row.acknowledged_seq, inWave.map((m) => m.agent_id));
  return inWave.every((m) => gateOf(gates.get(m.agent_id), gate) === 'passed');
}

function latestObjectId(db: SqliteDb, stackId: string): string | null {
  return (
    db
      .stmt<{ id: string }>(
        `SELECT id FROM deployment_objects WHERE stack_id = ? AND (deleted_at IS NULL OR is_deletion_marker = 1)
         ORDER BY sequence_id DESC LIMIT 1`,
      )
      .get(stackId)?.id ?? null
  );
}

/** The stack's latest object other than `except` (its object from this very commit). */
function previousObjectId(db: SqliteDb, stackId: string, except: string | null): string | null {
  return (
    db
      .stmt<{ id: string }>(
        `SELECT id FROM deployment_objects WHERE stack_id = ? AND id IS NOT ? AND (deleted_at IS NULL OR is_deletion_marker = 1)
         ORDER BY sequence_id DESC LIMIT 1`,
      )
      .get(stackId, except)?.id ?? null
  );
}

/**
 * Inside applyCommit, for one stack: record its settings (null: none) and start releasing a new
 * object. A stack gaining waves keeps every wave on its latest object before this commit. True when the stack's rollout row changed in a way agents may see.
 */
export function rolloutOfCommit(db: SqliteDb, stackId: string, config: RolloutConfig | null | undefined, newObject: string | null): boolean {
  const existing = readRollout(db, stackId);
  if (!config && !existing) return false; // the fast path: a stack without rollout settings
  let row = existing ?? plainRow(stackId, previousObjectId(db, stackId, newObject));
  const before = JSON.stringify(row.config);
  if (config !== undefined) row = { ...row, config: config ?? { waves: [], gate: 'success', depends_on: [] } };
  if (newObject !== null) row = startRelease(row, newObject);
  if (!rolloutNeeded(row)) {
    db.stmt('DELETE FROM stack_rollouts WHERE stack_id = ?').run(stackId);
    return true;
  }
  advanceAndSave(db, row);
  return existing === null || newObject !== null || before !== JSON.stringify(row.config);
}

/**
 * Inside createEvent: an event on an object some rollout is releasing re-evaluates its gates when
 * it can change them (the full evaluation reads every member; see reportMayChange). The outcome,
 * or null when nothing was released or halted.
 */
export function rolloutOfEvent(db: SqliteDb, objectId: string, agentId: string): RolloutOutcome | null {
  const r = db.stmt<Row>('SELECT * FROM stack_rollouts WHERE target_object_id = ?').get(objectId);
  if (!r) return null;
  const row = parse(r);
  if (row.paused || row.halt_reason !== null || !reportMayChangeRollout(db, row, agentId, true)) return null;
  return changed(advanceAndSave(db, row));
}

/**
 * Inside reportHealth: a health report on an object a `gate: healthy` rollout is releasing
 * re-evaluates its gates (a healthy report may pass the gate, a failing one halts), when it can
 * change them. The outcomes together, or null.
 */
export function rolloutOfHealth(db: SqliteDb, agentId: string, objectIds: readonly string[]): RolloutOutcome | null {
  const outcomes: RolloutOutcome[] = [];
  for (const objectId of [...new Set(objectIds)].sort()) {
    const r = db.stmt<Row>("SELECT * FROM stack_rollouts WHERE target_object_id = ? AND gate = 'healthy'").get(objectId);
    if (!r) continue;
    const row = parse(r);
    if (row.paused || row.halt_reason !== null || !reportMayChangeRollout(db, row, agentId, false)) continue;
    outcomes.push(advanceAndSave(db, row));
  }
  return changed(mergeOutcomes(outcomes));
}

/**
 * After an agent's labels, annotations or targets changed, or it was deleted, or a stack's labels
 * or annotations: re-evaluate the rollouts whose members may have moved between waves (or in or
 * out), at once rather than at their next event. Its own transaction, right after the change.
 */
export function rolloutsOfMembership(db: SqliteDb, change: MembershipChange): RolloutOutcome | null {
  return db.tx(() => {
    const rows = db
      .stmt<Row>(`SELECT r.* FROM stack_rollouts r WHERE r.stack_id IN (${MEMBERSHIP_STACKS}) AND NOT r.paused AND r.halt_reason IS NULL ORDER BY r.stack_id`)
      .all({ agent: change.agentId ?? null, stack: change.stackId ?? null, label: change.label ?? null, key: change.annotationKey ?? null });
    return changed(mergeOutcomes(rows.map((r) => advanceAndSave(db, parse(r)))));
  });
}

/** The stacks whose rollout membership a MembershipChange may have moved (`@x` null: that part is absent). */
const MEMBERSHIP_STACKS = `SELECT @stack WHERE @stack IS NOT NULL
  UNION SELECT stack_id FROM agent_targets WHERE agent_id = @agent
  UNION SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = @agent
  UNION SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value WHERE aa.agent_id = @agent
  UNION SELECT stack_id FROM stack_labels WHERE label = @label
  UNION SELECT stack_id FROM stack_annotations WHERE key = @key`;

/** The target state with managed stacks resolved (called only when the plain query found some). */
export function resolveManaged(db: SqliteDb, agentId: string, entries: TargetStateEntry[], managed: Set<string>, mode: 'incremental' | 'full'): TargetStateEntry[] {
  const rows = new Map<string, RolloutRow>();
  for (const id of managed) {
    const row = readRollout(db, id, true); // resolveTargetState only reads it
    if (row) rows.set(id, row);
  }
  const ids = new Set<string>();
  for (const row of rows.values()) for (const id of [row.target_object_id, ...row.released]) if (id) ids.add(id);
  const objects = new Map<string, TargetStateEntry & { is_deletion_marker: boolean }>();
  for (const o of db
    .stmt<{ id: string; sequence_id: number; stack_id: string; is_deletion_marker: number }>(
      'SELECT id, sequence_id, stack_id, is_deletion_marker FROM deployment_objects WHERE id IN (SELECT value FROM json_each(?))',
    )
    .all(JSON.stringify([...ids]))) {
    objects.set(o.id, { ...o, is_deletion_marker: o.is_deletion_marker === 1 });
  }
  const withDeps = [...rows.values()].some((r) => r.config.depends_on.length > 0);
  const stackNames = new Map<string, string>();
  if (withDeps) {
    for (const s of db
      .stmt<{ id: string; name: string }>(
        `SELECT s.id, s.name FROM stacks s WHERE s.deleted_at IS NULL AND s.id IN (
           SELECT stack_id FROM agent_targets WHERE agent_id = @agent
           UNION SELECT sl.stack_id FROM agent_labels al JOIN stack_labels sl ON sl.label = al.label WHERE al.agent_id = @agent
           UNION SELECT sa.stack_id FROM agent_annotations aa JOIN stack_annotations sa ON sa.key = aa.key AND sa.value = aa.value WHERE aa.agent_id = @agent)`,
      )
      .all({ agent: agentId })) {
      stackNames.set(s.id, s.name);
    }
  }
  const stacks = withDeps ? [...stackNames.keys()] : [...managed];
  const succeeded = db
    .stmt<{ id: string; sequence_id: number; stack_id: string; healthy: number }>(
      `SELECT DISTINCT o.id, o.sequence_id, o.stack_id,
         EXISTS (SELECT 1 FROM deployment_health h WHERE h.agent_id = e.agent_id AND h.deployment_object_id = o.id AND h.status = 'healthy') AS healthy
       FROM agent_events e JOIN deployment_objects o ON o.id = e.deployment_object_id
       WHERE e.agent_id = ? AND e.status = 'SUCCESS' AND e.deleted_at IS NULL AND o.stack_id IN (SELECT value FROM json_each(?))`,
    )
    .all(agentId, JSON.stringify(stacks))
    .map((s) => ({ ...s, healthy: s.healthy === 1 }));
  const { labels, annotations } = agentTags(db, agentId);
  return resolveTargetState(entries, managed, { rows, labels, annotations, objects, succeeded, stackNames }, mode);
}

function objectRefs(db: SqliteDb, ids: (string | null)[]): Map<string, RolloutObjectRef> {
  const out = new Map<string, RolloutObjectRef>();
  for (const o of db
    .stmt<{ id: string; sequence_id: number; is_deletion_marker: number }>(
      'SELECT id, sequence_id, is_deletion_marker FROM deployment_objects WHERE id IN (SELECT value FROM json_each(?))',
    )
    .all(JSON.stringify(ids.filter((i) => i !== null)))) {
    out.set(o.id, { id: o.id, sequence_id: o.sequence_id, is_deletion_marker: o.is_deletion_marker === 1 });
  }
  return out;
}

function requireStack(db: SqliteDb, stackId: string): { id: string; name: string } {
  const stack = db.stmt<{ id: string; name: string }>('SELECT id, name FROM stacks WHERE id = ?').get(stackId);
  if (!stack) throw new NotFoundError(`stack ${stackId} not found`);
  return stack;
}

/** The rollout of a stack as admins see it; a stack without settings shows one implicit wave on its latest object. */
export function rolloutStatus(db: SqliteDb, stackId: string): RolloutStatus {
  const stack = requireStack(db, stackId);
  const row = readRollout(db, stackId) ?? plainRow(stackId, latestObjectId(db, stackId));
  const rollback = row.target_object_id
    ? (db.stmt<RollbackProvenance>('SELECT * FROM object_rollbacks WHERE deployment_object_id = ?').get(row.target_object_id) ?? null)
    : null;
  return buildRolloutStatus({
    stack,
    row,
    members: members(db, stackId),
    gates: gateInputs(db, row.target_object_id, row.acknowledged_seq),
    objects: objectRefs(db, [row.target_object_id, ...row.released]),
    rollback,
  });
}

/** promote (release the next wave now, lifting a halt), pause (release nothing new), resume (release the newest object from wave 1). */
export function rolloutAction(db: SqliteDb, stackId: string, action: RolloutAction): void {
  db.tx(() => {
    requireStack(db, stackId);
    const latest = latestObjectId(db, stackId);
    let row = readRollout(db, stackId) ?? plainRow(stackId, latest);
    const acknowledged = db.stmt<{ seq: number }>('SELECT coalesce(max(seq), 0) AS seq FROM agent_events').get()!.seq;
    if (action !== 'pause') row = { ...row, acknowledged_seq: acknowledged };
    if (action === 'pause') row = { ...row, paused: true };
    else if (action === 'promote') row = promoteRollout(row);
    else {
      row = { ...row, paused: false, halt_reason: null };
      if (latest !== null && latest !== row.target_object_id) row = startRelease(row, latest);
    }
    if (!rolloutNeeded(row)) db.stmt('DELETE FROM stack_rollouts WHERE stack_id = ?').run(stackId);
    else if (action === 'pause') writeRollout(db, row);
    else advanceAndSave(db, row);
  });
}

/**
 * A new object with the content of object `toSequence` of the stack, recorded in object_rollbacks,
 * released to every wave at once; the stack is paused so later commits wait for `rollout resume`.
 */
export function rollback(db: SqliteDb, stackId: string, toSequence: number, actor: string): { id: string; sequence_id: number } {
  return db.tx(() => {
    const stack = db.stmt<{ deleted_at: string | null; generator_id: string | null }>('SELECT deleted_at, generator_id FROM stacks WHERE id = ?').get(stackId);
    if (!stack) throw new NotFoundError(`stack ${stackId} not found`);
    if (stack.deleted_at !== null) throw new ConflictError('the stack is deleted; commit it back instead of rolling back');
    const source = db
      .stmt<{ id: string; sequence_id: number; yaml_content: string; yaml_checksum: string; is_deletion_marker: number }>(
        'SELECT id, sequence_id, yaml_content, yaml_checksum, is_deletion_marker FROM deployment_objects WHERE stack_id = ? AND sequence_id = ?',
      )
      .get(stackId, toSequence);
    if (!source) throw new NotFoundError(`stack ${stackId} has no object with sequence ${toSequence}`);
    if (source.is_deletion_marker === 1) throw new ConflictError(`object ${toSequence} is a deletion marker; roll back to an object with content`);
    const replacedId = latestObjectId(db, stackId);
    const replaced = replacedId ? objectRefs(db, [replacedId]).get(replacedId)! : null;
    const object = db
      .stmt<{ id: string; sequence_id: number }>(
        `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker, generator_id)
         VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'), 0, ?) RETURNING id, sequence_id`,
      )
      .get(stackId, source.yaml_content, source.yaml_checksum, stack.generator_id)!;
    db.stmt(
      `INSERT INTO object_rollbacks (deployment_object_id, source_object_id, source_sequence_id, replaced_object_id, replaced_sequence_id, actor)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ).run(object.id, source.id, source.sequence_id, replaced?.id ?? null, replaced?.sequence_id ?? null, actor);
    const row = readRollout(db, stackId) ?? plainRow(stackId, replacedId);
    const waves = row.config.waves.length;
    writeRollout(db, { ...row, target_object_id: object.id, released: Array(waves + 1).fill(object.id), paused: true, halt_reason: null });
    return object;
  });
}
