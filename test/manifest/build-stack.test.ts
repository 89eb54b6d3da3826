/** One stack validated end to end: manifest, symlinks, too-large files, content, duplicates. */
import { describe, expect, it } from 'vitest';
import { applyDuplicateNames, buildStack, type FileData } from '../../src/manifest/build-stack.js';
import { layoutStacks } from '../../src/manifest/stack-layout.js';

function stacksOf(files: Record<string, string | FileData>, modes: Record<string, string> = {}, maxBytes = 4096) {
  const layouts = layoutStacks(Object.keys(files), '');
  return layouts.map((layout) =>
    buildStack({
      layout,
      root: '',
      maxBytes,
      modeOf: (p) => modes[p],
      read: (p) => {
        const v = files[p];
        return typeof v === 'string' ? Buffer.from(v) : v;
      },
    }),
  );
}

describe('buildStack', () => {
  it('a valid stack has a manifest, content and checksum and no problems', () => {
    const [s] = stacksOf({ 'web/stack.yaml': 'labels: [prod]\n', 'web/svc.yaml': 'kind: Service\n' });
    expect(s.problems).toEqual([]);
    expect(s.manifest).toEqual({ name: 'web', description: null, labels: ['prod'], annotations: {} });
    expect(s.content).toBe('---\n# Source: svc.yaml\nkind: Service\n');
    expect(s.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a symlinked resource or manifest is a problem and is never read', () => {
    const read: string[] = [];
    const layouts = layoutStacks(['s/stack.yaml', 's/evil.yaml', 's/ok.yaml'], '');
    const s = buildStack({
      layout: layouts[0],
      root: '',
      maxBytes: 4096,
      modeOf: (p) => (p === 's/evil.yaml' ? '120000' : undefined),
      read: (p) => {
        read.push(p);
        return Buffer.from(p.endsWith('stack.yaml') ? '' : 'a: 1\n');
      },
    });
    expect(read).toEqual(['s/stack.yaml', 's/ok.yaml']);
    expect(s.problems).toEqual([{ file: 's/evil.yaml', line: null, message: 'is a symbolic link; symlinks are not followed (commit the file itself)' }]);
    expect(s.content).toBeNull();
    const [t] = stacksOf({ 't/stack.yaml': '' }, { 't/stack.yaml': '120000' });
    expect(t.manifest).toBeNull();
    expect(t.problems[0].message).toMatch(/symbolic link/);
  });

  it('a submodule inside a stack is a problem', () => {
    const [s] = stacksOf({ 's/stack.yaml': '', 's/vendor.yaml': '' }, { 's/vendor.yaml': '160000' });
    expect(s.problems[0]).toMatchObject({ file: 's/vendor.yaml', message: expect.stringMatching(/submodule/) });
  });

  it('a too-large file is a problem naming its size and the limit', () => {
    const [s] = stacksOf({ 's/stack.yaml': '', 's/huge.yaml': { tooLarge: 104_857_600 } });
    expect(s.problems).toEqual([{ file: 's/huge.yaml', line: null, message: 'file is 104857600 bytes, over the limit of 4096 bytes' }]);
  });

  it('content over the limit points at the manifest', () => {
    const [s] = stacksOf({ 's/stack.yaml': '', 's/a.yaml': `a: ${'x'.repeat(3000)}\n`, 's/b.yaml': `b: ${'x'.repeat(3000)}\n` });
    expect(s.problems[0]).toMatchObject({ file: 's/stack.yaml', message: expect.stringMatching(/over the limit of 4096 bytes/) });
  });

  it('collects manifest and resource problems together', () => {
    const [s] = stacksOf({ 's/stack.yaml': 'lables: []\n', 's/a.yaml': '- 1\n' });
    expect(s.problems.map((p) => p.file)).toEqual(['s/stack.yaml', 's/a.yaml']);
  });
});

describe('applyDuplicateNames', () => {
  it('marks the newcomer invalid at its name line and leaves the keeper alone', () => {
    const stacks = applyDuplicateNames(
      stacksOf({ 'a/stack.yaml': 'name: web\n', 'a/x.yaml': 'a: 1\n', 'b/stack.yaml': '# b\nname: web\n', 'b/x.yaml': 'b: 1\n' }),
    );
    expect(stacks[0].problems).toEqual([]);
    expect(stacks[0].content).not.toBeNull();
    expect(stacks[1].problems).toEqual([{ file: 'b/stack.yaml', line: 2, message: 'stack name "web" is already used by the stack in "a"' }]);
    expect(stacks[1].content).toBeNull();
  });
});
