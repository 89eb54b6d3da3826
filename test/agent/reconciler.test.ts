import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/git-repo.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { LocalState } from '../../src/agent/local-state.js';
import { sha256Hex } from '../../src/sha256-hex.js';
import { RetrySchedule } from '../../src/agent/retry-schedule.js';
import { StackNames } from '../../src/agent/stack-names.js';
import { createMemoryLogger } from '../../src/agent/logger.js';
import type { ApiClient, EventReport } from '../../src/agent/api-client.js';
import type { Applier, ApplyRequest, RemoveRequest } from '../../src/agent/applier.js';
import type { DeploymentObject } from '../../src/store/records.js';

const dirs: { cleanup(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

const S1 = '00000000-0000-4000-8000-000000000001';
const S2 = '00000000-0000-4000-8000-000000000002';

function object(stack: string, seq: number, content: string, marker = false): DeploymentObject {
  return {
    id: `obj-${seq}`,
    created_at: '',
    updated_at: '',
    deleted_at: null,
    sequence_id: seq,
    stack_id: stack,
    yaml_content: content,
    yaml_checksum: marker ? 'd41d8cd98f00b204e9800998ecf8427e' : sha256Hex(content),
    submitted_at: '',
    is_deletion_marker: marker,
    generator_id: 'g',
  };
}

/** A reconciler over a real state dir; `listed` is what GET /agents/{id}/stacks answers (mutable). */
async function setup(listed: Record<string, string>, out?: string) {
  if (!out) {
    const d = makeTempDir('brokkr-reconciler-');
    dirs.push(d);
    out = d.path;
  }
  const reported: EventReport[] = [];
  const api = {
    stacks: async () => Object.entries(listed).map(([id, name]) => ({ id, name })),
    reportEvent: async (_agent: string, e: EventReport) => void reported.push(e),
  } as unknown as ApiClient;
  const calls: string[] = [];
  const applier: Applier = {
    writesFiles: true,
    apply: async (r: ApplyRequest) => (calls.push(`apply ${r.stackName} ${r.sequenceId}`), { ok: true, message: 'ok' }),
    remove: async (r: RemoveRequest) => (calls.push(`remove ${r.stackName} ${r.file}`), { ok: true, message: 'ok' }),
  };
  const { local } = await LocalState.open(out);
  const reconciler = new Reconciler({
    api,
    agentId: 'a',
    applier,
    local,
    names: new StackNames(api, 'a', local),
    retries: new RetrySchedule(),
    logger: createMemoryLogger(),
  });
  return { reconciler, reported, calls, local, out };
}

describe('Reconciler', () => {
  it('applies oldest sequence first, whatever order the daemon sent', async () => {
    const { reconciler, calls } = await setup({ [S1]: 'one', [S2]: 'two' });
    await reconciler.reconcile([object(S2, 9, 'b: 1\n'), object(S1, 4, 'a: 1\n')], 'incremental');
    expect(calls).toEqual(['apply one 4', 'apply two 9']);
  });

  it('an object already applied is reported again, not applied again (a lost SUCCESS report)', async () => {
    const { reconciler, reported, calls } = await setup({ [S1]: 'one' });
    await reconciler.reconcile([object(S1, 4, 'a: 1\n')], 'incremental');
    await reconciler.reconcile([object(S1, 4, 'a: 1\n')], 'incremental');
    expect(calls).toEqual(['apply one 4']);
    expect(reported.map((e) => `${e.event_type} ${e.status} ${e.message}`)).toEqual(['DEPLOY SUCCESS ok', 'DEPLOY SUCCESS already applied (sequence 4)']);
  });

  it('a full pass skips what the state file already matches, silently', async () => {
    const { reconciler, reported, calls } = await setup({ [S1]: 'one' });
    await reconciler.reconcile([object(S1, 4, 'a: 1\n')], 'incremental');
    await reconciler.reconcile([object(S1, 4, 'a: 1\n'), object(S2, 2, '', true)], 'full');
    expect(calls).toEqual(['apply one 4']);
    expect(reported).toHaveLength(1);
  });

  it('a deletion marker for a stack applied earlier removes its file even after a restart, when the daemon no longer lists the stack', async () => {
    const first = await setup({ [S1]: 'teams/payments' });
    await first.reconciler.reconcile([object(S1, 4, 'a: 1\n')], 'incremental');
    // Restart over the same OUT; the deleted stack is gone from GET /agents/{id}/stacks.
    const { reconciler, calls, local } = await setup({}, first.out);
    await reconciler.reconcile([object(S1, 5, '', true)], 'incremental');
    expect(calls).toEqual(['remove teams/payments teams__payments.yaml']);
    expect(local.get(S1)).toBeUndefined();
  });

  it('a deletion marker for a stack never applied here is acknowledged without doing anything', async () => {
    const { reconciler, reported, calls } = await setup({});
    await reconciler.reconcile([object(S1, 5, '', true)], 'incremental');
    expect(calls).toEqual([]);
    expect(reported[0]).toMatchObject({ event_type: 'DELETE', status: 'SUCCESS', message: expect.stringContaining('nothing to remove') });
  });

  it('a deleted stack and a new stack of the same name in one target state: delete first, then write', async () => {
    const listed: Record<string, string> = { [S1]: 'web' };
    const { reconciler, calls } = await setup(listed);
    await reconciler.reconcile([object(S1, 1, 'v: 1\n')], 'incremental');
    delete listed[S1];
    listed[S2] = 'web';
    await reconciler.reconcile([object(S2, 3, 'v: 2\n'), object(S1, 2, '', true)], 'incremental');
    expect(calls).toEqual(['apply web 1', 'remove web web.yaml', 'apply web 3']);
  });
});
