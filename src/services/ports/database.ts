import type { GrantStore, KeyUsageStore, PrincipalStore } from '../access/access-ports.js';
import type { ChangeFeed } from '../changes.js';
import type { AliasStore } from './alias-store.js';
import type { DeletionStore } from './deletion-store.js';
import type { ImportStore } from './import-store.js';
import type { IvStore } from './iv-store.js';
import type { KeyStore } from './key-store.js';
import type { KeyVersionCheckStore } from './key-version-check-store.js';
import type { MultiRegionStore } from './multi-region-store.js';
import type { RotationStore } from './rotation-store.js';
import type { TagStore } from './tag-store.js';

/** The database itself: reachable, shared or not, and how its processes take turns and hear each other. */
export interface Database {
  /** A trivial query: throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;
  /**
   * Runs the work while no other process on this database runs work of the same
   * name (PostgreSQL: an advisory lock, released with its connection if the
   * process dies; SQLite: a lock row the processes sharing the file take in turn,
   * lost by a holder that dies). `wait` false: when another holds it, returns
   * { ran: false } at once instead of waiting.
   */
  exclusive<T>(name: string, work: () => Promise<T>, wait?: boolean): Promise<{ ran: true; value: T } | { ran: false }>;
  /**
   * Takes the database for this instance where one instance alone may use it
   * (SQLite: another instance's caches would never hear of this one's changes);
   * throws, naming the other instance, while another live instance holds it.
   * Nothing to take on PostgreSQL, which instances share.
   */
  holdInstance(): Promise<void>;
  /**
   * Cache changes from every other process on this database (PostgreSQL
   * LISTEN/NOTIFY), or undefined where one process is alone on it (SQLite).
   */
  changeFeed(): ChangeFeed | undefined;
  readonly principals: PrincipalStore;
  readonly grants: GrantStore;
  readonly usage: KeyUsageStore;
  close(): Promise<void>;
}

/**
 * Everything outside the token, as one database holds it (SQLite or
 * PostgreSQL). Each use case takes only the narrower ports it needs.
 */
export interface MetadataStore extends KeyStore, MultiRegionStore, DeletionStore, RotationStore, ImportStore, KeyVersionCheckStore, AliasStore, TagStore, IvStore, Database {}

/** Runs work while no other process on the database runs work of the same name (waiting its turn). */
export type Serialized = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/** MetadataStore.exclusive, waiting for its turn. */
export function serializedBy(store: Pick<Database, 'exclusive'>): Serialized {
  return async (name, work) => {
    const outcome = await store.exclusive(name, work, true);
    if (!outcome.ran) throw new Error(`exclusive ${name} did not run`);
    return outcome.value;
  };
}

/** Alone on the database: nothing to wait for. */
export const UNSERIALIZED: Serialized = (_name, work) => work();
