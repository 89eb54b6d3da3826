/** A small populated world for route tests: two agents, a stack each by label, an object, a generator PAK. */
import { generatePak, hashPak } from '../../src/http/pak.js';
import type { ServerOptions } from '../../src/http/server.js';
import type { StoreEngine } from '../../src/store/store.js';
import { rawSql } from '../store/store-fixture.js';
import { startTestServer, type TestServer } from './http-fixture.js';

export interface World {
  s: TestServer;
  self: { id: string; pak: string };
  other: { id: string; pak: string };
  generatorPak: string;
  /** An operator with the readonly role (name 'viewer'). */
  readonlyPak: string;
  stackId: string;
  otherStackId: string;
  objectId: string;
  otherObjectId: string;
}

/** Agent "self" has label `blue` and annotation k=v and targets stack web (label blue); agent "other" has label `green` (stack db). */
export async function buildWorld(options: Partial<ServerOptions> = {}, engine: StoreEngine = 'sqlite', keep: 'test' | 'file' = 'test'): Promise<World> {
  const s = await startTestServer(options, { engine, keep });
  const a = await s.createAgent({ name: 'self', labels: ['blue'], annotations: { k: 'v' } });
  const b = await s.createAgent({ name: 'other', labels: ['green'] });
  const ids = await s.repo.commit([
    { name: 'web', labels: ['blue'], yaml: 'kind: Web\n' },
    { name: 'db', labels: ['green'], yaml: 'kind: Db\n' },
  ]);
  await s.store.addTarget(a.agent.id, ids.get('web')!);
  const objects = await s.store.targetStateIds(a.agent.id, 'full');
  const otherObjects = await s.store.targetStateIds(b.agent.id, 'full');
  // Generators get their key from outside the HTTP API (no route issues one): set it in the database.
  const generatorPak = generatePak();
  const generatorId = await s.repo.generatorId();
  await rawSql(engine, s.dbPath).exec('UPDATE generators SET api_key_hash = ? WHERE id = ?', hashPak(generatorPak), generatorId);
  const readonlyPak = generatePak();
  await s.store.createOperator({ name: 'viewer', role: 'readonly', pak_hash: hashPak(readonlyPak) });
  return {
    s,
    readonlyPak,
    self: { id: a.agent.id, pak: a.pak },
    other: { id: b.agent.id, pak: b.pak },
    generatorPak,
    stackId: ids.get('web')!,
    otherStackId: ids.get('db')!,
    objectId: objects[0]!.id,
    otherObjectId: otherObjects[0]!.id,
  };
}
