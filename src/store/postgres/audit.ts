/** The audit log on PostgreSQL: append one row inside the caller's transaction, and read pages of it. */
import { actionPattern, auditLimit, redactDetails, type AuditContext, type AuditEntry, type AuditLog, type AuditPage, type AuditQuery } from '../audit.js';
import type { Sql } from './pg-db.js';

const COLUMNS = 'seq, id, timestamp, actor_type, actor_id, actor_name, action, resource_type, resource_id, details, ip_address, user_agent, created_at';

/**
 * Append one audit row. Pass the `sql` of the transaction the write runs in (PgDb.tx, or the
 * store's #write), so the row commits or rolls back with the change. No context: nothing is
 * recorded (the write is not an admin's). Details are redacted.
 */
export async function recordAudit(sql: Sql, ctx: AuditContext | undefined, entry: AuditEntry): Promise<void> {
  if (!ctx) return;
  const details = redactDetails(entry.details);
  await sql.run(
    `INSERT INTO audit_logs (actor_type, actor_id, actor_name, action, resource_type, resource_id, details, ip_address, user_agent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      ctx.actorType,
      ctx.actorId ?? null,
      ctx.actor,
      entry.action,
      entry.resource_type,
      entry.resource_id,
      details ? JSON.stringify(details) : null,
      ctx.ip,
      ctx.userAgent ?? null,
    ],
  );
}

/** Rows matching the query, newest (highest seq) first, with the total and the next page's cursor. */
export async function listAuditLogs(sql: Sql, query: AuditQuery = {}): Promise<AuditPage> {
  const limit = auditLimit(query.limit);
  const where = `($1::text IS NULL OR actor_name = $1)
    AND ($2::text IS NULL OR action LIKE $2 ESCAPE '\\')
    AND ($3::text IS NULL OR resource_type = $3)
    AND ($4::text IS NULL OR resource_id = $4)
    AND ($5::timestamptz IS NULL OR timestamp >= $5)
    AND ($6::timestamptz IS NULL OR timestamp < $6)
    AND ($7::text IS NULL OR actor_type = $7)
    AND ($8::text IS NULL OR actor_id = $8)`;
  const params = [
    query.actor ?? null,
    query.action ? actionPattern(query.action) : null,
    query.resourceType ?? null,
    query.resourceId ?? null,
    query.since ?? null,
    query.until ?? null,
    query.actorType ?? null,
    query.actorId ?? null,
  ];
  const total = (await sql.one<{ n: number }>(`SELECT count(*) AS n FROM audit_logs WHERE ${where}`, params))!.n;
  const rows = await sql.rows<AuditLog>(
    `SELECT ${COLUMNS} FROM audit_logs WHERE ${where} AND ($9::bigint IS NULL OR seq < $9)
     ORDER BY seq DESC LIMIT $10 OFFSET $11`,
    [...params, query.beforeSeq ?? null, limit + 1, query.beforeSeq === undefined ? (query.offset ?? 0) : 0],
  );
  const more = rows.length > limit;
  const logs = rows.slice(0, limit).map((r) => ({ ...r, id: String(r.id) }));
  return { logs, total, next_cursor: more ? logs[logs.length - 1]!.seq : null };
}
