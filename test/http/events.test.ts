/** Event reports: validation, ownership of the object, and the admin event list. */
import { describe, expect, it } from 'vitest';
import { logLines } from '../helpers/log-lines.js';
import { ENGINES } from '../store/store-fixture.js';
import { buildWorld } from './world.js';

describe.each(ENGINES)('reporting events (%s)', (engine) => {
  it('an agent reports an event for an object of an associated stack: 201 with the event record', async () => {
    const w = await buildWorld({}, engine);
    const res = await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, {
      pak: w.self.pak,
      body: { deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS', message: 'applied', agent_id: w.self.id },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      agent_id: w.self.id,
      deployment_object_id: w.objectId,
      event_type: 'DEPLOY',
      status: 'SUCCESS',
      message: 'applied',
      deleted_at: null,
    });
    expect(Object.keys(res.body).sort()).toEqual(
      ['agent_id', 'created_at', 'deleted_at', 'deployment_object_id', 'event_type', 'id', 'message', 'status', 'updated_at'].sort(),
    );
    const mine = await w.s.call('GET', `/api/v1/agents/${w.self.id}/events`, { pak: w.self.pak });
    expect(mine.body.map((e: { id: string }) => e.id)).toEqual([res.body.id]);
  });

  it('a successful event report is logged at debug (routine agent traffic, like polls); a refused one at info', async () => {
    const { logger, lines } = logLines('debug');
    const w = await buildWorld({ logger }, engine);
    lines.length = 0;
    const body = { deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS' };
    expect((await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, { pak: w.self.pak, body })).status).toBe(201);
    expect((await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, { pak: w.self.pak, body: { ...body, deployment_object_id: w.otherObjectId } })).status).toBe(403);
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.map((l) => `${l.level} ${l.method} ${l.route} ${l.status}`)).toEqual([
      '20 POST /api/v1/agents/:id/events 201',
      '30 POST /api/v1/agents/:id/events 403',
    ]);
  });

  it('an object of a stack not associated with the agent is 403; an unknown object 404', async () => {
    const w = await buildWorld({}, engine);
    const body = { deployment_object_id: w.otherObjectId, event_type: 'DEPLOY', status: 'SUCCESS' };
    const foreign = await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, { pak: w.self.pak, body });
    expect(foreign.status).toBe(403);
    const unknown = await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, {
      pak: w.self.pak,
      body: { ...body, deployment_object_id: '00000000-0000-4000-8000-000000000000' },
    });
    expect(unknown.status).toBe(404);
    expect((await w.s.call('GET', '/api/v1/events')).body).toEqual([]);
  });

  it.each([
    [{ event_type: 'deploy', status: 'SUCCESS' }, 'body.event_type must be one of DEPLOY, DELETE'],
    [{ event_type: 'DEPLOY', status: 'success' }, 'body.status must be one of SUCCESS, FAILURE'],
    [{ event_type: 'DEPLOY' }, 'body.status is required'],
    [{ event_type: 'DEPLOY', status: 'SUCCESS', deployment_object_id: 'x' }, 'body.deployment_object_id must be a UUID'],
    [{ event_type: 'DEPLOY', status: 'SUCCESS', message: 42 }, 'body.message must be string or null'],
    [{ event_type: 'DEPLOY', status: 'SUCCESS', agent_id: '00000000-0000-4000-8000-000000000000' }, 'does not match the agent in the path'],
  ])('%j is refused with 400: %s', async (partial, message) => {
    const w = await buildWorld({}, engine);
    const res = await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, {
      pak: w.self.pak,
      body: { deployment_object_id: w.objectId, ...partial },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain(message);
    expect((await w.s.call('GET', '/api/v1/events')).body).toEqual([]);
  });

  it('GET /events lists every agent’s events newest first, filtered by agent and limited', async () => {
    const w = await buildWorld({}, engine);
    for (const status of ['FAILURE', 'SUCCESS']) {
      await w.s.call('POST', `/api/v1/agents/${w.self.id}/events`, {
        pak: w.self.pak,
        body: { deployment_object_id: w.objectId, event_type: 'DEPLOY', status },
      });
    }
    await w.s.call('POST', `/api/v1/agents/${w.other.id}/events`, {
      pak: w.other.pak,
      body: { deployment_object_id: w.otherObjectId, event_type: 'DEPLOY', status: 'SUCCESS' },
    });
    const all = await w.s.call('GET', '/api/v1/events');
    expect(all.body).toHaveLength(3);
    const times = all.body.map((e: { created_at: string }) => e.created_at);
    expect(times).toEqual([...times].sort().reverse());
    const mine = await w.s.call('GET', `/api/v1/events?agent_id=${w.self.id}`);
    expect(mine.body.map((e: { status: string }) => e.status)).toEqual(['SUCCESS', 'FAILURE']);
    expect((await w.s.call('GET', '/api/v1/events?limit=1')).body).toHaveLength(1);
    expect((await w.s.call('GET', '/api/v1/events?limit=0')).status).toBe(400);
    expect((await w.s.call('GET', '/api/v1/events?agent_id=nope')).status).toBe(400);
  });
});
