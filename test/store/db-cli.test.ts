/** `brokkr-sync db migrate|check|backup` through the built CLI (`npm run build` first; `npm test` does). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../../src/store/open-store.js';
import { plainConnection, sqlite3, tempDbPath } from './store-fixture.js';

const MAIN = resolve('dist/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BROKKR_')));
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const TABLES = [
  'stacks', 'agents', 'deployment_objects', 'agent_events', 'agent_targets',
  'stack_labels', 'stack_annotations', 'agent_labels', 'agent_annotations', 'generators',
];
const TRIGGERS = [
  'update_stack_timestamp', 'trigger_handle_stack_soft_delete', 'trigger_stack_hard_delete',
  'update_deployment_object_timestamp', 'prevent_deployment_object_update', 'trigger_hard_delete_deployment_objects',
  'update_generators_timestamp', 'cascade_soft_delete_generators', 'trigger_generator_hard_delete',
  'update_agent_timestamp', 'cascade_soft_delete_agents', 'trigger_agent_hard_delete',
];

describe('brokkr-sync db', () => {
  it('db migrate creates a database whose sqlite3 .schema shows the ten tables and their triggers', async () => {
    const db = tempDbPath();
    const run = await cli(['db', 'migrate', '--db', db]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/applied\s+001-brokkr-model/);
    expect(run.stdout).toContain(`schema version ${LATEST_VERSION} (${LATEST_VERSION} migrations applied)`);
    const schema = sqlite3(db, '.schema');
    for (const table of TABLES) expect(schema, table).toMatch(new RegExp(`CREATE TABLE ${table} \\(`));
    for (const trigger of TRIGGERS) expect(schema, trigger).toContain(`CREATE TRIGGER ${trigger} `);
  });

  it('db migrate twice is harmless and reports the schema version', async () => {
    const db = tempDbPath();
    await cli(['db', 'migrate', '--db', db]);
    plainConnection(db).prepare("INSERT INTO generators (name) VALUES ('keep')").run();
    const again = await cli(['db', 'migrate', '--db', db]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`schema version ${LATEST_VERSION} (already up to date)`);
    expect(sqlite3(db, 'SELECT name FROM generators;').trim()).toBe('keep');
  });

  it('db check passes on a migrated file and exits 1 on a missing one', async () => {
    const db = tempDbPath();
    await cli(['db', 'migrate', '--db', db]);
    const ok = await cli(['db', 'check', '--db', db]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`ok (schema version ${LATEST_VERSION} of ${LATEST_VERSION}`);
    const missing = await cli(['db', 'check', '--db', join(dirname(db), 'nope.db')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: database .*nope\.db does not exist/);
  });

  it('db backup copies the database and refuses to overwrite a file', async () => {
    const db = tempDbPath();
    await cli(['db', 'migrate', '--db', db]);
    plainConnection(db).prepare("INSERT INTO generators (name) VALUES ('keep')").run();
    const dest = join(dirname(db), 'backup.db');
    const run = await cli(['db', 'backup', dest, '--db', db]);
    expect(run.code).toBe(0);
    expect(sqlite3(dest, 'SELECT name FROM generators;').trim()).toBe('keep');
    const again = await cli(['db', 'backup', dest, '--db', db]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('db without a subcommand is a usage error (exit 2)', async () => {
    const run = await cli(['db']);
    expect(run.code).toBe(2);
  });
});
