/** Resolving a PAK hash to its holder (operator, live agent, active generator), and the operators (named admin PAKs), on PostgreSQL. */
import type { Agent, Generator } from '../records.js';
import type { Principal } from '../store.js';
import { NotFoundError } from '../store.js';
import { BOOTSTRAP_OPERATOR, LastAdminError, type Operator, type OperatorRole } from '../operators.js';
import { AGENT_COLUMNS, GENERATOR_COLUMNS } from '../sqlite/rows.js';
import { mapPgError } from './errors.js';
import type { Sql } from './pg-db.js';

const OPERATOR_COLUMNS = 'id::text AS id, name, role, created_at, last_used_at';

export async function findPrincipal(sql: Sql, pakHash: string): Promise<Principal | null> {
  if (!pakHash) return null; // agents.pak_hash defaults to '': an empty hash must never match
  const operator = await sql.one<{ id: string; name: string; role: OperatorRole }>('SELECT id::text AS id, name, role FROM admin_paks WHERE pak_hash = $1', [pakHash]);
  if (operator) return { role: operator.role, name: operator.name, operator_id: operator.id };
  const agent = await sql.one<Agent>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE pak_hash = $1 AND deleted_at IS NULL`, [pakHash]);
  if (agent) return { role: 'agent', agent };
  const generator = await sql.one<Generator>(
    `SELECT ${GENERATOR_COLUMNS} FROM generators WHERE api_key_hash = $1 AND deleted_at IS NULL AND is_active`,
    [pakHash],
  );
  return generator ? { role: 'generator', generator } : null;
}

/*
 * Every writer of admin_paks takes the table lock first (EXCLUSIVE: readers go on, writers queue),
 * so replicas starting together see one another's admin PAK (of concurrent addAdminPakHashIfNone
 * calls exactly one finds no admin) and two revocations cannot both pass the last-admin check.
 * Call inside a transaction.
 */
const lock = (sql: Sql) => sql.run('LOCK TABLE admin_paks IN EXCLUSIVE MODE');

export async function setAdminPakHash(sql: Sql, pakHash: string): Promise<void> {
  await lock(sql);
  await sql.run('DELETE FROM admin_paks WHERE pak_hash = $1 AND name <> $2', [pakHash, BOOTSTRAP_OPERATOR]);
  const updated = await sql.run("UPDATE admin_paks SET pak_hash = $1, role = 'admin' WHERE name = $2", [pakHash, BOOTSTRAP_OPERATOR]);
  if (updated === 0) await sql.run("INSERT INTO admin_paks (pak_hash, name, role) VALUES ($1, $2, 'admin')", [pakHash, BOOTSTRAP_OPERATOR]);
}

export async function addAdminPakHashIfNone(sql: Sql, pakHash: string): Promise<boolean> {
  await lock(sql);
  if (await hasAdminPak(sql)) return false;
  await setAdminPakHash(sql, pakHash);
  return true;
}

export async function hasAdminPak(sql: Sql): Promise<boolean> {
  return (await sql.one("SELECT 1 FROM admin_paks WHERE role = 'admin' LIMIT 1")) !== undefined;
}

export async function createOperator(sql: Sql, input: { name: string; role: OperatorRole; pak_hash: string }): Promise<Operator> {
  await lock(sql);
  try {
    return (await sql.one<Operator>(`INSERT INTO admin_paks (pak_hash, name, role) VALUES ($1, $2, $3) RETURNING ${OPERATOR_COLUMNS}`, [
      input.pak_hash,
      input.name,
      input.role,
    ]))!;
  } catch (err) {
    throw mapPgError(err, `operator '${input.name}'`);
  }
}

export async function listOperators(sql: Sql): Promise<Operator[]> {
  return sql.rows<Operator>(`SELECT ${OPERATOR_COLUMNS} FROM admin_paks ORDER BY name`);
}

export async function revokeOperator(sql: Sql, name: string): Promise<Operator> {
  await lock(sql);
  const operator = await sql.one<Operator>(`SELECT ${OPERATOR_COLUMNS} FROM admin_paks WHERE name = $1`, [name]);
  if (!operator) throw new NotFoundError(`no operator named ${JSON.stringify(name)}`);
  if (operator.role === 'admin') {
    const others = (await sql.one<{ n: number }>("SELECT count(*) AS n FROM admin_paks WHERE role = 'admin' AND name <> $1", [name]))!.n;
    if (others === 0) throw new LastAdminError(`operator ${JSON.stringify(name)} is the last admin: create another admin PAK (brokkr-sync paks create NAME --role admin) before revoking it`);
  }
  await sql.run('DELETE FROM admin_paks WHERE name = $1', [name]);
  return operator;
}

export async function touchOperator(sql: Sql, id: string): Promise<void> {
  await sql.run('UPDATE admin_paks SET last_used_at = now() WHERE id = $1', [id]);
}
