import { isCacheChange, type CacheChange } from '../services/changes.js';

/** What the primary and its workers say to each other over node:cluster's IPC channel. */
export type ClusterMessage =
  /** Worker to primary, once it listens for messages (one sent before would be lost): which worker am I? */
  | { readonly type: 'hello' }
  /** Primary to a new worker: which worker it is (its audit trail's folder) and how many there are (its share of the quotas). */
  | { readonly type: 'start'; readonly index: number; readonly workers: number }
  /** Worker to primary: serving, on this port. */
  | { readonly type: 'ready'; readonly port: number }
  /** Either way: a process changed metadata that the others cache. */
  | { readonly type: 'cache-change'; readonly change: CacheChange }
  /** Primary to a worker: finish the calls under way and exit. */
  | { readonly type: 'stop' }
  /** Worker to primary: wants to change the token's objects (TokenChangeGate); the primary grants one at a time. */
  | { readonly type: 'gate-acquire'; readonly id: number }
  | { readonly type: 'gate-granted'; readonly id: number }
  | { readonly type: 'gate-release'; readonly id: number }
  /** Worker to primary: a scrape of /metrics reached it; the primary answers with every worker's, added up. */
  | { readonly type: 'metrics-request'; readonly id: number }
  | { readonly type: 'metrics'; readonly id: number; readonly text: string };

/** A message from the other side of the channel, checked rather than trusted. */
export function asClusterMessage(value: unknown): ClusterMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  switch (m.type) {
    case 'start':
      return count(m.index) && count(m.workers) ? (m as ClusterMessage) : undefined;
    case 'ready':
      return count(m.port) ? (m as ClusterMessage) : undefined;
    case 'cache-change':
      return isCacheChange(m.change) ? (m as ClusterMessage) : undefined;
    case 'gate-acquire':
    case 'gate-granted':
    case 'gate-release':
    case 'metrics-request':
      return count(m.id) ? (m as ClusterMessage) : undefined;
    case 'metrics':
      return count(m.id) && typeof m.text === 'string' ? (m as ClusterMessage) : undefined;
    case 'hello':
    case 'stop':
      return m as ClusterMessage;
    default:
      return undefined;
  }
}
