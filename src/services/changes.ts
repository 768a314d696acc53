/**
 * What another process must forget when this one changes metadata: the caches
 * that let cryptographic calls skip the database would otherwise keep serving a
 * disabled key, a revoked grant or a disabled access key until their lifetime ends.
 */
export type CacheChange =
  | { readonly kind: 'key'; readonly keyId: string }
  | { readonly kind: 'alias'; readonly accountId: string; readonly region: string; readonly aliasName: string; readonly targetKeyIds: readonly string[] }
  | { readonly kind: 'grants'; readonly keyId: string }
  | { readonly kind: 'credentials'; readonly accessKeyIds: readonly string[] };

/**
 * Carries cache changes to the other processes serving the same keys (the workers
 * of one host today; instances sharing a database later). A process never hears
 * its own changes back: it has already applied them.
 */
export interface ChangeFeed {
  publish(change: CacheChange): void;
  subscribe(listener: (change: CacheChange) => void): void;
}

/** One process alone: nobody else to tell. */
export const SINGLE_PROCESS: ChangeFeed = {
  publish: () => undefined,
  subscribe: () => undefined,
};

/** Whether a message from another process is a cache change (it crossed a process boundary: checked, not trusted). */
export function isCacheChange(value: unknown): value is CacheChange {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  switch (c.kind) {
    case 'key':
    case 'grants':
      return typeof c.keyId === 'string';
    case 'alias':
      return typeof c.accountId === 'string' && typeof c.region === 'string' && typeof c.aliasName === 'string' && strings(c.targetKeyIds);
    case 'credentials':
      return strings(c.accessKeyIds);
    default:
      return false;
  }
}
