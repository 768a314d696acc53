import type { KeyMaterialRef } from '../../domain/key.js';
import type { HmacKeySpec, MacAlgorithm, RsaKeySpec, SigningScheme } from '../../domain/key-spec.js';
import { KeyUnavailableException } from '../../domain/errors.js';

export type SigningKeyPairParams =
  | { readonly kind: 'EC'; readonly ecParams: Buffer; readonly usage?: 'SIGN_VERIFY' | 'KEY_AGREEMENT' }
  | { readonly kind: 'EDWARDS' }
  | { readonly kind: 'RSA'; readonly modulusBits: number; readonly usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' };

export type WrappingAlgorithm = 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256';
export type WrappingKeySpec = RsaKeySpec;

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
  /** ECDH in the token with the key pair's private half and a peer's uncompressed point: the raw shared secret (x coordinate). */
  deriveSharedSecret(ref: KeyMaterialRef, peerPoint: Buffer, secretBytes: number): Promise<Buffer>;
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
  /**
   * Unwraps RSA or ECC private key material (PKCS#8) into a key pair of the
   * params' spec and purpose (its public half derived in the token); returns the
   * pair's check value (SHA-256 of the public key). With no ref nothing is kept:
   * the check value alone tells whether it is the same material.
   */
  importKeyPair(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer, params: SigningKeyPairParams): Promise<Buffer>;
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
