/** `brokkr-sync agents ...`: create, inspect and change agents through the daemon's admin API. */
import type { Argv, CommandModule } from 'yargs';
import { adminOptions, clientFromArgs, type AdminArgs, type AgentRecord } from '../admin-client.js';
import { currentHealthPerAgent, formatHealth, stackHealth } from '../health-view.js';
import { CliError } from '../errors.js';
import { emit, formatAge, formatFields, formatList, formatTable } from '../format-table.js';

type Args<T = object> = AdminArgs & T;

const create: CommandModule<AdminArgs, Args<{ name: string; cluster: string; label?: string | string[]; annotation?: string | string[] }>> = {
  command: 'create <name>',
  describe: 'Create an agent and print its PAK (shown only once)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Agent name' })
      .option('cluster', { type: 'string', demandOption: true, describe: 'Cluster the agent runs in' })
      // Not `array: true`: that would swallow the positional name in `--label prod edge-1`.
      .option('label', { type: 'string', describe: 'Label (repeat the flag for more)' })
      .option('annotation', { type: 'string', describe: 'Annotation key=value (repeat the flag for more)' })
      .example('$0 agents create edge-1 --cluster prod-eu --label prod --annotation region=eu', ''),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const annotations = Object.fromEntries(asArray(args.annotation).map((a) => parseKeyValue(a, '--annotation')));
    const created = await client.createAgent({
      name: args.name,
      cluster_name: args.cluster,
      labels: asArray(args.label),
      annotations,
    });
    emit(args.json, created, () => {
      const { agent, initial_pak: pak } = created;
      return (
        `Created agent ${agent.name} (cluster ${agent.cluster_name}), id ${agent.id}\n\n` +
        `Its PAK, shown only this once (it cannot be shown again; "agents rotate-pak" makes a new one):\n  ${pak}\n\n` +
        `Run the agent with:\n  brokkr-sync agent --url ${shellQuote(client.baseUrl)} --pak ${shellQuote(pak)} --out ./deployed\n`
      );
    });
  },
};

const list: CommandModule<AdminArgs, Args> = {
  command: 'list',
  describe: 'List agents',
  handler: async (args) => {
    const agents = await clientFromArgs(args).listAgents();
    emit(args.json, agents, () =>
      agents.length === 0
        ? 'No agents yet: brokkr-sync agents create NAME --cluster C\n'
        : formatTable(
            ['ID', 'NAME', 'CLUSTER', 'STATUS', 'HEARTBEAT'],
            agents.map((a) => [a.id, a.name, a.cluster_name, a.status, formatAge(a.last_heartbeat)]),
          ),
    );
  },
};

const show: CommandModule<AdminArgs, Args<{ agent: string }>> = {
  command: 'show <agent>',
  describe: 'Show an agent with its labels, annotations, targets and associated stacks',
  builder: (y) => agentPositional(y),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const agent = await client.resolveAgent(args.agent);
    const [labels, annotations, targets, stacks] = await Promise.all([
      client.agentLabels(agent.id),
      client.agentAnnotations(agent.id),
      client.agentTargets(agent.id),
      client.agentStacks(agent.id),
    ]);
    // One read per associated stack: this agent's current report on each.
    const healthOf = new Map(
      await Promise.all(stacks.map(async (s) => [s.id, currentHealthPerAgent(await stackHealth(client, s.id)).get(agent.id)] as const)),
    );
    const health = Object.fromEntries([...healthOf].filter(([, h]) => h !== undefined));
    const { pak_hash: _hidden, ...shown } = agent;
    emit(args.json, { agent: shown, labels, annotations, targets, stacks, health }, () => {
      const stackName = new Map(stacks.map((s) => [s.id, s.name]));
      const head = formatFields([
        ['ID', agent.id],
        ['Name', agent.name],
        ['Cluster', agent.cluster_name],
        ['Status', agent.status],
        ['Heartbeat', agent.last_heartbeat ? `${formatAge(agent.last_heartbeat)} (${agent.last_heartbeat})` : 'never'],
        ['Kubernetes API', kubernetesReport(agent)],
        ['Created', agent.created_at],
        ['Labels', formatList(labels.map((l) => l.label))],
        ['Annotations', formatList(Object.fromEntries(annotations.map((a) => [a.key, a.value])))],
        ['Targets', formatList(targets.map((t) => stackName.get(t.stack_id) ?? t.stack_id))],
      ]);
      const body = stacks.length
        ? formatTable(['ID', 'NAME', 'STATE', 'HEALTH'], stacks.map((s) => [s.id, s.name, s.deleted_at ? 'deleted' : 'live', formatHealth(healthOf.get(s.id))]))
        : '(none: give it a label or annotation a stack has, or a target)\n';
      return `${head}\nAssociated stacks\n${body}`;
    });
  },
};

const remove: CommandModule<AdminArgs, Args<{ agent: string }>> = {
  command: 'delete <agent>',
  describe: 'Delete an agent (soft delete: its PAK stops working at once)',
  builder: (y) => agentPositional(y),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const agent = await client.resolveAgent(args.agent);
    await client.deleteAgent(agent.id);
    emit(args.json, { id: agent.id, deleted: true }, () => `Deleted agent ${who(agent)}\n`);
  },
};

const label: CommandModule<AdminArgs, Args<{ agent: string; label: string; remove: boolean }>> = {
  command: 'label <agent> <label>',
  describe: 'Add a label to an agent (or remove it with --remove)',
  builder: (y) =>
    agentPositional(y)
      .positional('label', { type: 'string', demandOption: true })
      .option('remove', { type: 'boolean', default: false, describe: 'Remove the label instead' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const agent = await client.resolveAgent(args.agent);
    if (args.remove) {
      await client.removeLabel(agent.id, args.label);
      emit(args.json, { agent_id: agent.id, label: args.label, removed: true }, () => `Removed label ${args.label} from agent ${who(agent)}\n`);
    } else {
      const row = await client.addLabel(agent.id, args.label);
      emit(args.json, row, () => `Added label ${args.label} to agent ${who(agent)}\n`);
    }
  },
};

const annotate: CommandModule<AdminArgs, Args<{ agent: string; annotation: string; remove: boolean }>> = {
  command: 'annotate <agent> <annotation>',
  describe: 'Set an annotation key=value on an agent (or remove the key with --remove)',
  builder: (y) =>
    agentPositional(y)
      .positional('annotation', { type: 'string', demandOption: true, describe: 'key=value (just key with --remove)' })
      .option('remove', { type: 'boolean', default: false, describe: 'Remove the annotation instead' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    if (args.remove) {
      const key = args.annotation.split('=')[0];
      const agent = await client.resolveAgent(args.agent);
      await client.removeAnnotation(agent.id, key);
      emit(args.json, { agent_id: agent.id, key, removed: true }, () => `Removed annotation ${key} from agent ${who(agent)}\n`);
      return;
    }
    const [key, value] = parseKeyValue(args.annotation, 'annotation');
    const agent = await client.resolveAgent(args.agent);
    const row = await client.setAnnotation(agent.id, key, value);
    emit(args.json, row, () => `Set annotation ${key}=${value} on agent ${who(agent)}\n`);
  },
};

const target: CommandModule<AdminArgs, Args<{ agent: string; stack: string; remove: boolean }>> = {
  command: 'target <agent> <stack>',
  describe: 'Target a stack (id or name) at an agent explicitly (or remove the target with --remove)',
  builder: (y) =>
    agentPositional(y)
      .positional('stack', { type: 'string', demandOption: true, describe: 'Stack id or name' })
      .option('remove', { type: 'boolean', default: false, describe: 'Remove the target instead' }),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const [agent, stack] = await Promise.all([client.resolveAgent(args.agent), client.resolveStack(args.stack)]);
    if (args.remove) {
      await client.removeTarget(agent.id, stack.id);
      emit(args.json, { agent_id: agent.id, stack_id: stack.id, removed: true }, () => `Agent ${who(agent)} no longer targets stack ${stack.name}\n`);
    } else {
      const row = await client.addTarget(agent.id, stack.id);
      emit(args.json, row, () => `Agent ${who(agent)} now targets stack ${stack.name}\n`);
    }
  },
};

const rotatePak: CommandModule<AdminArgs, Args<{ agent: string }>> = {
  command: 'rotate-pak <agent>',
  describe: 'Give an agent a new PAK (the old one stops working at once); prints it once',
  builder: (y) => agentPositional(y),
  handler: async (args) => {
    const client = clientFromArgs(args);
    const agent = await client.resolveAgent(args.agent);
    const rotated = await client.rotatePak(agent.id);
    const { pak_hash: _hidden, ...shown } = rotated.agent;
    emit(args.json, { agent: shown, pak: rotated.pak }, () =>
      `New PAK for agent ${who(agent)}, shown only this once (the old one no longer works):\n  ${rotated.pak}\n`,
    );
  },
};

export const agentsCommand: CommandModule<object, AdminArgs> = {
  command: 'agents',
  describe: 'Manage agents (create, list, show, delete, label, annotate, target, rotate-pak)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(create)
      .command(list)
      .command(show)
      .command(remove)
      .command(label)
      .command(annotate)
      .command(target)
      .command(rotatePak)
      .demandCommand(1, 'Name an agents command: brokkr-sync agents --help lists them.'),
  handler: () => {},
};

function asArray(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function agentPositional<T>(y: Argv<T>) {
  return y.positional('agent', { type: 'string', demandOption: true, describe: 'Agent id or name' });
}

/** The agent's own last report on its Kubernetes API (brokkr's heartbeat report). */
function kubernetesReport(agent: AgentRecord): string {
  if (agent.k8s_reachable == null) return 'not reported';
  const latency = agent.k8s_api_latency_ms == null ? '' : `, ${agent.k8s_api_latency_ms} ms`;
  const when = agent.k8s_reported_at ? ` (reported ${formatAge(agent.k8s_reported_at)})` : '';
  return `${agent.k8s_reachable ? 'reachable' : 'UNREACHABLE'}${latency}${when}`;
}

function who(agent: AgentRecord): string {
  return `${agent.name} (${agent.id})`;
}

/** `key=value` → [key, value]; the value may contain `=`, the key may not be empty. */
export function parseKeyValue(text: string, what: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new CliError(`${what} ${JSON.stringify(text)} must be key=value`, 2);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** Quote a word for a POSIX shell only when it needs it, so the printed command pastes as is. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
