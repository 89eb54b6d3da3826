/** Announcing a release (F11): the released agents by name, in PostgreSQL-sized notifications that are never widened to "everyone". */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { changePayload, parsePayload } from '../../src/store/postgres/change-channel.js';
import { mergeOutcomes, releaseChanges } from '../../src/store/rollout-outcome.js';

describe('release announcements', () => {
  it('a release to 600 agents travels as notifications of at most 150 ids, each under the NOTIFY limit and read back as sent', () => {
    const ids = Array.from({ length: 600 }, () => randomUUID());
    const changes = releaseChanges({ releasedTo: ids, halted: false });
    expect(changes.map((c) => (c.kind === 'agents' ? c.agentIds.length : -1))).toEqual([150, 150, 150, 150]);
    const received = changes.map((c) => {
      const payload = changePayload('replica-a', c);
      expect(Buffer.byteLength(payload)).toBeLessThan(8000);
      return parsePayload('replica-b', payload);
    });
    expect(received).toEqual(changes);
    expect(received.flatMap((c) => (c?.kind === 'agents' ? c.agentIds : []))).toEqual(ids);
  });

  it('nothing released (a halt, or no outcome) announces nothing of its own; outcomes merge without repeating an agent', () => {
    expect(releaseChanges({ releasedTo: [], halted: true })).toEqual([]);
    expect(releaseChanges(null)).toEqual([]);
    expect(mergeOutcomes([{ releasedTo: ['a', 'b'], halted: false }, { releasedTo: ['b', 'c'], halted: true }])).toEqual({ releasedTo: ['a', 'b', 'c'], halted: true });
  });
});
