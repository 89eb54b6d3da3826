/** `brokkr-sync objects list STACK`: a stack's deployment objects, newest first, with their commits. */
import type { Argv, CommandModule } from 'yargs';
import { adminOptions, clientFromArgs, type AdminArgs } from '../admin-client.js';
import { CliError } from '../errors.js';
import { emit } from '../format-table.js';
import { objectsTable } from './stacks.js';

type ListArgs = AdminArgs & { stack: string; limit: number };

const list: CommandModule<AdminArgs, ListArgs> = {
  command: 'list <stack>',
  describe: "List a stack's deployment objects (stack id or name), newest first",
  builder: (y) =>
    y
      .positional('stack', { type: 'string', demandOption: true, describe: 'Stack id or name' })
      .option('limit', { type: 'number', default: 50, describe: 'Show at most N objects (0 = all)' })
      .example('$0 objects list payments-api --limit 10', '') as Argv<ListArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.limit) || args.limit < 0) throw new CliError(`--limit must be a whole number (0 = all), got ${args.limit}`, 2);
    const client = clientFromArgs(args);
    const stack = await client.resolveStack(args.stack);
    const all = await client.listObjects(stack.id);
    const objects = args.limit > 0 ? all.slice(0, args.limit) : all;
    emit(args.json, objects, () => {
      if (objects.length === 0) return `Stack ${stack.name} has no deployment objects.\n`;
      const more = objects.length < all.length ? `\n${all.length - objects.length} older not shown (--limit 0 shows all).\n` : '';
      return objectsTable(objects) + more;
    });
  },
};

export const objectsCommand: CommandModule<object, AdminArgs> = {
  command: 'objects',
  describe: 'Inspect deployment objects (list)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<AdminArgs>)
      .command(list)
      .demandCommand(1, 'Name an objects command: brokkr-sync objects --help lists them.'),
  handler: () => {},
};
