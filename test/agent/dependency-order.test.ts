/** The reference agent's apply order within one target state (SPEC §10 dependsOn). */
import { describe, expect, it } from 'vitest';
import { dependencyOrder } from '../../src/agent/dependency-order.js';

const obj = (stack: string, seq: number, marker = false) => ({ stack_id: stack, sequence_id: seq, is_deletion_marker: marker });
const names = (id: string) => id;

describe('dependencyOrder', () => {
  it('sequence order without dependsOn', () => {
    const order = dependencyOrder([obj('b', 3), obj('a', 1), obj('c', 2)], names, () => []);
    expect(order.map((o) => o.stack_id)).toEqual(['a', 'c', 'b']);
  });

  it('dependencies first (transitively), the rest by sequence', () => {
    const deps: Record<string, string[]> = { web: ['api'], api: ['postgres'] };
    const order = dependencyOrder([obj('web', 1), obj('api', 2), obj('other', 3), obj('postgres', 4)], names, (id) => deps[id] ?? []);
    expect(order.map((o) => o.stack_id)).toEqual(['other', 'postgres', 'api', 'web']);
  });

  it('deletion markers: the dependent is removed before its dependency', () => {
    const order = dependencyOrder([obj('postgres', 5, true), obj('web', 6, true)], names, (id) => (id === 'web' ? ['postgres'] : []));
    expect(order.map((o) => o.stack_id)).toEqual(['web', 'postgres']);
  });

  it('a dependency not in this pass, an unknown name or a cycle falls back to sequence order', () => {
    expect(dependencyOrder([obj('web', 2), obj('api', 1)], names, () => ['nowhere']).map((o) => o.stack_id)).toEqual(['api', 'web']);
    const cycle: Record<string, string[]> = { a: ['b'], b: ['a'] };
    expect(dependencyOrder([obj('b', 2), obj('a', 1)], names, (id) => cycle[id] ?? []).map((o) => o.stack_id)).toEqual(['a', 'b']);
  });
});
