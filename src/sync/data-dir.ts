/** Where the daemon keeps its own clones of remote repositories: a directory next to the database. */
import { resolve } from 'node:path';

/**
 * `<db>.d/` beside the database file (e.g. `./brokkr.db` → `./brokkr.db.d/`), so that two
 * databases in one directory never share clones, and removing a database's files by its name
 * removes its clones too. `sync` and `serve` must agree on it to reuse one clone.
 */
export function dataDirFor(dbPath: string): string {
  return `${resolve(dbPath)}.d`;
}
