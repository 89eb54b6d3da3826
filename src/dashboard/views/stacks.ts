/** Stacks: every live stack with its repository, labels, annotations and latest object's commit; invalid ones show their file:line errors. */
import { api, describe } from '../api.js';
import { ago, chips, h, notice, replaceRegion, shortSha } from '../dom.js';
import type { SyncStatus } from '../../http/status-answers.js';
import type { SyncError } from '../../store/records.js';
import type { StackDetail } from '../../store/store.js';
import { errorList } from './overview.js';
import { setQuery, type ViewFactory } from './view.js';

const PAGE = 100;

/** GET /generators as this view needs it: which repository each generator stands for. */
interface GeneratorRepository {
  id: string;
  name: string;
  repository: { name: string } | null;
}

export const stacksView: ViewFactory = (root, route) => {
  let data: { stacks: StackDetail[]; errors: SyncError[]; repositories: Map<string, string> } | null = null;
  const filter = h('input', { id: 'stack-filter', type: 'search', value: route.query.get('q') ?? '', autocomplete: 'off' });
  const repoFilter = h('select', { id: 'repo-filter' }, h('option', { value: '' }, 'All repositories'));
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  root.append(
    h('h1', null, 'Stacks'),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'stack-filter' }, 'Filter by name or label'),
      filter,
      h('label', { for: 'repo-filter' }, 'Repository'),
      repoFilter,
    ),
    region,
  );
  filter.addEventListener('input', () => {
    setQuery(route, { q: filter.value.trim(), page: null });
    draw();
  });
  repoFilter.addEventListener('change', () => {
    setQuery(route, { repo: repoFilter.value || null, page: null });
    draw();
  });

  /** The repository dropdown lists every repository that has stacks; the query string keeps the choice. */
  function fillRepositories(): void {
    const names = [...new Set(data!.stacks.map((s) => repositoryOf(s)))].sort();
    const chosen = route.query.get('repo') ?? '';
    repoFilter.replaceChildren(
      h('option', { value: '' }, 'All repositories'),
      ...names.map((n) => h('option', { value: n, selected: n === chosen }, n)),
    );
    repoFilter.value = names.includes(chosen) ? chosen : '';
  }

  const repositoryOf = (s: StackDetail): string => data?.repositories.get(s.generator_id) ?? s.generator_id.slice(0, 8);

  function draw(): void {
    if (!data) return;
    const q = filter.value.trim().toLowerCase();
    const errorsOf = (s: StackDetail) => data!.errors.filter((e) => e.stack_name === s.name || (s.path !== null && e.stack_path === s.path));
    const known = new Set<SyncError>(data.stacks.flatMap(errorsOf));
    const orphans = data.errors.filter((e) => !known.has(e));
    const repo = repoFilter.value;
    const matching = data.stacks.filter(
      (s) => (!repo || repositoryOf(s) === repo) && (!q || s.name.toLowerCase().includes(q) || s.labels.some((l) => l.toLowerCase().includes(q))),
    );
    const pages = Math.max(1, Math.ceil(matching.length / PAGE));
    const page = Math.min(Math.max(1, Number(route.query.get('page')) || 1), pages);
    const shown = matching.slice((page - 1) * PAGE, page * PAGE);

    replaceRegion(
      region,
      orphans.length > 0 &&
        h('section', { class: 'card problem', 'aria-labelledby': 'orphans-h' }, h('h2', { id: 'orphans-h' }, '⚠ Invalid stacks not synced yet'), errorList(orphans)),
      h(
        'table',
        { class: 'data', 'data-testid': 'stacks' },
        h('caption', null, `${matching.length} stack${matching.length === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}${repo ? ` in ${repo}` : ''}`),
        h(
          'thead',
          null,
          h('tr', null, ['Name', 'Repository', 'Labels', 'Annotations', 'Sequence', 'Commit', 'Author', 'Time'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h('tbody', null, shown.map((s) => stackRow(s, repositoryOf(s), errorsOf(s)))),
      ),
      pages > 1 &&
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Stack pages' },
          h('button', { type: 'button', 'data-key': 'prev', disabled: page <= 1, onclick: () => go(page - 1) }, '← Previous'),
          h('span', null, `Page ${page} of ${pages}`),
          h('button', { type: 'button', 'data-key': 'next', disabled: page >= pages, onclick: () => go(page + 1) }, 'Next →'),
        ),
    );
  }

  function go(page: number): void {
    setQuery(route, { page });
    draw();
  }

  return {
    async refresh() {
      try {
        const [stacks, sync, generators] = await Promise.all([
          api<StackDetail[]>('/stacks'),
          api<SyncStatus>('/sync/status'),
          api<GeneratorRepository[]>('/generators'),
        ]);
        const repositories = new Map(generators.map((g) => [g.id, g.repository?.name ?? g.name]));
        data = { stacks: stacks.sort((a, b) => a.name.localeCompare(b.name)), errors: sync.errors, repositories };
        fillRepositories();
        region.removeAttribute('aria-busy');
        draw();
      } catch (err) {
        replaceRegion(region, notice(`Could not load the stacks: ${describe(err)}`, 'error'));
      }
    },
  };
};

function stackRow(s: StackDetail, repository: string, errors: SyncError[]): HTMLElement {
  const latest = s.latest_object;
  return h(
    'tr',
    { 'data-stack': s.name, class: errors.length ? 'invalid' : null },
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `#/stacks/${encodeURIComponent(s.id)}`, 'data-key': `stack-${s.id}`, title: s.description ?? null }, s.name),
      errors.length > 0 && h('span', { class: 'badge bad' }, '⚠ invalid'),
      errors.length > 0 && errorList(errors),
    ),
    h('td', { 'data-column': 'repository' }, repository),
    h('td', null, chips(s.labels)),
    h('td', null, chips(Object.entries(s.annotations).map(([k, v]) => `${k}=${v}`))),
    h('td', { class: 'num' }, latest ? String(latest.sequence_id) : '—'),
    h('td', null, s.commit ? [h('code', { title: s.commit.sha }, shortSha(s.commit.sha)), ' ', h('span', { class: 'subject' }, s.commit.subject)] : '—'),
    h('td', { class: 'nowrap' }, s.commit ? h('span', { title: s.commit.author_email }, s.commit.author_name) : '—'),
    h('td', null, ago(s.commit?.committed_at ?? latest?.submitted_at)),
  );
}
