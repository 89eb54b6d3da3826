/** Resolving a PAK hash to its holder (admin, live agent, active generator) and storing the admin PAK hash. */
import type { Principal } from '../store.js';
import type { SqliteDb } from './connection.js';
import { getAgent } from './agents.js';
import { GENERATOR_COLUMNS, type GeneratorRow, toGenerator } from './rows.js';

export function findPrincipal(db: SqliteDb, pakHash: string): Principal | null {
  if (!pakHash) return null; // agents.pak_hash defaults to '': an empty hash must never match
  if (db.stmt('SELECT 1 FROM admin_paks WHERE pak_hash = ?').get(pakHash)) return { role: 'admin' };
  const agentRow = db.stmt<{ id: string }>('SELECT id FROM agents WHERE pak_hash = ? AND deleted_at IS NULL').get(pakHash);
  if (agentRow) {
    const agent = getAgent(db, agentRow.id);
    if (agent) return { role: 'agent', agent };
  }
  const generator = db
    .stmt<GeneratorRow>(`SELECT ${GENERATOR_COLUMNS} FROM generators WHERE api_key_hash = ? AND deleted_at IS NULL AND is_active = 1`)
    .get(pakHash);
  return generator ? { role: 'generator', generator: toGenerator(generator) } : null;
}

export function setAdminPakHash(db: SqliteDb, pakHash: string): void {
  db.tx(() => {
    db.stmt('DELETE FROM admin_paks').run();
    db.stmt('INSERT INTO admin_paks (pak_hash) VALUES (?)').run(pakHash);
  });
}

export function hasAdminPak(db: SqliteDb): boolean {
  return db.stmt('SELECT 1 FROM admin_paks LIMIT 1').get() !== undefined;
}

export function addAdminPakHashIfNone(db: SqliteDb, pakHash: string): boolean {
  return db.tx(() => {
    if (hasAdminPak(db)) return false;
    db.stmt('INSERT INTO admin_paks (pak_hash) VALUES (?)').run(pakHash);
    return true;
  });
}
