/** `brokkr-sync sync`: one pass over every pending commit into the database, printing what changed, then exit. */
import type { Argv, CommandModule } from 'yargs';
import { redactUrl } from '../../git/redact-url.js';
import type { CommitReport, StackError, SyncProgress, SyncReport } from '../../sync/sync-report.js';
import { CliError } from '../errors.js';
import { checkMaxBytes, checkRepo, repoOptions, type RepoArgs } from '../repo-options.js';
import { plural, syncErrorPlace } from '../format-table.js';

const short = (sha: string | null) => (sha ? sha.slice(0, 7) : '(none)');

/** `file:line: message (stack X at commit abc1234)` — the line editors and CI logs jump to. */
export function formatStackError(e: StackError): string {
  return `${syncErrorPlace(e)}: ${e.message} (stack ${e.stack_name ?? e.stack_path} at commit ${short(e.commit_sha)})`;
}

/** The lines describing one applied commit, one per stack it changed. */
export function describeCommit(c: CommitReport): string[] {
  const lines: string[] = [];
  for (const s of c.created) lines.push(`  + created ${s.name} seq ${s.sequence_id}`);
  for (const s of c.updated) {
    const parts: string[] = [];
    if (s.object) parts.push(`content seq ${s.object.sequence_id}`);
    for (const field of s.fields) {
      parts.push(field === 'path' ? `path ${s.previous_path || '.'} → ${s.path || '.'}` : field);
    }
    lines.push(`  ~ updated ${s.name}: ${parts.join(', ')}`);
  }
  for (const s of c.deleted) lines.push(`  - deleted ${s.name} (marker seq ${s.sequence_id})`);
  const invalid = new Map<string, { name: string; count: number }>();
  for (const e of c.errors) {
    const entry = invalid.get(e.stack_path) ?? { name: e.stack_name ?? e.stack_path, count: 0 };
    entry.count += 1;
    invalid.set(e.stack_path, entry);
  }
  for (const [path, { name, count }] of invalid) {
    lines.push(`  ! invalid ${name}${name === path ? '' : ` (${path || '.'})`}: ${plural(count, 'error')}`);
  }
  for (const path of c.cleared) lines.push(`  ✓ fixed ${path || '.'}: errors cleared`);
  for (const e of c.errors) lines.push(formatStackError(e));
  return lines;
}

/** `synced 3 commits: 2 created, 1 deleted, 1 invalid stack; cursor abc1234` */
export function summarize(report: SyncReport): string {
  const count = (pick: (c: CommitReport) => unknown[]) => report.commits.reduce((n, c) => n + pick(c).length, 0);
  const parts = [
    `${count((c) => c.created)} created`,
    `${count((c) => c.updated)} updated`,
    `${count((c) => c.deleted)} deleted`,
    plural(report.invalid_stacks.length, 'invalid stack'),
  ];
  const head = report.commits.length === 0 ? `up to date on ${report.branch ?? 'the branch'}` : `synced ${plural(report.commits.length, 'commit')}`;
  return `${head}: ${parts.join(', ')}; cursor ${short(report.cursor)} (${(report.duration_ms / 1000).toFixed(1)} s)`;
}

/** A single self-overwriting progress line on a terminal; nothing when stderr is not a TTY. */
function progressLine(): { update(p: SyncProgress): void; clear(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    update(p) {
      if (!tty) return;
      const what = p.phase === 'snapshot' ? 'snapshot: stacks' : 'commits';
      process.stderr.write(`\r\x1b[K${what} ${p.done}/${p.total} (${Math.floor((100 * p.done) / Math.max(1, p.total))}%)`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

export const syncCommand: CommandModule<object, RepoArgs> = {
  command: 'sync',
  describe: 'Sync every pending commit of the branch into the database once, print what changed, exit',
  builder: (y) =>
    y
      .options(repoOptions('SQLite database file (remote clones live in FILE.d/)'))
      .check((args) => {
        checkMaxBytes(args['max-bytes']);
        checkRepo(args.repo);
        return true;
      }) as unknown as Argv<RepoArgs>,
  handler: async (args) => {
    // Loaded when the command runs, not with every command of the CLI (start-up time of the others).
    const [{ openStore }, { createSyncer }, { dataDirFor }] = await Promise.all([
      import('../../store/open-store.js'),
      import('../../sync/syncer.js'),
      import('../../sync/data-dir.js'),
    ]);
    const store = await openStore(args.db);
    const progress = progressLine();
    const syncer = createSyncer({
      store,
      repo: args.repo,
      branch: args.branch,
      root: args.root,
      dataDir: args['data-dir'] ?? dataDirFor(args.db),
      maxContentBytes: args['max-bytes'],
      watch: false,
      onProgress: (p) => progress.update(p),
    });
    let report: SyncReport;
    try {
      report = await syncer.syncOnce();
    } finally {
      progress.clear();
      await syncer.stop();
      await store.close();
    }
    for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
    const out: string[] = [];
    for (const commit of report.commits) {
      const lines = describeCommit(commit);
      if (lines.length === 0) continue;
      const mode = commit.mode === 'incremental' ? '' : ` [${commit.mode}]`;
      out.push(`${short(commit.commit.sha)} ${commit.commit.subject}${mode}`, ...lines);
    }
    if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
    if (report.failure) throw new CliError(`cannot sync ${redactUrl(args.repo)}: ${report.failure.message}`, 1);
    process.stdout.write(`${summarize(report)}\n`);
  },
};
