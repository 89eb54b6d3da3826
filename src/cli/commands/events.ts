/** `brokkr-sync events`: what agents reported (DEPLOY/DELETE, SUCCESS/FAILURE), newest first. */
import type { Argv, CommandModule } from 'yargs';
import type { AgentEvent } from '../../store/records.js';
import { adminOptions, clientFromArgs, type AdminArgs, type AdminClient } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit, formatAge, formatTable, truncate } from '../format-table.js';

type EventsArgs = AdminArgs & { agent?: string; limit: number };

export const eventsCommand: CommandModule<object, EventsArgs> = {
  command: 'events',
  describe: 'List the events agents reported, newest first',
  builder: (y) =>
    y
      .options(adminOptions)
      .option('agent', { type: 'string', describe: 'Only this agent (id or name)' })
      .option('limit', { type: 'number', default: 20, describe: 'Show at most N events' })
      .example('$0 events --agent edge-1 --limit 50', '') as unknown as Argv<EventsArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.limit) || args.limit < 1) throw new CliError(`--limit must be a positive whole number, got ${args.limit}`, 2);
    const client = clientFromArgs(args);
    const agent = args.agent ? await client.resolveAgent(args.agent) : undefined;
    const events = (await client.listEvents({ agentId: agent?.id, limit: args.limit })).slice(0, args.limit);
    if (args.json) return emit(true, events, () => '');
    if (events.length === 0) {
      process.stdout.write(agent ? `Agent ${agent.name} has reported no events yet.\n` : 'No events yet.\n');
      return;
    }
    const [agentNames, objectNames] = await Promise.all([namesOfAgents(client), namesOfObjects(client, events)]);
    process.stdout.write(
      formatTable(
        ['WHEN', 'AGENT', 'TYPE', 'STATUS', 'STACK', 'SEQ', 'MESSAGE'],
        events.map((e) => {
          const obj = objectNames.get(e.deployment_object_id);
          return [
            formatAge(e.created_at),
            agentNames.get(e.agent_id) ?? e.agent_id,
            e.event_type,
            e.status,
            obj?.stack ?? `object ${e.deployment_object_id.slice(0, 8)}`,
            obj ? String(obj.seq) : '-',
            truncate(e.message ?? '', 80),
          ];
        }),
      ),
    );
  },
};

async function namesOfAgents(client: AdminClient): Promise<Map<string, string>> {
  return new Map((await client.listAgents()).map((a) => [a.id, a.name]));
}

/** Which stack and sequence id each event's object is: one lookup per distinct object, a few at a time. */
async function namesOfObjects(client: AdminClient, events: AgentEvent[]): Promise<Map<string, { stack: string; seq: number }>> {
  const stacks = new Map((await client.listStacks({ includeDeleted: true })).map((s) => [s.id, s.name]));
  const ids = [...new Set(events.map((e) => e.deployment_object_id))];
  const found = new Map<string, { stack: string; seq: number }>();
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      // An object that cannot be looked up still shows by id: naming it is a nicety, not the answer.
      const obj = await client.getObject(id).catch(() => null);
      if (obj) found.set(id, { stack: stacks.get(obj.stack_id) ?? obj.stack_id, seq: obj.sequence_id });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
  return found;
}
