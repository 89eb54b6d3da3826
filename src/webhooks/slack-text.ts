/** `format: slack`: one line of text per event for a Slack (or Mattermost, Rocket.Chat) incoming webhook. */

type Data = Record<string, unknown>;
const s = (v: unknown): string => (v === null || v === undefined ? '?' : String(v));

const TEXT: Record<string, (d: Data) => string> = {
  'deployment.applied': (d) => `:white_check_mark: ${s(d.stack_name)} #${s(d.sequence_id)} applied on ${s(d.agent_name)} (${s(d.cluster_name)})`,
  'deployment.failed': (d) => `:x: ${s(d.stack_name)} #${s(d.sequence_id)} failed on ${s(d.agent_name)} (${s(d.cluster_name)}): ${s(d.message)}`,
  'stack.invalid': (d) =>
    `:warning: stack ${s(d.stack_name ?? d.stack_path)} in ${s(d.repository)} is invalid at ${s(d.commit_sha).slice(0, 12)}: ${d.file ? `${s(d.file)}${d.line ? `:${s(d.line)}` : ''}: ` : ''}${s(d.message)}`,
  'sync.failed': (d) => `:rotating_light: repository ${s(d.repository)} cannot be synced: ${s(d.message)}`,
  'rollout.halted': (d) => `:octagonal_sign: rollout of ${s(d.stack_name)} #${s(d.sequence_id)} halted: ${s(d.halt_reason)}`,
  'rollout.completed': (d) => `:rocket: rollout of ${s(d.stack_name)} #${s(d.sequence_id)} released to all ${s(d.waves)} waves`,
  'agent.offline': (d) => `:electric_plug: agent ${s(d.agent_name)} (${s(d.cluster_name)}) is offline: no heartbeat since ${s(d.last_heartbeat)}`,
  'agent.online': (d) => `:large_green_circle: agent ${s(d.agent_name)} (${s(d.cluster_name)}) is back online`,
  'webhook.test': (d) => `brokkr-sync test message for subscription ${s(d.subscription_name)}`,
};

/** The Slack body for a stored payload (brokkr's envelope). */
export function slackBody(payload: string): string {
  const event = JSON.parse(payload) as { event_type?: string; data?: Data };
  const text = TEXT[event.event_type ?? '']?.(event.data ?? {}) ?? `brokkr-sync: ${s(event.event_type)}`;
  return JSON.stringify({ text });
}
