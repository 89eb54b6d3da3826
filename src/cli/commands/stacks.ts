/** `brokkr-sync stacks list|show`: the stacks the daemon synced, with their latest object and errors. */
import type { Argv, CommandModule } from 'yargs';
import type { SyncError } from '../../store/records.js';
import type { ObjectWithCommit, StackDetail } from '../../store/store.js';
import { adminOptions, clientFromArgs, type AdminArgs } from '../admin-client.js';
import { currentHealthPerAgent, stackHealth } from '../health-view.js';
import {
  emit,
  formatAge,
  formatFields,
  formatList,
  formatSyncError,
  formatTable,
  shortSha,
  truncate,
} from '../format-table.js';

type ListArgs = AdminArgs & { 'include-deleted': boolean; includeDeleted: boolean };

const list: CommandModule<AdminArgs, ListArgs> = {
  command: 'list',
  describe: 'List stacks: labels, annotations, latest sequence id, commit, invalid marker',
  builder: (y) =>
    y.option('include-deleted', { type: 'boolean', default: false, describe: 'Also list deleted stacks' }) as Argv<ListArgs>,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const [stacks, sync] = await Promise.all([client.listStacks({ includeDeleted: args.includeDeleted }), client.syncStatus()]);
    emit(args.json, stacks, () => {
      const rows = stacks.map((s) => [
        s.name,
        formatList(s.labels),
        formatList(s.annotations),
        s.latest_object ? String(s.latest_object.sequence_id) : '-',
        shortSha(s.commit?.sha),
        stackState(s, errorsOf(s, sync.errors)),
      ]);
      // A stack that has never been valid has no row yet; its errors must still show up here.
      const known = new Set(stacks.flatMap((s) => [s.name, s.path ?? '']));
      const orphans = new Set(sync.errors.filter((e) => !known.has(e.stack_name ?? e.stack_path)).map((e) => e.stack_name ?? e.stack_path));
      for (const name of orphans) rows.push([name || '.', '-', '-', '-', '-', 'INVALID']);
      if (rows.length === 0) return 'No stacks yet: commit a directory with a stack.yaml to the repository.\n';
      const invalid = rows.filter((r) => r[5] === 'INVALID').length;
      const footer = invalid ? `\n${invalid} invalid: brokkr-sync stacks show NAME (or brokkr-sync status) shows the errors.\n` : '';
      return formatTable(['NAME', 'LABELS', 'ANNOTATIONS', 'SEQ', 'COMMIT', 'STATE'], rows) + footer;
    });
  },
};

type ShowArgs = AdminArgs & { stack: string; limit: number };

const show: CommandModule<AdminArgs, ShowArgs> = {
  command: 'show <stack>',
  describe: 'Show a stack (id or name): details, its sync errors and its latest objects',
  builder: (y) =>
    y
      .positional('stack', { type: 'string', demandOption: true, describe: 'Stack id or name' })
      .option('limit', { type: 'number', default: 5, describe: 'How many of its latest objects to show' }) as Argv<ShowArgs>,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const stack = await client.resolveStack(args.stack);
    const [objects, sync, health, agents] = await Promise.all([client.listObjects(stack.id), client.syncStatus(), stackHealth(client, stack.id), client.listAgents()]);
    const errors = errorsOf(stack, sync.errors);
    const latest = objects.slice(0, Math.max(0, args.limit));
    emit(args.json, { stack, errors, objects: latest, health }, () => {
      const obj = stack.latest_object;
      const head = formatFields([
        ['ID', stack.id],
        ['Name', stack.name],
        ['Path', stack.path === null ? undefined : stack.path || '.'],
        ['Description', stack.description ?? undefined],
        ['State', stackState(stack, errors)],
        ['Labels', formatList(stack.labels)],
        ['Annotations', formatList(stack.annotations)],
        ['Latest', obj ? `seq ${obj.sequence_id}${obj.is_deletion_marker ? ' (deletion marker)' : ''}, sha256 ${obj.yaml_checksum.slice(0, 12)}, ${formatAge(obj.submitted_at)}` : 'no object yet'],
        ['Commit', stack.commit ? `${shortSha(stack.commit.sha)} ${stack.commit.subject} (${stack.commit.author_name}, ${formatAge(stack.commit.committed_at)})` : undefined],
        ['Created', stack.created_at],
        ['Deleted', stack.deleted_at ?? undefined],
      ]);
      const errorText = errors.length ? `\nErrors\n${errors.map((e) => `  ${formatSyncError(e)}\n`).join('')}` : '';
      const objectText = latest.length
        ? `\nLatest objects (${latest.length} of ${objects.length})\n${objectsTable(latest)}`
        : '\nNo deployment objects.\n';
      const agentName = new Map(agents.map((a) => [a.id, a.name]));
      const current = [...currentHealthPerAgent(health).values()];
      const healthText = current.length
        ? `\nHealth (${health.overall_status})\n${formatTable(
            ['AGENT', 'STATUS', 'SEQ', 'SUMMARY', 'CHECKED'],
            current.map((h) => [agentName.get(h.agent_id) ?? h.agent_id, h.status, String(h.sequence_id), truncate(h.summary ?? '', 60) || '-', formatAge(h.checked_at)]),
          )}`
        : '';
      return head + errorText + healthText + objectText;
    });
  },
};

export const stacksCommand: CommandModule<object, AdminArgs> = {
  command: 'stacks',
  describe: 'Inspect stacks (list, show)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(list)
      .command(show)
      .demandCommand(1, 'Name a stacks command: brokkr-sync stacks --help lists them.'),
  handler: () => {},
};

/** The table of deployment objects shared by `stacks show` and `objects list`. */
export function objectsTable(objects: ObjectWithCommit[], now = Date.now()): string {
  return formatTable(
    ['SEQ', 'ID', 'CHECKSUM', 'MARKER', 'COMMIT', 'AUTHOR', 'SUBJECT', 'SUBMITTED'],
    objects.map((o) => [
      String(o.sequence_id),
      o.id,
      o.yaml_checksum.slice(0, 12),
      o.is_deletion_marker ? 'deletion' : '',
      shortSha(o.commit?.sha),
      o.commit?.author_name ?? '-',
      o.commit ? truncate(o.commit.subject, 50) : '-',
      formatAge(o.submitted_at, now),
    ]),
  );
}

/** The recorded errors that belong to this stack (by name, or by directory when the name is unknown). */
function errorsOf(stack: StackDetail, errors: SyncError[]): SyncError[] {
  if (stack.deleted_at) return [];
  return errors.filter((e) => (e.stack_name != null ? e.stack_name === stack.name : stack.path != null && e.stack_path === stack.path));
}

function stackState(stack: StackDetail, errors: SyncError[]): string {
  if (stack.deleted_at) return 'deleted';
  return errors.length ? 'INVALID' : 'ok';
}
