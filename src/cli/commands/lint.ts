/** `brokkr-sync lint [DIR]`: validate a stacks working tree with the syncer's rules, `path:line: message` per problem. */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  DEFAULT_MAX_CONTENT_BYTES,
  SYMLINK_MODE,
  applyDependencyRules,
  applyDuplicateNames,
  buildStack,
  formatProblem,
  layoutStacks,
  normalizeRoot,
  type BuiltStack,
  type FileData,
} from '../../manifest/index.js';
import { CliError } from '../errors.js';
import { plural } from '../format-table.js';

interface LintArgs {
  dir: string;
  root?: string;
  'max-bytes': number;
}

export interface LintResult {
  stacks: BuiltStack[];
  errors: number;
}

/**
 * Validate every stack below `dir` (the working tree stands in for the repository root). Files
 * are found like the syncer sees a commit: no hidden paths, symbolic links listed but never
 * followed or read, `.git` and `node_modules` skipped.
 */
export async function lintDirectory(dir: string, options: { root?: string; maxBytes?: number } = {}): Promise<LintResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const root = normalizeRoot(options.root);
  // '**/*' rather than '**': picomatch's '**' does not match names containing a line break.
  // Glob from the root so a hidden root (`.deploy`) still counts: only paths below it may be hidden.
  const base = root === '' ? dir : join(dir, root);
  // fast-glob loads when lint runs, not with every command of the CLI.
  const { default: fg } = await import('fast-glob');
  const entries = await fg('**/*', {
    cwd: base,
    dot: false,
    onlyFiles: false,
    followSymbolicLinks: false,
    objectMode: true,
    ignore: ['**/.git/**', '**/node_modules/**', '.git', 'node_modules'],
  });
  const modes = new Map<string, string>();
  const paths: string[] = [];
  for (const entry of entries) {
    if (entry.dirent.isDirectory()) continue;
    const path = root === '' ? entry.path : `${root}/${entry.path}`;
    paths.push(path);
    if (entry.dirent.isSymbolicLink()) modes.set(path, SYMLINK_MODE);
  }
  const read = (path: string): FileData => {
    const abs = join(dir, path);
    try {
      // lstat again: a file swapped for a symlink since the listing is still never followed.
      const stat = lstatSync(abs);
      if (!stat.isFile()) return { missing: true };
      if (stat.size > maxBytes) return { tooLarge: stat.size };
      return readFileSync(abs);
    } catch {
      return { missing: true };
    }
  };
  const stacks = layoutStacks(paths, root).map((layout) => buildStack({ layout, root, read, modeOf: (p) => modes.get(p), maxBytes }));
  applyDuplicateNames(stacks);
  applyDependencyRules(stacks);
  return { stacks, errors: stacks.reduce((n, s) => n + s.problems.length, 0) };
}

/** A path as the user should see it: relative to the current directory, quoted if it holds a line break. */
function displayPath(dir: string, file: string): string {
  const shown = relative(process.cwd(), join(dir, file)) || '.';
  return /[\u0000-\u001f\u007f]/.test(shown) ? JSON.stringify(shown) : shown;
}

export const lintCommand: CommandModule<object, LintArgs> = {
  command: 'lint [dir]',
  describe: 'Check a stacks directory (working tree) with the same rules as sync; exit 1 on errors',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', default: '.', describe: 'Directory standing for the repository root' })
      .options({
        root: { type: 'string', describe: 'Only stacks below this subdirectory of DIR (like sync --root)' },
        'max-bytes': { type: 'number', default: DEFAULT_MAX_CONTENT_BYTES, describe: 'Size limit of one stack\'s content in bytes' },
      }) as unknown as Argv<LintArgs>,
  handler: async (args) => {
    const dir = resolve(args.dir);
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      throw new CliError(`directory ${args.dir} does not exist`, 2);
    }
    if (!isDir) throw new CliError(`${args.dir} is not a directory`, 2);
    const maxBytes = args['max-bytes'];
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new CliError('--max-bytes must be a positive whole number of bytes', 2);

    const { stacks, errors } = await lintDirectory(dir, { root: args.root, maxBytes });
    for (const stack of stacks) {
      for (const p of stack.problems) process.stdout.write(`${formatProblem(p, (file) => displayPath(dir, file))}\n`);
    }
    const invalid = stacks.filter((s) => s.problems.length > 0).length;
    const summary = `${plural(stacks.length, 'stack')}, ${plural(errors, 'error')}${invalid ? ` (${invalid} invalid)` : ''}`;
    process.stdout.write(`${summary}\n`);
    if (stacks.length === 0) process.stderr.write(`note: no stack.yaml found below ${args.dir}${args.root ? `/${args.root}` : ''}\n`);
    if (errors > 0) process.exitCode = 1;
  },
};
