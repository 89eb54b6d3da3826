/** `brokkr-sync paks create|list|revoke`: named operator PAKs (admin or readonly), through the daemon's admin API. */
import type { Argv, CommandModule } from 'yargs';
import type { Operator } from '../../store/operators.js';
import { adminOptions, clientFromArgs, type AdminArgs } from '../admin-client.js';
import { emit, formatAge, formatTable } from '../format-table.js';

type Args<T = object> = AdminArgs & T;

const create: CommandModule<AdminArgs, Args<{ name: string; role: string }>> = {
  command: 'create <name>',
  describe: 'Create a named operator PAK; the PAK is printed this once',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Operator name: who the audit log says made a change' })
      .option('role', { type: 'string', choices: ['admin', 'readonly'], default: 'admin', describe: 'admin: read and write; readonly: read everything, write nothing' })
      .example('$0 paks create alice --role admin', '')
      .example('$0 paks create grafana --role readonly', '') as unknown as Argv<Args<{ name: string; role: string }>>,
  handler: async (args) => {
    const r = await clientFromArgs(args).request<{ operator: Operator; pak: string }>('POST', '/paks', { name: args.name, role: args.role });
    emit(
      args.json,
      r,
      () =>
        `Created operator ${r.operator.name} (${r.operator.role}).\n` +
        `PAK (shown once; only its hash is stored — keep it in a secret store):\n${r.pak}\n`,
    );
  },
};

const list: CommandModule<AdminArgs, Args> = {
  command: 'list',
  describe: 'List operators: name, role, created, last used (never a PAK)',
  handler: async (args) => {
    const operators = await clientFromArgs(args).request<Operator[]>('GET', '/paks');
    emit(args.json, operators, () =>
      formatTable(
        ['NAME', 'ROLE', 'CREATED', 'LAST USED'],
        operators.map((o) => [o.name, o.role, formatAge(o.created_at), formatAge(o.last_used_at)]),
      ),
    );
  },
};

const revoke: CommandModule<AdminArgs, Args<{ name: string }>> = {
  command: 'revoke <name>',
  describe: 'Revoke an operator’s PAK: it stops working at once, on every replica (the last admin cannot be revoked)',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }) as unknown as Argv<Args<{ name: string }>>,
  handler: async (args) => {
    await clientFromArgs(args).request('DELETE', `/paks/${encodeURIComponent(args.name)}`);
    emit(args.json, { revoked: args.name }, () => `Revoked operator ${args.name}: its PAK no longer works.\n`);
  },
};

export const paksCommand: CommandModule<object, AdminArgs> = {
  command: 'paks',
  describe: 'Operators: named admin and readonly PAKs (the audit log names who changed what)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(create)
      .command(list)
      .command(revoke)
      .demandCommand(1, 'Name a paks command: brokkr-sync paks --help lists them.'),
  handler: () => {},
};
