#!/usr/bin/env node
/** The `brokkr-sync` command line: a thin yargs shell over the git → sync → store → http → agent layers. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands/index.js';
import { CliError, reportError } from './errors.js';
import { loadConfigFile } from './config.js';
import { VERSION } from '../version.js';

export async function main(argv: string[]): Promise<void> {
  let cli = yargs(argv)
    .scriptName('brokkr-sync')
    .usage('$0 <command> [options]\n\nGitOps for brokkr agents: every commit becomes immutable deployment objects.')
    .env('BROKKR')
    .config('config', 'Read options from a YAML (or JSON) file', loadConfigFile)
    // Documented BROKKR_* variables that are no command's flag: declared so that .env() + strict
    // mode do not reject them as "Unknown argument" when they are set (read from process.env).
    .option('admin-pak', { type: 'string', hidden: true })
    .option('debug', { type: 'boolean', hidden: true })
    .version(VERSION)
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'Name a command: brokkr-sync --help lists them.')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new CliError(`${msg}\nRun with --help for usage.`, 2);
    });
  for (const command of commands) cli = cli.command(command);
  try {
    await cli.parseAsync();
  } catch (err) {
    process.exitCode = reportError(err);
  }
}

void main(hideBin(process.argv)).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
