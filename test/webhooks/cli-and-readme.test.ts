/**
 * The real `serve` process with --webhook-allow-hosts, `brokkr-sync webhooks add|list|deliveries|test|remove`,
 * and the README's signature-verification snippets (Node and shell) run against a real delivery.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, requireBuild, ROOT, runCli, startCli } from '../e2e/cli-process.js';
import { openStore } from '../../src/store/open-store.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { tempDir } from '../http/http-fixture.js';
import { agentWithObject, ADMIN_PAK, api, onCleanup, report, stackRepo } from './daemon-world.js';
import { startReceiver, until } from './receiver.js';

beforeAll(() => requireBuild());
afterEach(() => killAll());

/** The pids of a process's children (Linux /proc: the fourth field of each process's stat is its parent). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      /* it ended meanwhile */
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The code block after `<!-- snippet: NAME -->` in the README. */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- snippet: ${name.replace('.', '\\.')} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!m) throw new Error(`README has no snippet ${name}`);
  return m[1]!;
}

describe('webhooks from the command line', () => {
  it('serve --webhook-allow-hosts lets a loopback receiver be subscribed; webhooks add/list/deliveries/test/remove; the README snippets verify a real delivery', async () => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    const repo = stackRepo();
    const dir = tempDir('brokkr-webhooks-cli-');
    const port = await freePort();
    const serve = startCli(['serve', '--repo', repo.path, '--db', join(dir, 'b.db'), '--port', String(port), '--webhook-allow-hosts', '127.0.0.1', '--offline-after', '60'], {
      env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
    });
    await serve.waitFor(/serving/, 'the daemon serving');
    const base = `http://127.0.0.1:${port}`;
    const env = { BROKKR_URL: base, BROKKR_PAK: ADMIN_PAK, HOOK_SECRET: 'readme-secret-0123' };

    const added = await runCli(['webhooks', 'add', 'oncall', rx.url('/ok'), '--event', 'deployment.failed,agent.offline', '--event', 'stack.*', '--secret-env', 'HOOK_SECRET'], { env });
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^Subscribed oncall \([0-9a-f-]{36}\) to deployment\.failed, agent\.offline, stack\.\*, signed\.\n$/);
    const typo = await runCli(['webhooks', 'add', 'typo', rx.url('/ok'), '--event', 'deploymnet.failed'], { env });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/unknown event type 'deploymnet.failed' \(did you mean 'deployment.failed'\?\)/);
    const listed = await runCli(['webhooks', 'list'], { env });
    expect(listed.stdout).toMatch(/oncall\s+http:\/\/127\.0\.0\.1:\d+\/ok\s+deployment\.failed,agent\.offline,stack\.\*\s+json\s+yes/);
    expect(listed.stdout + (await runCli(['webhooks', 'list', '--json'], { env })).stdout).not.toContain('readme-secret-0123');

    const agent = await agentWithObject(base);
    await report(base, agent, 'FAILURE', 'ImagePullBackOff');
    const got = await until(() => rx.to('/ok').find((r) => r.headers['x-brokkr-event'] === 'deployment.failed'), 'the delivery');
    const deliveries = await until(async () => {
      const r = await runCli(['webhooks', 'deliveries', 'oncall'], { env });
      return /deployment\.failed\s+success\s+1\s/.test(r.stdout) ? r.stdout : null;
    }, 'the delivery log');
    expect(deliveries).toContain(String(got.headers['x-brokkr-delivery-id']));

    // The README's Node snippet, as a user would paste it into a module.
    const work = tempDir('brokkr-snippet-');
    writeFileSync(join(work, 'verify.mjs'), readmeSnippet('verify-signature.mjs'));
    const { verifyBrokkrSignature } = (await import(pathToFileURL(join(work, 'verify.mjs')).href)) as { verifyBrokkrSignature: (s: string, b: Buffer, h: unknown) => boolean };
    expect(verifyBrokkrSignature('readme-secret-0123', got.body, got.headers['x-brokkr-signature-256'])).toBe(true);
    expect(verifyBrokkrSignature('wrong-secret', got.body, got.headers['x-brokkr-signature-256'])).toBe(false);
    expect(verifyBrokkrSignature('readme-secret-0123', Buffer.concat([got.body, Buffer.from(' ')]), got.headers['x-brokkr-signature-256'])).toBe(false);
    // The README's shell snippet, on the body saved to a file.
    writeFileSync(join(work, 'body.json'), got.body);
    writeFileSync(join(work, 'verify.sh'), readmeSnippet('verify-signature.sh'));
    const shell = (secret: string) => {
      const r = spawnSync('bash', ['verify.sh'], { cwd: work, env: { PATH: process.env.PATH, HOOK_SECRET: secret, SIGNATURE: String(got.headers['x-brokkr-signature-256']) }, encoding: 'utf8' });
      return { code: r.status, out: r.stdout + r.stderr };
    };
    expect(shell('readme-secret-0123')).toEqual({ code: 0, out: 'signature valid\n' });
    expect(shell('wrong-secret')).toEqual({ code: 1, out: 'signature INVALID\n' });

    const tested = await runCli(['webhooks', 'test', 'oncall'], { env });
    expect(tested.stdout).toBe('oncall: delivered (200): Test delivery successful\n');
    const removed = await runCli(['webhooks', 'remove', 'oncall'], { env });
    expect(removed.stdout).toBe('Removed webhook subscription oncall.\n');
    expect((await api(base, 'GET', '/webhooks')).body).toEqual([]);
    expect(serve.stdout() + serve.stderr()).not.toContain('readme-secret-0123');
    expect(await serve.stop()).toBe(0);
  });

  it('a daemon killed outright leaves no delivery process behind: the child records its send in flight and stops', async () => {
    const rx = await startReceiver();
    onCleanup(() => rx.close());
    const port = await freePort();
    const db = join(tempDir('brokkr-webhooks-kill-'), 'b.db');
    const serve = startCli(['serve', '--repo', stackRepo().path, '--db', db, '--port', String(port), '--webhook-allow-hosts', '127.0.0.1'], {
      env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
    });
    await serve.waitFor(/serving/, 'the daemon serving');
    const base = `http://127.0.0.1:${port}`;
    const sub = await api(base, 'POST', '/webhooks', { name: 'hang', url: rx.url('/hang'), event_types: ['deployment.*'], timeout_seconds: 60 });
    expect(sub.status).toBe(201);
    await until(async () => ((await api(base, 'GET', '/stacks')).body?.length ? true : null), 'the first sync');
    await report(base, await agentWithObject(base), 'SUCCESS', 'before the kill');
    await until(() => rx.to('/hang').length >= 1 || null, 'the receiver holding the delivery');
    const [child, ...more] = childrenOf(serve.child.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('delivery-process-entry'));
    expect(child).toBeDefined();
    expect(more).toEqual([]);

    serve.child.kill('SIGKILL');
    await serve.exited();
    // Long before the send's 60 s timeout: the child heard its daemon go (the IPC channel closed).
    await until(() => !alive(child!) || null, 'the delivery process to exit after its daemon was killed', 15_000);
    const store = await openStore(db);
    onCleanup(() => store.close());
    const [delivery] = await webhooksOf(store).listDeliveries(sub.body.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, last_error: 'the daemon shut down during the attempt', acquired_by: null });
  });
});
