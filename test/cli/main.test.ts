import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const example = new URL('../../stacks.example', import.meta.url).pathname;

function run(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('the command line shell', () => {
  it('prints its version and help', () => {
    const version = execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const help = run(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['serve', 'sync', 'lint', 'agent', 'db', 'agents', 'stacks', 'status']) {
      expect(help.stdout).toContain(command);
    }
  });

  it('exits 2 with one clear line for an unknown flag or command', () => {
    const flag = run(['lint', example, '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('Unknown argument: bogus');
    expect(flag.stderr).not.toMatch(/\n\s+at /);
    const command = run(['frobnicate']);
    expect(command.code).toBe(2);
  });

  it('ignores exported BROKKR_* variables that the running command does not take', () => {
    const res = run(['lint', example], {
      BROKKR_URL: 'http://127.0.0.1:9',
      BROKKR_PAK: 'not-used-by-lint',
      BROKKR_ADMIN_PAK: 'not-used-by-lint',
      BROKKR_DEBUG: '1',
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
