/** `brokkr-sync status` as a person reads it: a removed repository is shown orphaned, with what to do. */
import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../src/cli/commands/status.js';

const repo = (over: Record<string, unknown>) => ({
  generator_id: 'g1',
  generator_name: 'payments',
  repo: 'https://git.example.com/payments.git',
  branch: 'main',
  root: '',
  cursor_commit: null,
  cursor_committed_at: null,
  last_sync_at: null,
  last_error: null,
  ...over,
});

describe('status rendering', () => {
  it('marks an orphaned repository and says how to delete its stacks; a synced one says nothing of it', () => {
    const status = { repositories: [repo({ orphaned: true }), repo({ generator_id: 'g2', generator_name: 'platform', orphaned: false })], stacks: { total: 3, invalid: 0 }, errors: [], agents: [] };
    const text = renderStatus(status as never, { ready: true, repositories: [], errors: [] }, new Map());
    expect(text).toContain('orphaned: no longer synced; its stacks stay (brokkr-sync repos remove payments --prune deletes them)');
    expect(text.match(/orphaned/g)).toHaveLength(1);
  });
});
