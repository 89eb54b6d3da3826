// Generated stacks repositories, written in one `git fast-import` stream (10,000 stacks in about a second).
//
// Layout: stacks/team-<i % 50>/svc-<i>/{stack.yaml, deployment.yaml, service.yaml, configmap.yaml}.
// Every stack carries the label grp-<i % groups> (so with 10,000 stacks and 200 groups each group
// holds 50 stacks: an agent labelled grp-N is associated with exactly 50 stacks), and stacks whose
// index is below `probes` also carry the label `probe` (the commit → agent scenario).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

export const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

/** Run git synchronously; returns trimmed stdout, throws with stderr on failure. */
export function git(cwd, args, input) {
  const r = spawnSync('git', args, { cwd, env: GIT_ENV, input, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

export const stackDir = (i) => `stacks/team-${i % 50}/svc-${i}`;

export function stackFiles(i, { groups = 200, probes = 0, version = 1 } = {}) {
  const name = `svc-${i}`;
  const labels = [`grp-${i % groups}`, ...(i < probes ? ['probe'] : [])];
  return {
    'stack.yaml': `name: ${name}\ndescription: Generated service ${i}\nlabels: [${labels.join(', ')}]\nannotations:\n  team: team-${i % 50}\n`,
    'deployment.yaml': deployment(name, i, version),
    'service.yaml':
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: team-${i % 50}\nspec:\n  selector:\n    app: ${name}\n` +
      `  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n`,
    'configmap.yaml':
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}-config\n  namespace: team-${i % 50}\ndata:\n` +
      `  LOG_LEVEL: info\n  FEATURE_FLAGS: "a,b,c"\n  UPSTREAM: http://svc-${(i + 1) % 1000}.team-${(i + 1) % 50}.svc:80\n`,
  };
}

export function deployment(name, i, version) {
  return (
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  namespace: team-${i % 50}\n  labels:\n    app: ${name}\n` +
    `spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: ${name}\n  template:\n    metadata:\n      labels:\n        app: ${name}\n` +
    `    spec:\n      containers:\n        - name: app\n          image: registry.example.com/${name}:1.0.${version}\n` +
    `          ports:\n            - containerPort: 8080\n          resources:\n            requests: {cpu: 50m, memory: 64Mi}\n`
  );
}

const COMMITTER = 'committer Bench <bench@example.com>';

function commitHeader(message, when) {
  const msg = Buffer.from(message);
  return `commit refs/heads/main\n${COMMITTER} ${when} +0000\ndata ${msg.length}\n${message}\n`;
}

function fileCommand(path, content) {
  const data = Buffer.from(content);
  return [Buffer.from(`M 100644 inline ${path}\ndata ${data.length}\n`), data, Buffer.from('\n')];
}

function fastImport(dir, chunks) {
  return new Promise((resolve, reject) => {
    // glibc's malloc trims and regrows the heap on every tree fast-import builds (200,000 brk
    // calls for 10,000 stacks, 3 s of system time); a generous trim threshold makes it 0.9 s.
    const env = { ...GIT_ENV, MALLOC_TOP_PAD_: String(64 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) };
    const child = spawn('git', ['fast-import', '--quiet', '--force'], { cwd: dir, env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import failed (${code}): ${stderr}`))));
    child.stdin.end(Buffer.concat(chunks));
  });
}

/**
 * A new repository at `dir` (created) whose main branch holds one commit with `stacks` stacks.
 * With `worktree` the files are also checked out, so that `git commit` works in it.
 */
export async function generateRepo(dir, { stacks, groups = 200, probes = 0, worktree = false }) {
  mkdirSync(dir, { recursive: true });
  git(dir, ['init', '-q', '-b', 'main']);
  const chunks = [Buffer.from(commitHeader(`snapshot of ${stacks} stacks`, 1_700_000_000))];
  for (let i = 0; i < stacks; i++) {
    const files = stackFiles(i, { groups, probes });
    for (const [name, content] of Object.entries(files)) chunks.push(...fileCommand(`${stackDir(i)}/${name}`, content));
  }
  chunks.push(Buffer.from('\n'));
  await fastImport(dir, chunks);
  if (worktree) git(dir, ['reset', '-q', '--hard', 'main']);
  return git(dir, ['rev-parse', 'main']);
}

let clock = 1_700_000_100;
/** One commit on main (through fast-import, no work tree needed) changing stack i's deployment; returns its sha. */
export async function commitStackChange(dir, i, version) {
  const chunks = [
    Buffer.from(commitHeader(`bump svc-${i} to 1.0.${version}`, clock++)),
    Buffer.from(`from refs/heads/main^0\n`),
    ...fileCommand(`${stackDir(i)}/deployment.yaml`, deployment(`svc-${i}`, i, version)),
    Buffer.from('\n'),
  ];
  await fastImport(dir, chunks);
  return git(dir, ['rev-parse', 'main']);
}
