import type { KmsKey } from '../../domain/key.js';
import type { NewKey } from './key-store.js';

/** What became of a ReplicateKey in the store. */
export type ReplicaInsertion =
  | 'created'
  /** A key of the multi-Region key is in that region already (in any state but deleted). */
  | 'exists'
  /** The key is no longer an Enabled primary (changed since it was read). */
  | 'primary-changed'
  /** The account has as many keys as it may. */
  | 'quota';

/** The primary states a key may be replicated from (AWS: Disabled answers DisabledException, the others KMSInvalidStateException). */
export const REPLICABLE_STATES: readonly string[] = ['Enabled'];

/**
 * Multi-Region keys: one key in each of their regions under one KeyId and one
 * key material. The store keeps what they share in step (versions, the primary
 * region) in the same transactions that change it.
 */
export interface MultiRegionStore {
  /** Every region's key of the multi-Region key, not deleted, by region. */
  listMultiRegionKeys(multiRegionKeyId: string): Promise<KmsKey[]>;
  /**
   * A replica of the primary in another region, visible at once: it has every
   * version the primary has, its current version, and the primary region. A
   * deleted replica's row in that region is replaced (its record is in the audit trail).
   */
  insertReplicaKey(replica: NewKey, primaryKeyId: string, maxKeysInAccount?: number): Promise<ReplicaInsertion>;
  /**
   * Makes the replica the primary of every region's key, and moves the automatic
   * rotation schedule to it; false when either is no longer Enabled, the primary
   * changed, or the primary is rotating (its rotation lease is held at `now`).
   */
  updatePrimaryRegion(primaryKeyId: string, newPrimaryKeyId: string, now: Date): Promise<boolean>;
}
