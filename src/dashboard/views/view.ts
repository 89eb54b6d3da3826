/** What every view provides to the shell: a refresh that refetches and redraws its data in place. */

export interface Route {
  /** 'overview' | 'stacks' | 'agents' | 'matrix' | 'history' */
  name: string;
  /** Path segments after the view name (a stack id for history). */
  params: string[];
  /** Parameters after '?' in the hash (paging, filters, chosen objects). */
  query: URLSearchParams;
}

export interface View {
  /** Refetch and redraw; called once after mounting and again on every live change. */
  refresh(): Promise<void>;
}

/** Builds a view's fixed parts (heading, controls) into `root`; `refresh` fills in the data. */
export type ViewFactory = (root: HTMLElement, route: Route) => View;

/**
 * Record view state (page, filter, chosen objects) in the hash without a navigation, so a reload or
 * a shared link shows the same thing; the view redraws itself.
 */
export function setQuery(route: Route, changes: Record<string, string | number | null>): void {
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === '') route.query.delete(key);
    else route.query.set(key, String(value));
  }
  const path = ['#', route.name === 'history' ? 'stacks' : route.name, ...route.params.map(encodeURIComponent)].join('/');
  const text = route.query.toString();
  history.replaceState(null, '', text ? `${path}?${text}` : path);
}
