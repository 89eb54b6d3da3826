/** `brokkr-sync status`: the daemon at a glance — repository and cursor, stack errors, agents. */
import type { Argv, CommandModule } from 'yargs';
import type { SyncError } from '../../store/records.js';
import { adminOptions, clientFromArgs, type AdminArgs, type AdminClient, type RepositoryState, type StatusOverview, type SyncStatus } from '../admin-client.js';
import { emit, formatAge, formatFields, formatSeconds, formatSyncError, formatTable, shortSha } from '../format-table.js';

export const statusCommand: CommandModule<object, AdminArgs> = {
  command: 'status',
  describe: 'Show repository, branch, cursor commit, invalid stacks and agents with their delivery state',
  builder: (y) => y.options(adminOptions) as unknown as Argv<AdminArgs>,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const [status, sync] = await Promise.all([client.status(), client.syncStatus()]);
    if (args.json) return emit(true, { ...status, sync }, () => '');
    const subjects = await cursorSubjects(client, status.repositories);
    process.stdout.write(renderStatus(status, sync, subjects));
  },
};

/** The human view; pure so that it can be tested on its own. */
export function renderStatus(status: StatusOverview, sync: SyncStatus, subjects: Map<string, string>, now = Date.now()): string {
  const parts: string[] = [];
  const repos = status.repositories.length ? status.repositories : sync.repositories;
  if (repos.length === 0) parts.push('Repository  none synced yet\n');
  for (const repo of repos) {
    const cursor = repo.cursor_commit
      ? [shortSha(repo.cursor_commit), subjects.get(repo.cursor_commit), repo.cursor_committed_at ? `(committed ${formatAge(repo.cursor_committed_at, now)})` : undefined]
          .filter(Boolean)
          .join(' ')
      : 'none yet (first sync pending)';
    parts.push(
      formatFields([
        ['Repository', repo.repo],
        ['Branch', repo.branch],
        ['Root', repo.root && repo.root !== '.' ? repo.root : undefined],
        ['Cursor', cursor],
        ['Last sync', repo.last_sync_at ? formatAge(repo.last_sync_at, now) : 'never'],
        ['Sync error', repo.last_error ?? undefined],
        ['Condition', repo.condition === 'stalled' || repo.condition === 'retrying' ? `${repo.condition}: ${repo.action}` : undefined],
        ['State', repo.orphaned ? `orphaned: no longer synced; its stacks stay (brokkr-sync repos remove ${repo.generator_name ?? repo.generator_id} --prune deletes them)` : undefined],
      ]),
    );
  }
  if (!sync.ready) parts.push('Not ready: the first sync has not finished.\n');

  const errors = status.errors.length ? status.errors : sync.errors;
  const invalid = countInvalid(status.stacks.invalid, errors);
  parts.push(`\nStacks      ${status.stacks.total} total, ${invalid} invalid\n`);
  for (const e of errors) parts.push(`  ${formatSyncError(e)}\n`);

  parts.push('\nAgents\n');
  if (status.agents.length === 0) {
    parts.push('  none yet: brokkr-sync agents create NAME --cluster C\n');
  } else {
    parts.push(
      formatTable(
        ['NAME', 'CLUSTER', 'STATUS', 'HEARTBEAT', 'PENDING', 'FAILED'],
        status.agents.map((a) => [
          a.name,
          a.cluster_name,
          a.status,
          a.heartbeat_age_seconds != null ? formatSeconds(a.heartbeat_age_seconds) : formatAge(a.last_heartbeat, now),
          String(a.pending),
          String(a.failed),
        ]),
      ),
    );
  }
  return parts.join('');
}

/** The contract leaves open whether `invalid` is a count or a list; the errors decide when it is neither. */
function countInvalid(invalid: unknown, errors: SyncError[]): number {
  if (typeof invalid === 'number') return invalid;
  if (Array.isArray(invalid)) return invalid.length;
  return new Set(errors.map((e) => e.stack_path)).size;
}

/**
 * The cursor commit's subject: from the daemon when it sends one, else from a stack whose latest
 * object came from that commit (no API route looks up a commit by sha).
 */
async function cursorSubjects(client: AdminClient, repos: RepositoryState[]): Promise<Map<string, string>> {
  const subjects = new Map<string, string>();
  for (const r of repos) if (r.cursor_commit && r.cursor_subject) subjects.set(r.cursor_commit, r.cursor_subject);
  if (repos.every((r) => !r.cursor_commit || subjects.has(r.cursor_commit))) return subjects;
  const stacks = await client.listStacks({ includeDeleted: true }).catch(() => []);
  for (const s of stacks) if (s.commit && !subjects.has(s.commit.sha)) subjects.set(s.commit.sha, s.commit.subject);
  return subjects;
}
