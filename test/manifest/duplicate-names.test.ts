/** Two stacks with one name: the incumbent keeps it, newcomers are invalid, deterministically. */
import { describe, expect, it } from 'vitest';
import { duplicateNameMessage, findDuplicateNames } from '../../src/manifest/duplicate-names.js';

describe('findDuplicateNames', () => {
  it('without incumbents the first directory in byte order keeps the name', () => {
    const dups = findDuplicateNames([
      { dir: 'b', name: 'web' },
      { dir: 'a', name: 'web' },
      { dir: 'c', name: 'other' },
      { dir: 'd', name: 'web' },
    ]);
    expect(dups).toEqual([
      { dir: 'b', name: 'web', claimedBy: 'a' },
      { dir: 'd', name: 'web', claimedBy: 'a' },
    ]);
  });

  it('an incumbent keeps its name even when a newcomer sorts first', () => {
    const dups = findDuplicateNames([{ dir: 'a-new', name: 'web' }, { dir: 'z-old', name: 'web' }], new Map([['web', 'z-old']]));
    expect(dups).toEqual([{ dir: 'a-new', name: 'web', claimedBy: 'z-old' }]);
  });

  it('an incumbent that no longer claims the name falls back to byte order', () => {
    const dups = findDuplicateNames([{ dir: 'b', name: 'web' }, { dir: 'a', name: 'web' }], new Map([['web', 'gone']]));
    expect(dups).toEqual([{ dir: 'b', name: 'web', claimedBy: 'a' }]);
  });

  it('unique names are never duplicates', () => {
    expect(findDuplicateNames([{ dir: 'a', name: 'x' }, { dir: 'b', name: 'y' }])).toEqual([]);
  });

  it('words the message once, naming the keeper', () => {
    expect(duplicateNameMessage('web', 'apps/web')).toBe('stack name "web" is already used by the stack in "apps/web"');
    expect(duplicateNameMessage('web', '')).toBe('stack name "web" is already used by the stack in the repository root');
  });
});
