/** `brokkr-sync repos ...`: the repositories a daemon syncs (list, add, remove, sync now), through its admin API. */
import type { Argv, CommandModule } from 'yargs';
import { adminOptions, clientFromArgs, type AdminArgs, type GeneratorDetail } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit, formatAge, formatTable, shortSha, truncate } from '../format-table.js';

type Args<T = object> = AdminArgs & T;

const list: CommandModule<AdminArgs, Args> = {
  command: 'list',
  describe: 'List repositories: origin, branch, cursor, last sync, stacks, errors',
  handler: async (args) => {
    const generators = await clientFromArgs(args).listGenerators();
    emit(args.json, generators, () =>
      generators.length === 0
        ? 'No repositories yet: brokkr-sync repos add NAME URL\n'
        : formatTable(
            ['NAME', 'ORIGIN', 'URL', 'BRANCH', 'CURSOR', 'LAST SYNC', 'STACKS', 'INVALID', 'STATE'],
            generators.map((g) => [
              g.repository?.name ?? g.name,
              g.repository?.origin ?? 'orphaned',
              truncate(g.repository?.url ?? g.repo ?? '-', 48),
              g.repository?.branch ?? g.branch ?? '(default)',
              shortSha(g.cursor_commit),
              formatAge(g.last_sync_at),
              String(g.stacks),
              String(g.invalid_stacks),
              state(g),
            ]),
          ),
    );
  },
};

/** One word (and the error) for a repository's condition. */
function state(g: GeneratorDetail): string {
  if (!g.repository) return 'not synced (stacks kept; repos remove --prune deletes them)';
  if (g.repository.dropped_from_config) return 'dropped from the config file (not synced)';
  if (g.last_error && g.condition === 'stalled') return `STALLED: ${truncate(g.last_error, 60)} — ${g.action}`;
  if (g.last_error) return `${g.condition === 'retrying' ? 'RETRYING' : 'FAILING'}: ${truncate(g.last_error, 60)}`;
  return g.cursor_commit ? 'ok' : 'waiting for first sync';
}

const add: CommandModule<AdminArgs, Args<{ name: string; 'repo-url': string; branch?: string; root?: string; interval?: number; 'webhook-secret'?: string; 'username-env'?: string; 'password-env'?: string; 'ssh-key-file'?: string }>> = {
  // Not <url>: that is the daemon's --url (every admin command's option), which a positional of
  // the same name would overwrite — the repository's path or URL was then taken for the daemon's.
  command: 'add <name> <repo-url>',
  describe: 'Add a repository to sync (kept by the daemon across restarts)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Repository name (1..64 letters, digits, . _ -); also its generator name' })
      .positional('repo-url', { type: 'string', demandOption: true, describe: 'A URL (https://, ssh://, git@host:path) or a path on the daemon host' })
      .option('branch', { type: 'string', describe: "Branch to track (default: the repository's default branch)" })
      .option('root', { type: 'string', describe: 'Directory of the stacks inside the repository' })
      .option('interval', { type: 'number', describe: 'Seconds between polls (default 5 local, 30 remote)' })
      .option('webhook-secret', { type: 'string', describe: 'Secret of POST /api/v1/webhooks/git/NAME' })
      .option('username-env', { type: 'string', describe: "Name of the daemon's environment variable holding the HTTPS user" })
      .option('password-env', { type: 'string', describe: "Name of the daemon's environment variable holding the HTTPS token" })
      .option('ssh-key-file', { type: 'string', describe: 'Path of an SSH private key on the daemon host' })
      .example('$0 repos add payments https://git.example.com/payments/stacks.git --username-env GIT_USER --password-env GIT_TOKEN', ''),
  handler: async (args) => {
    const usernameEnv = args['username-env'];
    const passwordEnv = args['password-env'];
    if ((usernameEnv === undefined) !== (passwordEnv === undefined)) throw new CliError('--username-env and --password-env go together', 2);
    const auth = args['ssh-key-file'] ? { ssh_key_file: args['ssh-key-file'] } : usernameEnv ? { username_env: usernameEnv, password_env: passwordEnv } : undefined;
    const body = {
      name: args.name,
      url: args['repo-url'],
      ...(args.branch ? { branch: args.branch } : {}),
      ...(args.root ? { root: args.root } : {}),
      ...(args.interval !== undefined ? { interval: args.interval } : {}),
      ...(args['webhook-secret'] ? { webhook_secret: args['webhook-secret'] } : {}),
      ...(auth ? { auth } : {}),
    };
    const added = await clientFromArgs(args).addRepository(body);
    emit(args.json, added, () => `Added repository ${args.name} (generator ${added.id}); the daemon syncs it from now on.\n`);
  },
};

const remove: CommandModule<AdminArgs, Args<{ repository: string; prune: boolean }>> = {
  command: 'remove <repository>',
  describe: 'Stop syncing a repository; its stacks stay unless --prune',
  builder: (y) =>
    y
      .positional('repository', { type: 'string', demandOption: true, describe: 'Repository name or generator id' })
      .option('prune', { type: 'boolean', default: false, describe: 'Also delete its stacks: every agent receives their deletion markers' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const repo = await client.resolveRepository(args.repository);
    await client.removeRepository(repo.id, args.prune);
    const name = repo.repository?.name ?? repo.name;
    emit(args.json, { removed: repo.id, pruned: args.prune }, () =>
      args.prune
        ? `Removed repository ${name} and deleted its ${repo.stacks} stack(s): agents receive their deletion markers.\n`
        : `Removed repository ${name}: no longer synced; its ${repo.stacks} stack(s) stay where agents run them (repos remove ${name} --prune deletes them).\n`,
    );
  },
};

const sync: CommandModule<AdminArgs, Args<{ repository: string }>> = {
  command: 'sync <repository>',
  describe: 'Sync a repository now and print what the pass did',
  builder: (y) => y.positional('repository', { type: 'string', demandOption: true, describe: 'Repository name or generator id' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const repo = await client.resolveRepository(args.repository);
    const report = await client.syncRepository(repo.id);
    const name = repo.repository?.name ?? repo.name;
    emit(args.json, report, () => {
      if (report.failure) return `${name}: could not sync: ${report.failure.code}: ${report.failure.message}\n`;
      if (report.standby) return `${name}: another replica holds this repository's sync lease and syncs it.\n`;
      const objects = report.commits.reduce((n, c) => n + c.created.length + c.deleted.length + c.updated.filter((u) => u.object).length, 0);
      return `${name}: at ${shortSha(report.cursor)}, ${report.commits.length} commit(s) applied, ${objects} object(s) written, ${report.invalid_stacks.length} invalid stack(s).\n`;
    });
    if (report.failure) process.exitCode = 1;
  },
};

export const reposCommand: CommandModule<object, AdminArgs> = {
  command: 'repos',
  describe: 'Manage the repositories the daemon syncs (list, add, remove, sync)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(list)
      .command(add)
      .command(remove)
      .command(sync)
      .demandCommand(1, 'Name a repos command: brokkr-sync repos --help lists them.'),
  handler: () => {},
};
