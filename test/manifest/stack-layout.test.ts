/** Stack discovery: directories with stack.yaml, their resources, nested stacks, the root option. */
import { describe, expect, it } from 'vitest';
import { defaultStackName, layoutStacks, normalizeRoot, stackDirOf } from '../../src/manifest/stack-layout.js';

describe('layoutStacks', () => {
  it('finds stacks at any depth and gives each its yaml files in byte order', () => {
    const stacks = layoutStacks(
      ['web/stack.yaml', 'web/b.yaml', 'web/A.yml', 'web/sub/z.yaml', 'web/readme.md', 'teams/pay/api/stack.yaml', 'teams/pay/api/d.yaml', 'loose.yaml'],
      '',
    );
    expect(stacks).toEqual([
      { dir: 'teams/pay/api', manifestPath: 'teams/pay/api/stack.yaml', resourcePaths: ['teams/pay/api/d.yaml'] },
      { dir: 'web', manifestPath: 'web/stack.yaml', resourcePaths: ['web/A.yml', 'web/b.yaml', 'web/sub/z.yaml'] },
    ]);
  });

  it('keeps a nested stack’s files out of its parent', () => {
    const stacks = layoutStacks(['a/stack.yaml', 'a/x.yaml', 'a/child/stack.yaml', 'a/child/y.yaml', 'a/child/deeper/z.yaml'], '');
    expect(stacks.map((s) => [s.dir, s.resourcePaths])).toEqual([
      ['a', ['a/x.yaml']],
      ['a/child', ['a/child/deeper/z.yaml', 'a/child/y.yaml']],
    ]);
  });

  it('sorts by bytes, not by locale (uppercase before lowercase, unicode last)', () => {
    const [stack] = layoutStacks(['s/stack.yaml', 's/é.yaml', 's/b.yaml', 's/Z.yaml', 's/a b.yaml'], '');
    expect(stack.resourcePaths).toEqual(['s/Z.yaml', 's/a b.yaml', 's/b.yaml', 's/é.yaml']);
  });

  it('only looks below the root, and the root itself may be a stack', () => {
    const paths = ['other/stack.yaml', 'deploy/stack.yaml', 'deploy/x.yaml', 'deploy/app/stack.yaml', 'deploy/app/y.yaml'];
    expect(layoutStacks(paths, 'deploy').map((s) => s.dir)).toEqual(['deploy', 'deploy/app']);
    expect(defaultStackName('deploy/app', 'deploy')).toBe('app');
    expect(defaultStackName('deploy', 'deploy')).toBe('deploy');
    expect(defaultStackName('teams/payments', '')).toBe('teams/payments');
  });

  it('ignores hidden directories and files below the root', () => {
    const stacks = layoutStacks(['.github/stack.yaml', 'a/stack.yaml', 'a/.ci.yml', 'a/.hidden/x.yaml', 'a/ok.yaml'], '');
    expect(stacks).toEqual([{ dir: 'a', manifestPath: 'a/stack.yaml', resourcePaths: ['a/ok.yaml'] }]);
  });

  it('a hidden root is fine: only paths below the root are judged hidden', () => {
    const stacks = layoutStacks(['.deploy/app/stack.yaml', '.deploy/app/x.yaml', '.deploy/.wip/stack.yaml'], '.deploy');
    expect(stacks).toEqual([{ dir: '.deploy/app', manifestPath: '.deploy/app/stack.yaml', resourcePaths: ['.deploy/app/x.yaml'] }]);
  });

  it('handles paths with spaces, unicode and newlines', () => {
    const [stack] = layoutStacks(['my stack/stack.yaml', 'my stack/dé ploy.yaml', 'my stack/new\nline.yaml'], '');
    expect(stack.dir).toBe('my stack');
    expect(stack.resourcePaths).toEqual(['my stack/dé ploy.yaml', 'my stack/new\nline.yaml']);
  });

  it('a stack.yml is a resource, not a manifest', () => {
    expect(layoutStacks(['a/stack.yml'], '')).toEqual([]);
  });
});

describe('stackDirOf', () => {
  const dirs = new Set(['', 'a', 'a/b']);
  it('maps a path to the deepest stack containing it', () => {
    expect(stackDirOf('a/b/c/d.yaml', dirs)).toBe('a/b');
    expect(stackDirOf('a/x.yaml', dirs)).toBe('a');
    expect(stackDirOf('a/b', dirs)).toBe('a/b');
    expect(stackDirOf('z.yaml', dirs)).toBe('');
    expect(stackDirOf('z/y.yaml', new Set(['a']))).toBeNull();
  });
});

describe('normalizeRoot', () => {
  it('strips ./, slashes and turns . into the repository root', () => {
    expect(normalizeRoot(undefined)).toBe('');
    expect(normalizeRoot('.')).toBe('');
    expect(normalizeRoot('./deploy/')).toBe('deploy');
    expect(normalizeRoot('/a/b')).toBe('a/b');
  });
});
