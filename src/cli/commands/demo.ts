/** `brokkr-sync demo` (what `npm start` runs): serve a demo git repository made from stacks.example/, and say what to try next. */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { CommandModule } from 'yargs';
import type { Daemon } from '../../daemon/daemon.js';
import { CliError } from '../errors.js';

interface DemoArgs {
  dir: string;
  host: string;
  port: number;
}

/** Identity of the demo repository's first commit: works on machines without any git config. */
const DEMO_AUTHOR = ['-c', 'user.name=brokkr-sync demo', '-c', 'user.email=demo@brokkr-sync.invalid'];

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'Try it: serve a demo git repository made from stacks.example/ (what `npm start` runs)',
  builder: (y) =>
    y
      .option('dir', { type: 'string', default: '.brokkr', describe: 'Folder for the demo repository, database and admin PAK (git-ignored)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { type: 'number', default: 3000, describe: 'Port to listen on (npm start -- --port 3001)' })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new CliError(`--port must be 0..65535, not ${String(a.port)}`, 2);
        return true;
      }),
  handler: async (args) => {
    // Ctrl-C is taken from the very start: during start-up (repository, migration, first sync) it
    // stops the daemon as soon as it exists. Installed after the banner, a SIGTERM that came right
    // after it (a reader woken by the write can run before this process does) killed the process.
    const stop = stopOnSignals();
    requireGit();
    const dir = resolve(args.dir);
    const repo = join(dir, 'demo-repo');
    const db = join(dir, 'brokkr.db');
    const created = ensureDemoRepo(repo);

    // Imported here, as in `serve`: other commands start without loading the server.
    const { startDaemon } = await import('../../daemon/daemon.js');
    if (stop.requested) return;
    let daemon: Daemon;
    try {
      daemon = await startDaemon({ repo, branch: 'main', db, host: args.host, port: args.port, logger: conciseLogger() });
    } catch (err) {
      stop.dispose();
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') {
        throw new CliError(`port ${args.port} on ${args.host} is already in use (another brokkr-sync?): run \`npm start -- --port ${args.port + 1}\``, 1);
      }
      throw new CliError(`cannot start the demo daemon: ${e.message ?? String(err)}`, 1);
    }
    await Promise.race([daemon.firstSync, stop.signalled]);
    if (!stop.requested) {
      const stacks = (await daemon.store.listStacks()).length;
      const pakFile = daemon.adminPakFile ?? `${db}.admin-pak`;
      const adminPak = daemon.adminPak ?? (process.env.BROKKR_ADMIN_PAK?.trim() || readPak(pakFile));
      process.stdout.write(banner({ url: daemon.url, adminPak, pakFile, repo, db, stacks, created, fromEnv: !daemon.adminPak && !!process.env.BROKKR_ADMIN_PAK }));
    }
    await stop.signalled;
    await daemon.close().catch(() => undefined);
  },
};

/** SIGINT/SIGTERM: the first asks for a clean stop (`signalled` resolves), a second exits at once. */
function stopOnSignals() {
  let requested = false;
  let wake: () => void = () => undefined;
  const signalled = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    if (requested) process.exit(1);
    requested = true;
    process.stderr.write(`${sig}: stopping the demo daemon\n`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signalled,
    get requested() {
      return requested;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function requireGit(): void {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new CliError('git is not installed (or not on PATH); the demo needs it to create its repository', 1);
  }
}

/**
 * Create the demo repository once: copy stacks.example/ into a temp folder, commit, then rename
 * into place, so an interrupted first start never leaves a half-made repository behind.
 * Returns true when it was created now.
 */
function ensureDemoRepo(repo: string): boolean {
  if (existsSync(join(repo, '.git'))) return false;
  if (existsSync(repo)) throw new CliError(`${repo} exists but is not a git repository: remove it and start again`, 1);
  const examples = fileURLToPath(new URL('../../../stacks.example', import.meta.url));
  if (!existsSync(examples)) throw new CliError(`cannot find the example stacks at ${examples}`, 1);
  const tmp = `${repo}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    cpSync(examples, tmp, { recursive: true });
    const git = (...a: string[]) => execFileSync('git', a, { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
    git('init', '-q', '-b', 'main');
    // Let the user commit in the demo repository even without a global identity.
    if (!gitIdentity(tmp)) git('config', 'user.name', 'brokkr-sync demo'), git('config', 'user.email', 'demo@brokkr-sync.invalid');
    git('add', '-A');
    git(...DEMO_AUTHOR, '-c', 'commit.gpgsign=false', 'commit', '-q', '--no-verify', '-m', 'Demo stacks from stacks.example/');
    renameSync(tmp, repo);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new CliError(`cannot create the demo repository ${repo}: ${stderr || (err as Error).message}`, 1);
  }
  return true;
}

function gitIdentity(cwd: string): boolean {
  try {
    return execFileSync('git', ['config', 'user.email'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    return false;
  }
}

function readPak(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return `(not found: ${file} is missing — delete the demo folder's brokkr.db to get a new one)`;
  }
}

/** Paths under the current directory are shown relative (copy-pasteable from here), others absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function banner(o: { url: string; adminPak: string; pakFile: string; repo: string; db: string; stacks: number; created: boolean; fromEnv: boolean }): string {
  const repo = shown(o.repo);
  const pakSource = o.fromEnv ? 'from BROKKR_ADMIN_PAK' : `saved in ${shown(o.pakFile)}`;
  const pakExport = o.fromEnv ? '# BROKKR_PAK: your BROKKR_ADMIN_PAK' : `export BROKKR_PAK=$(cat ${shown(o.pakFile)})`;
  return `
brokkr-sync demo is running.

  URL (API + dashboard)  ${o.url}
  Admin PAK              ${o.adminPak}
                         (${pakSource})
  Demo repository        ${repo}  (branch main, ${o.created ? 'created now' : 'kept from last time'} from stacks.example/, ${o.stacks} stacks)
  Database               ${shown(o.db)}

Next, in a second terminal in this directory, create an agent and run it:

  export BROKKR_URL=${o.url}
  ${pakExport}
  npx brokkr-sync agents create demo-agent --cluster local --label prod
  npx brokkr-sync agent --pak <the PAK printed by the line above> --out ./deployed

Then, in a third terminal in this directory, change the demo repository and watch ./deployed:

  export BROKKR_URL=${o.url}
  ${pakExport}
  perl -pi -e 's/replicas: \\d+/replicas: 4/' ${repo}/web/deployment.yaml
  git -C ${repo} commit -qam "web: 4 replicas"      # ./deployed/web-app.yaml changes
  git -C ${repo} rm -rq monitoring/alerts
  git -C ${repo} commit -qm "drop the alerts"       # ./deployed/monitoring-alerts.yaml goes
  npx brokkr-sync status                    # repository, stacks, agents: heartbeat, pending, failed
  npx brokkr-sync events                    # what the agent applied, newest first

Stop with Ctrl-C. Start again with \`npm start\` (the repository and database are kept).
`;
}

/** The daemon's pino logs as short lines on stderr, so the banner on stdout stays readable. */
function conciseLogger(): pino.Logger {
  const skip = new Set(['level', 'time', 'pid', 'hostname', 'msg']);
  return pino(
    { level: 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    {
      write(line: string) {
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          process.stderr.write(line);
          return;
        }
        // One line per HTTP request would bury what matters in a demo (a long poll every 30 s per agent).
        if (rec.msg === 'request' && typeof rec.status === 'number' && rec.status < 400) return;
        const level = ({ 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[rec.level as number] ?? 'debug';
        const extra = Object.entries(rec)
          .filter(([k]) => !skip.has(k))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        process.stderr.write(`${String(rec.time)} ${level.padEnd(5)} ${String(rec.msg ?? '')}${extra ? `  ${extra}` : ''}\n`);
      },
    },
  );
}
