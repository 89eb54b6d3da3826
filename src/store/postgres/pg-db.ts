/** A PostgreSQL pool with the wire format of the SQLite store (ISO timestamps, numbers) and the one transaction helper. */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { isUnavailable, unavailable } from './errors.js';

const TIMESTAMPTZ_OID = 1184;
const INT8_OID = 20;

/*
 * Per-pool type parsers, so nothing global in `pg` changes for other users of the module:
 * TIMESTAMPTZ → the ISO string Date#toISOString gives (milliseconds, Z), as SQLite stores it;
 * BIGINT (sequence_id, seq, count(*)) → number (sequence ids stay far below 2^53).
 */
const parseTimestamp = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (v: string) => Date | number;
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID) {
      return (v: string) => {
        const d = parseTimestamp(v);
        return d instanceof Date ? d.toISOString() : v; // 'infinity' stays as written
      };
    }
    if (oid === INT8_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

/**
 * A statement the server parses and plans once per connection and keeps (a named prepared
 * statement), for those run hundreds of times a second. Sent as plain text, every statement is
 * parsed and planned again at each call: planning the event report's association check cost
 * the server more than running it, ~0.6 ms of its CPU per report (BENCHMARKS F12, ninth pass).
 * Only for statements whose text is fixed (a constant) and whose result columns are named: a
 * kept `SELECT *` fails ("cached plan must not change result type") once a migration adds a column.
 */
export interface Prepared {
  readonly name: string;
  readonly text: string;
}

/** `text` as a Prepared statement, named by a digest of the text (two equal texts share one). */
export function prepared(text: string): Prepared {
  return { name: `brokkr_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text };
}

/** What the query modules need: the pool outside a transaction, one client inside. */
export interface Sql {
  rows<R>(text: string | Prepared, params?: readonly unknown[]): Promise<R[]>;
  one<R>(text: string | Prepared, params?: readonly unknown[]): Promise<R | undefined>;
  /** Number of rows the statement changed. */
  run(text: string | Prepared, params?: readonly unknown[]): Promise<number>;
}

/** Client settings shared by the pool and the LISTEN connection. */
export function clientConfig(url: string): pg.ClientConfig {
  return { connectionString: url, types: PG_TYPES, connectionTimeoutMillis: 10_000, application_name: 'brokkr-sync' };
}

class Queries implements Sql {
  constructor(
    private readonly q: pg.Pool | pg.PoolClient,
    private readonly target: string,
  ) {}

  async #query<R extends pg.QueryResultRow>(text: string | Prepared, params: readonly unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      if (typeof text !== 'string') return await this.q.query<R>({ name: text.name, text: text.text, values: params as unknown[] });
      return await this.q.query<R>(text, params as unknown[]);
    } catch (err) {
      throw isUnavailable(err) ? unavailable(err, this.target) : err;
    }
  }
  async rows<R>(text: string | Prepared, params?: readonly unknown[]): Promise<R[]> {
    return (await this.#query<R & pg.QueryResultRow>(text, params)).rows;
  }
  async one<R>(text: string | Prepared, params?: readonly unknown[]): Promise<R | undefined> {
    return (await this.#query<R & pg.QueryResultRow>(text, params)).rows[0];
  }
  async run(text: string | Prepared, params?: readonly unknown[]): Promise<number> {
    return (await this.#query(text, params)).rowCount ?? 0;
  }
}

/** The pool and its transaction helper; `url` is kept only to name the database (password redacted) in errors. */
export class PgDb extends Queries {
  constructor(
    readonly pool: pg.Pool,
    readonly url: string,
  ) {
    super(pool, url);
    // An idle client whose server went away emits 'error' on the pool: without a listener that
    // would crash the process. The next query gets a fresh connection (or StoreUnavailableError).
    pool.on('error', () => {});
  }

  /** `session`: what pg_stat_activity shows for the pool's sessions, and settings they start with (libpq's `options`, `-c name=value`). */
  static open(url: string, max = 10, session?: { applicationName: string; options: string }): PgDb {
    const named = session ? { application_name: session.applicationName, options: session.options } : {};
    return new PgDb(new pg.Pool({ ...clientConfig(url), ...named, max, idleTimeoutMillis: 30_000 }), url);
  }

  /**
   * Run fn in one transaction on one client: BEGIN, fn, COMMIT; anything thrown rolls back and is
   * rethrown. A client whose connection broke is destroyed rather than returned to the pool.
   *
   * `last`: a statement to run just before COMMIT, given fn's result, sent with the COMMIT in one
   * round trip (one simple-protocol message: no parameters, so values in it must be literals —
   * `literal` below). A failing `last` rolls back like fn. Each round trip of a transaction costs
   * the daemon's event loop a socket write and a wake-up, paid again for every write.
   */
  async tx<T>(fn: (sql: Sql) => Promise<T>, last?: (result: T) => string | null): Promise<T> {
    let broken: Error | undefined;
    // A checked-out client has no 'error' listener of the pool's: a connection cut mid-transaction
    // (server restart, pg_terminate_backend) would be an uncaught 'error' event and kill the
    // process. The query in flight fails with it anyway; keep it, and destroy the client.
    const onError = (err: Error) => {
      broken ??= err;
    };
    let client: pg.PoolClient;
    try {
      // The listener goes on inside the pool's callback, not after `await pool.connect()`: a server
      // shutting down sends ReadyForQuery and its FATAL 57P01 together, and pg parses the FATAL in
      // the same read, before an await resumes (a replica died of it in a PostgreSQL restart).
      client = await new Promise<pg.PoolClient>((resolve, reject) =>
        this.pool.connect((err, c) => {
          if (err || !c) return reject(err ?? new Error('the pool gave no client'));
          c.on('error', onError);
          resolve(c);
        }),
      );
    } catch (err) {
      throw isUnavailable(err) ? unavailable(err, this.url) : err;
    }
    try {
      const sql = new Queries(client, this.url);
      await sql.run('BEGIN');
      const result = await fn(sql);
      const before = last?.(result) ?? null;
      await sql.run(before === null ? 'COMMIT' : `${before}; COMMIT`);
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** `value` as an SQL string literal (quotes doubled, backslashes escaped): for `tx`'s `last`, which takes no parameters. */
export function literal(value: string): string {
  return pg.escapeLiteral(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An id as a UUID parameter, or null when it cannot be one. Ids arrive from URLs: on SQLite any
 * string simply matches nothing, while PostgreSQL would refuse the cast; null keeps "not found".
 */
export function uuidParam(id: string | null | undefined): string | null {
  return typeof id === 'string' && UUID.test(id) ? id : null;
}
