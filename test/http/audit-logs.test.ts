/**
 * The audit log over HTTP, on both engines: admin writes through the API are recorded with the
 * operator, client address and user agent; GET /audit-logs filters and pages; bad parameters are
 * 400s naming the parameter; brokkr's GET /admin/audit-logs answers brokkr's schema.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { generatePak, hashPak } from '../../src/http/pak.js';
import { loadBrokkrV1 } from './brokkr-v1-contract.js';
import { buildWorld } from './world.js';

const brokkr = loadBrokkrV1();

describe.each(ENGINES)('audit log over HTTP (%s)', (engine) => {
  it('each admin write is recorded under the operator with client address and user agent; reads and refused writes are not', async () => {
    const w = await buildWorld({}, engine);
    const alicePak = generatePak();
    await w.s.store.createOperator({ name: 'alice', role: 'admin', pak_hash: hashPak(alicePak) });
    const as = { pak: alicePak, headers: { 'user-agent': 'audit-test/1.0' } };
    const A = `/api/v1/agents/${w.self.id}`;
    expect((await w.s.call('POST', `${A}/labels`, { ...as, body: { label: 'eu' } })).status).toBe(201);
    expect((await w.s.call('DELETE', `${A}/labels/eu`, as)).status).toBe(204);
    expect((await w.s.call('POST', `${A}/annotations`, { ...as, body: { key: 'tier', value: 'web' } })).status).toBe(201);
    expect((await w.s.call('DELETE', `${A}/annotations/tier`, as)).status).toBe(204);
    expect((await w.s.call('POST', `${A}/targets`, { ...as, body: { stack_id: w.otherStackId } })).status).toBe(201);
    expect((await w.s.call('DELETE', `${A}/targets/${w.otherStackId}`, as)).status).toBe(204);
    expect((await w.s.call('PUT', A, { ...as, body: { status: 'INACTIVE' } })).status).toBe(200);
    expect((await w.s.call('POST', `/api/v1/stacks/${w.stackId}/rollout/pause`, as)).status).toBe(200);
    expect((await w.s.call('POST', `/api/v1/stacks/${w.stackId}/rollout/resume`, as)).status).toBe(200);
    expect((await w.s.call('POST', `/api/v1/stacks/${w.stackId}/rollout/promote`, as)).status).toBe(200);
    await w.s.repo.commit([{ name: 'web', labels: ['blue'], yaml: 'kind: Web\nv: 2\n' }]);
    const rolled = await w.s.call('POST', `/api/v1/stacks/${w.stackId}/rollback`, { ...as, body: { to_sequence: 1 } });
    expect(rolled.status, rolled.text).toBe(201);
    expect(rolled.body.rollout.rollback).toMatchObject({ actor: 'alice' });
    expect((await w.s.call('POST', `${A}/rotate-pak`, as)).status).toBe(200);
    expect((await w.s.call('DELETE', `/api/v1/agents/${w.other.id}`, as)).status).toBe(204);
    // Reads, refusals and failures leave nothing.
    await w.s.call('GET', `${A}/labels`, as);
    expect((await w.s.call('DELETE', `${A}/labels/never-there`, as)).status).toBe(404);
    expect((await w.s.call('POST', `${A}/labels`, { pak: w.readonlyPak, body: { label: 'x' } })).status).toBe(403);

    const page = await w.s.call('GET', '/api/v1/audit-logs?actor=alice', { pak: w.readonlyPak });
    expect(page.status, page.text).toBe(200);
    expect(page.body.logs.map((l: { action: string }) => l.action).reverse()).toEqual([
      'label.added',
      'label.removed',
      'annotation.set',
      'annotation.removed',
      'target.added',
      'target.removed',
      'agent.updated',
      'rollout.paused',
      'rollout.resumed',
      'rollout.promoted',
      'rollout.rolled_back',
      'agent.pak_rotated',
      'agent.deleted',
    ]);
    for (const log of page.body.logs) {
      expect(log).toMatchObject({ actor_type: 'admin', actor_name: 'alice', ip_address: '127.0.0.1', user_agent: 'audit-test/1.0' });
      expect(log.actor_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(page.body.logs.find((l: { action: string }) => l.action === 'rollout.rolled_back')).toMatchObject({ resource_type: 'stack', resource_id: w.stackId, details: { to_sequence: 1 } });
    expect(page.body.logs.find((l: { action: string }) => l.action === 'agent.deleted')).toMatchObject({ resource_id: w.other.id, details: { name: 'other' } });
    // The world's own agents were created by the bootstrap operator through the API.
    const byAdmin = await w.s.call('GET', '/api/v1/audit-logs?actor=admin&action=agent.*');
    expect(byAdmin.body.logs.map((l: { action: string; details: { name: string } }) => [l.action, l.details.name])).toEqual([
      ['agent.created', 'other'],
      ['agent.created', 'self'],
    ]);
  });

  it('filters by resource, since, and pages with a stable cursor; brokkr\'s route answers brokkr\'s schema', async () => {
    const w = await buildWorld({}, engine);
    for (const label of ['a', 'b', 'c', 'd', 'e']) await w.s.call('POST', `/api/v1/agents/${w.self.id}/labels`, { body: { label } });
    const byResource = await w.s.call('GET', `/api/v1/audit-logs?resource=agent:${w.self.id.toUpperCase()}`);
    expect(byResource.body.total).toBe(6); // created + five labels
    expect((await w.s.call('GET', `/api/v1/audit-logs?resource=${w.self.id}&action=label.added`)).body.total).toBe(5);
    expect((await w.s.call('GET', '/api/v1/audit-logs?since=1h')).body.total).toBe(7);
    expect((await w.s.call('GET', `/api/v1/audit-logs?since=${new Date(Date.now() + 3_600_000).toISOString()}`)).body.total).toBe(0);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { logs: { id: string; seq: number }[]; next_cursor: string | null; count: number } } = await w.s.call('GET', `/api/v1/audit-logs?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.count).toBeLessThanOrEqual(3);
      seen.push(...page.body.logs.map((l) => l.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);

    const theirs = await w.s.call('GET', '/api/v1/admin/audit-logs?resource_type=agent&limit=4&offset=1');
    expect(theirs.status).toBe(200);
    expect(theirs.body).toMatchObject({ total: 7, count: 4, limit: 4, offset: 1 });
    expect(brokkr.check({ $ref: 'AuditLogListResponse' }, theirs.body)).toEqual([]);
    expect((await w.s.call('GET', `/api/v1/admin/audit-logs?actor_type=agent`)).body.total).toBe(0);
  });

  it('bad parameters are 400s that name the parameter', async () => {
    const w = await buildWorld({}, engine);
    for (const [query, message] of [
      ['limit=0', /query\.limit: must be a whole number from 1 to 1000/],
      ['limit=5000', /query\.limit/],
      ['cursor=abc', /query\.cursor/],
      ['since=yesterday', /query\.since: "yesterday" is not an ISO-8601 time .* or an age/],
      ['from=2026-13-45', /query\.from/],
      ['colour=blue', /colour/],
    ] as const) {
      const res = await w.s.call('GET', `/api/v1/audit-logs?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.code).toBe('bad_request');
      expect(res.body.message, query).toMatch(message);
    }
  });
});
