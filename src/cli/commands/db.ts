/** `brokkr-sync db migrate|backup|check`: create or upgrade the schema, copy a live database, verify one. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { isPostgresUrl, redactDbTarget } from '../../store/db-target.js';
/** The store's engines load when a db command runs, not with every command of the CLI. */
const store = () => import('../../store/open-store.js');
import { dbOption as repoDbOption } from '../repo-options.js';
import { CliError } from '../errors.js';
import { plural } from '../format-table.js';

interface DbArgs {
  db: string;
}

const dbOption = {
  db: repoDbOption('SQLite database file or postgres:// URL'),
} as const;

/** How the database is named in output: a file's absolute path, a URL without its password. */
function shown(db: string): string {
  return isPostgresUrl(db) ? redactDbTarget(db) : resolve(db);
}

function requireExisting(path: string): void {
  if (!isPostgresUrl(path) && !existsSync(path)) throw new CliError(`database ${path} does not exist`, 1);
}

const migrateCommand: CommandModule<object, DbArgs> = {
  command: 'migrate',
  describe: 'Create the database or upgrade its schema to the latest version (safe to run again)',
  builder: (y) => y.options(dbOption) as unknown as Argv<DbArgs>,
  handler: async (args) => {
    const run = await (await store()).migrateDatabase(args.db);
    for (const r of run.results) {
      const label = `${String(r.version).padStart(3, '0')}-${r.name}`;
      if (r.status === 'Success') process.stdout.write(`applied   ${label}\n`);
      else if (r.status === 'AlreadyApplied') process.stdout.write(`present   ${label}\n`);
      else if (r.status === 'Error') process.stdout.write(`FAILED    ${label}: ${r.error}\n`);
      else process.stdout.write(`skipped   ${label} (an earlier migration failed)\n`);
    }
    if (run.error) throw new CliError(`${shown(args.db)}: ${run.error}`, 1);
    const applied = run.results.filter((r) => r.status === 'Success').length;
    process.stdout.write(
      `${shown(args.db)}: schema version ${run.version}` +
        (applied ? ` (${plural(applied, 'migration')} applied)\n` : ' (already up to date)\n'),
    );
  },
};

const backupCommand: CommandModule<object, DbArgs & { file: string }> = {
  command: 'backup <file>',
  describe: 'Copy the database to FILE with the SQLite online backup API (safe while the daemon runs)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'Destination file (must not exist)', normalize: true })
      .options(dbOption) as unknown as Argv<DbArgs & { file: string }>,
  handler: async (args) => {
    requireExisting(args.db);
    if (existsSync(args.file)) throw new CliError(`backup destination ${args.file} already exists; choose a new file`, 1);
    const { pages } = await (await store()).backupDatabase(args.db, args.file);
    process.stdout.write(`backed up ${shown(args.db)} to ${resolve(args.file)} (${pages} pages)\n`);
  },
};

const checkCommand: CommandModule<object, DbArgs> = {
  command: 'check',
  describe: 'Check integrity, foreign keys and schema version; exit 1 on any problem',
  builder: (y) => y.options(dbOption) as unknown as Argv<DbArgs>,
  handler: async (args) => {
    requireExisting(args.db);
    const { checkDatabase, LATEST_VERSION } = await store();
    const result = await checkDatabase(args.db);
    for (const p of result.problems) process.stdout.write(`problem: ${p}\n`);
    if (!result.ok) throw new CliError(`${shown(args.db)}: ${result.problems.length} problem(s) found`, 1);
    const checked = isPostgresUrl(args.db) ? 'reachable, the data model’s triggers present' : 'integrity and foreign keys ok';
    process.stdout.write(`${shown(args.db)}: ok (schema version ${result.version} of ${LATEST_VERSION}, ${checked})\n`);
  },
};

export const dbCommand: CommandModule<object, object> = {
  command: 'db <command>',
  describe: 'Database maintenance: migrate, backup, check',
  builder: (y) => y.command(migrateCommand).command(backupCommand).command(checkCommand).demandCommand(1, 'Name a db command: migrate, backup or check.'),
  handler: () => {},
};
