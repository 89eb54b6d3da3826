/**
 * Every route × every kind of caller: 401 without or with an unknown PAK, 403 for a wrong role or
 * another agent's resource. A readonly operator gets through wherever an admin reads (GET) and 403
 * on every write.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { buildWorld, type World } from './world.js';

type Caller = 'none' | 'unknown' | 'admin' | 'readonly' | 'self' | 'other' | 'generator';

interface RouteCase {
  method: string;
  path: (w: World) => string;
  body?: (w: World) => unknown;
  /** Callers that must get through authentication and authorization (readonly: derived, see mayPass). */
  allowed: Caller[];
  /** A POST that changes nothing (like every GET), whoever calls it. */
  readsOnly?: true;
}

const A = '/api/v1/agents';
const routes: RouteCase[] = [
  { method: 'GET', path: () => `${A}`, allowed: ['admin', 'self', 'other'] },
  { method: 'GET', path: () => `${A}/?name=self&cluster_name=c1`, allowed: ['admin', 'self'] },
  { method: 'POST', path: () => `${A}`, body: () => ({ name: 'new', cluster_name: 'c9' }), allowed: ['admin'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}`, allowed: ['admin', 'self'] },
  { method: 'PUT', path: (w) => `${A}/${w.self.id}`, body: () => ({ status: 'INACTIVE' }), allowed: ['admin'] },
  { method: 'DELETE', path: (w) => `${A}/${w.self.id}`, allowed: ['admin'] },
  { method: 'POST', path: (w) => `${A}/${w.self.id}/rotate-pak`, allowed: ['admin'] },
  { method: 'POST', path: (w) => `${A}/${w.self.id}/heartbeat`, allowed: ['self'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/stacks`, allowed: ['admin', 'self'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/target-state`, allowed: ['admin', 'self'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/target-state?mode=full`, allowed: ['admin', 'self'] },
  {
    method: 'POST',
    path: (w) => `${A}/${w.self.id}/events`,
    body: (w) => ({ deployment_object_id: w.objectId, event_type: 'DEPLOY', status: 'SUCCESS' }),
    allowed: ['admin', 'self'],
  },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/events`, allowed: ['admin', 'self'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/labels`, allowed: ['admin', 'self'] },
  { method: 'POST', path: (w) => `${A}/${w.self.id}/labels`, body: () => ({ label: 'x' }), allowed: ['admin'] },
  { method: 'DELETE', path: (w) => `${A}/${w.self.id}/labels/blue`, allowed: ['admin'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/annotations`, allowed: ['admin', 'self'] },
  { method: 'POST', path: (w) => `${A}/${w.self.id}/annotations`, body: () => ({ key: 'k', value: 'v' }), allowed: ['admin'] },
  { method: 'DELETE', path: (w) => `${A}/${w.self.id}/annotations/k`, allowed: ['admin'] },
  { method: 'GET', path: (w) => `${A}/${w.self.id}/targets`, allowed: ['admin', 'self'] },
  { method: 'POST', path: (w) => `${A}/${w.self.id}/targets`, body: (w) => ({ stack_id: w.otherStackId }), allowed: ['admin'] },
  { method: 'DELETE', path: (w) => `${A}/${w.self.id}/targets/${w.stackId}`, allowed: ['admin'] },
  { method: 'GET', path: (w) => `/api/v1/deployment-objects/${w.objectId}`, allowed: ['admin', 'self', 'generator'] },
  { method: 'POST', path: () => '/api/v1/auth/pak', allowed: ['admin', 'readonly', 'self', 'other', 'generator'], readsOnly: true },
  { method: 'GET', path: () => '/api/v1/stacks', allowed: ['admin', 'generator'] },
  { method: 'GET', path: (w) => `/api/v1/stacks/${w.stackId}`, allowed: ['admin', 'generator'] },
  { method: 'GET', path: (w) => `/api/v1/stacks/${w.stackId}/deployment-objects`, allowed: ['admin', 'generator'] },
  { method: 'GET', path: (w) => `/api/v1/stacks/${w.stackId}/labels`, allowed: ['admin', 'generator'] },
  { method: 'GET', path: (w) => `/api/v1/stacks/${w.stackId}/annotations`, allowed: ['admin', 'generator'] },
  { method: 'GET', path: () => '/api/v1/events', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/generators', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/sync/status', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/status', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/changes', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/paks', allowed: ['admin'] },
  { method: 'POST', path: () => '/api/v1/paks', body: () => ({ name: 'ci', role: 'readonly' }), allowed: ['admin'] },
  { method: 'DELETE', path: () => '/api/v1/paks/viewer', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/audit-logs', allowed: ['admin'] },
  { method: 'GET', path: () => '/api/v1/admin/audit-logs', allowed: ['admin'] },
  { method: 'GET', path: (w) => `/api/v1/stacks/${w.stackId}/rollout`, allowed: ['admin', 'generator'] },
  { method: 'POST', path: (w) => `/api/v1/stacks/${w.stackId}/rollout/pause`, allowed: ['admin'] },
  { method: 'POST', path: (w) => `/api/v1/stacks/${w.stackId}/rollout/resume`, allowed: ['admin'] },
  { method: 'POST', path: (w) => `/api/v1/stacks/${w.stackId}/rollout/promote`, allowed: ['admin'] },
];

/** The readonly role reads what an admin reads (GET) and writes nothing; the other callers are as listed. */
const mayPass = (route: RouteCase, caller: Caller): boolean =>
  caller === 'readonly' ? route.allowed.includes('readonly') || (route.method === 'GET' && route.allowed.includes('admin')) : route.allowed.includes(caller);

const pakOf = (w: World, caller: Caller): string | null =>
  ({
    none: null,
    unknown: 'brk_thisIsNotAKnownPakAtAllxxxxxxxxxxxxxxxxxxxx',
    admin: w.s.adminPak,
    readonly: w.readonlyPak,
    self: w.self.pak,
    other: w.other.pak,
    generator: w.generatorPak,
  })[caller];

// The admin goes last: its calls change the world (delete, rotate).
const CALLERS: Caller[] = ['none', 'unknown', 'generator', 'other', 'self', 'readonly', 'admin'];

describe.each(ENGINES)('authentication and authorization matrix (%s)', (engine) => {
  // Requests that change nothing (GETs, POST /auth/pak) all go to one world, built by the first test
  // that needs it and closed after the file; a route whose requests may write (the admin's delete,
  // rotate, ... go through) gets a world of its own, as every test here used to.
  let shared: Promise<World> | undefined;
  const readWorld = () => (shared ??= buildWorld({}, engine, 'file'));
  const worldFor = (route: RouteCase) => (route.method === 'GET' || route.readsOnly ? readWorld() : buildWorld({}, engine));

  it.each(routes.map((r) => [`${r.method} ${r.path.toString().replace(/^.*=> `?|`$/g, '')}`, r] as const))(
    '%s: 401 without a known PAK, 403 for callers not allowed, through for the others',
    async (_name, route) => {
      const w = await worldFor(route);
      for (const caller of CALLERS) {
        const res = await w.s.call(route.method, route.path(w), { pak: pakOf(w, caller), body: route.body?.(w) });
        const where = `${route.method} ${route.path(w)} as ${caller}`;
        if (caller === 'none' || caller === 'unknown') {
          expect(res.status, where).toBe(401);
          expect(res.body.code, where).toBe('unauthorized');
          expect(res.headers.get('www-authenticate'), where).toBe('Bearer');
        } else if (mayPass(route, caller)) {
          expect([401, 403], `${where}: ${res.text}`).not.toContain(res.status);
          expect(res.status, `${where}: ${res.text}`).toBeLessThan(400);
        } else {
          expect(res.status, `${where}: ${res.text}`).toBe(403);
          expect(res.body.code, where).toBe('forbidden');
          if (caller === 'readonly' && route.allowed.includes('admin')) expect(res.body.message, where).toMatch(/operator "viewer" has a readonly PAK: it may read but not write/);
        }
      }
    },
  );

  it('every route of the OpenAPI document: a readonly PAK reads wherever an admin may and is refused every write, which changes nothing', async () => {
    const w = await buildWorld({}, engine);
    const auditRowsBefore = (await w.s.store.listAuditLogs()).total; // the world's agents were created through the API
    const doc = (await w.s.call('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { 'x-roles'?: string[] }>> };
    const fill = (path: string) =>
      path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'stack_id' ? w.stackId : name === 'id' ? w.self.id : name === 'sha' ? 'abc1234' : 'viewer'));
    let writes = 0;
    let reads = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const roles = op['x-roles'] ?? [];
        if (!roles.includes('admin')) continue;
        const url = `${fill(path.replace(/^\/api\/v1/, '/api/v1'))}`;
        const res = await w.s.call(method.toUpperCase(), url, { pak: w.readonlyPak, body: method === 'get' ? undefined : {} });
        const where = `${method.toUpperCase()} ${url} as readonly`;
        if (method === 'get' || roles.includes('readonly')) {
          reads += 1;
          expect([401, 403], `${where}: ${res.text}`).not.toContain(res.status);
        } else {
          writes += 1;
          expect(res.status, `${where}: ${res.text}`).toBe(403);
          expect(res.body, where).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/readonly PAK: it may read but not write/) });
        }
      }
    }
    expect(writes).toBeGreaterThan(15);
    expect(reads).toBeGreaterThan(15);
    // Nothing was written: both agents are alive, the operator list unchanged, no new audit row.
    expect((await w.s.store.listAgents()).map((a) => a.name).sort()).toEqual(['other', 'self']);
    expect((await w.s.store.listOperators()).map((o) => o.name)).toEqual(['admin', 'viewer']);
    expect((await w.s.store.listAuditLogs()).total).toBe(auditRowsBefore);
  });

  it('a bare PAK (no "Bearer") is accepted, and the Bearer scheme is case-insensitive', async () => {
    const w = await readWorld();
    const bare = await w.s.call('GET', `${A}/${w.self.id}`, { headers: { authorization: w.self.pak } });
    expect(bare.status).toBe(200);
    const lower = await w.s.call('GET', `${A}/${w.self.id}`, { headers: { authorization: `bearer ${w.self.pak}` } });
    expect(lower.status).toBe(200);
    const malformed = await w.s.call('GET', `${A}/${w.self.id}`, { headers: { authorization: `Bearer ${w.self.pak} extra` } });
    expect(malformed.status).toBe(401);
  });

  it('an agent listing agents sees only itself; an admin sees all', async () => {
    const w = await readWorld();
    const asAgent = await w.s.call('GET', `${A}`, { pak: w.self.pak });
    expect(asAgent.body.map((a: { id: string }) => a.id)).toEqual([w.self.id]);
  });

  it('the brokkr search /agents/?name=&cluster_name= answers one agent: itself for an agent, 403 for another, 404 for none', async () => {
    const w = await readWorld();
    const self = await w.s.call('GET', `${A}/?name=self&cluster_name=c1`, { pak: w.self.pak });
    expect(self.status).toBe(200);
    expect(self.body.id).toBe(w.self.id);
    const search = await w.s.call('GET', `${A}/?name=other&cluster_name=c1`, { pak: w.self.pak });
    expect(search.status).toBe(403);
    expect(JSON.stringify(search.body)).not.toContain(w.other.id);
    const asAdmin = await w.s.call('GET', `${A}/?name=other&cluster_name=c1`);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.id).toBe(w.other.id);
    expect(asAdmin.body).not.toHaveProperty('pak_hash');
    expect((await w.s.call('GET', `${A}/?name=nobody&cluster_name=c1`)).status).toBe(404);
    const missing = await w.s.call('GET', `${A}/?name=other`);
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('bad_request');
  });

  it('POST /auth/pak tells each PAK who it is', async () => {
    const w = await readWorld();
    expect((await w.s.call('POST', '/api/v1/auth/pak')).body).toEqual({ admin: true, agent: null, generator: null, readonly: false });
    expect((await w.s.call('POST', '/api/v1/auth/pak', { pak: w.readonlyPak })).body).toEqual({ admin: false, agent: null, generator: null, readonly: true });
    expect((await w.s.call('POST', '/api/v1/auth/pak', { pak: w.self.pak })).body).toEqual({
      admin: false,
      agent: w.self.id,
      generator: null,
      readonly: false,
    });
    const gen = await w.s.call('POST', '/api/v1/auth/pak', { pak: w.generatorPak });
    expect(gen.body).toMatchObject({ admin: false, agent: null, readonly: false });
    expect(gen.body.generator).toBe(await w.s.repo.generatorId());
  });
});
