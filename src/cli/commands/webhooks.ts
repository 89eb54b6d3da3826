/** `brokkr-sync webhooks ...`: outbound webhook subscriptions (add, list, remove, deliveries, test), through the daemon's admin API. */
import type { Argv, CommandModule } from 'yargs';
import { adminOptions, clientFromArgs, isUuid, type AdminArgs, type AdminClient } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit, formatAge, formatTable, truncate } from '../format-table.js';

type Args<T = object> = AdminArgs & T;

interface Subscription {
  id: string;
  name: string;
  url: string;
  format: string;
  event_types: string[];
  has_secret: boolean;
  timeout_seconds: number;
  created_at: string;
}

interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_attempt_at: string | null;
  next_retry_at: string | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: string;
}

async function resolve(client: AdminClient, ref: string): Promise<Subscription> {
  const all = await client.request<Subscription[]>('GET', '/webhooks');
  const found = all.find((s) => s.name === ref || (isUuid(ref) && s.id === ref.toLowerCase()));
  if (!found) throw new CliError(`no webhook subscription named ${ref} (brokkr-sync webhooks list shows them)`, 1);
  return found;
}

const list: CommandModule<AdminArgs, Args> = {
  command: 'list',
  describe: 'List subscriptions: URL, events, format, signed or not',
  handler: async (args) => {
    const subs = await clientFromArgs(args).request<Subscription[]>('GET', '/webhooks');
    emit(args.json, subs, () =>
      subs.length === 0
        ? 'No webhook subscriptions yet: brokkr-sync webhooks add NAME URL --event deployment.failed\n'
        : formatTable(
            ['NAME', 'URL', 'EVENTS', 'FORMAT', 'SIGNED', 'ID'],
            subs.map((s) => [s.name, truncate(s.url, 48), s.event_types.join(','), s.format, s.has_secret ? 'yes' : 'no', s.id]),
          ),
    );
  },
};

const add: CommandModule<AdminArgs, Args<{ name: string; 'hook-url': string; event: string[]; secret?: string; 'secret-env'?: string; format: string; timeout: number }>> = {
  // Not <url>: that is the daemon's --url, shared by every admin command.
  command: 'add <name> <hook-url>',
  describe: 'Subscribe a URL to events (POSTed as JSON, signed with --secret)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Subscription name (unique)' })
      .positional('hook-url', { type: 'string', demandOption: true, describe: 'http(s) URL that receives the POSTs' })
      .option('event', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Event type, repeatable or comma-separated: deployment.applied, deployment.failed, stack.invalid, sync.failed, rollout.halted, rollout.completed, agent.offline, agent.online, family.* or *',
      })
      .option('secret', { type: 'string', describe: 'Signs each body: X-Brokkr-Signature-256: sha256=HMAC-SHA256(body)' })
      .option('secret-env', { type: 'string', describe: 'Name of an environment variable holding the secret (keeps it out of the process list)' })
      .option('format', { type: 'string', choices: ['json', 'slack'], default: 'json', describe: 'json: the event envelope; slack: {text} for a Slack incoming webhook' })
      .option('timeout', { type: 'number', default: 10, describe: 'Seconds to wait for the receiver per attempt (1..300)' })
      .example('$0 webhooks add oncall https://hooks.example.com/brokkr --event deployment.failed,rollout.halted,agent.offline --secret-env HOOK_SECRET', ''),
  handler: async (args) => {
    if (args.secret !== undefined && args['secret-env'] !== undefined) throw new CliError('give --secret or --secret-env, not both', 2);
    let secret = args.secret;
    if (args['secret-env'] !== undefined) {
      secret = process.env[args['secret-env']];
      if (!secret) throw new CliError(`--secret-env ${args['secret-env']}: that environment variable is not set or empty`, 2);
    }
    if (!Number.isInteger(args.timeout) || args.timeout < 1 || args.timeout > 300) throw new CliError(`--timeout must be a whole number of seconds 1..300, not ${String(args.timeout)}`, 2);
    const events = args.event.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
    const body = { name: args.name, url: args['hook-url'], event_types: events, format: args.format, timeout_seconds: args.timeout, ...(secret ? { secret } : {}) };
    const created = await clientFromArgs(args).request<Subscription>('POST', '/webhooks', body);
    emit(args.json, created, () => `Subscribed ${created.name} (${created.id}) to ${created.event_types.join(', ')}${created.has_secret ? ', signed' : ', unsigned'}.\n`);
  },
};

const remove: CommandModule<AdminArgs, Args<{ subscription: string }>> = {
  command: 'remove <subscription>',
  describe: 'Unsubscribe (its pending deliveries are dropped)',
  builder: (y) => y.positional('subscription', { type: 'string', demandOption: true, describe: 'Subscription name or id' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const s = await resolve(client, args.subscription);
    await client.request('DELETE', `/webhooks/${s.id}`);
    emit(args.json, { removed: s.id }, () => `Removed webhook subscription ${s.name}.\n`);
  },
};

const deliveries: CommandModule<AdminArgs, Args<{ subscription: string; status?: string; limit: number }>> = {
  command: 'deliveries <subscription>',
  describe: 'The delivery log of a subscription, newest first: status, attempts, last error',
  builder: (y) =>
    y
      .positional('subscription', { type: 'string', demandOption: true, describe: 'Subscription name or id' })
      .option('status', { type: 'string', choices: ['pending', 'acquired', 'success', 'failed', 'dead'], describe: 'Only deliveries in this state' })
      .option('limit', { type: 'number', default: 50, describe: 'At most this many (1..1000)' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const s = await resolve(client, args.subscription);
    const query = new URLSearchParams({ limit: String(args.limit), ...(args.status ? { status: args.status } : {}) });
    const rows = await client.request<Delivery[]>('GET', `/webhooks/${s.id}/deliveries?${query}`);
    emit(args.json, rows, () =>
      rows.length === 0
        ? `No deliveries for ${s.name}${args.status ? ` with status ${args.status}` : ''}.\n`
        : formatTable(
            ['EVENT', 'STATUS', 'ATTEMPTS', 'CREATED', 'NEXT RETRY', 'LAST ERROR', 'ID'],
            rows.map((d) => [
              d.event_type,
              d.status,
              String(d.attempts),
              formatAge(d.created_at),
              d.status === 'failed' && d.next_retry_at ? d.next_retry_at : '-',
              d.last_error ? truncate(d.last_error, 60) : '-',
              d.id,
            ]),
          ),
    );
  },
};

const test: CommandModule<AdminArgs, Args<{ subscription: string }>> = {
  command: 'test <subscription>',
  describe: 'Send a webhook.test event now and print how the receiver answered',
  builder: (y) => y.positional('subscription', { type: 'string', demandOption: true, describe: 'Subscription name or id' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const s = await resolve(client, args.subscription);
    const r = await client.request<{ success: boolean; status_code: number | null; message: string }>('POST', `/webhooks/${s.id}/test`);
    emit(args.json, r, () => `${s.name}: ${r.success ? 'delivered' : 'FAILED'} (${r.status_code ?? 'no answer'}): ${r.message}\n`);
    if (!r.success) process.exitCode = 1;
  },
};

export const webhooksCommand: CommandModule<object, AdminArgs> = {
  command: 'webhooks',
  describe: 'Outbound webhooks: tell other systems about deployments, invalid stacks, failing syncs, rollouts, offline agents',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(add)
      .command(list)
      .command(remove)
      .command(deliveries)
      .command(test)
      .demandCommand(1, 'Name a webhooks command: brokkr-sync webhooks --help lists them.'),
  handler: () => {},
};
