/** `brokkr-sync webhooks ...`: outbound webhook subscriptions (add, list, update, remove, deliveries, test), through the daemon's admin API. */
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
  enabled: boolean;
  filters: Filters;
  timeout_seconds: number;
  created_at: string;
}

interface Filters {
  agent_id?: string;
  stack_id?: string;
}

/** `agent=…, stack=…` (short ids), or `-`. */
function describeFilters(f: Filters | undefined): string {
  const parts = [f?.agent_id && `agent=${f.agent_id.slice(0, 8)}`, f?.stack_id && `stack=${f.stack_id.slice(0, 8)}`].filter(Boolean);
  return parts.length ? parts.join(',') : '-';
}

/** The filters --agent / --stack name (an agent or stack name or id, resolved to its id), over `base`. */
async function filtersFrom(client: AdminClient, args: { agent?: string; stack?: string }, base: Filters = {}): Promise<Filters> {
  const out = { ...base };
  if (args.agent !== undefined) out.agent_id = (await client.resolveAgent(args.agent)).id;
  if (args.stack !== undefined) out.stack_id = (await client.resolveStack(args.stack)).id;
  return out;
}

/** --secret / --secret-env: the secret, undefined when neither is given. */
function secretFrom(args: { secret?: string; 'secret-env'?: string }): string | undefined {
  if (args.secret !== undefined && args['secret-env'] !== undefined) throw new CliError('give --secret or --secret-env, not both', 2);
  if (args['secret-env'] === undefined) return args.secret;
  const secret = process.env[args['secret-env']];
  if (!secret) throw new CliError(`--secret-env ${args['secret-env']}: that environment variable is not set or empty`, 2);
  return secret;
}

function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 300)) throw new CliError(`--timeout must be a whole number of seconds 1..300, not ${String(timeout)}`, 2);
}

const splitEvents = (events: string[]) => events.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);

const EVENT_HELP =
  'Event type, repeatable or comma-separated: deployment.applied, deployment.failed, stack.invalid, sync.failed, rollout.halted, rollout.completed, agent.offline, agent.online, family.* or *';
const AGENT_HELP = 'Deliver only events about this agent (name or id): its deployment.* and agent.* events';
const STACK_HELP = 'Deliver only events about this stack (name or id): its deployment.* and rollout.* events';

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
            ['NAME', 'URL', 'EVENTS', 'FORMAT', 'SIGNED', 'ENABLED', 'FILTERS', 'ID'],
            subs.map((s) => [s.name, truncate(s.url, 48), s.event_types.join(','), s.format, s.has_secret ? 'yes' : 'no', s.enabled === false ? 'no' : 'yes', describeFilters(s.filters), s.id]),
          ),
    );
  },
};

const add: CommandModule<AdminArgs, Args<{ name: string; 'hook-url': string; event: string[]; secret?: string; 'secret-env'?: string; format: string; timeout: number; agent?: string; stack?: string }>> = {
  // Not <url>: that is the daemon's --url, shared by every admin command.
  command: 'add <name> <hook-url>',
  describe: 'Subscribe a URL to events (POSTed as JSON, signed with --secret)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Subscription name (unique)' })
      .positional('hook-url', { type: 'string', demandOption: true, describe: 'http(s) URL that receives the POSTs' })
      .option('event', { type: 'string', array: true, demandOption: true, describe: EVENT_HELP })
      .option('secret', { type: 'string', describe: 'Signs each body: X-Brokkr-Signature-256: sha256=HMAC-SHA256(body)' })
      .option('secret-env', { type: 'string', describe: 'Name of an environment variable holding the secret (keeps it out of the process list)' })
      .option('format', { type: 'string', choices: ['json', 'slack'], default: 'json', describe: 'json: the event envelope; slack: {text} for a Slack incoming webhook' })
      .option('timeout', { type: 'number', default: 10, describe: 'Seconds to wait for the receiver per attempt (1..300)' })
      .option('agent', { type: 'string', describe: AGENT_HELP })
      .option('stack', { type: 'string', describe: STACK_HELP })
      .example('$0 webhooks add oncall https://hooks.example.com/brokkr --event deployment.failed,rollout.halted,agent.offline --secret-env HOOK_SECRET', ''),
  handler: async (args) => {
    const secret = secretFrom(args);
    checkTimeout(args.timeout);
    const client = clientFromArgs(args);
    const filters = await filtersFrom(client, args);
    const body = {
      name: args.name,
      url: args['hook-url'],
      event_types: splitEvents(args.event),
      format: args.format,
      timeout_seconds: args.timeout,
      ...(secret ? { secret } : {}),
      ...(Object.keys(filters).length ? { filters } : {}),
    };
    const created = await client.request<Subscription>('POST', '/webhooks', body);
    emit(args.json, created, () => `Subscribed ${created.name} (${created.id}) to ${created.event_types.join(', ')}${created.has_secret ? ', signed' : ', unsigned'}.\n`);
  },
};

type UpdateArgs = Args<{
  subscription: string;
  name?: string;
  'hook-url'?: string;
  event?: string[];
  secret?: string;
  'secret-env'?: string;
  'remove-secret'?: boolean;
  enable?: boolean;
  disable?: boolean;
  format?: string;
  timeout?: number;
  agent?: string;
  stack?: string;
  'clear-filters'?: boolean;
}>;

const update: CommandModule<AdminArgs, UpdateArgs> = {
  command: 'update <subscription>',
  describe: 'Change a subscription in place (its id and delivery log stay): URL, events, secret, on/off, name, format, timeout, filters',
  builder: (y) =>
    y
      .positional('subscription', { type: 'string', demandOption: true, describe: 'Subscription name or id' })
      .option('name', { type: 'string', describe: 'New name' })
      // Not --url: that is the daemon's --url, shared by every admin command.
      .option('hook-url', { type: 'string', describe: 'New http(s) URL (checked as on add); queued deliveries go there too' })
      .option('event', { type: 'string', array: true, alias: 'events', describe: `${EVENT_HELP} (replaces the list)` })
      .option('secret', { type: 'string', describe: 'New signing secret (queued deliveries are signed with it too)' })
      .option('secret-env', { type: 'string', describe: 'Name of an environment variable holding the new secret' })
      .option('remove-secret', { type: 'boolean', describe: 'Send unsigned from now on' })
      .option('enable', { type: 'boolean', describe: 'Write deliveries for new events again' })
      .option('disable', { type: 'boolean', describe: 'Write no deliveries for new events (those already queued are still sent; remove the subscription to drop them)' })
      .option('format', { type: 'string', choices: ['json', 'slack'], describe: 'json: the event envelope; slack: {text}' })
      .option('timeout', { type: 'number', describe: 'Seconds to wait for the receiver per attempt (1..300)' })
      .option('agent', { type: 'string', describe: `${AGENT_HELP} (kept with the stack filter)` })
      .option('stack', { type: 'string', describe: `${STACK_HELP} (kept with the agent filter)` })
      .option('clear-filters', { type: 'boolean', describe: 'Remove the agent and stack filters (before --agent / --stack, if given)' })
      .example('$0 webhooks update oncall --disable', '')
      .example('$0 webhooks update oncall --secret-env NEW_HOOK_SECRET --hook-url https://hooks.example.com/v2', ''),
  handler: async (args) => {
    if (args.enable && args.disable) throw new CliError('give --enable or --disable, not both', 2);
    const secret = secretFrom(args);
    if (secret !== undefined && args['remove-secret']) throw new CliError('give a new secret or --remove-secret, not both', 2);
    checkTimeout(args.timeout);
    const client = clientFromArgs(args);
    const s = await resolve(client, args.subscription);
    const body: Record<string, unknown> = {};
    const said: string[] = [];
    const change = (field: string, value: unknown, text: string) => {
      body[field] = value;
      said.push(text);
    };
    if (args.name !== undefined) change('name', args.name, `renamed to ${args.name}`);
    if (args['hook-url'] !== undefined) change('url', args['hook-url'], `URL ${args['hook-url']}`);
    if (args.event !== undefined) {
      const events = splitEvents(args.event);
      if (events.length === 0) throw new CliError('--event needs at least one event type', 2);
      change('event_types', events, `events ${events.join(', ')}`);
    }
    if (secret !== undefined) change('secret', secret, 'secret rotated');
    if (args['remove-secret']) change('secret', null, 'secret removed (unsigned)');
    if (args.format !== undefined) change('format', args.format, `format ${args.format}`);
    if (args.timeout !== undefined) change('timeout_seconds', args.timeout, `timeout ${args.timeout} s`);
    if (args['clear-filters'] || args.agent !== undefined || args.stack !== undefined) {
      const filters = await filtersFrom(client, args, args['clear-filters'] ? {} : s.filters);
      const any = Object.keys(filters).length > 0;
      change('filters', any ? filters : null, any ? `filters ${describeFilters(filters)}` : 'filters removed');
    }
    if (args.enable) change('enabled', true, 'enabled');
    if (args.disable) change('enabled', false, 'disabled');
    if (said.length === 0) {
      throw new CliError('nothing to change: give --name, --hook-url, --event, --secret/--secret-env/--remove-secret, --enable/--disable, --format, --timeout, or --agent/--stack/--clear-filters', 2);
    }
    const updated = await client.request<Subscription>('PUT', `/webhooks/${s.id}`, body);
    emit(args.json, updated, () => `Updated ${updated.name} (${updated.id}): ${said.join('; ')}.\n`);
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
      .command(update)
      .command(remove)
      .command(deliveries)
      .command(test)
      .demandCommand(1, 'Name a webhooks command: brokkr-sync webhooks --help lists them.'),
  handler: () => {},
};
