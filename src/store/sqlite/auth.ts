/** Resolving a PAK hash to its holder (operator, live agent, active generator), and the operators (named admin PAKs). */
import type { Principal } from '../store.js';
import { NotFoundError } from '../store.js';
import { BOOTSTRAP_OPERATOR, LastAdminError, type Operator, type OperatorRole } from '../operators.js';
import type { SqliteDb } from './connection.js';
import { getAgent } from './agents.js';
import { guarded } from './errors.js';
import { GENERATOR_COLUMNS, type GeneratorRow, toGenerator } from './rows.js';
import { NOW_SQL, UUID_SQL } from './sql-fragments.js';

const OPERATOR_COLUMNS = 'id, name, role, created_at, last_used_at';

export function findPrincipal(db: SqliteDb, pakHash: string): Principal | null {
  if (!pakHash) return null; // agents.pak_hash defaults to '': an empty hash must never match
  const operator = db.stmt<{ id: string; name: string; role: OperatorRole }>('SELECT id, name, role FROM admin_paks WHERE pak_hash = ?').get(pakHash);
  if (operator) return { role: operator.role, name: operator.name, operator_id: operator.id };
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

/** The bootstrap operator's PAK becomes pakHash (the operator is created, as an admin, when missing). */
export function setAdminPakHash(db: SqliteDb, pakHash: string): void {
  db.tx(() => {
    db.stmt('DELETE FROM admin_paks WHERE pak_hash = ? AND name <> ?').run(pakHash, BOOTSTRAP_OPERATOR);
    const updated = db.stmt("UPDATE admin_paks SET pak_hash = ?, role = 'admin' WHERE name = ?").run(pakHash, BOOTSTRAP_OPERATOR).changes;
    if (updated === 0) db.stmt(`INSERT INTO admin_paks (pak_hash, id, name, role) VALUES (?, ${UUID_SQL}, ?, 'admin')`).run(pakHash, BOOTSTRAP_OPERATOR);
  });
}

export function hasAdminPak(db: SqliteDb): boolean {
  return db.stmt("SELECT 1 FROM admin_paks WHERE role = 'admin' LIMIT 1").get() !== undefined;
}

export function addAdminPakHashIfNone(db: SqliteDb, pakHash: string): boolean {
  return db.tx(() => {
    if (hasAdminPak(db)) return false;
    setAdminPakHash(db, pakHash);
    return true;
  });
}

export function createOperator(db: SqliteDb, input: { name: string; role: OperatorRole; pak_hash: string }): Operator {
  return guarded(`operator '${input.name}'`, () =>
    db
      .stmt<Operator>(`INSERT INTO admin_paks (pak_hash, id, name, role) VALUES (?, ${UUID_SQL}, ?, ?) RETURNING ${OPERATOR_COLUMNS}`)
      .get(input.pak_hash, input.name, input.role)!,
  );
}

export function listOperators(db: SqliteDb): Operator[] {
  return db.stmt<Operator>(`SELECT ${OPERATOR_COLUMNS} FROM admin_paks ORDER BY name`).all();
}

/** Call inside a transaction: the last-admin check and the delete must see the same rows. */
export function revokeOperator(db: SqliteDb, name: string): Operator {
  const operator = db.stmt<Operator>(`SELECT ${OPERATOR_COLUMNS} FROM admin_paks WHERE name = ?`).get(name);
  if (!operator) throw new NotFoundError(`no operator named ${JSON.stringify(name)}`);
  if (operator.role === 'admin') {
    const others = db.stmt<{ n: number }>("SELECT count(*) AS n FROM admin_paks WHERE role = 'admin' AND name <> ?").get(name)!.n;
    if (others === 0) throw new LastAdminError(`operator ${JSON.stringify(name)} is the last admin: create another admin PAK (brokkr-sync paks create NAME --role admin) before revoking it`);
  }
  db.stmt('DELETE FROM admin_paks WHERE name = ?').run(name);
  return operator;
}

export function touchOperator(db: SqliteDb, id: string): void {
  // Best effort, and never a wait: better-sqlite3 waits for a lock synchronously, so with the file
  // locked elsewhere a busy timeout here would stall every request for 5 s. Busy → SQLITE_BUSY at
  // once; the caller records the use at the next request instead.
  const wait = db.raw.pragma('busy_timeout', { simple: true }) as number;
  db.raw.pragma('busy_timeout = 0');
  try {
    db.stmt(`UPDATE admin_paks SET last_used_at = ${NOW_SQL} WHERE id = ?`).run(id);
  } finally {
    db.raw.pragma(`busy_timeout = ${wait}`);
  }
}
