/** What a migration run reports, per migration, on every engine (results are returned, not thrown). */

export type MigrationStatus = 'Success' | 'Error' | 'NotExecuted' | 'AlreadyApplied';

export interface MigrationResult {
  version: number;
  name: string;
  status: MigrationStatus;
  error?: string;
}

export interface MigrationRun {
  results: MigrationResult[];
  /** Highest applied version after the run. */
  version: number;
  /** Set when a migration failed (later ones are NotExecuted) or the database is newer than this build. */
  error?: string;
}

/** The run's answer when the database is newer than this build, or null when it is not. */
export function newerThanBuild(applied: Iterable<number>, migrations: readonly { version: number }[]): MigrationRun | null {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest <= known) return null;
  return {
    results: [],
    version: newest,
    error: `the database is at schema version ${newest}, newer than this brokkr-sync knows (${known}); upgrade brokkr-sync`,
  };
}

/**
 * Results of one run, in order: once a migration fails, every later one is NotExecuted — the
 * bookkeeping both engines' migrators share (only how a migration is applied differs).
 */
export class MigrationLog {
  readonly results: MigrationResult[] = [];
  private failure: string | undefined;

  /** False (and recorded NotExecuted) when an earlier migration failed. */
  mayRun(m: { version: number; name: string }): boolean {
    if (this.failure === undefined) return true;
    this.results.push({ version: m.version, name: m.name, status: 'NotExecuted' });
    return false;
  }

  applied(m: { version: number; name: string }, ran: boolean): void {
    this.results.push({ version: m.version, name: m.name, status: ran ? 'Success' : 'AlreadyApplied' });
  }

  failed(m: { version: number; name: string }, err: unknown): void {
    const message = (err as Error).message;
    this.failure = `migration ${m.version} (${m.name}) failed: ${message}`;
    this.results.push({ version: m.version, name: m.name, status: 'Error', error: message });
  }

  run(version: number): MigrationRun {
    return { results: this.results, version, ...(this.failure ? { error: this.failure } : {}) };
  }
}
