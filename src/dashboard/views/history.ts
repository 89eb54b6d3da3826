/** History of one stack: each agent's health, its deployment objects with their commits, and a line diff between any two of them. */
import { api, describe } from '../api.js';
import { ago, h, notice, replaceRegion, shortSha } from '../dom.js';
import { foldUnchanged, lineDiff } from '../line-diff.js';
import type { Agent, ObjectWithCommit, StackDetail } from '../../store/store.js';
import { rolloutPanel } from './rollout-panel.js';
import { setQuery, type ViewFactory } from './view.js';

/** The answer of `GET /stacks/{id}/health`, as far as this view reads it. */
interface StackHealth {
  overall_status: string;
  deployment_objects: { sequence_id: number; agents: { agent_id: string; status: string; summary: string | null; checked_at: string }[] }[];
}

/** The badge colour of each health status (the text says it too, never the colour alone). */
const HEALTH_BADGE: Record<string, string> = { healthy: 'ok', degraded: 'warn', failing: 'bad' };

/** Most diff rows drawn at once. */
const MAX_ROWS = 3_000;

export const historyView: ViewFactory = (root, route) => {
  const stackId = route.params[0] ?? '';
  const heading = h('h1', null, 'Stack history');
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  const diffRegion = h('section', { class: 'diff-region', 'aria-label': 'Difference between the chosen objects' });
  const healthRegion = h('section', { 'aria-label': 'Health reported by agents' });
  const rollout = rolloutPanel(stackId);
  root.append(h('p', null, h('a', { href: '#/stacks' }, '← All stacks')), heading, rollout.element, healthRegion, region, diffRegion);
  let objects: ObjectWithCommit[] = [];

  function chosen(): { a: ObjectWithCommit | undefined; b: ObjectWithCommit | undefined } {
    const byId = (id: string | null) => objects.find((o) => o.id === id);
    // Default: the newest object against the one before it.
    return { a: byId(route.query.get('a')) ?? objects[1] ?? objects[0], b: byId(route.query.get('b')) ?? objects[0] };
  }

  function drawTable(): void {
    const { a, b } = chosen();
    const radio = (side: 'a' | 'b', o: ObjectWithCommit, checked: boolean) =>
      h('input', {
        type: 'radio',
        name: `side-${side}`,
        'data-key': `${side}-${o.id}`,
        'aria-label': `${side === 'a' ? 'Old' : 'New'} side: object ${o.sequence_id}`,
        checked,
        onchange: () => {
          setQuery(route, { [side]: o.id });
          drawDiff();
        },
      });
    replaceRegion(
      region,
      objects.length === 0
        ? notice('This stack has no deployment objects.')
        : h(
            'table',
            { class: 'data', 'data-testid': 'history' },
            h('caption', null, `${objects.length} deployment object${objects.length === 1 ? '' : 's'}, newest first`),
            h('thead', null, h('tr', null, ['Old', 'New', 'Sequence', 'Commit', 'Author', 'Time', 'Checksum'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              null,
              objects.map((o) =>
                h(
                  'tr',
                  { 'data-object': o.id },
                  h('td', null, radio('a', o, o === a)),
                  h('td', null, radio('b', o, o === b)),
                  h('td', { class: 'num' }, String(o.sequence_id), o.is_deletion_marker && h('span', { class: 'badge warn' }, 'deletion marker')),
                  h('td', null, o.commit ? [h('code', { title: o.commit.sha }, shortSha(o.commit.sha)), ' ', o.commit.subject] : '—'),
                  h('td', null, o.commit?.author_name ?? '—'),
                  h('td', null, ago(o.commit?.committed_at ?? o.submitted_at)),
                  h('td', null, h('code', { title: o.yaml_checksum }, o.yaml_checksum.slice(0, 12))),
                ),
              ),
            ),
          ),
    );
  }

  function drawDiff(): void {
    const { a, b } = chosen();
    if (!a || !b) return replaceRegion(diffRegion);
    const d = lineDiff(a.yaml_content, b.yaml_content);
    const folded = foldUnchanged(d.lines);
    // A rewrite of a multi-megabyte stack can be 100k changed lines: draw a bounded number of rows.
    const rows = folded.slice(0, MAX_ROWS);
    replaceRegion(
      diffRegion,
      h('h2', null, `Object ${a.sequence_id} → ${b.sequence_id}`),
      h(
        'p',
        { class: 'summary', 'data-testid': 'diff-summary' },
        a === b ? 'The same object is chosen on both sides.' : `${d.added} line${d.added === 1 ? '' : 's'} added, ${d.removed} removed`,
        d.minimal ? '' : ' (too many changes for a minimal diff: the changed block is shown whole)',
      ),
      h(
        'table',
        { class: 'diff', 'data-testid': 'diff' },
        h('caption', { class: 'sr-only' }, 'Line diff: old line number, new line number, change, text'),
        h('tbody', null, rows.map((r) => {
          if (r.kind === 'skip') return h('tr', { class: 'skip' }, h('td', { colspan: 4 }, `⋯ ${r.count} unchanged line${r.count === 1 ? '' : 's'}`));
          const mark = r.kind === 'add' ? '+' : r.kind === 'del' ? '−' : ' ';
          return h(
            'tr',
            { class: r.kind },
            h('td', { class: 'ln' }, r.oldNo ?? ''),
            h('td', { class: 'ln' }, r.newNo ?? ''),
            h('td', { class: 'mark', 'aria-label': r.kind === 'add' ? 'added' : r.kind === 'del' ? 'removed' : 'unchanged' }, mark),
            h('td', { class: 'text' }, r.text),
          );
        })),
      ),
      folded.length > MAX_ROWS && notice(`${folded.length - MAX_ROWS} more diff rows not shown.`),
    );
  }

  /** Each agent's report on the newest object it reported on; nothing at all when no agent reports health. */
  function drawHealth(health: StackHealth, agents: Pick<Agent, 'id' | 'name'>[]): void {
    const name = new Map(agents.map((a) => [a.id, a.name]));
    const seen = new Set<string>();
    const rows: { agent: string; seq: number; status: string; summary: string | null; checked_at: string }[] = [];
    for (const o of health.deployment_objects) {
      for (const a of o.agents) {
        if (seen.has(a.agent_id)) continue;
        seen.add(a.agent_id);
        rows.push({ agent: name.get(a.agent_id) ?? a.agent_id, seq: o.sequence_id, ...a });
      }
    }
    if (rows.length === 0) return replaceRegion(healthRegion);
    replaceRegion(
      healthRegion,
      h(
        'table',
        { class: 'data', 'data-testid': 'health' },
        h('caption', null, `Health: ${health.overall_status} (the newest report of each agent)`),
        h('thead', null, h('tr', null, ['Agent', 'Health', 'Sequence', 'Summary', 'Checked'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          null,
          rows.map((r) =>
            h(
              'tr',
              { 'data-agent': r.agent },
              h('th', { scope: 'row' }, r.agent),
              h('td', null, h('span', { class: `badge ${HEALTH_BADGE[r.status] ?? ''}` }, r.status)),
              h('td', { class: 'num' }, String(r.seq)),
              h('td', null, r.summary ?? '—'),
              h('td', null, ago(r.checked_at)),
            ),
          ),
        ),
      ),
    );
  }

  return {
    async refresh() {
      try {
        const enc = encodeURIComponent(stackId);
        // A removed stack may no longer be readable by id; its objects still are (they are history).
        const [stack, list, health, agents] = await Promise.all([
          api<StackDetail>(`/stacks/${enc}`).catch(() => null),
          api<ObjectWithCommit[]>(`/stacks/${enc}/deployment-objects`),
          api<StackHealth>(`/stacks/${enc}/health`).catch(() => null),
          api<Agent[]>('/agents').catch(() => []),
        ]);
        if (health) drawHealth(health, agents);
        objects = list;
        await rollout.refresh(list[0]?.sequence_id ?? null);
        heading.textContent = stack ? `Stack history: ${stack.name}${stack.deleted_at ? ' (removed)' : ''}` : 'Stack history';
        region.removeAttribute('aria-busy');
        drawTable();
        drawDiff();
      } catch (err) {
        replaceRegion(region, notice(`Could not load the stack: ${describe(err)}`, 'error'));
      }
    },
  };
};
