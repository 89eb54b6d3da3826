import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_PAK,
  addObject,
  agentRecord,
  commitRecord,
  stackRecord,
  startFakeDaemon,
  type FakeDaemon,
} from './admin-fake-daemon.js';
import { runCli } from './admin-run-cli.js';

let daemon: FakeDaemon;
const admin = (...args: string[]) => runCli([...args, '--url', daemon.url, '--pak', ADMIN_PAK]);

const badLabel = {
  generator_id: 'generator-1',
  stack_path: 'teams/web',
  stack_name: 'web',
  commit_sha: 'c'.repeat(40),
  file: 'teams/web/stack.yaml',
  line: 3,
  message: 'labels[0] must be 1..64 characters',
  created_at: new Date().toISOString(),
};
const brokenNew = { ...badLabel, stack_path: 'teams/new', stack_name: null, file: 'teams/new/deploy.yaml', line: 7, message: 'not valid YAML:\nbad indentation' };

beforeEach(async () => {
  daemon = await startFakeDaemon();
});
afterEach(async () => {
  await daemon.close();
});

describe('stacks', () => {
  it('lists name, labels, annotations, latest sequence id, short commit and marks invalid stacks', async () => {
    const pay = stackRecord('payments-api', { labels: ['prod', 'eu'], annotations: { tier: 'backend' } });
    const web = stackRecord('web', { path: 'teams/web' });
    daemon.state.stacks.push(pay, web);
    const commit = commitRecord('Add payments');
    addObject(daemon.state, pay, 41, commit);
    daemon.state.sync.errors = [badLabel, brokenNew];
    const r = await admin('stacks', 'list');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+LABELS\s+ANNOTATIONS\s+SEQ\s+COMMIT\s+STATE$/);
    expect(lines[1]).toMatch(new RegExp(`^payments-api\\s+prod, eu\\s+tier=backend\\s+41\\s+${commit.sha.slice(0, 7)}\\s+ok$`));
    expect(lines[2]).toMatch(/^web\s+-\s+-\s+-\s+-\s+INVALID$/);
    // A stack that never synced has no row, but its error must not be hidden.
    expect(lines[3]).toMatch(/^teams\/new\s+-\s+-\s+-\s+-\s+INVALID$/);
    expect(r.stdout).toMatch(/2 invalid: brokkr-sync stacks show NAME/);
  });

  it('asks for deleted stacks only with --include-deleted', async () => {
    daemon.state.stacks.push(stackRecord('gone', { deleted_at: new Date().toISOString() }));
    expect((await admin('stacks', 'list')).stdout).toMatch(/No stacks yet/);
    const r = await admin('stacks', 'list', '--include-deleted');
    expect(r.stdout).toMatch(/^gone\s.*deleted$/m);
    expect(daemon.seen.filter((s) => s.path === '/stacks').map((s) => s.query)).toEqual([{}, { include_deleted: 'true' }]);
  });

  it('shows one stack by name with its errors as file:line: message and its latest objects', async () => {
    const web = stackRecord('web', { path: 'teams/web', description: 'The web tier' });
    daemon.state.stacks.push(web);
    for (let seq = 1; seq <= 7; seq++) addObject(daemon.state, web, seq, commitRecord(`change ${seq}`));
    daemon.state.sync.errors = [badLabel];
    const r = await admin('stacks', 'show', 'web', '--limit', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Description\s+The web tier$/m);
    expect(r.stdout).toMatch(/^State\s+INVALID$/m);
    expect(r.stdout).toMatch(/^Latest\s+seq 7, sha256 777777777777, \d+s ago$/m);
    expect(r.stdout).toContain('\nErrors\n  teams/web/stack.yaml:3: labels[0] must be 1..64 characters\n');
    expect(r.stdout).toMatch(/Latest objects \(2 of 7\)\nSEQ\s+ID\s+CHECKSUM\s+MARKER\s+COMMIT\s+AUTHOR\s+SUBJECT\s+SUBMITTED\n7\s.*change 7.*\n6\s.*change 6/);
  });

  it('prints stack, errors and objects as one JSON document with --json', async () => {
    const web = stackRecord('web', { path: 'teams/web' });
    daemon.state.stacks.push(web);
    const obj = addObject(daemon.state, web, 1, commitRecord('first'));
    daemon.state.sync.errors = [badLabel];
    const r = await admin('stacks', 'show', String(web.id), '--json');
    expect(JSON.parse(r.stdout)).toEqual({ stack: web, errors: [badLabel], objects: [obj], health: expect.objectContaining({ overall_status: 'unknown', deployment_objects: [] }) });
  });
});

describe('objects list', () => {
  it('lists a stack\'s objects newest first with checksum, deletion marker, commit, author and subject', async () => {
    const pay = stackRecord('payments-api');
    daemon.state.stacks.push(pay);
    const first = commitRecord('Add payments', 'Ada Lovelace');
    const second = commitRecord('Remove payments', 'Grace Hopper');
    addObject(daemon.state, pay, 3, first);
    addObject(daemon.state, pay, 9, second, true);
    const r = await admin('objects', 'list', 'payments-api');
    expect(r.code).toBe(0);
    const [head, newest, oldest] = r.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^SEQ\s+ID\s+CHECKSUM\s+MARKER\s+COMMIT\s+AUTHOR\s+SUBJECT\s+SUBMITTED$/);
    expect(newest).toMatch(new RegExp(`^9\\s+\\S{36}\\s+d41d8cd98f00\\s+deletion\\s+${second.sha.slice(0, 7)}\\s+Grace Hopper\\s+Remove payments\\s+\\d+s ago$`));
    expect(oldest).toMatch(new RegExp(`^3\\s+\\S{36}\\s+333333333333\\s+${first.sha.slice(0, 7)}\\s+Ada Lovelace\\s+Add payments\\s+\\d+s ago$`));
    expect(head.indexOf('COMMIT')).toBe(oldest.indexOf(first.sha.slice(0, 7)));
  });

  it('keeps to --limit and says how many older ones it left out', async () => {
    const pay = stackRecord('payments-api');
    daemon.state.stacks.push(pay);
    for (let seq = 1; seq <= 4; seq++) addObject(daemon.state, pay, seq, commitRecord(`c${seq}`));
    const r = await admin('objects', 'list', 'payments-api', '--limit', '1');
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(r.stdout).toMatch(/3 older not shown \(--limit 0 shows all\)/);
    expect(JSON.parse((await admin('objects', 'list', 'payments-api', '--limit', '0', '--json')).stdout)).toHaveLength(4);
    expect((await admin('objects', 'list', 'payments-api', '--limit', '-1')).code).toBe(2);
  });
});

describe('events', () => {
  it('filters by agent name and limit, and names the stack and sequence id of each object', async () => {
    const edge = agentRecord('edge-1', 'c');
    const other = agentRecord('edge-2', 'c');
    daemon.state.agents.push(edge, other);
    const pay = stackRecord('payments-api');
    daemon.state.stacks.push(pay);
    const obj = addObject(daemon.state, pay, 12, commitRecord('x'));
    const event = (agent: typeof edge, status: string, message: string | null, secondsAgo: number) => ({
      id: crypto.randomUUID(), created_at: new Date(Date.now() - secondsAgo * 1000).toISOString(), updated_at: '', deleted_at: null,
      agent_id: agent.id, deployment_object_id: obj.id, event_type: 'DEPLOY', status, message,
    });
    daemon.state.events.push(event(edge, 'FAILURE', 'kubectl: exit 1\nforbidden', 5), event(other, 'SUCCESS', null, 30), event(edge, 'SUCCESS', 'applied', 3700));
    const r = await admin('events', '--agent', 'edge-1', '--limit', '5');
    expect(r.code).toBe(0);
    expect(daemon.seen.find((s) => s.path === '/events')?.query).toEqual({ agent_id: String(edge.id), limit: '5' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+AGENT\s+TYPE\s+STATUS\s+STACK\s+SEQ\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^5s ago\s+edge-1\s+DEPLOY\s+FAILURE\s+payments-api\s+12\s+kubectl: exit 1 forbidden$/);
    expect(lines[2]).toMatch(/^1h ago\s+edge-1\s+DEPLOY\s+SUCCESS\s+payments-api\s+12\s+applied$/);
    expect(lines).toHaveLength(3);
  });

  it('prints the events as JSON with --json and says when there are none', async () => {
    expect((await admin('events')).stdout).toBe('No events yet.\n');
    expect(JSON.parse((await admin('events', '--json')).stdout)).toEqual([]);
  });
});

describe('status', () => {
  it('shows repository, branch, cursor with subject and age, invalid stacks with errors, and agents with delivery counts', async () => {
    const cursor = commitRecord('Bump payments to v2', 'Ada', 300);
    const pay = stackRecord('payments-api');
    daemon.state.stacks.push(pay);
    addObject(daemon.state, pay, 5, cursor);
    const repo = {
      generator_id: 'generator-1', generator_name: 'stacks', repo: '/srv/stacks', branch: 'main', root: '',
      cursor_commit: cursor.sha, cursor_committed_at: cursor.committed_at,
      last_sync_at: new Date(Date.now() - 4000).toISOString(), last_error: null,
    };
    daemon.state.sync = { ready: true, repositories: [repo], errors: [badLabel] };
    daemon.state.status = {
      repositories: [repo],
      stacks: { total: 2, invalid: 1 },
      errors: [badLabel],
      agents: [
        { id: 'a1', name: 'edge-1', cluster_name: 'prod-eu', status: 'ACTIVE', last_heartbeat: new Date().toISOString(), heartbeat_age_seconds: 7, pending: 2, failed: 1 },
        { id: 'a2', name: 'edge-2', cluster_name: 'dev', status: 'INACTIVE', last_heartbeat: null, heartbeat_age_seconds: null, pending: 0, failed: 0 },
      ],
    };
    const r = await admin('status');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Repository\s+\/srv\/stacks$/m);
    expect(r.stdout).toMatch(/^Branch\s+main$/m);
    expect(r.stdout).toMatch(new RegExp(`^Cursor\\s+${cursor.sha.slice(0, 7)} Bump payments to v2 \\(committed 5m ago\\)$`, 'm'));
    expect(r.stdout).toMatch(/^Last sync\s+4s ago$/m);
    expect(r.stdout).toContain('Stacks      2 total, 1 invalid\n  teams/web/stack.yaml:3: labels[0] must be 1..64 characters\n');
    expect(r.stdout).toMatch(/NAME\s+CLUSTER\s+STATUS\s+HEARTBEAT\s+PENDING\s+FAILED\nedge-1\s+prod-eu\s+ACTIVE\s+7s ago\s+2\s+1\nedge-2\s+dev\s+INACTIVE\s+never\s+0\s+0\n/);
  });

  it('says when nothing has synced yet', async () => {
    daemon.state.sync = { ready: false, repositories: [], errors: [] };
    const r = await admin('status');
    expect(r.stdout).toMatch(/^Repository\s+none synced yet$/m);
    expect(r.stdout).toMatch(/Not ready: the first sync has not finished/);
    expect(r.stdout).toMatch(/none yet: brokkr-sync agents create/);
  });

  it('prints the overview and the sync status as one JSON document with --json', async () => {
    const r = await admin('status', '--json');
    expect(JSON.parse(r.stdout)).toEqual({ ...daemon.state.status, sync: daemon.state.sync });
  });
});
