/** `brokkr-sync agent`: the reference pull agent (SPEC §7) — writes each stack to OUT or pipes it to a command. */
import type { CommandModule } from 'yargs';
import { CliError } from '../errors.js';

interface AgentArgs {
  url: string;
  pak: string;
  out: string;
  apply?: string;
  delete?: string;
  interval: number;
  heartbeat: number;
  'drift-interval': number;
  'command-timeout': number;
  health?: string;
  'health-interval': number;
  once: boolean;
  'json-logs': boolean;
}

export const agentCommand: CommandModule<object, AgentArgs> = {
  command: 'agent',
  describe: 'Run a pull agent: long-poll the daemon and write each stack to OUT/<stack>.yaml (or pipe it to --apply)',
  builder: (y) =>
    y
      .option('url', { type: 'string', demandOption: true, describe: 'Base URL of the daemon, e.g. http://127.0.0.1:3000 (env BROKKR_URL)' })
      .option('pak', { type: 'string', demandOption: true, describe: "The agent's PAK, printed by `agents create` (env BROKKR_PAK)" })
      .option('out', { type: 'string', demandOption: true, describe: 'Directory for the stack files and the agent state (env BROKKR_OUT)' })
      .option('apply', { type: 'string', describe: 'Instead of writing files, run this shell command with the content on stdin, e.g. "kubectl apply -f -"' })
      .option('delete', { type: 'string', describe: 'On a deleted stack, run this shell command with the last applied content on stdin, e.g. "kubectl delete -f -"' })
      .option('interval', { type: 'number', default: 30, describe: 'Longest the daemon holds a long poll open, in seconds (1..60)' })
      .option('heartbeat', { type: 'number', default: 30, describe: 'Seconds between heartbeats (0 = only at start)' })
      .option('drift-interval', { type: 'number', default: 10, describe: 'Seconds between checks that written files were not edited or deleted by hand (0 = only after each change)' })
      .option('command-timeout', { type: 'number', default: 300, describe: 'Seconds an --apply/--delete command may run before it is killed' })
      .option('health', { type: 'string', describe: 'Every --health-interval, run this shell command per applied stack (content on stdin): exit 0 healthy, 1 degraded, 2 failing, other unknown; its first output line is the summary' })
      .option('health-interval', { type: 'number', default: 30, describe: 'Seconds between --health rounds' })
      .option('once', { type: 'boolean', default: false, describe: 'One reconcile pass, then exit (1 if anything failed) — for cron and tests' })
      .option('json-logs', { type: 'boolean', default: false, describe: 'Log JSON lines instead of text' })
      .example('$0 agent --url http://127.0.0.1:3000 --pak $AGENT_PAK --out ./deployed', 'write every stack of this agent to ./deployed')
      .example('$0 agent --url ... --pak ... --out /var/lib/brokkr --apply "kubectl apply -f -" --delete "kubectl delete -f -"', 'apply to a cluster')
      .check((a) => {
        const bad = (flag: string, why: string) => {
          throw new CliError(`--${flag} ${why}`, 2);
        };
        if (!Number.isFinite(a.interval) || a.interval < 1 || a.interval > 60) bad('interval', `must be between 1 and 60 seconds, got ${a.interval}`);
        for (const flag of ['heartbeat', 'drift-interval'] as const) {
          if (!Number.isFinite(a[flag]) || a[flag] < 0) bad(flag, `must be a number of seconds ≥ 0, got ${a[flag]}`);
        }
        if (!Number.isFinite(a['command-timeout']) || a['command-timeout'] <= 0) bad('command-timeout', `must be a positive number of seconds, got ${a['command-timeout']}`);
        if (!Number.isFinite(a['health-interval']) || a['health-interval'] < 1) bad('health-interval', `must be a number of seconds ≥ 1, got ${a['health-interval']}`);
        if (!a.pak.trim()) bad('pak', 'is empty');
        if (!a.out.trim()) bad('out', 'is empty');
        return true;
      }),
  handler: async (a) => {
    // The agent's modules load when it runs, not with every command of the CLI.
    const [{ createLogger }, { runAgent }] = await Promise.all([import('../../agent/logger.js'), import('../../agent/run-agent.js')]);
    const logger = createLogger({ json: a['json-logs'] });
    const stop = new AbortController();
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        logger.info(`${sig}: finishing the current apply, then exiting (send it again to exit now)`);
        stop.abort();
      } else {
        process.exit(sig === 'SIGINT' ? 130 : 143);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      const exit = await runAgent({
        url: a.url,
        pak: a.pak.trim(),
        outDir: a.out,
        applyCommand: a.apply || undefined,
        deleteCommand: a.delete || undefined,
        waitSeconds: a.interval,
        heartbeatSeconds: a.heartbeat,
        driftSeconds: a['drift-interval'],
        commandTimeoutSeconds: a['command-timeout'],
        healthCommand: a.health || undefined,
        healthSeconds: a['health-interval'],
        once: a.once,
        logger,
        signal: stop.signal,
      });
      if (exit.code !== 0) throw new CliError(exit.message, 1);
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
};
