import type { Page } from '../services/ports/index.js';

/** One page from limit + 1 rows: the extra row only says whether more follow, and the last kept row's sort key is the marker. */
export function page<R, T>(rows: R[], limit: number, map: (r: R) => T, sortKey: (r: R) => string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), next: more ? sortKey(kept[kept.length - 1]!) : undefined };
}
