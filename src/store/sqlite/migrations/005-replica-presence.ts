/** Migration 5: the replicas serving one database, so that they can share the repositories' sync leases fairly. */
import type { Migration } from './migration.js';

/*
 * A replica that holds no lease is invisible in sync_leases; this table says it is there, so a
 * replica holding more than its share can hand one over. Rows expire like leases do.
 */
const SQL = `
CREATE TABLE replicas (
  id TEXT PRIMARY KEY NOT NULL,
  started_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
`;

export const replicaPresence: Migration = { version: 5, name: 'replica-presence', sql: SQL };
