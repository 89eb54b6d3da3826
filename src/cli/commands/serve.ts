/** `brokkr-sync serve`: the daemon (migrate, sync, watch, serve HTTP) until SIGTERM/SIGINT shut it down cleanly. */
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { isRemoteUrl, redactUrl } from '../../git/redact-url.js';
import type { Daemon } from '../../daemon/daemon.js';
import { isPostgresUrl, redactDbTarget } from '../../store/db-target.js';
import { parseRepositoryList, RepositorySpecError } from '../../daemon/repository-spec.js';
import { parseRateLimit, RateLimitSyntaxError, type RateLimitOptions } from '../../http/rate-limit.js';
import type { RepositorySpec } from '../../store/store.js';
import { CliError } from '../errors.js';
import { checkMaxBytes, checkRepo, repoOptions, type RepoArgs } from '../repo-options.js';

interface ServeArgs extends Omit<RepoArgs, 'repo'> {
  repo?: string;
  /** From `--config FILE`: the repositories to sync (section 9 of the spec). */
  repositories?: unknown;
  'fetch-concurrency': number;
  host: string;
  port: number;
  interval?: number;
  'webhook-secret'?: string;
  'webhook-allow-hosts'?: string;
  'offline-after': number;
  'webhook-concurrency': number;
  'log-level': string;
  /** `0`/`off`, `ROLE=RATE[/BURST],...`, or (config file) a mapping of role to RATE[/BURST]. */
  'rate-limit'?: unknown;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
// --help lists --max-bytes with the daemon's own options, after --webhook-secret (its place before the options were shared).
const { 'max-bytes': maxBytesOption, ...repoSourceOptions } = repoOptions(
  'SQLite database file (admin PAK in FILE.admin-pak, clones in FILE.d/), or a postgres:// URL shared by any number of replicas',
);

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Run the daemon: migrate the database, sync and watch the repository, serve agents over HTTP',
  builder: (y) =>
    y
      .options({
        ...repoSourceOptions,
        repo: { ...repoSourceOptions.repo, demandOption: false, describe: `${repoSourceOptions.repo.describe} (or list several under repositories: in --config)` },
        // Only from the config file: a list of mappings has no command-line spelling.
        repositories: { hidden: true, describe: 'Repositories to sync (config file only)' },
        'fetch-concurrency': { type: 'number', default: 4, describe: 'Most repositories fetched at once' },
        host: { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' },
        port: { type: 'number', default: 3000, describe: 'Port to listen on' },
        interval: { type: 'number', describe: 'Seconds between polls of the repository (default 5 local, 30 remote)' },
        'webhook-secret': { type: 'string', describe: 'Secret of POST /api/v1/webhooks/git (HMAC X-Hub-Signature-256 or X-Gitlab-Token)' },
        'max-bytes': maxBytesOption,
        'rate-limit': {
          describe: 'Requests per second per caller, by role: ROLE=RATE[/BURST],... (roles admin, readonly, agent, generator, anonymous; e.g. agent=20,admin=100; RATE 0: that role unlimited), or 0 for no limits (default agent=50/100,generator=50/100,admin=100/200,readonly=100/200,anonymous=50/100)',
        },
        'webhook-allow-hosts': {
          type: 'string',
          describe:
            'Outbound webhooks may also go to these hosts, comma-separated: names, *.suffix, IP addresses, CIDR ranges, or * (default: public addresses only; loopback, private and link-local ones are refused)',
        },
        'webhook-concurrency': { type: 'number', default: 512, describe: 'Outbound webhook deliveries in flight at once, per replica, half of them at most to one subscription (a receiver answering in T seconds gets at most N/2/T a second)' },
        'offline-after': { type: 'number', default: 120, describe: 'Seconds without a heartbeat after which an agent is offline (webhook event agent.offline)' },
        'log-level': { type: 'string', default: 'info', describe: `Log level (${LOG_LEVELS.join(', ')})` },
      })
      .check((args) => {
        if (args.repo === undefined && args.repositories === undefined) {
          throw new CliError('name what to sync: --repo PATH|URL, or --config FILE with a repositories: list', 2);
        }
        if (args.repo !== undefined) checkRepo(args.repo);
        if (!Number.isInteger(args['fetch-concurrency']) || args['fetch-concurrency'] < 1) {
          throw new CliError(`--fetch-concurrency must be a whole number of at least 1, not ${String(args['fetch-concurrency'])}`, 2);
        }
        if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new CliError(`--port must be 0..65535, not ${String(args.port)}`, 2);
        if (args.interval !== undefined && !(args.interval > 0)) throw new CliError(`--interval must be a positive number of seconds, not ${String(args.interval)}`, 2);
        checkMaxBytes(args['max-bytes']);
        rateLimitOf(args['rate-limit']);
        if (!Number.isInteger(args['webhook-concurrency']) || args['webhook-concurrency'] < 1 || args['webhook-concurrency'] > 1000) {
          throw new CliError(`--webhook-concurrency must be a whole number 1..1000, not ${String(args['webhook-concurrency'])}`, 2);
        }
        if (!(args['offline-after'] > 0)) throw new CliError(`--offline-after must be a positive number of seconds, not ${String(args['offline-after'])}`, 2);
        if (!LOG_LEVELS.includes(args['log-level'])) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 2);
        return true;
      }) as unknown as Argv<ServeArgs>,
  handler: async (args) => {
    if (args.repo !== undefined && !isRemoteUrl(args.repo) && !existsSync(args.repo)) {
      throw new CliError(`--repo ${args.repo}: no such directory (give a local repository path or a URL)`, 2);
    }
    let repositories: RepositorySpec[] | undefined;
    try {
      repositories = args.repositories === undefined ? undefined : parseRepositoryList(args.repositories, process.env);
    } catch (err) {
      if (err instanceof RepositorySpecError) throw new CliError(`config file: ${err.message}`, 2);
      throw err;
    }
    const leaseTtlMs = leaseTtlFromEnv(process.env.BROKKR_LEASE_TTL_MS);
    // Signals are taken from the very start: a SIGTERM during migration or the first listen is a
    // clean stop too (the daemon is closed as soon as it exists), never a kill mid-transaction.
    const shutdown = shutdownOnSignals();
    // Imported here: every other command starts without loading the server.
    const { daemonLogger, startDaemon } = await import('../../daemon/daemon.js');
    // V8's memory-over-speed mode before the first sync grows the heap (docs/BENCHMARKS.md, F5).
    (await import('../../daemon/heap-settings.js')).useDaemonHeapSettings();
    let daemon: Daemon;
    try {
      daemon = await startDaemon({
        repo: args.repo,
        repositories,
        fetchConcurrency: args['fetch-concurrency'],
        branch: args.branch,
        root: args.root,
        db: args.db,
        dataDir: args['data-dir'],
        host: args.host,
        port: args.port,
        intervalSeconds: args.interval,
        webhookSecret: args['webhook-secret'] ?? null,
        maxContentBytes: args['max-bytes'],
        rateLimit: rateLimitOf(args['rate-limit']),
        leaseTtlMs,
        webhooks: {
          allowHosts: (args['webhook-allow-hosts'] ?? '').split(',').map((h) => h.trim()).filter(Boolean),
          offlineAfterMs: args['offline-after'] * 1000,
          concurrency: args['webhook-concurrency'],
        },
        logger: daemonLogger(args['log-level']),
      });
    } catch (err) {
      shutdown.dispose();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new CliError(`cannot listen on ${args.host}:${args.port}: the address is in use (choose another --port)`, 1);
      if (e.code === 'EACCES') throw new CliError(`cannot listen on ${args.host}:${args.port}: permission denied`, 1);
      throw new CliError(e.message ?? String(err), 1);
    }
    if (!shutdown.requested) {
      const names = daemon.repositories.list().map((r) => (r.origin === 'flag' ? `${r.name}, branch ${args.branch ?? 'current branch'}` : r.name));
      const what = names.length === 1 ? `repository ${names[0]}` : `${names.length} repositories: ${names.join('; ')}`;
      process.stdout.write(`brokkr-sync serving ${daemon.url} (${what})\n`);
      if (isPostgresUrl(args.db)) process.stdout.write(`database ${redactDbTarget(args.db)}, replica ${daemon.replicaId}\n`);
      if (daemon.adminPak) {
        const where = daemon.adminPakFile
          ? `also written to ${daemon.adminPakFile} with mode 0600`
          : isPostgresUrl(args.db)
            ? 'only its hash is kept, in the database: store it now'
            : 'not written anywhere: in-memory database';
        process.stdout.write(`admin PAK (shown once; ${where}):\n  ${daemon.adminPak}\n`);
      }
    }
    await shutdown.stopped(daemon);
  },
};

/** `--rate-limit` → the server's option (undefined: the defaults); a usage error names what is wrong. */
function rateLimitOf(value: unknown): RateLimitOptions | false | undefined {
  if (value === undefined) return undefined;
  try {
    return parseRateLimit(value);
  } catch (err) {
    if (err instanceof RateLimitSyntaxError) throw new CliError(err.message, 2);
    throw err;
  }
}

/**
 * BROKKR_LEASE_TTL_MS: the sync lease's time to live on PostgreSQL (default 6000; renewed every
 * third of it). Not a flag: the default suits production; tests of fail-over shorten it.
 */
function leaseTtlFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 300 || ms > 600_000) throw new CliError(`BROKKR_LEASE_TTL_MS must be an integer 300..600000 (ms), not ${raw}`, 2);
  return ms;
}

/**
 * SIGTERM/SIGINT → close the daemon once (a second signal exits at once). Installed before the
 * daemon starts; `stopped(daemon)` resolves when the daemon has been closed.
 */
function shutdownOnSignals() {
  let requested: NodeJS.Signals | null = null;
  let wake: () => void = () => undefined;
  const signalled = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      process.stderr.write(`${signal} again: exiting without waiting\n`);
      process.exit(1);
    }
    requested = signal;
    process.stderr.write(`${signal}: shutting down (finishing the sync in flight)\n`);
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    get requested() {
      return requested !== null;
    },
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
    async stopped(daemon: Daemon): Promise<void> {
      await signalled;
      try {
        await daemon.close();
      } catch (err) {
        process.stderr.write(`error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  };
}
