/** lint checks rollout and dependsOn like sync: field rules, unknown names, cycles spelled out. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lintDirectory } from '../../src/cli/commands/lint.js';
import { formatProblem } from '../../src/manifest/index.js';

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'brokkr-lint-rollout-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const messages = async (dir: string) => (await lintDirectory(dir)).stacks.flatMap((s) => s.problems.map((p) => formatProblem(p)));

describe('lint: rollout and dependsOn', () => {
  it('a dependsOn cycle makes each stack on it invalid, the cycle spelled out at the dependsOn line', async () => {
    const dir = tree({
      'a/stack.yaml': 'name: a\ndependsOn: [b]\n',
      'b/stack.yaml': 'name: b\ndependsOn: [a]\n',
      'c/stack.yaml': 'name: c\ndependsOn: [a]\n',
    });
    expect(await messages(dir)).toEqual(['a/stack.yaml:2: dependsOn cycle: a → b → a', 'b/stack.yaml:2: dependsOn cycle: b → a → b']);
  });

  it('an unknown dependency is named with the closest stack', async () => {
    const dir = tree({ 'pg/stack.yaml': 'name: postgres\n', 'api/stack.yaml': 'name: api\n\ndependsOn: [postgress]\n' });
    expect(await messages(dir)).toEqual(['api/stack.yaml:3: dependsOn names unknown stack "postgress" (did you mean "postgres"?)']);
  });

  it('rollout fields are checked with did-you-mean, and a valid canary manifest passes', async () => {
    const bad = tree({ 'web/stack.yaml': 'rollout:\n  wave:\n    - labels: [canary]\n  gate: green\n' });
    expect(await messages(bad)).toEqual([
      'web/stack.yaml:1: unknown field "wave" in rollout (did you mean "waves"?)',
      'web/stack.yaml:1: rollout.gate must be success or healthy, not "green"',
    ]);
    const good = tree({
      'db/stack.yaml': 'name: postgres\n',
      'web/stack.yaml': 'rollout:\n  waves:\n    - labels: [canary]\n      annotations: {region: eu}\n    - labels: [prod]\n  gate: success\ndependsOn: [postgres]\n',
    });
    const result = await lintDirectory(good);
    expect(result.errors).toBe(0);
    expect(result.stacks.find((s) => s.dir === 'web')!.manifest).toMatchObject({
      rollout: { waves: [{ labels: ['canary'], annotations: { region: 'eu' } }, { labels: ['prod'], annotations: {} }], gate: 'success' },
      dependsOn: ['postgres'],
    });
  });
});
