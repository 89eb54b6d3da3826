/** Resolving a PAK hash to its holder (admin, live agent, active generator) and storing the admin PAK hash, on PostgreSQL. */
import type { Agent, Generator } from '../records.js';
import type { Principal } from '../store.js';
import { AGENT_COLUMNS, GENERATOR_COLUMNS } from '../sqlite/rows.js';
import type { Sql } from './pg-db.js';

export async function findPrincipal(sql: Sql, pakHash: string): Promise<Principal | null> {
  if (!pakHash) return null; // agents.pak_hash defaults to '': an empty hash must never match
  if (await sql.one('SELECT 1 FROM admin_paks WHERE pak_hash = $1', [pakHash])) return { role: 'admin' };
  const agent = await sql.one<Agent>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE pak_hash = $1 AND deleted_at IS NULL`, [pakHash]);
  if (agent) return { role: 'agent', agent };
  const generator = await sql.one<Generator>(
    `SELECT ${GENERATOR_COLUMNS} FROM generators WHERE api_key_hash = $1 AND deleted_at IS NULL AND is_active`,
    [pakHash],
  );
  return generator ? { role: 'generator', generator } : null;
}

/*
 * Both writers take the table lock first (EXCLUSIVE: readers go on, writers queue), so replicas
 * starting together see one another's admin PAK: of concurrent addAdminPakHashIfNone calls,
 * exactly one finds the table empty. Call inside a transaction.
 */
export async function setAdminPakHash(sql: Sql, pakHash: string): Promise<void> {
  await sql.run('LOCK TABLE admin_paks IN EXCLUSIVE MODE');
  await sql.run('DELETE FROM admin_paks');
  await sql.run('INSERT INTO admin_paks (pak_hash) VALUES ($1)', [pakHash]);
}

export async function addAdminPakHashIfNone(sql: Sql, pakHash: string): Promise<boolean> {
  await sql.run('LOCK TABLE admin_paks IN EXCLUSIVE MODE');
  if (await hasAdminPak(sql)) return false;
  await sql.run('INSERT INTO admin_paks (pak_hash) VALUES ($1)', [pakHash]);
  return true;
}

export async function hasAdminPak(sql: Sql): Promise<boolean> {
  return (await sql.one('SELECT 1 FROM admin_paks LIMIT 1')) !== undefined;
}
