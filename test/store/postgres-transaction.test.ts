/** PgDb.tx on a real PostgreSQL: the statement sent with the COMMIT (`last`) is part of the transaction. */
import { describe, expect, it } from 'vitest';
import { PgDb, literal } from '../../src/store/postgres/pg-db.js';
import { onCleanup } from '../webhooks/daemon-world.js';
import { openEngineStore } from './store-fixture.js';

let tables = 0;

/** A table of its own for each test (the test file's tests share one database). */
async function scratch() {
  const { store, target } = await openEngineStore('postgres');
  onCleanup(() => store.close());
  const db = PgDb.open(target, 2);
  onCleanup(() => db.close());
  const table = `scratch_${++tables}`;
  await db.run(`CREATE TABLE ${table} (v TEXT NOT NULL)`);
  const values = async () => (await db.rows<{ v: string }>(`SELECT v FROM ${table} ORDER BY v`)).map((r) => r.v);
  const insert = `INSERT INTO ${table} (v) VALUES`;
  return { db, values, insert };
}

describe('PgDb.tx with a last statement (postgres)', () => {
  it('runs it after fn, given fn’s result, and commits both; literals keep quotes, backslashes and newlines', async () => {
    const { db, values, insert } = await scratch();
    const odd = `it's a \\ back'slash\nand "quotes" $1 ;`;
    const result = await db.tx(
      async (sql) => {
        await sql.run(`${insert} ($1)`, ['first']);
        return odd;
      },
      (r) => `${insert} (${literal(r)})`,
    );
    expect(result).toBe(odd);
    expect(await values()).toEqual(['first', odd].sort());
  });

  it('a failing last statement rolls fn’s writes back and rejects; null sends the COMMIT alone', async () => {
    const { db, values, insert } = await scratch();
    await expect(
      db.tx(
        (sql) => sql.run(`${insert} ($1)`, ['lost']),
        () => 'SELECT 1 / 0',
      ),
    ).rejects.toThrow(/division by zero/);
    expect(await values()).toEqual([]);
    await db.tx((sql) => sql.run(`${insert} ($1)`, ['kept']), () => null);
    expect(await values()).toEqual(['kept']);
    // The pool's connections are all still usable (the failed one was rolled back, not left in a transaction).
    expect(await Promise.all([db.one<{ n: number }>('SELECT 1 AS n'), db.one<{ n: number }>('SELECT 2 AS n')])).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
