/** Migration 5 (PostgreSQL): the replicas serving one database, so that they can share the sync leases fairly. */
import type { Migration } from '../../sqlite/migrations/migration.js';

const SQL = `
CREATE TABLE replicas (
  id TEXT PRIMARY KEY,
  started_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
`;

export const replicaPresence: Migration = { version: 5, name: 'replica-presence', sql: SQL };
