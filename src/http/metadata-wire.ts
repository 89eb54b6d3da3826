/** Labels and annotations of stacks and agents share one store shape; on the wire the owner column is named per table. */
import type { Annotation, Label, OwnerKind } from '../store/store.js';

const ownerColumn = (kind: OwnerKind) => (kind === 'agent' ? 'agent_id' : 'stack_id');

/** `{id, owner_id, label}` → `{id, agent_id|stack_id, label}` (agent_labels / stack_labels columns). */
export function labelWire(kind: OwnerKind, l: Label): Record<string, string> {
  return { id: l.id, [ownerColumn(kind)]: l.owner_id, label: l.label };
}

/** `{id, owner_id, key, value}` → `{id, agent_id|stack_id, key, value}`. */
export function annotationWire(kind: OwnerKind, a: Annotation): Record<string, string> {
  return { id: a.id, [ownerColumn(kind)]: a.owner_id, key: a.key, value: a.value };
}
