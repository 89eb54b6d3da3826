import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/git-repo.js';
import { createApplier } from '../../src/agent/applier.js';
import { runCommand } from '../../src/agent/run-command.js';

const dirs: { cleanup(): void }[] = [];
const tempDir = () => {
  const d = makeTempDir('brokkr-applier-');
  dirs.push(d);
  return d.path;
};
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

const req = { stackId: 'stack-1', stackName: 'teams/payments', sequenceId: 42, file: 'teams__payments.yaml', content: 'kind: ConfigMap\n' };

describe('file applier', () => {
  it('writes the stack file and removes it on deletion', async () => {
    const out = tempDir();
    const applier = createApplier({ outDir: out });
    expect(applier.writesFiles).toBe(true);
    const applied = await applier.apply(req);
    expect(applied).toEqual({ ok: true, message: 'wrote teams__payments.yaml (16 bytes)' });
    expect(readFileSync(join(out, req.file), 'utf8')).toBe(req.content);

    const removed = await applier.remove({ ...req, lastContent: req.content });
    expect(removed).toEqual({ ok: true, message: 'removed teams__payments.yaml' });
    expect(readdirSync(out)).toEqual([]);
  });

  it('removing a file that is already gone succeeds', async () => {
    const applier = createApplier({ outDir: tempDir() });
    expect((await applier.remove({ ...req, lastContent: '' })).ok).toBe(true);
  });

  it('a write that cannot happen is a failure naming the path', async () => {
    const out = tempDir();
    const applier = createApplier({ outDir: join(out, 'not-there') });
    const r = await applier.apply(req);
    expect(r.ok).toBe(false);
    expect(r.message).toContain(join(out, 'not-there', req.file));
  });
});

describe('command applier', () => {
  it('pipes the content to --apply with the stack in the environment', async () => {
    const out = tempDir();
    const sink = join(out, 'sink');
    const applier = createApplier({
      outDir: out,
      applyCommand: `cat > ${sink}; echo "$BROKKR_STACK_NAME|$BROKKR_STACK_ID|$BROKKR_SEQUENCE_ID" >> ${sink}; echo configmap/x created`,
    });
    expect(applier.writesFiles).toBe(false);
    const r = await applier.apply(req);
    expect(r.ok).toBe(true);
    expect(r.message).toContain('exited with code 0: configmap/x created');
    expect(readFileSync(sink, 'utf8')).toBe('kind: ConfigMap\nteams/payments|stack-1|42\n');
    expect(existsSync(join(out, req.file))).toBe(false);
  });

  it('gives --delete the last applied content on stdin', async () => {
    const out = tempDir();
    const sink = join(out, 'deleted');
    const applier = createApplier({ outDir: out, applyCommand: 'cat >/dev/null', deleteCommand: `cat > ${sink}` });
    expect((await applier.remove({ ...req, file: null, lastContent: 'kind: Old\n' })).ok).toBe(true);
    expect(readFileSync(sink, 'utf8')).toBe('kind: Old\n');
  });

  it('a failing command is a failure with its exit code and the tail of its stderr (at most ~2 KB)', async () => {
    const applier = createApplier({ outDir: tempDir(), applyCommand: `head -c 10000 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'error: the server said no' >&2; exit 3` });
    const r = await applier.apply(req);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/exited with code 3: …x+\nerror: the server said no$/);
    expect(Buffer.byteLength(r.message)).toBeLessThan(2300);
  });

  it('a command that ignores stdin still succeeds', async () => {
    const applier = createApplier({ outDir: tempDir(), applyCommand: 'true' });
    const big = { ...req, content: 'x'.repeat(1024 * 1024) };
    expect((await applier.apply(big)).ok).toBe(true);
  });

  it('a command that runs too long is killed and reported as timed out', async () => {
    const r = await runCommand({ command: 'sleep 30 | cat', stdin: '', env: {}, timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    const applier = createApplier({ outDir: tempDir(), applyCommand: 'sleep 30', commandTimeoutMs: 200 });
    expect(await applier.apply(req)).toEqual({ ok: false, message: '`sleep 30` timed out and was killed' });
  });

  it('a command that is not found says so', async () => {
    const out = tempDir();
    writeFileSync(join(out, 'x'), '');
    const applier = createApplier({ outDir: out, applyCommand: 'definitely-not-a-command-xyz' });
    const r = await applier.apply(req);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/exited with code 127: .*not found/);
  });
});
