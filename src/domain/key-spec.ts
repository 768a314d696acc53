import { UnsupportedOperationException, ValidationException } from './errors.js';
import type { KeySpec, KeyUsage } from './key.js';

/** HMAC key specs as AWS defines them: key length and the one MAC algorithm each supports. */
export const HMAC_SPECS = {
  HMAC_224: { keyBytes: 28, macAlgorithm: 'HMAC_SHA_224', macBytes: 28 },
  HMAC_256: { keyBytes: 32, macAlgorithm: 'HMAC_SHA_256', macBytes: 32 },
  HMAC_384: { keyBytes: 48, macAlgorithm: 'HMAC_SHA_384', macBytes: 48 },
  HMAC_512: { keyBytes: 64, macAlgorithm: 'HMAC_SHA_512', macBytes: 64 },
} as const;

export type HmacKeySpec = keyof typeof HMAC_SPECS;
export type MacAlgorithm = (typeof HMAC_SPECS)[HmacKeySpec]['macAlgorithm'];

export function isHmacSpec(spec: string): spec is HmacKeySpec {
  return Object.hasOwn(HMAC_SPECS, spec);
}

/**
 * ECC signing key specs as AWS defines them: the curve (its DER OID, as PKCS#11's
 * CKA_EC_PARAMS wants it, and its JWK name), the one signing algorithm, and the
 * digest that algorithm signs.
 */
export const ECC_SPECS = {
  ECC_NIST_P256: { ecParams: '06082a8648ce3d030107', jwkCurve: 'P-256', coordinateBytes: 32, signingAlgorithm: 'ECDSA_SHA_256', hash: 'sha256', digestBytes: 32 },
  ECC_NIST_P384: { ecParams: '06052b81040022', jwkCurve: 'P-384', coordinateBytes: 48, signingAlgorithm: 'ECDSA_SHA_384', hash: 'sha384', digestBytes: 48 },
  ECC_NIST_P521: { ecParams: '06052b81040023', jwkCurve: 'P-521', coordinateBytes: 66, signingAlgorithm: 'ECDSA_SHA_512', hash: 'sha512', digestBytes: 64 },
  ECC_SECG_P256K1: { ecParams: '06052b8104000a', jwkCurve: 'secp256k1', coordinateBytes: 32, signingAlgorithm: 'ECDSA_SHA_256', hash: 'sha256', digestBytes: 32 },
} as const;

export type EccKeySpec = keyof typeof ECC_SPECS;

/** The ECC key spec whose curve these DER EC parameters (a named curve's OID) name. */
export function eccSpecOfParams(ecParams: Buffer): EccKeySpec | undefined {
  const hex = ecParams.toString('hex');
  return (Object.keys(ECC_SPECS) as EccKeySpec[]).find((spec) => ECC_SPECS[spec].ecParams === hex);
}

export const RSA_SPECS = { RSA_2048: { modulusBits: 2048 }, RSA_3072: { modulusBits: 3072 }, RSA_4096: { modulusBits: 4096 } } as const;
export type RsaKeySpec = keyof typeof RSA_SPECS;

export function isRsaSpec(spec: string): spec is RsaKeySpec {
  return Object.hasOwn(RSA_SPECS, spec);
}

/** RSA signing algorithms: padding and the digest each signs. Every RSA key size supports all six. */
export const RSA_SIGNING_ALGORITHMS = {
  RSASSA_PSS_SHA_256: { padding: 'PSS', hash: 'sha256', digestBytes: 32 },
  RSASSA_PSS_SHA_384: { padding: 'PSS', hash: 'sha384', digestBytes: 48 },
  RSASSA_PSS_SHA_512: { padding: 'PSS', hash: 'sha512', digestBytes: 64 },
  RSASSA_PKCS1_V1_5_SHA_256: { padding: 'PKCS1', hash: 'sha256', digestBytes: 32 },
  RSASSA_PKCS1_V1_5_SHA_384: { padding: 'PKCS1', hash: 'sha384', digestBytes: 48 },
  RSASSA_PKCS1_V1_5_SHA_512: { padding: 'PKCS1', hash: 'sha512', digestBytes: 64 },
} as const;
export type RsaSigningAlgorithm = keyof typeof RSA_SIGNING_ALGORITHMS;
export type SigningAlgorithm = (typeof ECC_SPECS)[EccKeySpec]['signingAlgorithm'] | RsaSigningAlgorithm | 'ED25519_SHA_512';

export const ED25519 = 'ECC_NIST_EDWARDS25519';
/** AWS lists both; ED25519_PH_SHA_512 (pre-hashed) needs CK_EDDSA_PARAMS, which pkcs11js cannot pass. */
export const ED25519_SIGNING_ALGORITHMS = ['ED25519_SHA_512', 'ED25519_PH_SHA_512'];

/** How a signing key signs with one algorithm: the digest, and the token mechanism's shape. */
export interface SigningScheme {
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly digestBytes: number;
  /** EDDSA signs the message itself (pure Ed25519), not a digest. */
  readonly padding: 'ECDSA' | 'PSS' | 'PKCS1' | 'EDDSA';
}

/** The scheme for a key spec and signing algorithm, or undefined when the key does not support it. */
export function signingScheme(spec: KeySpec, algorithm: string): SigningScheme | undefined {
  if (isEccSpec(spec)) {
    const e = ECC_SPECS[spec];
    return e.signingAlgorithm === algorithm ? { hash: e.hash, digestBytes: e.digestBytes, padding: 'ECDSA' } : undefined;
  }
  if (spec === ED25519) return algorithm === 'ED25519_SHA_512' ? { hash: 'sha512', digestBytes: 64, padding: 'EDDSA' } : undefined;
  if (isRsaSpec(spec) && Object.hasOwn(RSA_SIGNING_ALGORITHMS, algorithm)) {
    const r = RSA_SIGNING_ALGORITHMS[algorithm as RsaSigningAlgorithm];
    return { hash: r.hash, digestBytes: r.digestBytes, padding: r.padding };
  }
  return undefined;
}

export function isEccSpec(spec: string): spec is EccKeySpec {
  return Object.hasOwn(ECC_SPECS, spec);
}

/** What DescribeKey and GetPublicKey list for a key spec. */
export function algorithmsOf(spec: KeySpec, usage: KeyUsage): { EncryptionAlgorithms?: string[]; MacAlgorithms?: string[]; SigningAlgorithms?: string[]; KeyAgreementAlgorithms?: string[] } {
  if (usage === 'KEY_AGREEMENT') return { KeyAgreementAlgorithms: ['ECDH'] };
  if (isRsaSpec(spec) && usage === 'ENCRYPT_DECRYPT') return { EncryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] };
  if (isHmacSpec(spec)) return { MacAlgorithms: [HMAC_SPECS[spec].macAlgorithm] };
  if (isEccSpec(spec)) return { SigningAlgorithms: [ECC_SPECS[spec].signingAlgorithm] };
  if (spec === ED25519) return { SigningAlgorithms: ED25519_SIGNING_ALGORITHMS };
  if (isRsaSpec(spec)) return { SigningAlgorithms: Object.keys(RSA_SIGNING_ALGORITHMS) };
  return { EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] };
}

/** AWS's three types of KMS key, which an alias may not move between. */
export function keyFamily(spec: KeySpec): 'symmetric' | 'HMAC' | 'asymmetric' {
  return spec === 'SYMMETRIC_DEFAULT' ? 'symmetric' : isHmacSpec(spec) ? 'HMAC' : 'asymmetric';
}

/** The key specs and usages this service creates, in AWS's combinations. */
export function checkSpecAndUsage(keySpec: string, usage: string | undefined): { keySpec: KeySpec; keyUsage: KeyUsage } {
  // AWS defaults the usage of symmetric encryption keys alone.
  if (usage === undefined && keySpec !== 'SYMMETRIC_DEFAULT') throw new ValidationException('You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.');
  const keyUsage = usage ?? 'ENCRYPT_DECRYPT';
  if (keySpec === 'SYMMETRIC_DEFAULT' && keyUsage === 'ENCRYPT_DECRYPT') return { keySpec, keyUsage };
  if (isHmacSpec(keySpec)) {
    if (keyUsage !== 'GENERATE_VERIFY_MAC') throw new ValidationException(`KeySpec ${keySpec} requires KeyUsage GENERATE_VERIFY_MAC.`);
    return { keySpec, keyUsage };
  }
  if (isRsaSpec(keySpec)) {
    if (keyUsage === 'SIGN_VERIFY' || keyUsage === 'ENCRYPT_DECRYPT') return { keySpec, keyUsage };
    throw new ValidationException(`KeyUsage ${keyUsage} is not valid for KeySpec ${keySpec}.`);
  }
  if (keySpec === ED25519) {
    if (keyUsage === 'SIGN_VERIFY') return { keySpec, keyUsage };
    throw new ValidationException(`KeyUsage ${keyUsage} is not valid for KeySpec ${keySpec}.`);
  }
  if (isEccSpec(keySpec)) {
    if (keyUsage === 'SIGN_VERIFY') return { keySpec, keyUsage };
    // ECDH on the NIST curves (AWS offers no key agreement on secp256k1).
    if (keyUsage === 'KEY_AGREEMENT' && keySpec !== 'ECC_SECG_P256K1') return { keySpec, keyUsage };
    throw new ValidationException(`KeyUsage ${keyUsage} is not valid for KeySpec ${keySpec}.`);
  }
  if (keySpec === 'SYMMETRIC_DEFAULT' || keyUsage === 'GENERATE_VERIFY_MAC') {
    throw new ValidationException(`KeyUsage ${keyUsage} is not valid for KeySpec ${keySpec}.`);
  }
  // SM2, ML-DSA and ML-KEM: AWS specs that no PKCS#11 token this service supports implements.
  throw new UnsupportedOperationException(`KeySpec ${keySpec} is not available: the HSMs this service supports do not implement it.`);
}
