/** Tiny DOM helpers: build elements without innerHTML (nothing from the API is ever parsed as HTML) and format times. */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);

/**
 * `h('a', { href: '#/x', class: 'link', onclick: fn }, 'text', child)`. Attributes with a
 * function value become listeners; null/undefined/false attributes are left out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/**
 * Swap a region's content and keep keyboard focus where it was: the focused element's
 * `data-key` is looked up again in the new content (live refreshes must not throw the user out).
 */
export function replaceRegion(region: HTMLElement, ...children: Child[]): void {
  const active = document.activeElement as HTMLElement | null;
  const key = active && region.contains(active) ? active.dataset.key : undefined;
  const frag = document.createDocumentFragment();
  append(frag, children);
  region.replaceChildren(frag);
  if (key) {
    const again = region.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`);
    again?.focus({ preventScroll: true });
  }
}

/** "42 s", "5 min", "3 h", "2 d": a coarse duration for ages. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** A `<time>` showing how long ago, with the exact UTC timestamp on hover and for screen readers' detail. */
export function ago(iso: string | null | undefined, now = Date.now()): HTMLElement | string {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  return h('time', { datetime: iso, title: iso }, `${duration((now - at) / 1000)} ago`);
}

export const shortSha = (sha: string | null | undefined): string => (sha ? sha.slice(0, 8) : '—');

/** Labels as chips; `empty` when there are none. */
export function chips(values: string[], empty = '—'): Child {
  if (values.length === 0) return h('span', { class: 'muted' }, empty);
  return h('ul', { class: 'chips' }, values.map((v) => h('li', { class: 'chip' }, v)));
}

/** A status message region (loading, error) for a view. */
export function notice(text: string, kind: 'info' | 'error' = 'info'): HTMLElement {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
