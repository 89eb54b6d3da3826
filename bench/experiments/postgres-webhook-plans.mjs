// Experiment — the PostgreSQL server's CPU per delivery for claiming and for recording outcomes,
// as the tables grow (BENCHMARKS F12, tenth pass). Shaped like scenario 12b's steady state, without
// HTTP: every tick writes `per` agent events (queued for a `*` subscription), claims up to 64
// deliveries on the delivery process's own kind of session (open-webhook-queue.ts), and records
// the outcomes of the claim made `lag` ticks before (so ~per × lag deliveries stay claimed, as with
// a 200 ms receiver). The session's server process's CPU is read from /proc around each call (the
// server runs on this machine), and printed per delivery every 50 ticks: flat when every statement
// finds its rows by key, growing with the tables when a plan made while they were young reads them whole.
//
//   npm run build && node bench/experiments/postgres-webhook-plans.mjs [--per 40] [--ticks 400] [--lag 5]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openStore } from '../../dist/store/open-store.js';
import { openWebhookQueue } from '../../dist/store/open-webhook-queue.js';
import { webhooksOf } from '../../dist/store/webhooks-of.js';
import { startPostgres } from '../lib/postgres.mjs';
import { cpuSecondsOf, statFields } from '../lib/proc-stat.mjs';

const { values } = parseArgs({ options: { per: { type: 'string', default: '40' }, ticks: { type: 'string', default: '400' }, lag: { type: 'string', default: '5' } } });
const per = Number(values.per);
const ticks = Number(values.ticks);
const lag = Number(values.lag);

const server = await startPostgres();
try {
  const url = await server.createDatabase('plans');
  const store = await openStore(url);
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  await admin.connect();
  await webhooksOf(store).createSubscription({ name: 'all', url: 'http://127.0.0.1:9/h', event_types: ['*'], secret: 's', format: 'json', timeout_seconds: 5, created_by: null });
  const one = async (text, params = []) => (await admin.query(text, params)).rows[0].id;
  const g = await one("INSERT INTO generators (name) VALUES ('g') RETURNING id");
  const stack = await one("INSERT INTO stacks (name, generator_id) VALUES ('s', $1) RETURNING id", [g]);
  const object = await one("INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, generator_id) VALUES ($1, 'a: 1', 'x', $2) RETURNING id", [stack, g]);
  const agent = await one("INSERT INTO agents (name, cluster_name, pak_hash) VALUES ('a', 'c', 'h') RETURNING id");
  const queue = await openWebhookQueue(url);
  // The delivery session's server processes (the queue's pool opens them as it needs them).
  const sessionCpu = async () => {
    const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'brokkr-sync-webhooks' AND datname = current_database()");
    let s = 0;
    for (const { pid } of rows) s += cpuSecondsOf(statFields(pid));
    return s;
  };
  const claimed = [];
  let window = { claim: 0, finish: 0, claimedN: 0, finishedN: 0 };
  for (let t = 1; t <= ticks; t++) {
    await admin.query(`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) SELECT $1, $2, 'DEPLOY', 'SUCCESS' FROM generate_series(1, ${per})`, [agent, object]);
    const c0 = await sessionCpu();
    const batch = await queue.hooks.claimDeliveries('bench', 64, 330_000, { perSubscription: 256, busy: new Map() });
    const c1 = await sessionCpu();
    window.claim += c1 - c0;
    window.claimedN += batch.length;
    claimed.push(batch);
    if (claimed.length > lag) {
      const done = claimed.shift();
      await queue.hooks.finishDeliveries('bench', done.map((d) => ({ id: d.id, outcome: { status: 'success', status_code: 200, response_excerpt: null } })));
      window.finish += (await sessionCpu()) - c1;
      window.finishedN += done.length;
    }
    if (t % 50 === 0) {
      const us = (s, n) => (n ? Math.round((s * 1e6) / n) : 0);
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM webhook_deliveries');
      console.log(`${String(rows[0].n).padStart(6)} deliveries: claiming ${us(window.claim, window.claimedN)} µs, recording ${us(window.finish, window.finishedN)} µs per delivery (server CPU of the delivery session)`);
      window = { claim: 0, finish: 0, claimedN: 0, finishedN: 0 };
    }
  }
  await queue.close();
  await admin.end();
  await store.close();
} finally {
  await server.stop();
}
