/** Overview: sync errors first, then each repository's cursor, then the counts that say whether all is well. */
import { api, describe } from '../api.js';
import { ago, h, notice, replaceRegion, shortSha } from '../dom.js';
import type { StatusOverview, SyncStatus } from '../../http/status-answers.js';
import type { SyncError } from '../../store/records.js';
import type { ViewFactory } from './view.js';

/** "teams/payments/stack.yaml:4" (or the stack path when the error is not about one file). */
export function errorLocation(e: SyncError): string {
  if (!e.file) return e.stack_path || '(root)';
  return e.line ? `${e.file}:${e.line}` : e.file;
}

/** The list of sync errors, shared with the stacks view. */
export function errorList(errors: SyncError[]): HTMLElement {
  return h(
    'ul',
    { class: 'errors' },
    errors.map((e) =>
      h(
        'li',
        null,
        h('strong', null, e.stack_name ?? (e.stack_path || '(root)')),
        ' ',
        h('code', null, errorLocation(e)),
        ' — ',
        e.message,
        h('span', { class: 'muted' }, ` (commit ${shortSha(e.commit_sha)})`),
      ),
    ),
  );
}

export const overviewView: ViewFactory = (root) => {
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  root.append(h('h1', null, 'Overview'), region);

  return {
    async refresh() {
      let status: StatusOverview;
      let sync: SyncStatus;
      try {
        [status, sync] = await Promise.all([api<StatusOverview>('/status'), api<SyncStatus>('/sync/status')]);
      } catch (err) {
        replaceRegion(region, notice(`Could not load the overview: ${describe(err)}`, 'error'));
        return;
      }
      region.removeAttribute('aria-busy');
      const failures = sync.repositories.filter((r) => r.last_error);
      const agents = status.agents ?? [];
      const pending = agents.reduce((n, a) => n + (a.pending ?? 0), 0);
      const failed = agents.reduce((n, a) => n + (a.failed ?? 0), 0);
      const active = agents.filter((a) => a.status === 'ACTIVE').length;

      replaceRegion(
        region,
        failures.length + sync.errors.length > 0
          ? h(
              'section',
              { class: 'card problem', 'aria-labelledby': 'sync-errors-h' },
              h('h2', { id: 'sync-errors-h' }, `⚠ Sync errors (${failures.length + sync.errors.length})`),
              failures.map((r) =>
                h(
                  'p',
                  { 'data-condition': r.condition },
                  h('strong', null, r.repo),
                  ': ',
                  r.last_error,
                  // Older daemons send no condition; a stalled one says what a person must do.
                  r.condition === 'stalled' ? h('span', { class: 'action' }, ` — stalled, needs a person: ${r.action}`) : r.condition === 'retrying' ? ' — retrying with back-off' : null,
                ),
              ),
              errorList(sync.errors),
            )
          : h('p', { class: 'notice ok', 'data-testid': 'no-errors' }, '✓ No sync errors'),
        h(
          'section',
          { class: 'cards', 'aria-label': 'Repositories' },
          sync.repositories.map((r) =>
            h(
              'article',
              { class: 'card', 'data-testid': 'repository' },
              h('h2', null, 'Repository'),
              h(
                'dl',
                { class: 'facts' },
                h('dt', null, 'Repository'),
                h('dd', null, h('code', null, r.repo)),
                h('dt', null, 'Branch'),
                h('dd', null, r.branch, r.root ? ` (root ${r.root})` : ''),
                h('dt', null, 'Cursor commit'),
                h('dd', { 'data-testid': 'cursor' }, h('code', { title: r.cursor_commit ?? '' }, shortSha(r.cursor_commit))),
                h('dt', null, 'Committed'),
                h('dd', null, ago(r.cursor_committed_at)),
                h('dt', null, 'Last sync'),
                h('dd', null, ago(r.last_sync_at)),
              ),
            ),
          ),
        ),
        h(
          'section',
          { class: 'stats', 'aria-label': 'Counts' },
          stat('Stacks', status.stacks.total, '#/stacks'),
          stat('Invalid stacks', status.stacks.invalid, '#/stacks', status.stacks.invalid > 0),
          stat('Agents', agents.length, '#/agents'),
          stat('Active agents', active, '#/agents'),
          stat('Pending deliveries', pending, '#/matrix?state=pending'),
          stat('Failed deliveries', failed, '#/matrix?state=failed', failed > 0),
        ),
      );
    },
  };
};

function stat(label: string, value: number, href: string, bad = false): HTMLElement {
  return h('a', { class: bad ? 'stat bad' : 'stat', href }, h('span', { class: 'value' }, String(value)), h('span', { class: 'label' }, label));
}
