// Experiment — what a `*` subscription adds to an agent event's transaction on SQLite (BENCHMARKS
// F12, sixth pass): CPU per event of inserts as the event batch writes them (5 events a transaction,
// 20,000 events written first), on a database at schema 11 (the trigger writes each delivery row in
// the event's transaction) and at the latest schema (migration 12: the trigger queues the event, the
// delivery process writes the row), without and with the subscription. CPU time of this process, so
// the figure holds on a busy machine; each variant twice, interleaved.
//
//   npm run build && node bench/experiments/webhook-trigger-cost.mjs [--events 20000]
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { migrateDatabase } from '../../dist/store/open-store.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' } } });
const events = Number(values.events);
const BATCH = 5;

/** A database at `schema` with one object and 200 agents; `subscribe`: one enabled `*` subscription. */
async function world(schema, subscribe) {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-trigger-cost-'));
  const path = join(dir, 'brokkr.db');
  const run = await migrateDatabase(path, schema === 'latest' ? {} : { target: schema });
  if (run.error) throw new Error(run.error);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec("INSERT INTO generators (name) VALUES ('g')");
  const g = db.prepare('SELECT id FROM generators').get().id;
  db.prepare("INSERT INTO stacks (name, generator_id) VALUES ('s', ?)").run(g);
  const s = db.prepare('SELECT id FROM stacks').get().id;
  db.prepare("INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, generator_id) VALUES (?, 'a: 1', 'c', ?)").run(s, g);
  const object = db.prepare('SELECT id FROM deployment_objects').get().id;
  const addAgent = db.prepare("INSERT INTO agents (name, cluster_name, pak_hash) VALUES (?, 'c', ?)");
  for (let i = 0; i < 200; i++) addAgent.run(`a${i}`, `h${i}`);
  const agents = db.prepare('SELECT id FROM agents').all().map((r) => r.id);
  if (subscribe) db.exec("INSERT INTO webhook_subscriptions (id, name, url, event_types) VALUES (lower(hex(randomblob(16))), 'all', 'http://127.0.0.1:9/', '[\"*\"]')");
  // The event batch's insert (src/store/sqlite/events.ts), SUCCESS as most reports are.
  const insert = db.prepare(`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message, seq)
    VALUES (?, ?, 'DEPLOY', 'SUCCESS', 'applied', (SELECT coalesce(max(seq), 0) + 1 FROM agent_events)) RETURNING id`);
  const batch = db.transaction((k) => {
    for (let i = 0; i < BATCH; i++) insert.get(agents[(k + i) % agents.length], object);
  });
  return { batch, close: () => (db.close(), rmSync(dir, { recursive: true, force: true })) };
}

const variants = [
  ['no subscription', 'latest', false],
  ['schema 11: delivery row in the event transaction', 11, true],
  ['schema 12: event queued', 'latest', true],
];
const results = new Map(variants.map(([name]) => [name, []]));
for (let pass = 0; pass < 2; pass++) {
  for (const [name, schema, subscribe] of variants) {
    const { batch, close } = await world(schema, subscribe);
    for (let k = 0; k < 20_000; k += BATCH) batch(k);
    const c0 = process.cpuUsage();
    for (let k = 0; k < events; k += BATCH) batch(k);
    const c = process.cpuUsage(c0);
    results.get(name).push((c.user + c.system) / events);
    close();
  }
}
for (const [name, us] of results) console.log(`${name.padEnd(50)} ${us.map((x) => x.toFixed(1)).join(' / ')} µs per event`);
