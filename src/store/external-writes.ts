/**
 * Whether *another process* wrote the database, for caches that otherwise trust their own
 * process's change announcements (`store.onChange`). On SQLite, `PRAGMA data_version`: it moves
 * only when another connection commits, and reading it reads a counter, not a table. null when the
 * store cannot tell (PostgreSQL announces every write to every replica by NOTIFY; a wrapped store).
 */
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

export function externalWriteCounter(store: Store): (() => number) | null {
  if (!(store instanceof SqliteStore)) return null;
  const statement = store.db.stmt<number>('PRAGMA data_version').pluck();
  return () => statement.get() as number;
}
