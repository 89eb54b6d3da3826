/** The delivery worker's own process: started again when it dies, gone when the daemon stops (or dies), its counts and log lines reach the daemon. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { webhooksOf } from '../../src/store/webhooks-of.js';
import { tempDir } from '../http/http-fixture.js';
import { agentWithObject, api, daemon, onCleanup, report, stackRepo, processReady } from './daemon-world.js';
import { startReceiver, until, type Receiver } from './receiver.js';

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  onCleanup(() => r.close());
  return r;
}

/** A logger whose lines the test can read (the daemon's own; the delivery process forwards to it). */
function capturingLogger(): { logger: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('the webhook delivery process', () => {
  it('a daemon without subscriptions runs no delivery process; the first subscription starts one', async () => {
    const rx = await receiver();
    const d = await daemon(stackRepo());
    const agent = await agentWithObject(d.url);
    await report(d.url, agent, 'SUCCESS', 'nobody listens');
    expect(d.webhooks.child).toBeNull();
    expect(d.webhooks.starts).toBe(0);

    expect((await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['deployment.*'] })).status).toBe(201);
    await until(() => d.webhooks.child, 'the process, once there is a subscription');
    await report(d.url, agent, 'SUCCESS', 'first one heard');
    await until(() => rx.to('/ok').length >= 1 || null, 'the delivery');
    expect(rx.to('/ok').map((r) => JSON.parse(r.body.toString()).data.message)).toEqual(['first one heard']);
    expect(d.webhooks.starts).toBe(1);
  });

  it('every thread of the delivery process runs at the lowest scheduling priority (nice 19); the daemon keeps its own', async () => {
    /** A task's nice value, as the kernel reports it (/proc/PID/task/TID/stat, field 19). */
    const niceOf = (pid: number, tid: number) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const daemonNice = niceOf(process.pid, process.pid);
    const rx = await receiver();
    const d = await daemon(stackRepo());
    expect((await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['deployment.*'] })).status).toBe(201);
    await processReady(d);
    const { pid, nice } = d.webhooks.scheduling!;
    expect(nice).toBe(19);
    expect(pid).not.toBe(process.pid);
    expect(pid).toBe(d.webhooks.child!.pid);
    // Its helper threads too (V8's garbage collector's among them): every one of them.
    const tasks = readdirSync(`/proc/${pid}/task`).map(Number);
    expect(tasks.length).toBeGreaterThan(1);
    expect(tasks.map((tid) => niceOf(pid, tid))).toEqual(tasks.map(() => 19));
    // The daemon (here the test's own process) keeps its priority, every thread of it.
    expect(readdirSync(`/proc/${process.pid}/task`).map((tid) => niceOf(process.pid, Number(tid))).filter((n) => n !== daemonNice)).toEqual([]);
    // Deliveries still go out at that priority.
    await report(d.url, await agentWithObject(d.url), 'SUCCESS', 'heard');
    await until(() => rx.to('/ok').length >= 1 || null, 'the delivery');
  });

  it('a delivery process that dies is logged and started again, and deliveries go on', async () => {
    const rx = await receiver();
    const { logger, lines } = capturingLogger();
    const d = await daemon(stackRepo(), { logger });
    expect((await api(d.url, 'POST', '/webhooks', { name: 'ok', url: rx.url('/ok'), event_types: ['deployment.*'] })).status).toBe(201);
    const agent = await agentWithObject(d.url);
    await report(d.url, agent, 'SUCCESS', 'before');
    await until(() => rx.to('/ok').length >= 1 || null, 'the first delivery');

    const first = d.webhooks.child!;
    const firstPid = first.pid;
    first.kill('SIGKILL');
    const second = await until(() => (d.webhooks.child && d.webhooks.child.pid !== firstPid ? d.webhooks.child : null), 'a new process');
    expect(second.pid).not.toBe(firstPid);
    expect(d.webhooks.starts).toBe(2);
    expect(lines.find((l) => l.level === 50 && l.msg === 'the webhook delivery process stopped unexpectedly; starting it again')).toMatchObject({ signal: 'SIGKILL' });

    await report(d.url, agent, 'FAILURE', 'after');
    await until(() => rx.to('/ok').length >= 2 || null, 'a delivery sent by the new process');
    expect(rx.to('/ok').map((r) => JSON.parse(r.body.toString()).data.message)).toEqual(['before', 'after']);
  });

  it('stopping the daemon ends its delivery process; a send in flight is aborted and recorded as failed, due again at once', async () => {
    const rx = await receiver();
    const db = join(tempDir('brokkr-webhooks-'), 'brokkr.db');
    const d = await daemon(stackRepo(), { db });
    const sub = await api(d.url, 'POST', '/webhooks', { name: 'hang', url: rx.url('/hang'), event_types: ['deployment.*'], timeout_seconds: 60 });
    expect(sub.status).toBe(201);
    await report(d.url, await agentWithObject(d.url), 'SUCCESS');
    await until(() => rx.to('/hang').length >= 1 || null, 'the receiver holding the delivery');

    const child = d.webhooks.child!;
    let exited = false;
    child.once('exit', () => (exited = true));
    const before = Date.now();
    await d.close();
    expect(exited).toBe(true);
    expect(d.webhooks.child).toBeNull();

    const store = await openStore(db);
    onCleanup(() => store.close());
    const [delivery] = await webhooksOf(store).listDeliveries(sub.body.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, last_error: 'the daemon shut down during the attempt', acquired_by: null });
    expect(Date.parse(delivery!.next_retry_at!)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(delivery!.next_retry_at!)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("attempts are counted by outcome on the daemon's /metrics, and the delivery process's log lines reach the daemon's logger", async () => {
    const rx = await receiver();
    const { logger, lines } = capturingLogger();
    const d = await daemon(stackRepo(), { logger });
    for (const path of ['/ok', '/500', '/404']) {
      expect((await api(d.url, 'POST', '/webhooks', { name: path.slice(1), url: rx.url(path), event_types: ['deployment.*'] })).status).toBe(201);
    }
    await processReady(d); // FAST_RETRY's window starts with the event
    await report(d.url, await agentWithObject(d.url), 'SUCCESS');
    const count = (text: string, outcome: string) => Number(new RegExp(`^brokkr_webhook_attempts_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    // /ok: one success; /404: dead at once (a 4xx is final); /500: failed, retried until FAST_RETRY gives up, then dead.
    const metrics = await until(async () => {
      const text = await (await fetch(`${d.url}/metrics`)).text();
      return count(text, 'dead') === 2 ? text : null;
    }, 'both failing deliveries dead');
    expect(count(metrics, 'success')).toBe(1);
    expect(count(metrics, 'failed')).toBeGreaterThanOrEqual(1);
    expect(count(metrics, 'failed') + 1).toBe(rx.to('/500').length);
    expect(d.webhooks.delivered).toBe(1);
    expect(lines.filter((l) => l.msg === 'webhook delivery gave up' && l.level === 40)).toHaveLength(2);
    expect(lines.some((l) => l.msg === 'webhook delivery failed; will retry' && l.level === 30)).toBe(true);
  });
});
