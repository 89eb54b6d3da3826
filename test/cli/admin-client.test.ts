import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/cli/admin-client.js';
import { ADMIN_PAK, agentRecord, startFakeDaemon, type FakeDaemon } from './admin-fake-daemon.js';
import { runCli } from './admin-run-cli.js';

let daemon: FakeDaemon;
beforeEach(async () => {
  daemon = await startFakeDaemon();
});
afterEach(async () => {
  await daemon.close();
});

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('how the daemon is found and authenticated', () => {
  it('takes the URL and PAK from BROKKR_URL and BROKKR_PAK', async () => {
    const r = await runCli(['agents', 'list'], { BROKKR_URL: daemon.url, BROKKR_PAK: ADMIN_PAK });
    expect(r.code).toBe(0);
    expect(daemon.seen[0]).toMatchObject({ method: 'GET', path: '/agents', authorization: `Bearer ${ADMIN_PAK}` });
  });

  it('accepts the daemon\'s own BROKKR_ADMIN_PAK when no --pak is given', async () => {
    const r = await runCli(['agents', 'list', '--url', daemon.url], { BROKKR_ADMIN_PAK: ADMIN_PAK });
    expect(r).toMatchObject({ code: 0, stderr: '' });
  });

  it('accepts a base URL with a trailing slash or the /api/v1 prefix', async () => {
    for (const url of [`${daemon.url}/`, `${daemon.url}/api/v1`, `${daemon.url}/api/v1/`]) {
      expect((await runCli(['agents', 'list', '--url', url, '--pak', ADMIN_PAK])).code).toBe(0);
    }
    expect(daemon.seen.map((s) => s.path)).toEqual(['/agents', '/agents', '/agents']);
  });

  it('without a PAK names both --pak and BROKKR_PAK and exits 2 without calling the daemon', async () => {
    const r = await runCli(['status', '--url', daemon.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no admin PAK: pass --pak PAK or set BROKKR_PAK .*\n$/);
    expect(daemon.seen).toHaveLength(0);
  });

  it('refuses a URL that is not http(s)', async () => {
    expect(await runCli(['status', '--url', 'localhost:3000', '--pak', 'x'])).toMatchObject({ code: 2, stderr: 'error: --url localhost:3000 must start with http:// or https://\n' });
    expect(await runCli(['status', '--url', 'not a url', '--pak', 'x'])).toMatchObject({ code: 2, stderr: 'error: --url not a url is not a URL (expected e.g. http://127.0.0.1:3000)\n' });
  });
});

describe('errors are one line and exit 1', () => {
  it('shows a server error as status, code and message', async () => {
    const r = await runCli(['agents', 'show', '00000000-0000-4000-8000-000000001234', '--url', daemon.url, '--pak', ADMIN_PAK]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: 404 not_found: agent 00000000-0000-4000-8000-000000001234 not found\n' });
  });

  it('hints at the PAK on 401 and at the admin role on 403', async () => {
    const r = await runCli(['agents', 'list', '--url', daemon.url, '--pak', 'wrong']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: 401 unauthorized: missing or unknown PAK (check --pak or BROKKR_PAK)\n' });
    daemon.override('GET', '/agents', { status: 403, body: { code: 'forbidden', message: 'admin role required' } });
    const f = await runCli(['agents', 'list', '--url', daemon.url, '--pak', ADMIN_PAK]);
    expect(f).toMatchObject({ code: 1, stderr: 'error: 403 forbidden: admin role required (admin commands need the admin PAK)\n' });
  });

  it('shows the first line of a non-JSON error page', async () => {
    daemon.override('GET', '/status', { status: 502, raw: '<h1>Bad Gateway</h1>\n<p>nginx</p>' });
    const r = await runCli(['status', '--url', daemon.url, '--pak', ADMIN_PAK]);
    expect(r).toMatchObject({ code: 1, stderr: 'error: 502 Bad Gateway: <h1>Bad Gateway</h1>\n' });
  });

  it('says when a success answer is not JSON (not a brokkr-sync daemon)', async () => {
    daemon.override('GET', '/agents', { status: 200, raw: '<html>hello</html>' });
    const r = await runCli(['agents', 'list', '--url', daemon.url, '--pak', ADMIN_PAK]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: unexpected answer from ${daemon.url}/api/v1/agents: 200 with a body that is not JSON (is ${daemon.url} a brokkr-sync daemon?)\n`);
  });

  it('says the daemon is not running when the connection is refused', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['agents', 'list', '--url', url, '--pak', ADMIN_PAK]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: cannot reach brokkr-sync at ${url}: is the daemon running? (brokkr-sync serve)\n` });
  });

  it('gives up on a daemon that never answers', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      await expect(new AdminClient(url, ADMIN_PAK, 200).status()).rejects.toThrow(`no answer from brokkr-sync at ${url} within 0.2s`);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('usage', () => {
  it('prints --help for every admin command and exits 0', async () => {
    const commands = [
      ['agents'], ['agents', 'create'], ['agents', 'list'], ['agents', 'show'], ['agents', 'delete'], ['agents', 'label'],
      ['agents', 'annotate'], ['agents', 'target'], ['agents', 'rotate-pak'], ['stacks'], ['stacks', 'list'], ['stacks', 'show'],
      ['objects'], ['objects', 'list'], ['events'], ['status'],
    ];
    for (const command of commands) {
      const r = await runCli([...command, '--help']);
      expect(r.code, command.join(' ')).toBe(0);
      expect(r.stdout, command.join(' ')).toContain(`brokkr-sync ${command.join(' ')}`);
      expect(r.stdout, command.join(' ')).toMatch(/--pak/);
    }
  });

  it('rejects unknown options, unknown subcommands and a missing subcommand with exit 2', async () => {
    expect((await runCli(['agents', 'list', '--bogus', '--pak', 'x'])).stderr).toMatch(/^error: Unknown argument: bogus\n/);
    expect((await runCli(['agents', 'frobnicate', '--pak', 'x'])).code).toBe(2);
    expect(await runCli(['stacks'])).toMatchObject({ code: 2, stderr: 'error: Name a stacks command: brokkr-sync stacks --help lists them.\nRun with --help for usage.\n' });
    expect((await runCli(['agents', 'label', 'edge-1', '--pak', 'x'])).code).toBe(2);
  });
});

describe('name resolution', () => {
  it('does not act on an agent the daemon returned for a different name', async () => {
    // A daemon that ignored ?name= would return every agent; the CLI must still pick by name.
    daemon.state.agents.push(agentRecord('edge-10', 'c'), agentRecord('edge-1', 'c'));
    daemon.override('GET', '/agents', { status: 200, body: daemon.state.agents });
    const r = await runCli(['agents', 'rotate-pak', 'edge-1', '--url', daemon.url, '--pak', ADMIN_PAK]);
    expect(r.code).toBe(0);
    expect(daemon.seen.at(-1)?.path).toBe(`/agents/${String(daemon.state.agents[1].id)}/rotate-pak`);
  });
});
