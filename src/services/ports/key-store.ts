import type { Scope } from '../../domain/arn.js';
import type { KeyMaterialRef, KmsKey, Tag } from '../../domain/key.js';
import type { Page } from './paging.js';

/** A key whose creation has not completed, and where it was being created. */
export interface ProvisioningKey extends KeyMaterialRef {
  readonly accountId: string;
  readonly region: string;
}

export interface NewKey {
  readonly key: KmsKey;
  readonly tags: readonly Tag[];
}

/** Keys and their policies: made in two steps (provisioning, then active), read, updated. Every method is one transaction. */
export interface KeyStore {
  /**
   * Records a key that is not yet usable: it stays invisible until
   * activateKey, so a crash before then leaves nothing a user can see. False,
   * and nothing recorded, when its account already has `maxKeysInAccount` keys
   * (being created or existing): counted and inserted in one transaction, so
   * concurrent creations cannot overshoot the quota.
   */
  insertProvisioningKey(newKey: NewKey, maxKeysInAccount?: number): Promise<boolean>;
  /** False when the row is gone (a recovery on another instance removed it). */
  activateKey(keyId: string): Promise<boolean>;
  /**
   * Keys whose creation began before that moment and never completed. An older
   * one was left by a crash; a younger one may be in progress on another instance.
   */
  listProvisioningKeys(createdBefore: Date): Promise<ProvisioningKey[]>;
  deleteProvisioningKey(keyId: string): Promise<void>;
  getKey(keyId: string): Promise<KmsKey | undefined>;
  /** The account's keys in one region (each region's keys are apart). */
  listKeys(scope: Scope, after: string | undefined, limit: number): Promise<Page<KmsKey>>;
  /** Writes the key's description, state, deletion and import fields; never its policy (see updateKeyPolicy). */
  updateKey(key: KmsKey): Promise<void>;
  /** The policy alone, so that no concurrent state change can write an older policy back. False when the key is gone. */
  updateKeyPolicy(keyId: string, policy: string, principals: Readonly<Record<string, string>>): Promise<boolean>;
  /** How many keys are in each state (the metrics' keys by state); deleted keys are not counted. */
  countKeysByState(): Promise<Record<string, number>>;
  /** Keys whose policy was written before principals were bound (policyPrincipals null), in any state. */
  listKeysWithUnboundPolicies(limit: number): Promise<KmsKey[]>;
  /** Binds such a key's policy (only while it is still unbound: a policy put meanwhile keeps its own). */
  bindKeyPolicyPrincipals(keyId: string, principals: Readonly<Record<string, string>>): Promise<void>;
}
