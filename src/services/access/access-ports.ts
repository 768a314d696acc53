import type { PrincipalKind } from '../../domain/principal-arn.js';
import type { Grant } from '../../domain/grant.js';
import type { Page } from '../ports/paging.js';

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface StoredPrincipal {
  readonly arn: string;
  /** Immutable, never reused: what key policies and grants bind to (see newUniqueId). */
  readonly uniqueId: string;
  readonly accountId: string;
  readonly kind: PrincipalKind;
  readonly name: string;
  readonly enabled: boolean;
  readonly creationDate: Date;
}

/** An access key: its secret only ever sealed under a token key (see CredentialSealer). */
export interface StoredAccessKey {
  readonly accessKeyId: string;
  readonly principalArn: string;
  readonly sealedSecret: Buffer;
  readonly status: AccessKeyStatus;
  readonly creationDate: Date;
}

export interface IdentityPolicyDocument {
  readonly policyName: string;
  readonly document: string;
}

/** Principals, their access keys and identity policies. Every method is one transaction. */
export interface PrincipalStore {
  /** Throws AlreadyExistsException when the ARN is taken. */
  createPrincipal(principal: StoredPrincipal): Promise<void>;
  getPrincipal(arn: string): Promise<StoredPrincipal | undefined>;
  /** The unique ids of the principals these ARNs name now (ARNs with none are left out). */
  uniqueIdsOf(arns: readonly string[]): Promise<Map<string, string>>;
  listPrincipals(accountId: string | undefined): Promise<StoredPrincipal[]>;
  setPrincipalEnabled(arn: string, enabled: boolean): Promise<boolean>;
  /** Removes the principal with its access keys and identity policies. */
  deletePrincipal(arn: string): Promise<boolean>;

  createAccessKey(key: StoredAccessKey): Promise<void>;
  getAccessKey(accessKeyId: string): Promise<StoredAccessKey | undefined>;
  listAccessKeys(principalArn: string): Promise<StoredAccessKey[]>;
  setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean>;
  replaceSecret(accessKeyId: string, sealedSecret: Buffer): Promise<boolean>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;

  putIdentityPolicy(principalArn: string, policy: IdentityPolicyDocument): Promise<void>;
  deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean>;
  listIdentityPolicies(principalArn: string): Promise<IdentityPolicyDocument[]>;
}

/** Grants on keys. */
export interface GrantStore {
  /** Throws LimitExceededException when the key already has maxGrants grants. */
  createGrant(grant: Grant, maxGrants: number): Promise<void>;
  getGrant(grantId: string): Promise<Grant | undefined>;
  /** Every grant of the key. */
  grantsOfKey(keyId: string): Promise<Grant[]>;
  /** The key's grants to one grantee (the authorizer's lookup: indexed, whatever the key's other grants). */
  grantsOfGrantee(keyId: string, granteePrincipal: string): Promise<Grant[]>;
  listGrants(keyId: string, filter: { grantId?: string; granteePrincipal?: string }, after: string | undefined, limit: number): Promise<Page<Grant>>;
  listRetirableGrants(retiringPrincipal: string, after: string | undefined, limit: number): Promise<Page<Grant>>;
  deleteGrant(grantId: string): Promise<boolean>;
}

/** The last successful cryptographic use of a key. */
export interface KeyLastUse {
  readonly operation: string;
  readonly timestamp: Date;
  /** The audit event's eventID and the call's request id. */
  readonly eventId: string;
  readonly requestId: string;
}

export interface KeyUsageStore {
  /**
   * Keeps, for each key, the later of the usage it holds and the one given, and
   * when this writer (a process with an audit trail of its own) last did so; one transaction.
   */
  recordUsage(usages: ReadonlyMap<string, KeyLastUse>, flushedAt: Date, writer: string): Promise<void>;
  /** When this writer last recorded usage: what a crash of it can have lost came after it. */
  flushedAt(writer: string): Promise<Date | undefined>;
  lastUsage(keyId: string): Promise<KeyLastUse | undefined>;
  /** When this database began recording key usage. */
  trackingStart(): Promise<Date>;
}
