import type { PrincipalBindings } from './policy/policy.js';
/** Key states as AWS KMS names them; only the ones this service can reach are listed. */
export enum KeyState {
  Enabled = 'Enabled',
  Disabled = 'Disabled',
  PendingDeletion = 'PendingDeletion',
  /** A multi-Region primary key scheduled for deletion while replicas remain: its waiting period starts when the last is gone. */
  PendingReplicaDeletion = 'PendingReplicaDeletion',
  /** An EXTERNAL key without key material: waiting for ImportKeyMaterial. */
  PendingImport = 'PendingImport',
}

export type KeyUsage = 'ENCRYPT_DECRYPT' | 'GENERATE_VERIFY_MAC' | 'SIGN_VERIFY' | 'KEY_AGREEMENT';
export type KeySpec =
  | 'SYMMETRIC_DEFAULT'
  | 'HMAC_224'
  | 'HMAC_256'
  | 'HMAC_384'
  | 'HMAC_512'
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'ECC_SECG_P256K1'
  | 'ECC_NIST_EDWARDS25519'
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096';
export type Origin = 'AWS_KMS' | 'EXTERNAL';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

/**
 * One KMS key's metadata; its key material lives in the token, one object per version.
 *
 * A multi-Region key is one key in each of its regions, all under one KeyId
 * (`mrk-...`) and one key material: `keyId` is where the store keeps this
 * region's key (see storeKeyId); the KeyId AWS shows is awsKeyId(keyId).
 */
export interface KmsKey {
  readonly keyId: string;
  readonly accountId: string;
  readonly region: string;
  readonly arn: string;
  readonly description: string;
  readonly keyUsage: KeyUsage;
  readonly keySpec: KeySpec;
  readonly origin: Origin;
  readonly keyState: KeyState;
  readonly creationDate: Date;
  readonly deletionDate: Date | undefined;
  readonly pendingDeletionWindowInDays: number | undefined;
  /** The version new encryptions use; older versions only decrypt. */
  readonly currentVersion: number;
  readonly policy: string;
  /** The unique ids of the users and roles the key policy names, as they were when it was written (null: not bound yet). */
  readonly policyPrincipals: PrincipalBindings;
  /** Imported (EXTERNAL) keys only: whether and when their key material expires. */
  readonly expirationModel?: ExpirationModel | undefined;
  readonly validTo?: Date | undefined;
  /** Multi-Region keys only: the region of the primary key (this key's region when it is the primary). */
  readonly primaryRegion?: string | undefined;
}

/** Names one immutable piece of key material inside the token. */
export interface KeyMaterialRef {
  /** The key's KeyId, or its store id: a multi-Region key's regions share their key material, named by the KeyId (awsKeyId). */
  readonly keyId: string;
  readonly version: number;
}

export interface Tag {
  readonly TagKey: string;
  readonly TagValue: string;
}

export interface Alias {
  readonly accountId: string;
  /** Each region's aliases are apart: the same name may name a key in each region. */
  readonly region: string;
  readonly aliasName: string;
  readonly targetKeyId: string;
  readonly creationDate: Date;
  readonly lastUpdatedDate: Date;
}

/** A multi-Region key's KeyId: `mrk-` and 32 hex digits, the same in each of the key's regions. */
export const MULTI_REGION_KEY_ID = /^mrk-[0-9a-f]{32}$/;
export const SINGLE_REGION_KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isMultiRegionKeyId = (keyId: string): boolean => MULTI_REGION_KEY_ID.test(awsKeyId(keyId));

/**
 * Where the store keeps a key: a single-Region key under its KeyId, a
 * multi-Region key under its KeyId and region (one row in each of its regions).
 */
export function storeKeyId(keyId: string, region: string): string {
  return MULTI_REGION_KEY_ID.test(keyId) ? `${keyId}@${region}` : keyId;
}

/** The KeyId AWS shows for a key the store keeps under this id. */
export function awsKeyId(storedKeyId: string): string {
  const at = storedKeyId.indexOf('@');
  return at < 0 ? storedKeyId : storedKeyId.slice(0, at);
}

/** A multi-Region key in a region other than its primary's. */
export function isReplica(key: Pick<KmsKey, 'primaryRegion' | 'region'>): boolean {
  return key.primaryRegion !== undefined && key.primaryRegion !== key.region;
}

/** Where the store keeps a multi-Region key's primary (the key itself when it is the primary). */
export function primaryKeyId(key: Pick<KmsKey, 'keyId' | 'primaryRegion' | 'region'>): string {
  return storeKeyId(awsKeyId(key.keyId), key.primaryRegion ?? key.region);
}

/** A version of the key's material, named by its KeyId: the one name in the token, in ciphertexts and in key material ids, which a multi-Region key's regions share. */
export function materialRef(key: Pick<KmsKey, 'keyId'>, version: number): KeyMaterialRef {
  return { keyId: awsKeyId(key.keyId), version };
}

/** The 16 bytes a KeyId stands for: a UUID's, or the 32 hex digits after `mrk-`. */
export function keyIdBytes(keyId: string): Buffer {
  const id = awsKeyId(keyId);
  if (SINGLE_REGION_KEY_ID.test(id)) return Buffer.from(id.replace(/-/g, ''), 'hex');
  if (MULTI_REGION_KEY_ID.test(id)) return Buffer.from(id.slice(4), 'hex');
  throw new Error(`not a key id: ${id}`);
}

/** A stable 64-hex-digit id for one version's key material, as AWS shows KeyMaterialId. */
export function keyMaterialId(ref: KeyMaterialRef): string {
  return `${keyIdBytes(ref.keyId).toString('hex')}${ref.version.toString(16).padStart(32, '0')}`;
}
