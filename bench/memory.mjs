// Scenario 5 — memory: the real daemon's resident set with 10,000 stacks synced, 1,000 agents and
// 1,000 long polls parked (from another process), read from /proc/<pid>/status for a few seconds after
// the polls parked. Fresh daemon per run. VmHWM is the peak of the whole run (the first sync included).
//
//   npm run build && node bench/memory.mjs [--runs 3] [--settle 5] [--shipped-only]
import { parseArgs } from 'node:util';
import { startWorker } from './lib/child.mjs';
import { startFleet } from './lib/fleet.mjs';
import { finish, isMain, machine, main, positive } from './lib/report.mjs';
import { fmt, spread, summarize } from './lib/stats.mjs';

const PARK = new URL('./lib/park-worker.mjs', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * V8 flags finding F5 measures besides the shipped daemon (which `serve` puts in V8's
 * memory-over-speed mode at start-up, src/daemon/heap-settings.ts — the daemon worker does the
 * same): a 1 MiB young generation (allowed in NODE_OPTIONS), and that mode from the command line,
 * where it also shrinks the young generation.
 */
export const SUGGESTED_FLAGS = [['--max-semi-space-size=1'], ['--optimize-for-size']];

async function measure({ runs, settle, agents, execArgv, label }) {
  const samples = [];
  for (let r = 0; r < runs; r++) {
    const fleet = await startFleet({ agents, watch: true, execArgv });
    const park = startWorker(PARK);
    try {
      const idle = await fleet.daemon.call({ cmd: 'memory' });
      await park.call({ cmd: 'park', url: fleet.url, agents: fleet.agents, wait: 60 });
      // RSS moves with the garbage collector's timing, so one reading is a coin toss: read it
      // every 0.5 s for `settle` seconds and keep the median of the readings.
      const readings = [];
      for (let i = 0; i < settle * 2; i++) {
        await sleep(500);
        readings.push(await fleet.daemon.call({ cmd: 'memory' }));
      }
      const mid = [...readings].sort((a, b) => a.rssMiB - b.rssMiB)[Math.floor(readings.length / 2)];
      // What the RSS is made of at the end of the readings (malloc's [heap], the node binary, anonymous maps: V8's heap, threads' stacks).
      const { smapsMiB } = await fleet.daemon.call({ cmd: 'smaps' });
      const { newSpaceMiB, oldSpaceMiB } = await fleet.daemon.call({ cmd: 'gcStats' });
      const m = { ...mid, rssMaxMiB: Math.max(...readings.map((x) => x.rssMiB)), hwmMiB: readings.at(-1).hwmMiB };
      if (m.waiting < agents) throw new Error(`only ${m.waiting} of ${agents} polls are parked`);
      // Live heap per parked poll: full GCs with the polls parked and after they are gone (after the RSS reading).
      const withPolls = await fleet.daemon.call({ cmd: 'gc' });
      await park.stop();
      await sleep(1000);
      const without = await fleet.daemon.call({ cmd: 'gc' });
      const perPollKiB = ((withPolls.heapUsedMiB - without.heapUsedMiB) * 1024) / agents;
      samples.push({ idle, parked: m, liveHeapMiB: without.heapUsedMiB, perPollKiB, pollsLeft: without.waiting, smapsMiB });
      console.log(
        `memory${label} run ${r + 1}/${runs}: RSS ${fmt(m.rssMiB, 0)} MiB (max ${fmt(m.rssMaxMiB, 0)}) with ${m.waiting} parked polls (${fmt(idle.rssMiB, 0)} MiB before parking), ` +
          `V8 heap used ${fmt(m.heapUsedMiB, 0)} of ${fmt(m.heapTotalMiB, 0)} MiB, external ${fmt(m.externalMiB, 0)} MiB (live after GC: ${fmt(samples.at(-1).liveHeapMiB, 0)} MiB + ${fmt(samples.at(-1).perPollKiB, 1)} KiB per parked poll), ` +
          `peak ${fmt(m.hwmMiB, 0)} MiB; V8 new space ${fmt(newSpaceMiB, 0)} MiB, old space ${fmt(oldSpaceMiB, 0)} MiB; RSS by mapping: ${Object.entries(smapsMiB)
            .sort((a, b) => b[1] - a[1])
            .filter(([, v]) => v >= 0.5)
            .map(([k, v]) => `${k} ${fmt(v, 0)}`)
            .join(', ')} MiB`,
      );
    } finally {
      await park.stop();
      await fleet.close();
    }
  }
  return samples;
}

export async function run({ runs = 3, settle = 5, agents = 1000, execArgv = [], suggested = true } = {}) {
  const started = Date.now();
  const host = machine(); // at the start: its load average is the other work competing with this run
  const samples = await measure({ runs, settle, agents, execArgv, label: '' });
  // The same daemon started with the flags finding F5 suggests, so the document shows their effect.
  const variants = [];
  if (suggested) {
    for (const flags of SUGGESTED_FLAGS) {
      variants.push({ flags, samples: await measure({ runs, settle, agents, execArgv: [...execArgv, ...flags], label: ` (${flags.join(' ')})` }) });
    }
  }
  const rss = summarize(samples.map((s) => s.parked.rssMiB));
  const idle = summarize(samples.map((s) => s.idle.rssMiB));
  const hwm = summarize(samples.map((s) => s.parked.hwmMiB));
  const heap = summarize(samples.map((s) => s.parked.heapUsedMiB));
  const external = summarize(samples.map((s) => s.parked.externalMiB));
  const live = summarize(samples.map((s) => s.liveHeapMiB));
  const perPoll = summarize(samples.map((s) => s.perPollKiB));
  const rows = [
    {
      metric: `daemon RSS: 10,000 stacks, ${agents.toLocaleString('en')} agents, ${agents.toLocaleString('en')} parked polls`,
      value: `${spread(rss, 0)} MiB`,
      goal: '≤ 150 MB (issue 16)',
      pass: rss.median * 1.048576 <= 150,
    },
    { metric: 'daemon peak RSS (VmHWM, first sync included)', value: `${spread(hwm, 0)} MiB` },
  ];
  for (const { flags, samples: flagged } of variants) {
    const frss = summarize(flagged.map((s) => s.parked.rssMiB));
    rows.push({
      metric: `the same, daemon started with \`node ${flags.join(' ')}\` (not the default; finding F5)`,
      value: `${spread(frss, 0)} MiB; peak ${spread(summarize(flagged.map((s) => s.parked.hwmMiB)), 0)} MiB`,
      goal: '(≤ 150 MB)',
      pass: frss.median * 1.048576 <= 150,
    });
  }
  const details = [
    '| figure (MiB) | median (min–max) |',
    '| --- | --- |',
    `| RSS after the first sync and agent creation, no polls | ${spread(idle, 0)} |`,
    `| RSS with the polls parked: median of ${settle * 2} readings over ${settle} s after parking | ${spread(rss, 0)} |`,
    `| highest of those readings | ${spread(summarize(samples.map((s) => s.parked.rssMaxMiB)), 0)} |`,
    `| V8 heap used / external (buffers) at that point | ${spread(heap, 0)} / ${spread(external, 0)} |`,
    `| peak RSS of the process (VmHWM) | ${spread(hwm, 0)} |`,
    `| live V8 heap after a full GC, polls gone (measured after the RSS figure) | ${spread(live, 0)} |`,
    `| live V8 heap per parked poll (KiB) | ${spread(perPoll, 1)} |`,
  ];
  return {
    scenario: 'memory',
    title: '5. Memory',
    date: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: host,
    rows,
    summary:
      `Real daemon (\`startDaemon\`, watch on, V8's memory-over-speed mode set at start-up as \`serve\` sets it), ${runs} fresh runs; the RSS of a run is the median of its readings; 1 MB = 10^6 bytes in the goal, ` +
      `figures in MiB.` +
      (variants.length > 0 ? ` Then ${runs} more runs of the same daemon for each of ${SUGGESTED_FLAGS.map((f) => f.join(' ')).join(' and ')} (finding F5).` : ''),
    details,
    raw: { samples, variants },
  };
}

if (isMain(import.meta.url)) {
  await main(async () => {
    const { values } = parseArgs({
      options: { runs: { type: 'string' }, settle: { type: 'string' }, 'node-flags': { type: 'string' }, 'shipped-only': { type: 'boolean' } },
    });
    // --node-flags "--max-semi-space-size=2": an experiment with the daemon's V8 flags (printed, not saved).
    const execArgv = values['node-flags']?.split(/\s+/).filter(Boolean) ?? [];
    // Any --node-flags, even empty (a private A/B of builds, with BROKKR_BENCH_DIST), is an experiment: printed, not saved.
    const experiment = values['node-flags'] !== undefined;
    const result = await run({ runs: positive(values, 'runs'), settle: positive(values, 'settle'), execArgv, suggested: !values['shipped-only'] && !experiment });
    if (experiment) console.log(`experiment${execArgv.length > 0 ? ` with ${execArgv.join(' ')}` : ''}: not saved`);
    else finish(result);
  });
}
