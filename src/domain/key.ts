import type { PrincipalBindings } from './policy/policy.js';
/** Key states as AWS KMS names them; only the ones this service can reach are listed. */
export enum KeyState {
  Enabled = 'Enabled',
  Disabled = 'Disabled',
  PendingDeletion = 'PendingDeletion',
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

/** One KMS key's metadata; its key material lives in the token, one object per version. */
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
}

/** Names one immutable piece of key material inside the token. */
export interface KeyMaterialRef {
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

/** A stable 64-hex-digit id for one version's key material, as AWS shows KeyMaterialId. */
export function keyMaterialId(ref: KeyMaterialRef): string {
  return `${ref.keyId.replace(/-/g, '')}${ref.version.toString(16).padStart(32, '0')}`;
}
