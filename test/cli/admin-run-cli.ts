/** Run admin commands in-process, parsed exactly as src/cli/main.ts parses them, capturing output and exit code. */
import yargs from 'yargs';
import { agentsCommand } from '../../src/cli/commands/agents.js';
import { eventsCommand } from '../../src/cli/commands/events.js';
import { objectsCommand } from '../../src/cli/commands/objects.js';
import { stacksCommand } from '../../src/cli/commands/stacks.js';
import { statusCommand } from '../../src/cli/commands/status.js';
import { webhooksCommand } from '../../src/cli/commands/webhooks.js';
import { CliError, reportError } from '../../src/cli/errors.js';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * main.ts runs itself on import, so this mirrors its yargs setup (env prefix, strict, exit 2 on
 * usage) around the admin command modules; `exitProcess(false)` keeps `--help` from exiting vitest.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  // Mutate process.env in place: yargs keeps a reference to the original object.
  const savedEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('BROKKR_')));
  for (const key of Object.keys(savedEnv)) delete process.env[key];
  Object.assign(process.env, env);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let code = 0;
  try {
    const cli = yargs()
      .scriptName('brokkr-sync')
      .env('BROKKR')
      .exitProcess(false)
      .strict()
      .demandCommand(1, 'Name a command: brokkr-sync --help lists them.')
      .fail((msg, e) => {
        if (e) throw e;
        throw new CliError(`${msg}\nRun with --help for usage.`, 2);
      })
      .command(agentsCommand)
      .command(stacksCommand)
      .command(objectsCommand)
      .command(eventsCommand)
      .command(statusCommand)
      .command(webhooksCommand);
    // With a parse callback yargs hands over --help text instead of console.logging it.
    await cli.parseAsync(args, {}, (_e, _argv, output) => {
      if (output) stdout += `${output}\n`;
    });
  } catch (e) {
    code = reportError(e);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
  return { stdout, stderr, code };
}
