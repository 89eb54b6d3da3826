/**
 * The rollout panel on a stack's page (SPEC §10): its waves, each wave's agents, released object
 * and gate state, whether the rollout is paused or halted (and why), and promote / pause / resume
 * for a PAK that may write. The stack view calls `refresh` on every live change, so the panel
 * follows releases and halts as they happen.
 */
import { api, ApiFailure, describe, session } from '../api.js';
import { ago, h, notice, replaceRegion } from '../dom.js';
import { hasRollout, onTarget, rolloutHeadline, rolloutPhase, usefulActions, waveSummary, type Wave, type WaveState } from '../rollout-state.js';
import type { RolloutAction, RolloutStatus } from '../../store/rollout-records.js';

export interface RolloutPanel {
  element: HTMLElement;
  /** Refetch and redraw; `newest` is the stack's newest sequence (a paused stack says a newer object waits). */
  refresh(newest: number | null): Promise<void>;
}

/** Agents listed per wave; the rest are counted (an implicit wave can hold the whole fleet). */
const MAX_AGENTS = 50;

const WAVE_BADGE: Record<WaveState, string> = { passed: 'ok', failed: 'bad', released: 'warn', waiting: '', held: 'warn' };
const GATE_BADGE: Record<string, string> = { passed: 'ok', failed: 'bad', pending: 'warn' };
const GATE_ORDER: Record<string, number> = { failed: 0, pending: 1, passed: 2 };

const ACTIONS: { action: RolloutAction; label: string; done: string; useless: string }[] = [
  { action: 'promote', label: 'Promote', done: 'Promoted', useless: 'every wave already runs the object being rolled out' },
  { action: 'pause', label: 'Pause', done: 'Paused', useless: 'the rollout is already paused' },
  { action: 'resume', label: 'Resume', done: 'Resumed', useless: 'the rollout is neither paused nor halted' },
];

/** Whether the signed-in PAK may write, from `POST /auth/pak` (a `readonly: true` answer may not); asked once per PAK. */
let writeAccess: { pak: string; canWrite: boolean } | null = null;

async function canWrite(): Promise<boolean> {
  const pak = session.pak() ?? '';
  if (writeAccess?.pak === pak) return writeAccess.canWrite;
  try {
    const who = await api<{ admin?: boolean; readonly?: boolean }>('/auth/pak', { method: 'POST' });
    writeAccess = { pak, canWrite: who.admin === true && who.readonly !== true };
    return writeAccess.canWrite;
  } catch {
    return false; // not remembered: asked again on the next refresh
  }
}

export function rolloutPanel(stackId: string): RolloutPanel {
  const element = h('section', { 'aria-label': 'Rollout', 'data-testid': 'rollout' });
  let rollout: RolloutStatus | null = null;
  let newest: number | null = null;
  let writable = false;
  let busy: RolloutAction | null = null;
  /** The outcome of the last button press, until the next one. */
  let outcome: { text: string; kind: 'info' | 'error' } | null = null;
  let loadError: string | null = null;

  async function act(action: RolloutAction, done: string): Promise<void> {
    if (busy) return;
    busy = action;
    element.setAttribute('aria-busy', 'true');
    try {
      rollout = await api<RolloutStatus>(`/stacks/${encodeURIComponent(stackId)}/rollout/${action}`, { method: 'POST' });
      outcome = { text: `${done}. ${rolloutHeadline(rollout, newest)}`, kind: 'info' };
    } catch (err) {
      // A PAK that may not write (a role changed under the page) loses the buttons too.
      if (err instanceof ApiFailure && err.status === 403) {
        writable = false;
        writeAccess = { pak: session.pak() ?? '', canWrite: false };
      }
      outcome = { text: `${action[0].toUpperCase()}${action.slice(1)} failed: ${describe(err)}`, kind: 'error' };
    } finally {
      busy = null;
      element.removeAttribute('aria-busy');
      draw();
    }
  }

  function draw(): void {
    if (!rollout) return replaceRegion(element, loadError && notice(`Could not load the rollout: ${loadError}`, 'error'));
    const r = rollout;
    if (!hasRollout(r)) {
      return replaceRegion(element, h('p', { class: 'muted', 'data-testid': 'rollout-none' }, 'No rollout: released to all agents at once.'));
    }
    const phase = rolloutPhase(r);
    const useful = usefulActions(r);
    replaceRegion(
      element,
      h(
        'div',
        { class: `card rollout phase-${phase}`, 'data-phase': phase },
        h('h2', { id: 'rollout-h' }, 'Rollout'),
        h(
          'p',
          { class: `notice ${phase === 'halted' ? 'error' : phase === 'paused' ? 'warn' : phase === 'complete' ? 'ok' : 'info'}`, 'data-testid': 'rollout-headline', role: phase === 'halted' ? 'alert' : null },
          rolloutHeadline(r, newest),
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', null, 'Gate'),
          h('dd', null, r.gate === 'healthy' ? 'healthy: a SUCCESS event and a healthy report' : 'success: a SUCCESS event'),
          r.depends_on.length > 0 && [h('dt', null, 'Depends on'), h('dd', null, r.depends_on.join(', '))],
          r.rollback && [
            h('dt', null, 'Rollback'),
            h(
              'dd',
              { 'data-testid': 'rollout-rollback' },
              `object ${r.target?.sequence_id ?? '?'} has the content of object ${r.rollback.source_sequence_id}`,
              r.rollback.replaced_sequence_id !== null ? `, replacing object ${r.rollback.replaced_sequence_id}` : '',
              `, by ${r.rollback.actor} `,
              ago(r.rollback.created_at),
            ),
          ],
        ),
        writable &&
          h(
            'div',
            { class: 'toolbar rollout-actions', role: 'group', 'aria-label': 'Rollout actions' },
            ACTIONS.map(({ action, label, done, useless }) =>
              h(
                'button',
                {
                  type: 'button',
                  'data-key': `rollout-${action}`,
                  'data-action': action,
                  // aria-disabled, not disabled: a button pressed by keyboard keeps its focus when it becomes inert.
                  'aria-disabled': useful[action] ? null : 'true',
                  title: useful[action] ? null : `Nothing to do: ${useless}`,
                  onclick: () => void (useful[action] && act(action, done)),
                },
                busy === action ? `${label}…` : label,
              ),
            ),
          ),
        outcome && h('p', { class: `notice ${outcome.kind}`, role: outcome.kind === 'error' ? 'alert' : 'status', 'data-testid': 'rollout-outcome' }, outcome.text),
        wavesTable(r),
      ),
    );
  }

  return {
    element,
    async refresh(newestSequence) {
      newest = newestSequence;
      try {
        const [status, write] = await Promise.all([api<RolloutStatus>(`/stacks/${encodeURIComponent(stackId)}/rollout`), canWrite()]);
        rollout = status;
        writable = write;
        loadError = null;
      } catch (err) {
        // A removed stack has no rollout to show: the history below still explains it.
        if (err instanceof ApiFailure && err.status === 404) rollout = null;
        loadError = err instanceof ApiFailure && err.status === 404 ? null : describe(err);
      }
      if (!busy) draw();
    },
  };
}

function wavesTable(r: RolloutStatus): HTMLElement {
  return h(
    'table',
    { class: 'data', 'data-testid': 'rollout-waves' },
    h('caption', null, 'Waves, in release order: a wave gets the object once every agent of the waves before it passed the gate'),
    h('thead', null, h('tr', null, ['Wave', 'Agents matching', 'Released object', 'Gate state', 'Agents'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, r.waves.map((w) => waveRow(r, w))),
  );
}

function waveRow(r: RolloutStatus, w: Wave): HTMLElement {
  const s = waveSummary(r, w);
  // The rule of waveOf: any of the labels, and all of the annotations.
  const selector = [w.labels.length > 0 && `label ${w.labels.join(' or ')}`, ...Object.entries(w.annotations).map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(' and ');
  const agents = [...w.agents].sort((a, b) => (GATE_ORDER[a.gate] ?? 3) - (GATE_ORDER[b.gate] ?? 3) || a.name.localeCompare(b.name));
  return h(
    'tr',
    { 'data-wave': w.index, 'data-state': s.state },
    h('th', { scope: 'row' }, `Wave ${w.index}`),
    h('td', { 'data-column': 'selector' }, w.implicit ? h('span', { class: 'muted' }, 'every other agent') : selector),
    h(
      'td',
      { 'data-column': 'released' },
      w.released ? `object ${w.released.sequence_id}` : 'nothing yet',
      w.released?.is_deletion_marker && h('span', { class: 'badge warn' }, 'deletion marker'),
      w.released && !onTarget(r, w) && h('span', { class: 'muted' }, ' (previous)'),
    ),
    h('td', { 'data-column': 'gate' }, h('span', { class: `badge ${WAVE_BADGE[s.state]}` }, s.state), ' ', h('span', { class: 'muted' }, s.text)),
    h(
      'td',
      null,
      agents.length === 0
        ? h('span', { class: 'muted' }, 'no agents')
        : h(
            'ul',
            { class: 'wave-agents' },
            agents.slice(0, MAX_AGENTS).map((a) =>
              h(
                'li',
                { 'data-agent': a.name, 'data-gate': a.gate },
                h('strong', null, a.name),
                h('span', { class: 'muted' }, ` ${a.cluster_name}`),
                h('span', { class: `badge ${GATE_BADGE[a.gate] ?? ''}` }, a.gate),
                a.message && h('span', { class: a.gate === 'failed' ? 'agent-message bad-text' : 'agent-message' }, ` ${a.message}`),
              ),
            ),
            agents.length > MAX_AGENTS &&
              h('li', { class: 'muted' }, `and ${agents.length - MAX_AGENTS} more (${s.passed} passed, ${s.pending} pending, ${s.failed} failed in all)`),
          ),
    ),
  );
}
