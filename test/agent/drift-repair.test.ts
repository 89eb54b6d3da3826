import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/git-repo.js';
import { LocalState } from '../../src/agent/local-state.js';
import { sha256Hex } from '../../src/sha256-hex.js';
import { createMemoryLogger } from '../../src/agent/logger.js';
import { repairDrift } from '../../src/agent/drift-repair.js';
import { CONTENT_DIR } from '../../src/agent/state-file.js';

const dirs: { cleanup(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

const STACK = '0a1b2c3d-0000-4000-8000-000000000001';
const CONTENT = 'apiVersion: v1\nkind: ConfigMap\n';

async function setup() {
  const d = makeTempDir('brokkr-drift-');
  dirs.push(d);
  const { local } = await LocalState.open(d.path);
  await local.recordApplied(
    STACK,
    { name: 'web', file: 'web.yaml', object_id: 'o1', sequence_id: 3, checksum: sha256Hex(CONTENT), applied_at: new Date().toISOString() },
    CONTENT,
  );
  writeFileSync(join(d.path, 'web.yaml'), CONTENT);
  return { out: d.path, local, log: createMemoryLogger() };
}

describe('drift repair', () => {
  it('leaves untouched files alone and logs nothing', async () => {
    const { out, local, log } = await setup();
    expect(await repairDrift(out, local, log)).toEqual({ restored: [], refetch: [] });
    expect(log.lines).toEqual([]);
  });

  it('a hand-edited file is restored and the repair is logged', async () => {
    const { out, local, log } = await setup();
    writeFileSync(join(out, 'web.yaml'), 'hacked: true\n');
    expect((await repairDrift(out, local, log)).restored).toEqual(['web.yaml']);
    expect(readFileSync(join(out, 'web.yaml'), 'utf8')).toBe(CONTENT);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain('restored web.yaml: it was edited by hand');
  });

  it('a file deleted by hand is restored', async () => {
    const { out, local, log } = await setup();
    rmSync(join(out, 'web.yaml'));
    expect((await repairDrift(out, local, log)).restored).toEqual(['web.yaml']);
    expect(readFileSync(join(out, 'web.yaml'), 'utf8')).toBe(CONTENT);
    expect(log.lines[0]).toContain('it was deleted by hand');
  });

  it('without the kept content the stack is forgotten so the next full pass re-applies it', async () => {
    const { out, local, log } = await setup();
    rmSync(join(out, 'web.yaml'));
    rmSync(join(out, CONTENT_DIR), { recursive: true });
    expect(await repairDrift(out, local, log)).toEqual({ restored: [], refetch: [STACK] });
    expect(local.get(STACK)).toBeUndefined();
    expect(log.lines[0]).toContain('fetching it again');
  });

  it('files of stacks applied through a command are not checked', async () => {
    const { out, local, log } = await setup();
    await local.recordApplied('0a1b2c3d-0000-4000-8000-000000000002', { name: 'k', file: null, object_id: 'o2', sequence_id: 4, checksum: 'x', applied_at: '' }, 'x');
    expect(await repairDrift(out, local, log)).toEqual({ restored: [], refetch: [] });
  });
});
