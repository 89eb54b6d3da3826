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
