#!/usr/bin/env node
/**
 * The long variant of the SIGKILL crash test (test/reliability/crash-safety.test.ts): the same
 * test, with more trials and a bigger repository. Every trial kills `brokkr-sync sync` (and some
 * `serve`) at random points of a first snapshot and of a backlog, restarts it until done, and
 * compares the database with an uninterrupted run. The seed is printed; pass it back to replay.
 *
 *   npm run build && node scripts/crash-soak.mjs --trials 20 [--serve-trials 5] [--seed N]
 *       [--stacks 5000] [--commits 300] [--max-kills 12]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    'serve-trials': { type: 'string' },
    seed: { type: 'string' },
    stacks: { type: 'string', default: '5000' },
    commits: { type: 'string', default: '300' },
    'max-kills': { type: 'string', default: '12' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: node scripts/crash-soak.mjs --trials N [--serve-trials N] [--seed N] [--stacks N] [--commits N] [--max-kills N]\n');
  process.exit(0);
}
for (const [name, value] of Object.entries(values)) {
  if (name !== 'help' && value !== undefined && !/^\d+$/.test(value)) {
    process.stderr.write(`--${name} must be a whole number, not ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
}
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('dist/cli/main.js is missing: run `npm run build` first\n');
  process.exit(2);
}

const trials = Number(values.trials);
const serveTrials = values['serve-trials'] ?? String(Math.max(1, Math.floor(trials / 4)));
const env = {
  ...process.env,
  BROKKR_CRASH_TRIALS: String(trials),
  BROKKR_CRASH_SERVE_TRIALS: serveTrials,
  BROKKR_CRASH_STACKS: values.stacks,
  BROKKR_CRASH_COMMITS: values.commits,
  BROKKR_CRASH_MAX_KILLS: values['max-kills'],
  BROKKR_CRASH_TRIAL_TIMEOUT_MS: String(120_000 + Number(values.stacks) * 20 + Number(values.commits) * 500),
  ...(values.seed !== undefined ? { BROKKR_CRASH_SEED: values.seed } : {}),
};
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', 'test/reliability/crash-safety.test.ts', '--reporter', 'verbose'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
