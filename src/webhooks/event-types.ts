/** Which event types a subscription may name: the exact ones, `family.*`, or `*`; unknown ones are refused with a suggestion. */
import { closestWord } from '../manifest/closest-word.js';
import { WEBHOOK_EVENT_TYPES } from '../store/webhook-store.js';

const FAMILIES = [...new Set(WEBHOOK_EVENT_TYPES.map((t) => t.split('.')[0]!))].map((f) => `${f}.*`);
const PATTERNS = ['*', ...FAMILIES, ...WEBHOOK_EVENT_TYPES];

export class EventTypeError extends Error {
  override name = 'EventTypeError';
}

/** The list as given, deduplicated; throws EventTypeError naming the first unknown entry. */
export function checkEventTypes(types: readonly string[]): string[] {
  if (types.length === 0) throw new EventTypeError(`event_types is empty: name at least one of ${PATTERNS.join(', ')}`);
  for (const t of types) {
    if (PATTERNS.includes(t)) continue;
    const guess = closestWord(t, PATTERNS);
    throw new EventTypeError(`unknown event type '${t}'${guess ? ` (did you mean '${guess}'?)` : ''}; known: ${PATTERNS.join(', ')}`);
  }
  return [...new Set(types)];
}
