/** Agents: cluster, labels, annotations, heartbeat age (with a stale warning), status and delivery counts. */
import { api, describe } from '../api.js';
import { chips, duration, h, notice, replaceRegion } from '../dom.js';
import type { AgentOverview, AgentsAnswer } from '../../http/dashboard-server/agent-overview.js';
import type { ViewFactory } from './view.js';

export const agentsView: ViewFactory = (root) => {
  const region = h('div', { 'aria-busy': 'true' }, notice('Loading…'));
  root.append(h('h1', null, 'Agents'), region);

  return {
    async refresh() {
      let answer: AgentsAnswer;
      try {
        answer = await api<AgentsAnswer>('/dashboard/agents');
      } catch (err) {
        replaceRegion(region, notice(`Could not load the agents: ${describe(err)}`, 'error'));
        return;
      }
      region.removeAttribute('aria-busy');
      const stale = answer.agents.filter((a) => a.stale).length;
      replaceRegion(
        region,
        stale > 0 &&
          h('p', { class: 'notice warn', role: 'status' }, `⚠ ${stale} agent${stale === 1 ? ' has' : 's have'} not sent a heartbeat for more than ${duration(answer.stale_after_seconds)}.`),
        answer.agents.length === 0
          ? notice('No agents yet. Create one with "brokkr-sync agents create".')
          : h(
              'table',
              { class: 'data', 'data-testid': 'agents' },
              h('caption', null, `${answer.agents.length} agent${answer.agents.length === 1 ? '' : 's'}`),
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['Name', 'Cluster', 'Labels', 'Annotations', 'Status', 'Heartbeat', 'Pending', 'Failed'].map((c) => h('th', { scope: 'col' }, c)),
                ),
              ),
              h('tbody', null, answer.agents.map(agentRow)),
            ),
      );
    },
  };
};

/** The agent's last report on its own Kubernetes API (brokkr agents send it with heartbeats); nothing until one arrives. */
function k8sBadge(a: AgentOverview): HTMLElement | null {
  if (a.k8s_reachable === null) return null;
  const latency = a.k8s_api_latency_ms === null ? '' : ` ${a.k8s_api_latency_ms} ms`;
  return h(
    'span',
    { class: a.k8s_reachable ? 'badge ok' : 'badge bad', 'data-k8s': a.k8s_reachable ? 'reachable' : 'unreachable', title: `reported ${a.k8s_reported_at ?? ''}` },
    a.k8s_reachable ? `k8s API ✓${latency}` : `⚠ k8s API unreachable${latency}`,
  );
}

function agentRow(a: AgentOverview): HTMLElement {
  const heartbeat =
    a.heartbeat_age_seconds === null ? 'never' : h('time', { datetime: a.last_heartbeat ?? '', title: a.last_heartbeat ?? '' }, `${duration(a.heartbeat_age_seconds)} ago`);
  return h(
    'tr',
    { 'data-agent': a.name },
    h('th', { scope: 'row' }, a.name),
    h('td', null, a.cluster_name),
    h('td', null, chips(a.labels)),
    h('td', null, chips(Object.entries(a.annotations).map(([k, v]) => `${k}=${v}`))),
    h('td', null, h('span', { class: a.status === 'ACTIVE' ? 'badge ok' : 'badge' }, a.status)),
    h('td', null, heartbeat, a.stale && h('span', { class: 'badge warn' }, '⚠ stale'), k8sBadge(a)),
    h('td', { class: 'num' }, String(a.pending)),
    h('td', { class: a.failed > 0 ? 'num bad-text' : 'num' }, String(a.failed)),
  );
}
