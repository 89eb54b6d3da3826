/** The audit log on SQLite: append one row inside the caller's transaction, and read pages of it. */
import { actionPattern, auditLimit, redactDetails, type AuditContext, type AuditEntry, type AuditLog, type AuditPage, type AuditQuery } from '../audit.js';
import type { SqliteDb } from './connection.js';

const COLUMNS = 'seq, id, timestamp, actor_type, actor_id, actor_name, action, resource_type, resource_id, details, ip_address, user_agent, created_at';

type AuditRow = Omit<AuditLog, 'details'> & { details: string | null };

/**
 * Append one audit row. Call it INSIDE the transaction of the write it records (db.tx(...)):
 * better-sqlite3 runs it on the same connection, so the row commits or rolls back with the
 * change. No context: nothing is recorded (the write is not an admin's). Details are redacted.
 */
export function recordAudit(db: SqliteDb, ctx: AuditContext | undefined, entry: AuditEntry): void {
  if (!ctx) return;
  const details = redactDetails(entry.details);
  db.stmt(
    `INSERT INTO audit_logs (actor_type, actor_id, actor_name, action, resource_type, resource_id, details, ip_address, user_agent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    ctx.actorType,
    ctx.actorId ?? null,
    ctx.actor,
    entry.action,
    entry.resource_type,
    entry.resource_id,
    details ? JSON.stringify(details) : null,
    ctx.ip,
    ctx.userAgent ?? null,
  );
}

/** Rows matching the query, newest (highest seq) first, with the total and the next page's cursor. */
export function listAuditLogs(db: SqliteDb, query: AuditQuery = {}): AuditPage {
  const limit = auditLimit(query.limit);
  const where = `(@actor IS NULL OR actor_name = @actor)
    AND (@atype IS NULL OR actor_type = @atype)
    AND (@aid IS NULL OR actor_id = @aid)
    AND (@action IS NULL OR action LIKE @action ESCAPE '\\')
    AND (@rtype IS NULL OR resource_type = @rtype)
    AND (@rid IS NULL OR resource_id = @rid)
    AND (@since IS NULL OR timestamp >= @since)
    AND (@until IS NULL OR timestamp < @until)`;
  const params = {
    actor: query.actor ?? null,
    atype: query.actorType ?? null,
    aid: query.actorId ?? null,
    action: query.action ? actionPattern(query.action) : null,
    rtype: query.resourceType ?? null,
    rid: query.resourceId ?? null,
    since: query.since ?? null,
    until: query.until ?? null,
  };
  const total = db.stmt<{ n: number }>(`SELECT count(*) AS n FROM audit_logs WHERE ${where}`).get(params)!.n;
  const rows = db
    .stmt<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_logs WHERE ${where} AND (@before IS NULL OR seq < @before)
       ORDER BY seq DESC LIMIT @limit OFFSET @offset`,
    )
    .all({ ...params, before: query.beforeSeq ?? null, limit: limit + 1, offset: query.beforeSeq === undefined ? (query.offset ?? 0) : 0 });
  const more = rows.length > limit;
  const logs = rows.slice(0, limit).map((r) => ({ ...r, details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>) }));
  return { logs, total, next_cursor: more ? logs[logs.length - 1]!.seq : null };
}
