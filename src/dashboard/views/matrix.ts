/**
 * The matrix: stacks × agents, each cell what that agent did with the stack's latest object.
 * Paged on the server (50 stacks a page), so 1,000 × 100 stays a few thousand cells in the DOM.
 * Every state is a symbol plus a word, never colour alone; arrow keys move between cells.
 */
import { api, describe } from '../api.js';
import { h, notice, replaceRegion } from '../dom.js';
import type { CellState, MatrixCell, MatrixPage } from '../../http/dashboard-server/delivery-matrix.js';
import { setQuery, type ViewFactory } from './view.js';

const PAGE = 50;

export const STATE_TEXT: Record<CellState | 'none', { symbol: string; word: string; help: string }> = {
  applied: { symbol: '✓', word: 'applied', help: 'the agent reported SUCCESS for the latest object' },
  failed: { symbol: '✗', word: 'failed', help: 'the latest report for the latest object is a FAILURE' },
  pending: { symbol: '○', word: 'pending', help: 'no report yet for the latest object' },
  deleting: { symbol: '⊖', word: 'deleting', help: 'the stack was removed; the agent has not confirmed the deletion' },
  deleted: { symbol: '·', word: 'deleted', help: 'the agent confirmed the deletion' },
  none: { symbol: '—', word: 'not associated', help: 'the stack does not target this agent' },
};

/** The states in display order: the browser cannot load the server's CELL_STATES, and STATE_TEXT's type keeps this list complete. */
const CELL_STATES = Object.keys(STATE_TEXT).filter((s): s is CellState => s !== 'none');

export const matrixView: ViewFactory = (root, route) => {
  const q = h('input', { id: 'matrix-q', type: 'search', value: route.query.get('q') ?? '', autocomplete: 'off' });
  const state = h(
    'select',
    { id: 'matrix-state' },
    h('option', { value: '' }, 'any state'),
    CELL_STATES.map((s) => h('option', { value: s, selected: route.query.get('state') === s }, `with ${STATE_TEXT[s].word}`)),
  );
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  const detail = h('p', { class: 'cell-detail', 'aria-live': 'polite', 'data-testid': 'cell-detail' }, 'Focus or point at a cell to see its details.');
  root.append(
    h('h1', null, 'Delivery matrix'),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'matrix-q' }, 'Stack name'),
      q,
      h('label', { for: 'matrix-state' }, 'Rows'),
      state,
    ),
    legend(),
    detail,
    region,
  );
  let timer: number | undefined;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      setQuery(route, { q: q.value.trim(), offset: null });
      void refresh();
    }, 200);
  });
  state.addEventListener('change', () => {
    setQuery(route, { state: state.value, offset: null });
    void refresh();
  });

  // Filter typing and live changes can overlap: only the newest request may draw.
  let latest = 0;
  async function refresh(): Promise<void> {
    const mine = ++latest;
    const offset = Math.max(0, Number(route.query.get('offset')) || 0);
    const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (state.value) params.set('state', state.value);
    let page: MatrixPage;
    try {
      page = await api<MatrixPage>(`/dashboard/matrix?${params}`);
    } catch (err) {
      if (mine === latest) replaceRegion(region, notice(`Could not load the matrix: ${describe(err)}`, 'error'));
      return;
    }
    if (mine !== latest) return;
    region.removeAttribute('aria-busy');
    const go = (to: number) => {
      setQuery(route, { offset: to || null });
      void refresh();
    };
    const last = Math.min(page.offset + page.rows.length, page.total);
    replaceRegion(
      region,
      h(
        'p',
        { class: 'summary' },
        CELL_STATES.filter((s) => page.counts[s] > 0).map((s) => h('span', { class: `count state-${s}` }, `${STATE_TEXT[s].symbol} ${page.counts[s]} ${STATE_TEXT[s].word}`)),
      ),
      page.agents.length === 0 || page.total === 0
        ? notice(page.agents.length === 0 ? 'No agents yet.' : 'No stacks match.')
        : grid(page, detail),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Matrix pages' },
        h('button', { type: 'button', 'data-key': 'prev', disabled: page.offset <= 0, onclick: () => go(Math.max(0, page.offset - PAGE)) }, '← Previous'),
        h('span', null, page.total ? `Stacks ${page.offset + 1}–${last} of ${page.total}` : '0 stacks'),
        h('button', { type: 'button', 'data-key': 'next', disabled: last >= page.total, onclick: () => go(page.offset + PAGE) }, 'Next →'),
      ),
    );
    // A live refresh put focus back on the same cell: make it the grid's one tab stop again.
    const focused = document.activeElement;
    if (focused instanceof HTMLTableCellElement && region.contains(focused)) {
      for (const td of region.querySelectorAll<HTMLElement>('td[tabindex="0"]')) td.tabIndex = -1;
      focused.tabIndex = 0;
    }
  }
  return { refresh };
};

function legend(): HTMLElement {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    ([...CELL_STATES, 'none'] as const).map((s) => h('li', { class: `cell state-${s}`, title: STATE_TEXT[s].help }, `${STATE_TEXT[s].symbol} ${STATE_TEXT[s].word}`)),
  );
}

function grid(page: MatrixPage, detail: HTMLElement): HTMLElement {
  const table = h(
    'table',
    { class: 'matrix', role: 'grid', 'aria-label': 'Delivery state of each stack on each agent', 'data-testid': 'matrix' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col', class: 'corner' }, 'Stack \\ Agent'),
        page.agents.map((a) => h('th', { scope: 'col', title: `${a.name} on ${a.cluster_name} (${a.status})` }, a.name, h('span', { class: 'cluster' }, a.cluster_name))),
      ),
    ),
    h(
      'tbody',
      null,
      page.rows.map((row) =>
        h(
          'tr',
          null,
          h(
            'th',
            { scope: 'row' },
            h('a', { href: `#/stacks/${encodeURIComponent(row.stack.id)}`, tabindex: -1 }, row.stack.name),
            h('span', { class: 'seq' }, row.stack.deleted ? ' removed' : row.stack.sequence_id !== null ? ` #${row.stack.sequence_id}` : ''),
          ),
          row.cells.map((cell, i) => cellElement(row.stack.name, row.stack.id, page.agents[i], cell)),
        ),
      ),
    ),
  );
  const first = table.querySelector<HTMLElement>('td');
  if (first) first.tabIndex = 0;
  const describeCell = (td: HTMLElement) => {
    detail.textContent = td.dataset.detail ?? '';
  };
  table.addEventListener('focusin', (e) => e.target instanceof HTMLElement && e.target.dataset.detail && describeCell(e.target));
  table.addEventListener('mouseover', (e) => {
    const td = (e.target as HTMLElement).closest?.('td');
    if (td) describeCell(td);
  });
  table.addEventListener('keydown', (e) => moveFocus(table, e));
  return h('div', { class: 'matrix-scroll' }, table);
}

function cellElement(stack: string, stackId: string, agent: MatrixPage['agents'][number], cell: MatrixCell | null): HTMLElement {
  const s = cell?.state ?? 'none';
  const text = STATE_TEXT[s];
  const where = `${stack} on ${agent.name} (${agent.cluster_name})`;
  const detail = `${where}: ${text.word}${cell?.message ? ` — ${cell.message}` : ''}${cell?.at ? ` (reported ${cell.at})` : ''}`;
  return h(
    'td',
    {
      class: `cell state-${s}`,
      tabindex: -1,
      'data-key': `cell-${stackId}-${agent.id}`,
      'data-stack': stack,
      'data-agent': agent.name,
      'data-state': s,
      'data-detail': detail,
      title: cell?.message ? `${text.word}: ${cell.message}` : text.help,
    },
    h('span', { 'aria-hidden': 'true' }, text.symbol),
    ' ',
    // 'not associated' is most cells of a big fleet: a dash on screen, the words for screen readers.
    cell ? text.word : h('span', { class: 'sr-only' }, text.word),
    cell?.message ? h('span', { class: 'sr-only' }, `: ${cell.message}`) : null,
  );
}

/** Grid keyboard pattern: one tab stop, arrows move, Home/End go to the row's ends. */
function moveFocus(table: HTMLTableElement, e: KeyboardEvent): void {
  const td = (e.target as HTMLElement).closest('td');
  if (!td) return;
  const tr = td.parentElement as HTMLTableRowElement;
  const rows = [...table.tBodies[0].rows];
  let r = rows.indexOf(tr);
  let c = td.cellIndex;
  const lastCol = tr.cells.length - 1;
  if (e.key === 'ArrowRight') c = Math.min(lastCol, c + 1);
  else if (e.key === 'ArrowLeft') c = Math.max(1, c - 1);
  else if (e.key === 'ArrowDown') r = Math.min(rows.length - 1, r + 1);
  else if (e.key === 'ArrowUp') r = Math.max(0, r - 1);
  else if (e.key === 'Home') c = 1;
  else if (e.key === 'End') c = lastCol;
  else if (e.key === 'Enter') {
    (tr.querySelector('th a') as HTMLElement | null)?.click();
    return;
  } else return;
  e.preventDefault();
  const next = rows[r].cells[c];
  td.tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
}
