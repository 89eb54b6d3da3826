#!/usr/bin/env node
/** The `brokkr-sync` command line: a thin yargs shell over the git → sync → store → http → agent layers. */
import yargs from 'yargs';
import type { MiddlewareFunction } from 'yargs';
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
    // yargs passes its instance as the second argument; @types/yargs 17 leaves it out.
    .middleware(dropUndeclaredEnv as unknown as MiddlewareFunction, true)
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

/**
 * `.env('BROKKR')` turns every BROKKR_* variable into an option of every command, and strict
 * mode then rejects those a command does not declare: with BROKKR_URL and BROKKR_PAK exported
 * for the admin commands, `lint` would fail with "Unknown arguments: url, pak". Before
 * validation, drop the env-derived keys the running command does not know; flags typed on the
 * command line are untouched, so a real typo is still an error.
 */
function dropUndeclaredEnv(argv: Record<string, unknown>, y: { getOptions(): { key: Record<string, unknown> } }): void {
  const known = y.getOptions().key;
  for (const name of Object.keys(process.env)) {
    if (!name.startsWith('BROKKR_')) continue;
    const kebab = name.slice('BROKKR_'.length).toLowerCase().replace(/_/g, '-');
    const camel = kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (kebab in known || camel in known) continue;
    if (process.argv.some((arg) => arg === `--${kebab}` || arg.startsWith(`--${kebab}=`))) continue;
    delete argv[kebab];
    delete argv[camel];
  }
}

void main(hideBin(process.argv)).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
