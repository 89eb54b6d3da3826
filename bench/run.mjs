// `npm run bench`: every scenario in turn (about 9 minutes on 2 cores), then the results table on
// stdout and in docs/BENCHMARKS.md. `--only snapshot,polling` runs a subset. Needs `npm run build`.
import { parseArgs } from 'node:util';
import { run as snapshot } from './snapshot.mjs';
import { run as snapshot100k } from './snapshot-100k.mjs';
import { run as incremental } from './incremental.mjs';
import { run as polling } from './polling.mjs';
import { run as commitToAgent } from './commit-to-agent.mjs';
import { run as commitToAgentFlat } from './commit-to-agent-flat.mjs';
import { run as memory } from './memory.mjs';
import { run as replicasCommitToAgent } from './replicas-commit-to-agent.mjs';
import { run as pollingPostgres } from './polling-postgres.mjs';
import { run as failover } from './failover.mjs';
import { run as pakRevocation } from './pak-revocation.mjs';
import { run as manyRepositories } from './many-repositories.mjs';
import { run as rolloutWaves } from './rollout-waves.mjs';
import { run as webhooks } from './webhooks.mjs';
import { load } from './lib/product.mjs';
import { loadResults, machine, main, resultsTable, saveResult, writeDoc } from './lib/report.mjs';

const SCENARIOS = {
  snapshot,
  incremental,
  polling,
  'commit-to-agent': commitToAgent,
  // Commit → agent at 50, 5,000 and 10,000 stacks side by side (issue 16 item 2; about 4 minutes).
  'commit-to-agent-flat': commitToAgentFlat,
  memory,
  // Replicas on PostgreSQL (issue 12; an embedded PostgreSQL server each, about 3 minutes together).
  'replicas-commit-to-agent': replicasCommitToAgent,
  'polling-postgres': pollingPostgres,
  failover,
  'pak-revocation': pakRevocation,
  // Many repositories in one daemon (issue 13; about 50 s).
  'many-repositories': manyRepositories,
  // Progressive delivery (issue 14): 1,000 agents on one stack in 3 waves.
  'rollout-waves': rolloutWaves,
  // The first sync of 100,000 stacks and its peak RSS (issue 16; about 2–4 minutes).
  'snapshot-100k': snapshot100k,
  // Outbound webhooks (issue 15): 1,000 events/s without and with a `*` subscription; one round here
  // (about 2 minutes), `node bench/webhooks.mjs` runs three.
  webhooks: () => webhooks({ rounds: 1 }),
};

await main(async () => {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
  for (const name of names) {
    if (!SCENARIOS[name]) {
      console.error(`bench: unknown scenario '${name}' in --only; known: ${Object.keys(SCENARIOS).join(', ')}`);
      process.exit(2);
    }
  }

  await load('daemon/daemon.js'); // fails early and clearly without a build
  const m = machine();
  console.log(`brokkr-sync benchmarks: ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, git ${m.git}, SQLite ${m.sqlite}`);
  const started = Date.now();
  for (const name of names) {
    const t0 = Date.now();
    console.log(`\n== ${name}`);
    const result = await SCENARIOS[name]();
    saveResult(result);
    console.log(`== ${name} done in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  writeDoc();
  console.log(`\n${resultsTable(loadResults().filter((r) => names.includes(r.scenario)))}\n`);
  console.log(`all done in ${Math.round((Date.now() - started) / 1000)} s; docs/BENCHMARKS.md updated`);
});
