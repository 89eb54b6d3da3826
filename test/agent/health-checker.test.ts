/** `--health`: exit codes map to brokkr's statuses, the first line of output is the summary, a hung command is killed and unknown. */
import { describe, expect, it } from 'vitest';
import { healthOfExit, summaryOf } from '../../src/agent/health-checker.js';
import { runCommand } from '../../src/agent/run-command.js';

const run = (command: string, timeoutMs = 5_000) => runCommand({ command, stdin: 'kind: ConfigMap\n', env: { BROKKR_STACK_NAME: 'web' }, timeoutMs });

describe('health command outcomes', () => {
  it.each([
    ['exit 0', 'healthy'],
    ['exit 1', 'degraded'],
    ['exit 2', 'failing'],
    ['exit 3', 'unknown'],
    ['kill -9 $$', 'unknown'],
  ])('%s is %s', async (command, status) => {
    expect(healthOfExit(await run(command))).toBe(status);
  });

  it('the summary is the first non-empty line of stdout (else stderr), with the content on stdin and BROKKR_* set', async () => {
    const r = await run('n=$(wc -l); printf "\\n%s lines in %s\\nsecond line\\n" "$n" "$BROKKR_STACK_NAME"; exit 1');
    expect(summaryOf('cmd', r)).toBe('1 lines in web');
    expect(summaryOf('cmd', await run('echo "only on stderr" >&2; exit 2'))).toBe('only on stderr');
  });

  it('a command past the timeout is killed: unknown, and the summary says so', async () => {
    const r = await run('sleep 5', 200);
    expect(healthOfExit(r)).toBe('unknown');
    expect(summaryOf('sleep 5', r)).toBe('`sleep 5` timed out and was killed');
  });
});
