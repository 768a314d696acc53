import type { KmsKey } from '../../domain/key.js';

export interface DestroyedKeyMaterial {
  readonly keyId: string;
  readonly version: number;
  readonly destroyedAt: Date;
}

/** Scheduled deletion and the destruction of a key's material, in steps a crash can resume. */
export interface DeletionStore {
  /**
   * Schedules the key's deletion: PendingDeletion on the date, or, for a
   * multi-Region primary key with replicas (decided in the same transaction as
   * replication and the primary's moves), PendingReplicaDeletion with no date
   * until its last replica is deleted. False when it is pending deletion already, or gone.
   */
  scheduleKeyDeletion(keyId: string, pendingWindowInDays: number, deletionDate: Date): Promise<boolean>;
  /** PendingDeletion (or PendingReplicaDeletion) back to Disabled; false when the key is not pending deletion or its destruction has begun. */
  cancelKeyDeletion(keyId: string): Promise<boolean>;
  /** Keys whose waiting period is over, including ones whose destruction a crash interrupted. */
  listKeysDueForDeletion(now: Date, limit: number): Promise<KmsKey[]>;
  /** Marks destruction as begun (idempotent); false when the key is no longer due (cancelled, or gone). */
  beginKeyDestruction(keyId: string, now: Date): Promise<boolean>;
  listKeyVersions(keyId: string): Promise<number[]>;
  /** Records what was destroyed, removes the key's aliases and grants and hides the key from every API call. */
  completeKeyDestruction(keyId: string, versions: readonly number[], at: Date): Promise<void>;
  /** The audit record of destroyed key material. */
  listDestroyedKeyMaterial(keyId: string): Promise<DestroyedKeyMaterial[]>;
}
