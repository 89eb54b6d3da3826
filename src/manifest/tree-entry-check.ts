/** Tree entries that are never read as files: symbolic links and submodules inside a stack. */
import { problem, type ManifestProblem } from './manifest-problem.js';

/** Git file modes that are neither regular files nor directories. */
export const SYMLINK_MODE = '120000';
export const SUBMODULE_MODE = '160000';

/**
 * A problem for an entry that would be part of a stack (its manifest or a resource) but is a
 * symlink or a submodule; null for regular files. Symlinks are never followed: their target may
 * lie outside the repository (`/etc/passwd`, `/dev/zero`). Call it for every manifest and
 * resource path of a stack before reading blobs; a stack with such an entry is invalid.
 */
export function checkTreeEntry(entry: { path: string; mode: string }): ManifestProblem | null {
  if (entry.mode === SYMLINK_MODE) {
    return problem(entry.path, null, 'is a symbolic link; symlinks are not followed (commit the file itself)');
  }
  if (entry.mode === SUBMODULE_MODE) {
    return problem(entry.path, null, 'is a git submodule; submodules are not read (commit the file itself)');
  }
  return null;
}
