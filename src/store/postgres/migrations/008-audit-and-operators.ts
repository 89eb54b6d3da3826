/** Migration 8 (PostgreSQL): the append-only audit log (SPEC §11) and named operators, as on SQLite. */
import type { Migration } from '../../sqlite/migrations/migration.js';

/*
 * The same columns as SQLite's; details is JSONB as in brokkr. One trigger function refuses
 * UPDATE and DELETE row by row and TRUNCATE per statement, for every client (psql included).
 * admin_paks rows become named operators: the existing one(s) 'admin', 'admin-2', ...
 */
const SQL = `
CREATE TABLE audit_logs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
  actor_type VARCHAR(20) NOT NULL CHECK (actor_type IN ('admin', 'agent', 'generator', 'system')),
  actor_id TEXT,
  actor_name TEXT,
  action VARCHAR(100) NOT NULL,
  resource_type VARCHAR(50) NOT NULL,
  resource_id TEXT,
  details JSONB,
  ip_address TEXT,
  user_agent TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_audit_logs_timestamp ON audit_logs (timestamp);
CREATE INDEX idx_audit_logs_actor ON audit_logs (actor_name, seq);
CREATE INDEX idx_audit_logs_resource ON audit_logs (resource_type, resource_id, seq);
CREATE INDEX idx_audit_logs_action ON audit_logs (action, seq);

CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_logs is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_logs_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();

ALTER TABLE admin_paks ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE admin_paks ADD COLUMN name TEXT;
ALTER TABLE admin_paks ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'readonly'));
ALTER TABLE admin_paks ADD COLUMN last_used_at TIMESTAMPTZ;
UPDATE admin_paks SET name = numbered.name
  FROM (SELECT pak_hash, 'admin' || CASE WHEN row_number() OVER w = 1 THEN '' ELSE '-' || row_number() OVER w END AS name
        FROM admin_paks WINDOW w AS (ORDER BY created_at, pak_hash)) AS numbered
  WHERE admin_paks.pak_hash = numbered.pak_hash;
ALTER TABLE admin_paks ALTER COLUMN name SET NOT NULL;
CREATE UNIQUE INDEX idx_admin_paks_id ON admin_paks (id);
CREATE UNIQUE INDEX idx_admin_paks_name ON admin_paks (name);
`;

export const auditAndOperators: Migration = { version: 8, name: 'audit-and-operators', sql: SQL };
