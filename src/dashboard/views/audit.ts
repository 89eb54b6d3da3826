/** Audit log: who changed what, from where, when — newest first, filtered by actor, action and resource, paged by cursor. */
import { api, describe } from '../api.js';
import { ago, h, notice, replaceRegion } from '../dom.js';
import type { AuditLog } from '../../store/audit.js';
import { setQuery, type ViewFactory } from './view.js';

interface AuditAnswer {
  logs: AuditLog[];
  total: number;
  next_cursor: string | null;
}

const PAGE = 50;
const FILTERS = [
  { key: 'actor', label: 'Actor', placeholder: 'operator name' },
  { key: 'action', label: 'Action', placeholder: 'agent.* or agent.created' },
  { key: 'resource', label: 'Resource', placeholder: 'agent, or agent:ID' },
] as const;

/** Details in one line: key=value, nested values as JSON (built as text, never parsed as HTML). */
function detailText(details: Record<string, unknown> | null): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export const auditView: ViewFactory = (root, route) => {
  const inputs = FILTERS.map((f) =>
    h('input', { id: `audit-${f.key}`, name: f.key, type: 'search', placeholder: f.placeholder, value: route.query.get(f.key) ?? '', autocomplete: 'off' }),
  );
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  /** Cursors of the pages before the current one (the first page has none). */
  const cursors: string[] = [];
  const form = h(
    'form',
    { class: 'toolbar', role: 'search', 'data-testid': 'audit-filters' },
    FILTERS.map((f, i) => [h('label', { for: `audit-${f.key}` }, f.label), inputs[i]]),
    h('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setQuery(route, { ...Object.fromEntries(FILTERS.map((f, i) => [f.key, inputs[i]!.value.trim()])), cursor: null });
    cursors.length = 0;
    void view.refresh();
  });
  root.append(h('h1', null, 'Audit log'), form, region);

  function go(cursor: string | null, back: boolean): void {
    if (back) cursors.pop();
    else cursors.push(route.query.get('cursor') ?? '');
    setQuery(route, { cursor: back ? cursors[cursors.length - 1] || null : cursor });
    void view.refresh();
  }

  const view = {
    async refresh() {
      const params = new URLSearchParams({ limit: String(PAGE) });
      for (const key of [...FILTERS.map((f) => f.key), 'cursor']) {
        const value = route.query.get(key);
        if (value) params.set(key, value);
      }
      let answer: AuditAnswer;
      try {
        answer = await api<AuditAnswer>(`/audit-logs?${params}`);
      } catch (err) {
        replaceRegion(region, notice(`Could not load the audit log: ${describe(err)}`, 'error'));
        return;
      }
      region.removeAttribute('aria-busy');
      replaceRegion(
        region,
        answer.logs.length === 0
          ? notice(answer.total === 0 && !params.has('actor') && !params.has('action') && !params.has('resource') ? 'No admin changes recorded yet.' : 'No entries match.')
          : h(
              'table',
              { class: 'data', 'data-testid': 'audit' },
              h('caption', null, `${answer.total} entr${answer.total === 1 ? 'y' : 'ies'}, newest first`),
              h('thead', null, h('tr', null, ['Time', 'Actor', 'Action', 'Resource', 'From', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                null,
                answer.logs.map((l) =>
                  h(
                    'tr',
                    { 'data-seq': l.seq, 'data-action': l.action },
                    h('td', null, ago(l.timestamp)),
                    h('td', { 'data-column': 'actor' }, l.actor_name ?? l.actor_type),
                    h('th', { scope: 'row' }, l.action),
                    h('td', null, l.resource_type, l.resource_id && h('code', { class: 'muted' }, ` ${l.resource_id.slice(0, 8)}`)),
                    h('td', null, l.ip_address ?? '—'),
                    h('td', { class: 'details' }, detailText(l.details)),
                  ),
                ),
              ),
            ),
        (cursors.length > 0 || answer.next_cursor) &&
          h(
            'nav',
            { class: 'pager', 'aria-label': 'Audit pages' },
            h('button', { type: 'button', 'data-key': 'newer', disabled: cursors.length === 0, onclick: () => go(null, true) }, '← Newer'),
            h('button', { type: 'button', 'data-key': 'older', disabled: !answer.next_cursor, onclick: () => go(answer.next_cursor, false) }, 'Older →'),
          ),
      );
    },
  };
  return view;
};
