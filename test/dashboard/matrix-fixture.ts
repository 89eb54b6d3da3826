/** Builds a store with many stacks and agents (and their reports) through the Store interface, for matrix tests and the benchmark. */
import { createHash } from 'node:crypto';
import type { Store } from '../../src/store/store.js';

export interface Fleet {
  stackIds: string[];
  objectIds: string[];
  agentIds: string[];
}

/**
 * `stacks` stacks labelled 'all' in one commit, `agents` agents labelled 'all' (so every agent is
 * associated with every stack), then each agent reports on each latest object according to
 * `report(agentIndex, stackIndex)`: 'SUCCESS', 'FAILURE' or null (no report).
 */
export async function buildFleet(
  store: Store,
  { stacks, agents, report }: { stacks: number; agents: number; report: (a: number, s: number) => 'SUCCESS' | 'FAILURE' | null },
): Promise<Fleet> {
  const generator = await store.ensureGenerator('git:fleet', null);
  await store.saveSyncTarget(generator.id, { repo: '/fleet', branch: 'main', root: '' });
  const result = await store.applyCommit({
    generatorId: generator.id,
    commit: { sha: 'a'.repeat(40), author_name: 'Fleet', author_email: 'fleet@example.com', subject: 'fleet', committed_at: new Date().toISOString() },
    expectedCursor: null,
    upserts: Array.from({ length: stacks }, (_, i) => {
      const yaml = `kind: ConfigMap\nmetadata:\n  name: s${i}\n`;
      return {
        name: `stack-${String(i).padStart(4, '0')}`,
        path: `stacks/s${i}`,
        description: null,
        labels: ['all'],
        annotations: {},
        content: { yaml, checksum: createHash('sha256').update(yaml).digest('hex') },
      };
    }),
    deletes: [],
    errors: [],
  });
  const created = [...result.created].sort((x, y) => x.name.localeCompare(y.name));
  const agentIds: string[] = [];
  for (let a = 0; a < agents; a++) {
    const agent = await store.createAgent({ name: `agent-${String(a).padStart(3, '0')}`, cluster_name: 'c1', pak_hash: createHash('sha256').update(`pak${a}`).digest('hex') });
    await store.addLabel('agent', agent.id, 'all');
    agentIds.push(agent.id);
    for (let s = 0; s < created.length; s++) {
      const status = report(a, s);
      if (!status) continue;
      await store.createEvent({
        agent_id: agent.id,
        deployment_object_id: created[s].object_id,
        event_type: 'DEPLOY',
        status,
        message: status === 'FAILURE' ? `apply failed for ${created[s].name}` : null,
      });
    }
  }
  return { stackIds: created.map((c) => c.stack_id), objectIds: created.map((c) => c.object_id), agentIds };
}
