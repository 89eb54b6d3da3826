/**
 * `brokkr-sync wait [SHA]`: block a CI job until a commit is applied (and healthy) everywhere it
 * goes. Exit 0 done, 1 on the first failure (agent, stack, message), 2 on timeout.
 *
 * It never busy-polls: between two reads of `GET /commits/{sha}` it parks on the change feed
 * (`GET /changes?since=N&wait=S`), which answers as soon as anything is written — an event, a
 * health report, a synced commit — so the answer comes within a round trip of the change.
 */
import { execFileSync } from 'node:child_process';
import type { Argv, CommandModule } from 'yargs';
import type { AgentDelivery, CommitStatus } from '../../http/commit-status.js';
import { adminOptions, clientFromArgs, HttpError, type AdminArgs, type AdminClient } from '../admin-client.js';
import { CliError } from '../errors.js';
import { shortSha, plural } from '../format-table.js';

type WaitArgs = AdminArgs & { sha?: string; timeout: string; healthy: boolean };

/** `10m`, `90s`, `1h`, `1h30m` or plain seconds → milliseconds. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) throw new CliError(`--timeout ${text}: expected a duration like 90s, 10m or 1h`, 2);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

function headOfWorkingDirectory(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    throw new CliError('no SHA given and the current directory is not a git checkout with a commit: pass the commit to wait for', 2);
  }
}

const every = (s: CommitStatus) => s.stacks.flatMap((st) => st.agents.map((a) => ({ stack: st.stack_name, a })));

function where(x: { stack: string; a: AgentDelivery }): string {
  return `agent ${x.a.agent_name} (cluster ${x.a.cluster_name}), stack ${x.stack}`;
}

/** One line of progress: counts, and what is still awaited. */
function progress(s: CommitStatus, healthy: boolean, elapsedMs: number): string {
  const all = every(s);
  const unhealthy = healthy ? all.filter((x) => x.a.state === 'applied' && x.a.health?.status !== 'healthy').length : 0;
  const parts = [`${s.counts.applied}/${all.length} applied`];
  if (s.counts.pending) parts.push(`${s.counts.pending} pending`);
  if (unhealthy) parts.push(`${unhealthy} not healthy yet`);
  return `waiting for ${shortSha(s.sha)} ${s.subject ?? ''}: ${parts.join(', ')} (${Math.round(elapsedMs / 1000)}s)`;
}

const wait: CommandModule<object, WaitArgs> = {
  command: 'wait [sha]',
  describe: 'Wait until a commit is applied by every agent it goes to (exit 0), fails somewhere (1) or the timeout passes (2)',
  builder: (y) =>
    (y.options(adminOptions) as unknown as Argv<WaitArgs>)
      .positional('sha', { type: 'string', describe: 'The commit (full sha or ≥ 7 hex digits); default: git rev-parse HEAD here' })
      .option('timeout', { type: 'string', default: '10m', describe: 'Give up (exit 2) after this long: 90s, 10m, 1h' })
      .option('healthy', { type: 'boolean', default: false, describe: 'Also wait until every agent reports the applied objects healthy (a failing report fails)' })
      .example('$0 wait --timeout 15m --healthy', 'in CI, after the push: wait for this checkout’s HEAD') as Argv<WaitArgs>,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const timeoutMs = parseDuration(args.timeout);
    const sha = (args.sha ?? headOfWorkingDirectory()).toLowerCase();
    if (!/^[0-9a-f]{7,40}$/.test(sha)) throw new CliError(`${sha} is not a commit sha (7 to 40 hex digits)`, 2);
    const tty = process.stderr.isTTY === true && !args.json;
    const started = Date.now();
    const result = await waitFor(client, sha, args.healthy, started + timeoutMs, (s) => {
      if (tty) process.stderr.write(`\r\x1b[2K${progress(s, args.healthy, Date.now() - started)}`);
    });
    if (tty) process.stderr.write('\r\x1b[2K');
    if (args.json && result.status) process.stdout.write(`${JSON.stringify(result.status, null, 2)}\n`);
    finish(result, sha, args, timeoutMs);
  },
};

type WaitResult = { outcome: 'done' | 'failed' | 'timeout'; status: CommitStatus | null; lastError: string | null };

/** Read, and until the answer is final park on the change feed; a 404 (not synced yet) or a lost daemon is waited out too. */
async function waitFor(client: AdminClient, sha: string, healthy: boolean, deadline: number, onProgress: (s: CommitStatus) => void): Promise<WaitResult> {
  let status: CommitStatus | null = null;
  let lastError: string | null = null;
  for (;;) {
    let version: number | null = null;
    try {
      version = (await client.request<{ version: number }>('GET', '/changes')).version;
      status = await client.request<CommitStatus>('GET', `/commits/${sha}${healthy ? '?healthy=true' : ''}`);
      lastError = null;
      if (status.state === 'failed') return { outcome: 'failed', status, lastError };
      if (status.state === (healthy ? 'healthy' : 'applied')) return { outcome: 'done', status, lastError };
      onProgress(status);
    } catch (err) {
      if (err instanceof HttpError && err.status !== 404 && err.status < 500) throw err; // a wrong PAK or sha will not get better
      lastError = (err as Error).message;
    }
    const left = deadline - Date.now();
    if (left <= 0) return { outcome: 'timeout', status, lastError };
    const seconds = Math.max(1, Math.min(25, Math.floor(left / 1000)));
    try {
      if (version === null) throw new Error('no version');
      await client.request('GET', `/changes?since=${version}&wait=${seconds}`);
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, left))));
    }
  }
}

function finish(result: WaitResult, sha: string, args: WaitArgs, timeoutMs: number): void {
  const { status } = result;
  const say = (line: string) => {
    if (!args.json) process.stdout.write(`${line}\n`);
  };
  if (result.outcome === 'done' && status) {
    const agents = new Set(every(status).map((x) => x.a.agent_id)).size;
    say(`${shortSha(status.sha)} ${status.state === 'healthy' ? 'applied and healthy' : 'applied'}: ${plural(status.stacks.length, 'stack')} on ${plural(agents, 'agent')}`);
    return;
  }
  if (result.outcome === 'failed' && status) {
    const failed = every(status).filter((x) => x.a.state === 'failed');
    for (const x of failed) say(`FAILED  ${where(x)}: ${x.a.message ?? 'no message'}`);
    const halted = status.stacks.filter((st) => st.halt_reason);
    for (const st of halted) say(`HALTED  stack ${st.stack_name}: rollout halted, ${st.halt_reason}`);
    const first = failed[0];
    const why = first ? `${where(first)}: ${first.a.message ?? 'no message'}` : halted[0] ? `stack ${halted[0].stack_name}: rollout halted, ${halted[0].halt_reason}` : 'see above';
    throw new CliError(`${shortSha(status.sha)} failed: ${why}`, 1);
  }
  const seconds = Math.round(timeoutMs / 1000);
  if (!status) throw new CliError(`timed out after ${seconds}s waiting for ${shortSha(sha)}: ${result.lastError ?? 'no answer'}`, 2);
  const waiting = every(status).filter((x) => x.a.state !== 'applied' || (args.healthy && x.a.health?.status !== 'healthy'));
  for (const x of waiting) say(`WAITING ${where(x)}: ${x.a.state === 'applied' ? `health ${x.a.health?.status ?? 'not reported'}` : x.a.released ? 'not applied yet' : notReleased(x.a)}`);
  throw new CliError(`timed out after ${seconds}s waiting for ${shortSha(status.sha)}: ${waiting.length} of ${every(status).length} not done`, 2);
}

/** Why an agent does not have the object yet: its wave, or the dependencies (dependsOn) it waits on there. */
function notReleased(a: AgentDelivery): string {
  const deps = a.waiting_on ?? []; // absent from an older daemon's answer
  return deps.length > 0 ? `not released yet, waiting for ${deps.join(', ')} to pass the gate on it` : 'not released yet';
}

export const waitCommand = wait;
