/**
 * The admin PAK: from BROKKR_ADMIN_PAK, or generated once on first start. Only its hash is kept
 * in the database; a SQLite daemon also writes the PAK to `DB.admin-pak` (mode 0600), while on
 * PostgreSQL the replica that creates it prints it once and nothing is written to disk (replicas
 * share nothing but the database).
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Store } from '../store/store.js';
import { generatePak, hashPak } from './pak.js';

export interface AdminPakResult {
  /** Where the PAK came from this start. */
  source: 'env' | 'existing' | 'generated';
  /** Only when generated now: the PAK itself, to print once. */
  pak?: string;
  /** Only when generated now and the database is a file: where it was written. */
  file?: string;
}

/** Shortest admin PAK accepted from the environment (16 characters of anything is at least ~96 bits only if random). */
const MIN_ENV_PAK = 16;

/**
 * Make sure an admin PAK exists. The environment wins (its hash replaces the stored one, so
 * rotating is "restart with a new value"); otherwise an existing one is kept; otherwise a new
 * one is generated, its hash stored, and the PAK written next to the database for the operator.
 */
export async function ensureAdminPak(store: Store, dbPath: string, env: NodeJS.ProcessEnv = process.env): Promise<AdminPakResult> {
  const fromEnv = env.BROKKR_ADMIN_PAK?.trim();
  if (fromEnv) {
    if (fromEnv.length < MIN_ENV_PAK || /\s/.test(fromEnv)) {
      throw new Error(`BROKKR_ADMIN_PAK must be at least ${MIN_ENV_PAK} characters without whitespace (use a random value)`);
    }
    await store.setAdminPakHash(hashPak(fromEnv));
    return { source: 'env' };
  }
  if (await store.hasAdminPak()) return { source: 'existing' };
  const pak = generatePak();
  let file: string | undefined;
  if (store.engine === 'sqlite' && dbPath !== ':memory:' && dbPath !== '') {
    file = `${dbPath}.admin-pak`;
    // Written to a temporary name with mode 0600 first, so the PAK is never readable by others
    // for even a moment, whatever the umask; the rename makes it appear complete.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${pak}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
  // Replicas starting together on one fresh database: exactly one PAK is stored, by one of them.
  if (!(await store.addAdminPakHashIfNone(hashPak(pak)))) {
    if (file) rmSync(file, { force: true });
    return { source: 'existing' };
  }
  return { source: 'generated', pak, file };
}
