/** The dashboard shell (the browser app; its server side is src/http/dashboard-server): login, hash routing between views, and live refresh of the current view. */
import { api, ApiFailure, describe, onUnauthorized, session } from './api.js';
import { h } from './dom.js';
import { startLive, type LiveState } from './live.js';
import { agentsView } from './views/agents.js';
import { auditView } from './views/audit.js';
import { historyView } from './views/history.js';
import { matrixView } from './views/matrix.js';
import { overviewView } from './views/overview.js';
import { stacksView } from './views/stacks.js';
import type { Route, View, ViewFactory } from './views/view.js';

const VIEWS: Record<string, { title: string; factory: ViewFactory }> = {
  overview: { title: 'Overview', factory: overviewView },
  stacks: { title: 'Stacks', factory: stacksView },
  agents: { title: 'Agents', factory: agentsView },
  matrix: { title: 'Matrix', factory: matrixView },
  history: { title: 'Stack history', factory: historyView },
  audit: { title: 'Audit log', factory: auditView },
};

/** Heartbeat ages and other clocks drift even when nothing changes; redraw at least this often. */
const PERIODIC_REFRESH_MS = 15_000;

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const liveBadge = document.getElementById('live') as HTMLElement;
const signOut = document.getElementById('sign-out') as HTMLButtonElement;
const roleBadge = document.getElementById('role') as HTMLElement;

/** Who is signed in (an operator's role): a readonly PAK sees a "Read-only" badge; views hide what it cannot do. */
async function showRole(): Promise<void> {
  try {
    const who = await api<{ admin: boolean; readonly?: boolean }>('/auth/pak', { method: 'POST' });
    roleBadge.hidden = who.readonly !== true;
    roleBadge.textContent = who.readonly ? 'Read-only' : '';
    document.body.dataset.role = who.readonly ? 'readonly' : 'admin';
  } catch {
    /* a failed call signs out through onUnauthorized, or the next refresh shows the error */
  }
}

let current: View | null = null;
let stopLive: (() => void) | null = null;
let periodic: number | undefined;
let refreshing = false;
let again = false;

function parseRoute(): Route {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?', 2);
  const [first = '', ...rest] = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (first === 'stacks' && rest.length > 0) return { name: 'history', params: rest, query: new URLSearchParams(query) };
  return { name: VIEWS[first] ? first : 'overview', params: [], query: new URLSearchParams(query) };
}

function mount(focus: boolean): void {
  const route = parseRoute();
  const view = VIEWS[route.name];
  document.title = `${view.title} · brokkr-sync`;
  for (const link of nav.querySelectorAll('a')) {
    const active = link.dataset.view === (route.name === 'history' ? 'stacks' : route.name);
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.replaceChildren();
  current = view.factory(main, route);
  void refreshNow();
  if (focus) main.focus();
}

/** Refresh the current view; changes arriving during a refresh coalesce into one more refresh. */
async function refreshNow(): Promise<void> {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    do {
      again = false;
      await current?.refresh();
    } while (again);
  } finally {
    refreshing = false;
  }
}

function setLive(state: LiveState): void {
  liveBadge.dataset.state = state;
  liveBadge.textContent = state === 'live' ? '● Live' : '○ Reconnecting…';
}

function enterApp(): void {
  document.body.classList.remove('signed-out');
  void showRole();
  mount(false);
  stopLive = startLive({ onChange: () => void refreshNow(), onState: setLive });
  periodic = window.setInterval(() => void refreshNow(), PERIODIC_REFRESH_MS);
}

function leaveApp(message: string | null): void {
  stopLive?.();
  stopLive = null;
  clearInterval(periodic);
  current = null;
  session.clear();
  roleBadge.hidden = true;
  delete document.body.dataset.role;
  document.body.classList.add('signed-out');
  showLogin(message);
}

function showLogin(message: string | null): void {
  const input = h('input', { id: 'pak', name: 'pak', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'pak-help' });
  const error = h('p', { id: 'login-error', class: 'notice error', role: 'alert', hidden: !message }, message ?? '');
  const button = h('button', { type: 'submit' }, 'Sign in');
  // method=post: should the script ever not run, the PAK goes in a body, never into the URL.
  const form = h(
    'form',
    { class: 'login card', method: 'post', action: '/' },
    h('h1', null, 'Sign in to brokkr-sync'),
    h('label', { for: 'pak' }, 'Admin or read-only PAK'),
    input,
    h(
      'p',
      { id: 'pak-help', class: 'muted' },
      'The daemon prints it on first start and keeps it next to its database (brokkr.db.admin-pak). It stays in this tab only (session storage).',
    ),
    button,
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const pak = input.value.trim();
    button.disabled = true;
    try {
      const who = await api<{ admin: boolean; readonly?: boolean }>('/auth/pak', { method: 'POST', pak });
      if (!who.admin && !who.readonly) throw new Error('this PAK is not an operator PAK (agent and generator PAKs cannot open the dashboard)');
      session.save(pak);
      enterApp();
    } catch (err) {
      error.textContent = err instanceof ApiFailure && err.status === 401 ? 'Unknown PAK: check it and try again.' : `Sign-in failed: ${describe(err)}`;
      error.hidden = false;
      button.disabled = false;
      input.focus();
    }
  });
  main.replaceChildren(form);
  document.title = 'Sign in · brokkr-sync';
  input.focus();
}

onUnauthorized((message) => leaveApp(`Signed out: ${message}`));
signOut.addEventListener('click', () => leaveApp(null));
// The skip link must not change the hash: the hash is the router's.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => current && mount(true));

if (session.pak()) enterApp();
else leaveApp(null);
