/** Operators over HTTP, on both engines: create (PAK once), list (never a PAK), revoke; every refusal a clear JSON error. */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../store/store-fixture.js';
import { hashPak } from '../../src/http/pak.js';
import { startTestServer } from './http-fixture.js';

describe.each(ENGINES)('operators over HTTP (%s)', (engine) => {
  it('creates a named PAK that works at once, lists operators without PAKs, revokes at once', async () => {
    const s = await startTestServer({}, { engine });
    const created = await s.call('POST', '/api/v1/paks', { body: { name: 'ci-bot', role: 'readonly' } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.operator).toMatchObject({ name: 'ci-bot', role: 'readonly', last_used_at: null });
    expect(created.body.pak).toMatch(/^brk_[A-Za-z0-9_-]{43}$/);
    expect((await s.call('GET', '/api/v1/stacks', { pak: created.body.pak })).status).toBe(200);
    const listed = await s.call('GET', '/api/v1/paks');
    expect(listed.body.map((o: { name: string; role: string }) => [o.name, o.role])).toEqual([
      ['admin', 'admin'],
      ['ci-bot', 'readonly'],
    ]);
    expect(listed.body.find((o: { name: string }) => o.name === 'ci-bot').last_used_at).toMatch(/^\d{4}-/);
    for (const pak of [s.adminPak, created.body.pak]) {
      expect(listed.text).not.toContain(pak);
      expect(listed.text).not.toContain(hashPak(pak));
    }
    expect(Object.keys(listed.body[0]).sort()).toEqual(['created_at', 'id', 'last_used_at', 'name', 'role']);
    expect((await s.call('POST', '/api/v1/paks', { body: { name: 'admin-2' } })).body.operator.role).toBe('admin');
    expect((await s.call('DELETE', '/api/v1/paks/ci-bot')).status).toBe(204);
    expect((await s.call('GET', '/api/v1/stacks', { pak: created.body.pak })).status).toBe(401);
  });

  it('refuses bad names and roles, duplicates, unknown operators and the last admin, each with a clear message', async () => {
    const s = await startTestServer({}, { engine });
    const cases: [string, string, unknown, number, string, RegExp][] = [
      ['POST', '/api/v1/paks', { name: 'bad name' }, 400, 'bad_request', /body\.name: "bad name" is not an operator name/],
      ['POST', '/api/v1/paks', { name: 'x', role: 'root' }, 400, 'bad_request', /role/],
      ['POST', '/api/v1/paks', { name: 'admin' }, 409, 'conflict', /operator 'admin' already exists/],
      ['DELETE', '/api/v1/paks/nobody', undefined, 404, 'not_found', /no operator named "nobody"/],
      ['DELETE', '/api/v1/paks/admin', undefined, 409, 'conflict', /"admin" is the last admin: create another admin PAK \(brokkr-sync paks create NAME --role admin\)/],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const res = await s.call(method, path, { body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${res.text}`).toBe(status);
      expect(res.body).toMatchObject({ code, message: expect.stringMatching(message) });
    }
    expect((await s.call('GET', '/api/v1/stacks')).status).toBe(200); // the admin still works
  });
});
