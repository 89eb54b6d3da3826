/** `brokkr-sync rollout status|promote|pause|resume STACK` and `brokkr-sync rollback STACK --to SEQ` (SPEC §10). */
import type { Argv, CommandModule } from 'yargs';
import type { RolloutStatus } from '../../store/rollout-records.js';
import { adminOptions, clientFromArgs, type AdminArgs } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit, formatList, formatTable } from '../format-table.js';

type StackArgs = AdminArgs & { stack: string };

const seq = (o: { sequence_id: number } | null): string => (o ? String(o.sequence_id) : '-');

/** The human view of a rollout: one line of state, then a row per wave and agent. */
export function formatRollout(r: RolloutStatus): string {
  const state = r.halted ? `HALTED — ${r.halt_reason}` : r.paused ? 'paused (rollout resume releases the newest object)' : 'running';
  const lines = [
    `Stack      ${r.stack_name}`,
    `Target     sequence ${seq(r.target)}${r.rollback ? ` (rollback by ${r.rollback.actor} to ${r.rollback.source_sequence_id}, replacing ${r.rollback.replaced_sequence_id ?? '-'})` : ''}`,
    `Gate       ${r.gate}${r.depends_on.length ? `   dependsOn ${r.depends_on.join(', ')}` : ''}`,
    `State      ${state}`,
    '',
  ];
  const rows: string[][] = [];
  for (const w of r.waves) {
    const selector = w.implicit ? '(every other agent)' : formatList([...w.labels, ...Object.entries(w.annotations).map(([k, v]) => `${k}=${v}`)]);
    if (w.agents.length === 0) rows.push([String(w.index), selector, seq(w.released), '-', '-', '']);
    for (const a of w.agents) rows.push([String(w.index), selector, seq(w.released), a.name, a.gate, a.message ?? '']);
  }
  return `${lines.join('\n')}\n${formatTable(['WAVE', 'SELECTOR', 'RELEASED', 'AGENT', 'GATE', 'MESSAGE'], rows)}`;
}

const stackPositional = (y: Argv<AdminArgs>) => y.positional('stack', { type: 'string', demandOption: true, describe: 'Stack id or name' }) as Argv<StackArgs>;

const status: CommandModule<AdminArgs, StackArgs> = {
  command: 'status <stack>',
  describe: 'Waves, their agents and released objects, gate state and halt reason',
  builder: stackPositional,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const stack = await client.resolveStack(args.stack);
    const r = await client.request<RolloutStatus>('GET', `/stacks/${stack.id}/rollout`);
    emit(args.json, r, () => formatRollout(r));
    if (r.halted) process.exitCode = 1;
  },
};

function action(name: 'promote' | 'pause' | 'resume', describe: string): CommandModule<AdminArgs, StackArgs> {
  return {
    command: `${name} <stack>`,
    describe,
    builder: stackPositional,
    handler: async (args) => {
      const client = clientFromArgs(args);
      const stack = await client.resolveStack(args.stack);
      const r = await client.request<RolloutStatus>('POST', `/stacks/${stack.id}/rollout/${name}`, {});
      emit(args.json, r, () => formatRollout(r));
    },
  };
}

export const rolloutCommand: CommandModule<object, AdminArgs> = {
  command: 'rollout',
  describe: 'Progressive delivery of a stack (status, promote, pause, resume)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(status)
      .command(action('promote', 'Release the next wave now (also lifts a halt)'))
      .command(action('pause', 'Release nothing new until resume'))
      .command(action('resume', 'Lift a pause or halt; the newest object starts again at wave 1'))
      .demandCommand(1, 'Name a rollout command: brokkr-sync rollout --help lists them.'),
  handler: () => {},
};

type RollbackArgs = StackArgs & { to: number };

export const rollbackCommand: CommandModule<object, RollbackArgs> = {
  command: 'rollback <stack>',
  describe: 'Deploy the content of an earlier object of the stack to every wave at once, and pause the stack',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .positional('stack', { type: 'string', demandOption: true, describe: 'Stack id or name' })
      .option('to', { type: 'number', demandOption: true, describe: 'Sequence id of the object to go back to' }) as Argv<RollbackArgs>,
  handler: async (args) => {
    if (!Number.isSafeInteger(args.to) || args.to < 1) throw new CliError('--to must be a sequence id (a whole number from 1)', 2);
    const client = clientFromArgs(args);
    const stack = await client.resolveStack(args.stack);
    const r = await client.request<{ object: { id: string; sequence_id: number }; rollout: RolloutStatus }>('POST', `/stacks/${stack.id}/rollback`, { to_sequence: args.to });
    emit(args.json, r, () =>
      `Rolled ${stack.name} back to the content of sequence ${args.to}: new object ${r.object.sequence_id}, released to every wave.\n` +
      `The stack is paused: later commits are recorded but not released until 'brokkr-sync rollout resume ${stack.name}'.\n`,
    );
  },
};
