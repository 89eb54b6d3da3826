/** Where the daemon keeps its own clones of remote repositories: beside a SQLite file, or a local folder for PostgreSQL. */
import { resolve } from 'node:path';
import { isPostgresUrl } from '../store/db-target.js';

/**
 * `<db>.d/` beside a database file (e.g. `./brokkr.db` → `./brokkr.db.d/`), so that two
 * databases in one directory never share clones, and removing a database's files by its name
 * removes its clones too. A PostgreSQL database has no file to sit beside: clones go to
 * `./brokkr-data` unless `--data-dir` says otherwise (each replica keeps its own; nothing is
 * shared but the database). `sync` and `serve` must agree on it to reuse one clone.
 */
export function dataDirFor(db: string): string {
  return isPostgresUrl(db) ? resolve('brokkr-data') : `${resolve(db)}.d`;
}
