/** `brokkr-sync lint`: the syncer's rules over a working tree, editor-friendly output and exit codes. */
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { lintDirectory } from '../../src/cli/commands/lint.js';
import { makeTempDir } from '../helpers/git-repo.js';

const run = promisify(execFile);
const MAIN = resolve('dist/cli/main.js');

/** Spawn the built CLI; resolves with the exit code instead of rejecting. */
async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, BROKKR_DEBUG: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const temps: { cleanup(): void }[] = [];
afterEach(() => temps.splice(0).forEach((t) => t.cleanup()));

function tree(files: Record<string, string | Buffer>): string {
  const tmp = makeTempDir('brokkr-lint-');
  temps.push(tmp);
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp.path, path)), { recursive: true });
    writeFileSync(join(tmp.path, path), data);
  }
  return tmp.path;
}

const svc = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n';

describe('lintDirectory', () => {
  it('a clean tree has no problems', async () => {
    const dir = tree({ 'web/stack.yaml': 'labels: [prod]\n', 'web/svc.yaml': svc, 'web/nested/stack.yaml': 'name: nested\n', 'notes.txt': 'x' });
    const result = await lintDirectory(dir);
    expect(result.errors).toBe(0);
    expect(result.stacks.map((s) => s.dir)).toEqual(['web', 'web/nested']);
  });

  it('finds every kind of problem, naming each file', async () => {
    let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 9; i++) bomb += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const dir = tree({
      'a/stack.yaml': `labels: [${'l'.repeat(65)}]\n`,
      'b/stack.yaml': 'lables: [prod]\n',
      'c/stack.yaml': 'name: same\n',
      'd/stack.yaml': 'name: same\n',
      'e/stack.yaml': '',
      'e/bomb.yaml': bomb,
      'f/stack.yaml': '',
      'f/bin.yaml': Buffer.from([0x00, 0x01, 0x02]),
      'g/stack.yaml': '',
      'g/latin.yaml': Buffer.from('a: caf\xe9\n', 'latin1'),
      'h/stack.yaml': '',
      'h/deep.yaml': '['.repeat(50_000),
      'i/stack.yaml': '',
      'i/list.yaml': '- not a mapping\n',
    });
    symlinkSync('/dev/zero', join(dir, 'e', 'zero.yaml'));
    writeFileSync(join(dir, 'i', 'huge.yaml'), '');
    truncateSync(join(dir, 'i', 'huge.yaml'), 100 * 1024 * 1024); // sparse: 100 MB that is never read
    symlinkSync('/etc/passwd', join(dir, 'f', 'passwd.yaml'));
    const result = await lintDirectory(dir);
    const lines = result.stacks.flatMap((s) => s.problems.map((p) => `${p.file}: ${p.message}`));
    expect(lines).toEqual([
      expect.stringMatching(/^a\/stack\.yaml: label "l+…" is 65 characters long; the limit is 64$/),
      'b/stack.yaml: unknown field "lables" (did you mean "labels"?)',
      'd/stack.yaml: stack name "same" is already used by the stack in "c"',
      expect.stringMatching(/^e\/bomb\.yaml: aliases expand .* alias bomb$/),
      'e/zero.yaml: is a symbolic link; symlinks are not followed (commit the file itself)',
      expect.stringMatching(/^f\/bin\.yaml: binary file/),
      'f/passwd.yaml: is a symbolic link; symlinks are not followed (commit the file itself)',
      expect.stringMatching(/^g\/latin\.yaml: not valid UTF-8/),
      expect.stringMatching(/^h\/deep\.yaml: invalid YAML: nesting exceeded/),
      'i/huge.yaml: file is 104857600 bytes, over the limit of 4194304 bytes',
      'i/list.yaml: document 1 is a list, not a mapping (each document must be a Kubernetes object)',
    ]);
    expect(result.errors).toBe(lines.length);
  });

  it('handles names with spaces, unicode and newlines', async () => {
    const dir = tree({ 'my stack/stack.yaml': '', 'my stack/dé ploy.yaml': svc, 'my stack/new\nline.yaml': '- x\n' });
    const [stack] = (await lintDirectory(dir)).stacks;
    expect(stack.resourcePaths).toEqual(['my stack/dé ploy.yaml', 'my stack/new\nline.yaml']);
    expect(stack.problems.map((p) => p.file)).toEqual(['my stack/new\nline.yaml']);
  });

  it('honours --root and --max-bytes, and skips hidden paths, .git and node_modules', async () => {
    const dir = tree({
      'other/stack.yaml': 'lables: x\n',
      'deploy/app/stack.yaml': '',
      'deploy/app/big.yaml': `a: "${'x'.repeat(500)}"\n`,
      'deploy/.hidden/stack.yaml': 'bad: field\n',
      'deploy/node_modules/m/stack.yaml': 'bad: field\n',
      'deploy/.git/x/stack.yaml': 'bad: field\n',
    });
    const result = await lintDirectory(dir, { root: 'deploy', maxBytes: 100 });
    expect(result.stacks.map((s) => s.dir)).toEqual(['deploy/app']);
    expect(result.stacks[0].problems).toEqual([{ file: 'deploy/app/big.yaml', line: null, message: 'file is 506 bytes, over the limit of 100 bytes' }]);
  });
});

it('a hidden root is allowed; hidden paths below it are not stacks', async () => {
  const dir = tree({ '.deploy/app/stack.yaml': '', '.deploy/app/svc.yaml': svc, '.deploy/.wip/stack.yaml': 'bad: 1\n' });
  const result = await lintDirectory(dir, { root: '.deploy/' });
  expect(result.stacks.map((s) => [s.dir, s.resourcePaths])).toEqual([['.deploy/app', ['.deploy/app/svc.yaml']]]);
  expect(result.errors).toBe(0);
  expect((await lintDirectory(dir, { root: 'missing' })).stacks).toEqual([]);
});

describe('brokkr-sync lint (built CLI)', () => {
  it('prints path:line: message relative to the current directory, a summary, and exits 1', async () => {
    const dir = tree({ 'repo/web/stack.yaml': 'name: web\nlables: [prod]\n', 'repo/web/svc.yaml': svc, 'repo/db/stack.yaml': '', 'repo/db/x.yaml': 'a: [1\n' });
    const { code, stdout } = await cli(['lint', 'repo'], dir);
    expect(code).toBe(1);
    expect(stdout.split('\n')).toEqual([
      expect.stringMatching(/^repo\/db\/x\.yaml:2: invalid YAML: /),
      'repo/web/stack.yaml:2: unknown field "lables" (did you mean "labels"?)',
      '2 stacks, 2 errors (2 invalid)',
      '',
    ]);
  });

  it('exits 0 with a summary on a clean tree', async () => {
    const dir = tree({ 'web/stack.yaml': 'labels: [prod]\n', 'web/svc.yaml': svc });
    const { code, stdout } = await cli(['lint', '.'], dir);
    expect({ code, stdout }).toEqual({ code: 0, stdout: '1 stack, 0 errors\n' });
  });

  it('exits 2 with a clear message when DIR does not exist', async () => {
    const dir = tree({});
    const { code, stderr, stdout } = await cli(['lint', 'missing-dir'], dir);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('error: directory missing-dir does not exist\n');
  });

  it('lints stacks.example clean', async () => {
    const { code, stdout } = await cli(['lint', 'stacks.example'], resolve('.'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^[4-9] stacks, 0 errors\n$/);
  });
});
