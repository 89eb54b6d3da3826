/**
 * The history the crash tests sync: a large first commit (the snapshot) and a seeded backlog of
 * commits that change content, labels, delete, recreate, rename, break and fix stacks.
 */
import { ImportStream, remove, write, type FileOp } from './fast-import.js';
import type { Rng } from './prng.js';

interface LiveStack {
  dir: string;
  name: string;
  labels: string[];
  value: number;
  broken: boolean;
}

function manifestText(s: LiveStack): string {
  return `name: ${s.name}\ndescription: stack ${s.name}\nlabels: [${s.labels.join(', ')}]\nannotations:\n  tier: t${s.name.length % 3}\n`;
}

function resourceText(s: LiveStack): string {
  if (s.broken) return `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${s.name}\n  broken: [\n`;
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${s.name}\ndata:\n  value: "${s.value}"\n`;
}

function stackOps(s: LiveStack): FileOp[] {
  return [write(`${s.dir}/stack.yaml`, manifestText(s)), write(`${s.dir}/config.yaml`, resourceText(s))];
}

export interface CrashHistory {
  /** Feed this to fast-import: refs/heads/snapshot at the first commit, refs/heads/tip at the last. */
  stream: ImportStream;
  commits: number;
}

/** `stacks` stacks in the first commit, then `backlog` commits of 1–4 random changes each. */
export function crashHistory(rng: Rng, stacks: number, backlog: number): CrashHistory {
  const live = new Map<string, LiveStack>();
  const deletedNames: string[] = [];
  let created = 0;
  const newStack = (name?: string): LiveStack => {
    const n = created++;
    return { dir: `teams/t${n % 25}/s${n}`, name: name ?? `svc-${n}`, labels: [`team-${n % 25}`, n % 2 ? 'prod' : 'dev'], value: 0, broken: false };
  };

  const stream = new ImportStream();
  const first: FileOp[] = [];
  for (let i = 0; i < stacks; i++) {
    const s = newStack();
    live.set(s.dir, s);
    first.push(...stackOps(s));
  }
  // A nested stack and a stack that is invalid from the start are part of the snapshot too.
  first.push(write('teams/t0/s0/nested/stack.yaml', 'name: nested-0\n'), write('teams/t0/s0/nested/a.yaml', 'kind: A\n'));
  first.push(write('broken/stack.yaml', 'name: broken-from-start\nlables: [x]\n'));
  stream.commit('refs/heads/tip', `snapshot of ${stacks} stacks`, first);
  stream.reset('refs/heads/snapshot', 'refs/heads/tip');

  const pickLive = (): LiveStack | null => {
    const all = [...live.values()];
    return all.length ? rng.pick(all) : null;
  };
  for (let c = 1; c <= backlog; c++) {
    const ops: FileOp[] = [];
    const touched = new Set<string>();
    const changes = rng.int(1, 4);
    for (let k = 0; k < changes; k++) {
      const s = pickLive();
      const roll = rng.next();
      if (!s || roll < 0.08) {
        // a new stack, or one reusing a deleted name (a new stack row)
        const reused = deletedNames.length && rng.next() < 0.5 ? deletedNames.splice(rng.int(0, deletedNames.length - 1), 1)[0] : undefined;
        const fresh = newStack(reused);
        live.set(fresh.dir, fresh);
        ops.push(...stackOps(fresh));
        continue;
      }
      if (touched.has(s.dir)) continue;
      touched.add(s.dir);
      if (roll < 0.55) {
        s.value += 1;
        s.broken = false;
        ops.push(write(`${s.dir}/config.yaml`, resourceText(s)));
      } else if (roll < 0.65) {
        s.labels = s.labels.includes('canary') ? s.labels.filter((l) => l !== 'canary') : [...s.labels, 'canary'];
        ops.push(write(`${s.dir}/stack.yaml`, manifestText(s)));
      } else if (roll < 0.75) {
        live.delete(s.dir);
        deletedNames.push(s.name);
        ops.push(remove(s.dir));
      } else if (roll < 0.83) {
        s.broken = !s.broken;
        ops.push(write(`${s.dir}/config.yaml`, resourceText(s)));
      } else if (roll < 0.9) {
        // rename the directory, keeping name: (the same stack at a new path)
        live.delete(s.dir);
        ops.push(remove(s.dir));
        s.dir = `moved/${s.dir.replace(/\//g, '-')}-${c}`;
        live.set(s.dir, s);
        touched.add(s.dir);
        ops.push(...stackOps(s));
      } else {
        // an extra resource file: content changes, object count grows
        ops.push(write(`${s.dir}/extra-${c}.yaml`, `kind: Extra\nmetadata: {name: e${c}}\n`));
      }
    }
    stream.commit('refs/heads/tip', `change ${c}`, ops);
  }
  return { stream, commits: backlog + 1 };
}
