/** A daemon over a one-stack repository with one agent holding the stack, and the calls webhook tests make. */
import { join } from 'node:path';
import pino from 'pino';
import { afterEach } from 'vitest';
import { startDaemon, type Daemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { makeRepoSync, type TestRepo } from '../helpers/git-repo.js';
import { tempDir } from '../http/http-fixture.js';

export const ADMIN_PAK = 'brk_webhooks-admin-pak-0123456789abcdef0123';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
export const onCleanup = (fn: () => unknown) => cleanups.push(fn);

export function stackRepo(): TestRepo {
  const repo = makeRepoSync();
  cleanups.push(() => repo.cleanup());
  repo.writeAll({ 'web/stack.yaml': 'labels: [prod]\n', 'web/app.yaml': 'kind: ConfigMap\nmetadata: {name: web}\n' });
  repo.commit('first');
  return repo;
}

/** Short retries for tests (the defaults retry for an hour). */
export const FAST_RETRY = { baseMs: 100, maxMs: 200, retryForMs: 1_500 };

export async function daemon(repo: TestRepo, opts: Partial<DaemonOptions> & { db?: string } = {}): Promise<Daemon> {
  const dir = tempDir('brokkr-webhooks-');
  const d = await startDaemon({
    repo: repo.path,
    db: join(dir, 'brokkr.db'),
    dataDir: join(dir, 'data'),
    port: 0,
    env: { BROKKR_ADMIN_PAK: ADMIN_PAK },
    logger: pino({ level: 'silent' }),
    dashboard: false,
    rateLimit: false,
    ...opts,
    webhooks: { allowHosts: ['127.0.0.1'], retry: FAST_RETRY, pollMs: 100, ...opts.webhooks },
  });
  let closed = false;
  const close = d.close;
  d.close = async () => {
    if (!closed) await close();
    closed = true;
  };
  cleanups.push(() => d.close());
  await d.firstSync;
  return d;
}

export async function api(base: string, method: string, path: string, body?: unknown, pak = ADMIN_PAK): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${pak}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * Wait until the daemon's delivery process runs and claims (it starts with the first subscription):
 * a test whose retries must fit FAST_RETRY's 1.5 s window from the event creates the event after
 * this, so a process slow to start on a loaded machine does not use up the window.
 */
export async function processReady(d: Daemon): Promise<void> {
  const end = Date.now() + 20_000;
  while (!d.webhooks.ready) {
    if (Date.now() > end) throw new Error('timed out waiting for the webhook delivery process to run');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An agent labelled prod (so it holds `web`) and the id of the object it should apply. */
export async function agentWithObject(base: string, name = 'edge'): Promise<{ id: string; pak: string; objectId: string }> {
  const created = await api(base, 'POST', '/agents', { name, cluster_name: 'eu' });
  if (created.status !== 201) throw new Error(`agent: ${JSON.stringify(created.body)}`);
  const { agent, initial_pak: pak } = created.body;
  await api(base, 'POST', `/agents/${agent.id}/labels`, { label: 'prod' });
  const state = await api(base, 'GET', `/agents/${agent.id}/target-state`, undefined, pak);
  return { id: agent.id, pak, objectId: state.body[0].id };
}

export async function report(base: string, agent: { id: string; pak: string; objectId: string }, status: 'SUCCESS' | 'FAILURE', message = 'done'): Promise<string> {
  const r = await api(base, 'POST', `/agents/${agent.id}/events`, { deployment_object_id: agent.objectId, event_type: 'DEPLOY', status, message }, agent.pak);
  if (r.status !== 201) throw new Error(`event: ${JSON.stringify(r.body)}`);
  return r.body.id;
}
