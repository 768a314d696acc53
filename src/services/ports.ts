import type { Alias, ExpirationModel, KeyMaterialRef, KmsKey, Tag } from '../domain/key.js';
import type { HmacKeySpec, MacAlgorithm, RsaKeySpec, SigningScheme } from '../domain/key-spec.js';
import type { Policy } from '../domain/policy/policy.js';
import { KeyUnavailableException } from '../domain/errors.js';
import type { GrantStore, KeyUsageStore, PrincipalStore } from './access/access-ports.js';
import type { ChangeFeed } from './changes.js';

export type SigningKeyPairParams =
  | { readonly kind: 'EC'; readonly ecParams: Buffer }
  | { readonly kind: 'EDWARDS' }
  | { readonly kind: 'RSA'; readonly modulusBits: number; readonly usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' };

/**
 * The token, seen from the domain: key material is created, used and destroyed
 * inside it and never leaves it.
 */
export interface KeyVault {
  /** Creates a new non-extractable AES-256 object for this key version; returns its check value. */
  createSymmetricKey(ref: KeyMaterialRef): Promise<KeyVersionCheck>;
  /** Creates a new non-extractable HMAC key (generic secret) of the spec's size, for signing and verifying with its hash only. */
  createHmacKey(ref: KeyMaterialRef, spec: HmacKeySpec): Promise<KeyVersionCheck>;
  /** HMAC of the message inside the token. */
  mac(ref: KeyMaterialRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer>;
  /** Creates a signing key pair; the private half non-extractable and sign-only. */
  createSigningKeyPair(ref: KeyMaterialRef, params: SigningKeyPairParams): Promise<KeyVersionCheck>;
  /**
   * Reads what the token holds under a key version's id and judges it against what
   * was recorded when the version was made (nothing for a version made before check
   * values were recorded). Until a version is judged usable here (or was made by
   * this process), every use of it throws KeyVersionNotVerified.
   */
  verifyKeyVersion(ref: KeyMaterialRef, recorded: KeyVersionCheck | undefined): Promise<KeyVersionVerdict>;
  /** The public half as DER SubjectPublicKeyInfo (immutable, so the token layer may cache it). */
  publicKeyInfo(ref: KeyMaterialRef): Promise<Buffer>;
  /** Signs a digest inside the token: raw r || s for ECDSA, the RSA signature for RSA. */
  signDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer): Promise<Buffer>;
  verifyDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer, signature: Buffer): Promise<boolean>;
  /**
   * RSAES-OAEP decryption with the private half, inside the token when it supports
   * OAEP with this hash; otherwise raw RSA in the token and the project's own
   * constant-time OAEP decoding. InvalidCiphertextException for any failure.
   */
  rsaOaepDecrypt(ref: KeyMaterialRef, hash: 'SHA_1' | 'SHA_256', ciphertext: Buffer): Promise<Buffer>;
  /**
   * The highest IV fixed field ever used with this token's keys, kept in the token
   * itself (0 before the first), so that a database restored from an older copy is
   * found behind it rather than handing out a fixed field again.
   */
  ivHighWater(): Promise<number>;
  /** Raises the token's high-water mark to the fixed field (never lowers it). */
  raiseIvHighWater(fixedField: number): Promise<void>;
  /** Whether the token holds an object for this key version. */
  hasKey(ref: KeyMaterialRef): Promise<boolean>;
  /** Destroys every object of the key version; false when there was none. */
  destroyKey(ref: KeyMaterialRef): Promise<boolean>;
  /** AES-256-GCM inside the token; returns ciphertext followed by the 16-byte tag. */
  encrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer>;
  /** Throws InvalidCiphertextException when the tag does not authenticate. */
  decrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, sealed: Buffer): Promise<Buffer>;
  /** Random bytes from the token's generator. */
  generateRandom(length: number): Promise<Buffer>;

  /** Undefined when the token can unwrap this algorithm inside itself; otherwise the mechanism it lacks. */
  missingWrappingMechanism(algorithm: WrappingAlgorithm): string | undefined;
  /** An RSA wrapping key pair in the token, private half non-extractable; returns the public key (DER SubjectPublicKeyInfo). */
  createImportWrappingKey(tokenId: string, modulusBits: number): Promise<Buffer>;
  destroyImportWrappingKey(tokenId: string): Promise<void>;
  /**
   * Unwraps imported key material inside the token, straight into a sensitive,
   * non-extractable object: the token object for ref, or a temporary session
   * object when ref is undefined (to compare material). Returns the material's
   * check value. Throws InvalidCiphertextException when it does not unwrap to a
   * 256-bit AES key.
   */
  importSymmetricKey(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer>;
}

/**
 * What identifies a key version's token object, recorded when it is made: a check
 * value computed in the token (an AES-GCM tag or an HMAC of fixed input under the
 * key; for a key pair, SHA-256 of its public key) and whether the token made the
 * key itself (CKA_LOCAL, never extractable) or it was imported.
 */
export interface KeyVersionCheck {
  readonly value: Buffer;
  readonly madeInToken: boolean;
}

export type KeyVersionVerdict =
  /** legacyGaps: what an object made before objects were locked to their purpose lacks (only when nothing was recorded). */
  | { readonly usable: true; readonly check: KeyVersionCheck; readonly legacyGaps: readonly string[] }
  /** missing: no object carries the version's id (it may yet appear: made by another process). */
  | { readonly usable: false; readonly problems: readonly string[]; readonly missing: boolean };

/** A key version used before its token object was verified in this process; the verifier catches it, verifies, and tries once more. */
export class KeyVersionNotVerified extends KeyUnavailableException {
  constructor(readonly ref: KeyMaterialRef) {
    super('The KMS key is not available. The request can be retried.');
  }
}

/** Runs work while no other process on the database runs work of the same name (waiting its turn). */
export type Serialized = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/** MetadataStore.exclusive, waiting for its turn. */
export function serializedBy(store: Pick<MetadataStore, 'exclusive'>): Serialized {
  return async (name, work) => {
    const outcome = await store.exclusive(name, work, true);
    if (!outcome.ran) throw new Error(`exclusive ${name} did not run`);
    return outcome.value;
  };
}

/** Alone on the database: nothing to wait for. */
export const UNSERIALIZED: Serialized = (_name, work) => work();

export interface Page<T> {
  readonly items: T[];
  /** The last item's sort key when more items follow. */
  readonly next: string | undefined;
}

export interface DestroyedKeyMaterial {
  readonly keyId: string;
  readonly version: number;
  readonly destroyedAt: Date;
}

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface RotationStatus {
  readonly enabled: boolean;
  readonly periodDays: number;
  readonly nextRotationDate: Date | undefined;
  readonly onDemandStartedAt: Date | undefined;
}

/** One rotation: the key version it created. */
export interface KeyRotation {
  readonly keyId: string;
  readonly version: number;
  readonly rotationDate: Date;
  readonly rotationType: RotationType;
}

export type WrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';
export type WrappingKeySpec = RsaKeySpec;

/** One GetParametersForImport answer: its wrapping key pair lives in the token until it expires. */
export interface ImportToken {
  readonly tokenId: string;
  readonly keyId: string;
  readonly wrappingAlgorithm: WrappingAlgorithm;
  readonly wrappingKeySpec: WrappingKeySpec;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** A key whose creation has not completed, and where it was being created. */
export interface ProvisioningKey extends KeyMaterialRef {
  readonly accountId: string;
  readonly region: string;
}

export interface NewKey {
  readonly key: KmsKey;
  readonly tags: readonly Tag[];
}

/**
 * Everything outside the token: key metadata, versions, aliases, tags and the
 * IV-instance sequence. Every method is one transaction.
 */
export interface MetadataStore {
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
  listKeys(accountId: string, after: string | undefined, limit: number): Promise<Page<KmsKey>>;
  /** Writes the key's description, state, deletion and import fields; never its policy (see updateKeyPolicy). */
  updateKey(key: KmsKey): Promise<void>;
  /** The policy alone, so that no concurrent state change can write an older policy back. False when the key is gone. */
  updateKeyPolicy(keyId: string, policy: string, principals: Readonly<Record<string, string>>): Promise<boolean>;
  /** How many keys are in each state (the metrics' keys by state); deleted keys are not counted. */
  countKeysByState(): Promise<Record<string, number>>;
  /** A trivial query: throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;
  /**
   * Runs the work while no other process on this database runs work of the same
   * name (PostgreSQL: an advisory lock, released with its connection if the
   * process dies; SQLite, one instance: within the process). `wait` false: when
   * another holds it, returns { ran: false } at once instead of waiting.
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
  /** Keys whose policy was written before principals were bound (policyPrincipals null), in any state. */
  listKeysWithUnboundPolicies(limit: number): Promise<KmsKey[]>;
  /** Binds such a key's policy (only while it is still unbound: a policy put meanwhile keeps its own). */
  bindKeyPolicyPrincipals(keyId: string, principals: Readonly<Record<string, string>>): Promise<void>;

  /** PendingDeletion back to Disabled; false when the key is not pending deletion or its destruction has begun. */
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

  getRotationStatus(keyId: string): Promise<RotationStatus | undefined>;
  setRotation(keyId: string, enabled: boolean, periodDays: number, nextRotationDate: Date | undefined): Promise<void>;
  /** Keys whose automatic rotation is due and whose lease is free. */
  listKeysDueForRotation(now: Date, limit: number): Promise<string[]>;
  /**
   * Takes the key's rotation lease until now + leaseMs, so that one instance
   * rotates a key once. Automatic: only while the rotation is due. False when
   * another instance holds the lease or (automatic) the rotation is no longer due.
   */
  acquireRotationLease(keyId: string, now: Date, leaseMs: number, type: RotationType): Promise<boolean>;
  releaseRotationLease(keyId: string): Promise<void>;
  /** Records a new version that is not yet usable (its token object may not exist yet). */
  insertProvisioningVersion(keyId: string, version: number, at: Date, type: RotationType): Promise<void>;
  /** Makes the version current, moves the next rotation date and frees the lease, in one transaction. */
  commitKeyVersion(keyId: string, version: number, nextRotationDate: Date | undefined): Promise<void>;
  /** Versions whose creation never completed and whose rotation lease has expired: left by a crash. */
  listProvisioningVersions(now: Date): Promise<KeyMaterialRef[]>;
  deleteProvisioningVersion(ref: KeyMaterialRef): Promise<void>;
  listRotations(keyId: string, afterVersion: number, limit: number): Promise<Page<KeyRotation>>;

  saveImportToken(token: ImportToken): Promise<void>;
  getImportToken(tokenId: string): Promise<ImportToken | undefined>;
  listExpiredImportTokens(now: Date, limit: number): Promise<ImportToken[]>;
  /** The key's outstanding import tokens, oldest first. */
  listImportTokensOfKey(keyId: string): Promise<ImportToken[]>;
  deleteImportToken(tokenId: string): Promise<void>;
  /** The check value of the material first imported into the key, if any was. */
  getMaterialCheck(keyId: string): Promise<Buffer | undefined>;
  /** The check of a key version's token object, as recorded when it was made (or first used, for versions older than check values). */
  getKeyVersionCheck(ref: KeyMaterialRef): Promise<KeyVersionCheck | undefined>;
  /** 'CREATION' replaces any earlier record (a version number retried after a crash); 'FIRST_USE' never replaces one. */
  saveKeyVersionCheck(ref: KeyMaterialRef, check: KeyVersionCheck, recordedBy: 'CREATION' | 'FIRST_USE', at: Date): Promise<void>;
  /** The key has material (version 1): PendingImport becomes Enabled; the first check value is kept. */
  recordImportedMaterial(keyId: string, check: Buffer, model: ExpirationModel, validTo: Date | undefined, at: Date): Promise<void>;
  /** Back to PendingImport, without material; done before the token object is destroyed. */
  markImportedMaterialDeleted(keyId: string): Promise<void>;
  listKeysWithExpiredMaterial(now: Date, limit: number): Promise<KmsKey[]>;

  getAlias(accountId: string, aliasName: string): Promise<Alias | undefined>;
  listAliases(accountId: string, targetKeyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>>;
  /** Throws AlreadyExistsException when the name is taken. */
  createAlias(alias: Alias): Promise<void>;
  updateAlias(accountId: string, aliasName: string, targetKeyId: string, at: Date): Promise<void>;
  /** False when there was no such alias. */
  deleteAlias(accountId: string, aliasName: string): Promise<boolean>;

  listTags(keyId: string): Promise<Tag[]>;
  /** Adds or overwrites tags; throws LimitExceededException above maxTags in all. */
  putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<void>;
  removeTags(keyId: string, tagKeys: readonly string[]): Promise<void>;

  /** A fixed field for deterministic GCM IVs that no instance has had before. */
  allocateIvInstance(): Promise<number>;
  /** The highest fixed field handed out so far (0 before the first). */
  lastIvInstance(): Promise<number>;
  /** Makes the next fixed field handed out greater than `fixedField` (recovery after a restore). */
  advanceIvInstancesPast(fixedField: number): Promise<void>;

  readonly principals: PrincipalStore;
  readonly grants: GrantStore;
  readonly usage: KeyUsageStore;

  close(): Promise<void>;
}

/** The caller, once authenticated. */
export interface Principal {
  readonly accountId: string;
  readonly arn: string;
  /** Immutable (AIDA..., AROA...; a root's is its account id): what key policies and grants bound to it match. */
  readonly uniqueId: string;
  readonly accessKeyId: string;
  /** Its identity policies, parsed once when its credential was loaded. */
  readonly identityPolicies: readonly Policy[];
  /** The bootstrap administrator: it alone manages accounts (the root of the service's default account). */
  readonly operator: boolean;
}

export interface Credential {
  readonly secretAccessKey: string;
  readonly principal: Principal;
}

export interface CredentialDirectory {
  /** The active credential for an access key id, or undefined when unknown, inactive or disabled. */
  lookup(accessKeyId: string): Promise<Credential | undefined>;
}

export interface Clock {
  now(): Date;
}
