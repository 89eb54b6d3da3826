// Scenario: the first sync of 100,000 stacks (issue 16 item 1): scenario 1's worker (a fresh
// process and SQLite database, `createSyncer(...).syncOnce()`) on a generated repository of
// 100,000 stacks (400,000 files), its time and the process's peak RSS. About 2–4 minutes on 2 cores.
//
//   npm run build && node bench/snapshot-100k.mjs [--stacks 100000] [--runs 1]
import { parseArgs } from 'node:util';
import { run as snapshot } from './snapshot.mjs';
import { finish, isMain, main, positive } from './lib/report.mjs';

export async function run({ stacks = 100_000, runs = 1 } = {}) {
  const result = await snapshot({ sizes: [stacks], runs: [runs] });
  return {
    ...result,
    scenario: 'snapshot-100k',
    title: 'First sync of 100,000 stacks (issue 16)',
    summary:
      `${result.summary} The stacks' contents are not held together: each stack is validated and only its checksum kept, and the ` +
      'store reads the contents again in batches of 250 while it applies the one transaction (issue 16, finding F5).',
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({ options: { stacks: { type: 'string' }, runs: { type: 'string' } } });
    finish(await run({ stacks: positive(values, 'stacks'), runs: positive(values, 'runs') }));
  });
}
