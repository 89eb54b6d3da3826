/** `brokkr-sync audit`: the audit log — who changed what, from where, when — newest first, with filters. */
import type { Argv, CommandModule } from 'yargs';
import type { AuditLog } from '../../store/audit.js';
import { adminOptions, clientFromArgs, type AdminArgs } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit, formatTable, truncate } from '../format-table.js';

type AuditArgs = AdminArgs & { actor?: string; action?: string; resource?: string; since?: string; limit: number; cursor?: string };

interface AuditAnswer {
  logs: AuditLog[];
  total: number;
  next_cursor: string | null;
}

/** Details in one line: key=value, nested values as JSON. */
function describe(details: Record<string, unknown> | null): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export const auditCommand: CommandModule<object, AuditArgs> = {
  command: 'audit',
  describe: 'Show the audit log: every admin write, with operator, action, resource, client address; newest first',
  builder: (y) =>
    y
      .options(adminOptions)
      .option('actor', { type: 'string', describe: 'Only this operator' })
      .option('action', { type: 'string', describe: 'Only this action, or a prefix: agent.*' })
      .option('resource', { type: 'string', describe: 'Only this resource: TYPE, TYPE:ID or an id (agent, stack, repository, operator, webhook)' })
      .option('since', { type: 'string', describe: 'Only since this time (ISO-8601) or age (30m, 2h, 7d)' })
      .option('limit', { type: 'number', default: 50, describe: 'Show at most N entries (1..1000)' })
      .option('cursor', { type: 'string', describe: 'Continue after a previous page (the cursor it printed)' })
      .example('$0 audit --actor alice --since 24h', '')
      .example('$0 audit --resource agent --action agent.* --json', '') as unknown as Argv<AuditArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > 1000) throw new CliError(`--limit must be a whole number from 1 to 1000, got ${args.limit}`, 2);
    const params = new URLSearchParams();
    for (const key of ['actor', 'action', 'resource', 'since', 'cursor'] as const) if (args[key] !== undefined) params.set(key, String(args[key]));
    params.set('limit', String(args.limit));
    const page = await clientFromArgs(args).request<AuditAnswer>('GET', `/audit-logs?${params}`);
    emit(args.json, page, () => {
      if (page.logs.length === 0) return 'No audit entries match.\n';
      const table = formatTable(
        ['TIME', 'ACTOR', 'ACTION', 'RESOURCE', 'FROM', 'DETAILS'],
        page.logs.map((l) => [
          l.timestamp,
          l.actor_name ?? l.actor_type,
          l.action,
          `${l.resource_type}${l.resource_id ? ` ${l.resource_id}` : ''}`,
          l.ip_address ?? '-',
          truncate(describe(l.details), 80),
        ]),
      );
      const more = page.next_cursor ? `${page.logs.length} of ${page.total}; older entries: --cursor ${page.next_cursor}\n` : '';
      return table + more;
    });
  },
};
