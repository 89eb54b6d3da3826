/** Migration 8: the append-only audit log (SPEC §11) and named operators (admin PAKs with a name and a role). */
import { NOW_SQL, UUID_SQL } from '../sql-fragments.js';
import type { Migration } from './migration.js';

/*
 * audit_logs: brokkr's columns (timestamp, actor_type, actor_id, action, resource_type,
 * resource_id, details, ip_address, user_agent, created_at) plus actor_name (the operator) and
 * seq, the insertion order that pages stably. The two triggers make the table append-only for
 * every client of the file, the sqlite3 shell included.
 *
 * admin_paks gains a name, a role and last use: each row is one operator. Existing rows (the
 * bootstrap admin PAK) become the operator 'admin' ('admin-2', ... if there were several).
 * Columns are added nullable (SQLite cannot add a NOT NULL column without a constant default);
 * the store always writes them, and the unique indexes hold for every client.
 */
const SQL = `
CREATE TABLE audit_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE DEFAULT (${UUID_SQL}),
  timestamp TEXT NOT NULL DEFAULT (${NOW_SQL}),
  actor_type VARCHAR(20) NOT NULL CHECK (actor_type IN ('admin', 'agent', 'generator', 'system')),
  actor_id TEXT,
  actor_name TEXT,
  action VARCHAR(100) NOT NULL,
  resource_type VARCHAR(50) NOT NULL,
  resource_id TEXT,
  details TEXT,
  ip_address TEXT,
  user_agent TEXT,
  created_at TEXT NOT NULL DEFAULT (${NOW_SQL})
);
CREATE INDEX idx_audit_logs_timestamp ON audit_logs (timestamp);
CREATE INDEX idx_audit_logs_actor ON audit_logs (actor_name, seq);
CREATE INDEX idx_audit_logs_resource ON audit_logs (resource_type, resource_id, seq);
CREATE INDEX idx_audit_logs_action ON audit_logs (action, seq);

CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
BEGIN
  SELECT RAISE(ABORT, 'audit_logs is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
BEGIN
  SELECT RAISE(ABORT, 'audit_logs is append-only: DELETE refused');
END;

ALTER TABLE admin_paks ADD COLUMN id TEXT;
ALTER TABLE admin_paks ADD COLUMN name TEXT;
ALTER TABLE admin_paks ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'readonly'));
ALTER TABLE admin_paks ADD COLUMN last_used_at TEXT;
UPDATE admin_paks SET id = ${UUID_SQL},
  name = 'admin' || (SELECT CASE WHEN count(*) = 0 THEN '' ELSE '-' || (count(*) + 1) END
                     FROM admin_paks earlier WHERE earlier.rowid < admin_paks.rowid);
CREATE UNIQUE INDEX idx_admin_paks_id ON admin_paks (id);
CREATE UNIQUE INDEX idx_admin_paks_name ON admin_paks (name);
`;

export const auditAndOperators: Migration = { version: 8, name: 'audit-and-operators', sql: SQL };
