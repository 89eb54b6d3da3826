import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/git-repo.js';
import { CONTENT_DIR, STATE_FILE, StateStore, emptyState, parseState } from '../../src/agent/state-file.js';
import { LocalState } from '../../src/agent/local-state.js';
import { sha256Hex } from '../../src/sha256-hex.js';
import { writeFileAtomic } from '../../src/agent/atomic-file.js';

const dirs: { cleanup(): void }[] = [];
const tempDir = () => {
  const d = makeTempDir('brokkr-agent-state-');
  dirs.push(d);
  return d.path;
};
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

const STACK = '7f1c2a4e-3b0d-4c55-9a0e-1d2e3f405162';
const entry = (over: Partial<Record<string, unknown>> = {}) => ({
  name: 'teams/payments',
  file: 'teams__payments.yaml',
  object_id: 'b1c2a4e7-3b0d-4c55-9a0e-1d2e3f405162',
  sequence_id: 7,
  checksum: sha256Hex('kind: A\n'),
  applied_at: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('agent state file', () => {
  it('a missing state file is an empty state', async () => {
    const { state, warning } = await new StateStore(tempDir()).load();
    expect(state).toEqual(emptyState());
    expect(warning).toBeUndefined();
  });

  it('survives a restart: what was recorded is read back, with the kept content', async () => {
    const out = tempDir();
    const { local } = await LocalState.open(out);
    await local.setAgentId('agent-1');
    await local.recordApplied(STACK, entry() as never, 'kind: A\n');

    const again = (await LocalState.open(out)).local;
    expect(again.agentId).toBe('agent-1');
    expect(again.get(STACK)).toEqual(entry());
    expect(await again.lastContent(STACK)).toBe('kind: A\n');
    expect(existsSync(join(out, STATE_FILE))).toBe(true);
    expect(readdirSync(join(out, CONTENT_DIR))).toEqual([`${STACK}.yaml`]);
  });

  it('forgetting a stack removes its entry and its kept content', async () => {
    const out = tempDir();
    const { local } = await LocalState.open(out);
    await local.recordApplied(STACK, entry() as never, 'kind: A\n');
    await local.forget(STACK);
    const again = (await LocalState.open(out)).local;
    expect(again.get(STACK)).toBeUndefined();
    expect(await again.lastContent(STACK)).toBeNull();
  });

  it('knows which stack owns a file', async () => {
    const { local } = await LocalState.open(tempDir());
    await local.recordApplied(STACK, entry() as never, 'kind: A\n');
    expect(local.ownerOfFile('teams__payments.yaml', 'other')).toBe(STACK);
    expect(local.ownerOfFile('teams__payments.yaml', STACK)).toBeUndefined();
  });

  it('a corrupt state file is moved aside with a warning and the agent starts fresh', async () => {
    const out = tempDir();
    writeFileSync(join(out, STATE_FILE), '{ not json');
    const { state, warning } = await new StateStore(out).load();
    expect(state).toEqual(emptyState());
    expect(warning).toMatch(/unreadable; moved it to .*corrupt-/);
    expect(readdirSync(out).some((f) => f.startsWith(`${STATE_FILE}.corrupt-`))).toBe(true);
  });

  it('refuses a state file whose entries point outside OUT', () => {
    const bad = (file: string) => JSON.stringify({ version: 1, agent_id: null, stacks: { [STACK]: entry({ file }) } });
    expect(parseState(bad('../escape.yaml'))).toBeNull();
    expect(parseState(bad('.brokkr-agent-state.json'))).toBeNull();
    expect(parseState(JSON.stringify({ version: 1, agent_id: null, stacks: { '../x': entry() } }))).toBeNull();
    expect(parseState(bad('ok.yaml'))).not.toBeNull();
  });

  it('refuses to keep content under an id that is not UUID-like', async () => {
    const store = new StateStore(tempDir());
    await expect(store.saveContent('../../etc/x', 'x')).rejects.toThrow(/unexpected stack id/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file and leaves no temp file behind', async () => {
    const out = tempDir();
    const path = join(out, 'a.yaml');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(out)).toEqual(['a.yaml']);
  });

  it('leaves the old content and no temp file when the write fails', async () => {
    const out = tempDir();
    const path = join(out, 'a.yaml');
    await writeFileAtomic(path, 'one');
    await expect(writeFileAtomic(join(out, 'missing-dir', 'b.yaml'), 'x')).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe('one');
    expect(readdirSync(out)).toEqual(['a.yaml']);
  });
});
