import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';
import { awsKeyId, keyIdBytes, type KeyMaterialRef } from '../domain/key.js';
import { HMAC_SPECS, type HmacKeySpec, type MacAlgorithm, type SigningScheme } from '../domain/key-spec.js';
import type { SigningKeyPairParams } from '../services/ports/index.js';

/** CKA_ID: the 16 key-id bytes followed by the version as uint32 big-endian (a multi-Region key's regions share it). */
export function objectId(ref: KeyMaterialRef): Buffer {
  const id = Buffer.alloc(20);
  keyIdBytes(ref.keyId).copy(id, 0);
  id.writeUInt32BE(ref.version, 16);
  return id;
}

export function objectLabel(ref: KeyMaterialRef): string {
  return `kms/${awsKeyId(ref.keyId)}/v${ref.version}`;
}

type Usage = typeof pkcs11js.CKA_ENCRYPT | typeof pkcs11js.CKA_DECRYPT | typeof pkcs11js.CKA_SIGN | typeof pkcs11js.CKA_VERIFY;
const USAGES = [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE];

/**
 * CKA_ALLOWED_MECHANISMS: the only mechanisms the token will use the object with,
 * whatever a PIN holder asks (an array of CK_MECHANISM_TYPE: unsigned long, 8
 * bytes on the 64-bit platforms this runs on).
 */
export function allowedMechanisms(...mechanisms: number[]): P11.Attribute {
  const value = Buffer.alloc(8 * mechanisms.length);
  mechanisms.forEach((m, i) => value.writeBigUInt64LE(BigInt(m), 8 * i));
  return { type: pkcs11js.CKA_ALLOWED_MECHANISMS, value };
}

/**
 * The one template builder for KMS key material: token objects, private,
 * sensitive, never extractable, not modifiable, with only the usage and the
 * mechanisms they need.
 */
function rootSecretKeyTemplate(ref: KeyMaterialRef, keyType: number, keyBytes: number, usage: readonly Usage[], mechanisms: readonly number[]): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: keyType },
    { type: pkcs11js.CKA_VALUE_LEN, value: keyBytes },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
    ...USAGES.map((type) => ({ type, value: (usage as readonly number[]).includes(type) })),
    allowedMechanisms(...mechanisms),
    { type: pkcs11js.CKA_ID, value: objectId(ref) },
    { type: pkcs11js.CKA_LABEL, value: objectLabel(ref) },
  ];
}

/** Symmetric root keys: AES-256 for AES-GCM encryption and decryption. */
export function symmetricRootKeyTemplate(ref: KeyMaterialRef): P11.Template {
  return rootSecretKeyTemplate(ref, pkcs11js.CKK_AES, 32, [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT], [pkcs11js.CKM_AES_GCM]);
}

/** HMAC keys: generic secrets that only sign and verify (GenerateMac, VerifyMac), with their spec's one hash. */
export function hmacKeyTemplate(ref: KeyMaterialRef, spec: HmacKeySpec): P11.Template {
  const { keyBytes, macAlgorithm } = HMAC_SPECS[spec];
  return rootSecretKeyTemplate(ref, pkcs11js.CKK_GENERIC_SECRET, keyBytes, [pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY], [HMAC_MECHANISMS[macAlgorithm]]);
}

const HMAC_MECHANISMS: Record<MacAlgorithm, number> = {
  HMAC_SHA_224: pkcs11js.CKM_SHA224_HMAC,
  HMAC_SHA_256: pkcs11js.CKM_SHA256_HMAC,
  HMAC_SHA_384: pkcs11js.CKM_SHA384_HMAC,
  HMAC_SHA_512: pkcs11js.CKM_SHA512_HMAC,
};

/** Every HMAC mechanism an HMAC key may be locked to. */
export const HMAC_MECHANISM_SET: ReadonlySet<number> = new Set(Object.values(HMAC_MECHANISMS));

/** The HMAC mechanism of a generic secret of this many bytes (each HMAC key spec has its own length). */
export function hmacMechanismForLength(keyBytes: number): P11.Mechanism | undefined {
  const spec = Object.values(HMAC_SPECS).find((s) => s.keyBytes === keyBytes);
  return spec && hmacMechanism(spec.macAlgorithm);
}

export function hmacMechanism(algorithm: MacAlgorithm): P11.Mechanism {
  return { mechanism: HMAC_MECHANISMS[algorithm] };
}

// PKCS#11 3.0 Edwards-curve values, which pkcs11js does not define.
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
/** CKA_EC_PARAMS for Ed25519: the OID 1.3.101.112. */
export const ED25519_PARAMS = Buffer.from('06032b6570', 'hex');
/** 65537, the public exponent of every RSA pair made here. */
const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

const PUBLIC_USAGES = [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_VERIFY, pkcs11js.CKA_WRAP, pkcs11js.CKA_DERIVE];
const PRIVATE_USAGES = [pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE];

interface KeyPairSpec {
  readonly keyType: number;
  /** The attributes that shape the pair: curve, or modulus and exponent. */
  readonly shape: P11.Template;
  readonly id: Buffer;
  readonly label: string;
  readonly persistent: boolean;
  /** The usages switched on; every other one of PUBLIC_USAGES / PRIVATE_USAGES is off. */
  readonly publicUsage: readonly number[];
  readonly privateUsage: readonly number[];
  /** The mechanisms each half may be used with (CKA_ALLOWED_MECHANISMS). */
  readonly mechanisms: readonly number[];
}

/**
 * The one builder for key pairs: the private half private, sensitive, never
 * extractable; each half with only the usage it needs and every other usage off.
 */
function keyPairTemplates(spec: KeyPairSpec): { publicKey: P11.Template; privateKey: P11.Template } {
  const usage = (all: readonly number[], on: readonly number[]) => all.map((type) => ({ type, value: on.includes(type) }));
  const named = [
    { type: pkcs11js.CKA_ID, value: spec.id },
    { type: pkcs11js.CKA_LABEL, value: spec.label },
    { type: pkcs11js.CKA_TOKEN, value: spec.persistent },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
  ];
  return {
    publicKey: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: spec.keyType },
      ...spec.shape,
      { type: pkcs11js.CKA_PRIVATE, value: false },
      ...usage(PUBLIC_USAGES, spec.publicUsage),
      allowedMechanisms(...spec.mechanisms),
      ...named,
    ],
    privateKey: [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: spec.keyType },
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      ...usage(PRIVATE_USAGES, spec.privateUsage),
      allowedMechanisms(...spec.mechanisms),
      ...named,
    ],
  };
}

const rsaShape = (modulusBits: number): P11.Template => [
  { type: pkcs11js.CKA_MODULUS_BITS, value: modulusBits },
  { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_PUBLIC_EXPONENT },
];

/** What a key pair of the service does: sign, decrypt (RSA only) or agree on secrets (ECDH, NIST curves only). */
export type PairPurpose = 'sign' | 'decrypt' | 'agree';

export function pairPurpose(params: SigningKeyPairParams): PairPurpose {
  if (params.kind === 'RSA' && params.usage === 'ENCRYPT_DECRYPT') return 'decrypt';
  if (params.kind === 'EC' && params.usage === 'KEY_AGREEMENT') return 'agree';
  return 'sign';
}

/** The mechanisms a key pair of the service is locked to (CKA_ALLOWED_MECHANISMS on both halves). */
export function keyPairMechanisms(kind: SigningKeyPairParams['kind'], purpose: PairPurpose, rawRsaDecrypt: boolean): number[] {
  if (kind === 'EC') return [purpose === 'agree' ? pkcs11js.CKM_ECDH1_DERIVE : pkcs11js.CKM_ECDSA];
  if (kind === 'EDWARDS') return [CKM_EDDSA];
  // Raw RSA only where the token has no OAEP with SHA-256, whose decoding is then done here.
  if (purpose === 'decrypt') return [pkcs11js.CKM_RSA_PKCS_OAEP, ...(rawRsaDecrypt ? [pkcs11js.CKM_RSA_X_509] : [])];
  return [pkcs11js.CKM_RSA_PKCS, pkcs11js.CKM_RSA_PKCS_PSS];
}

/** The usage flags each half of a pair has on (every other one off). An agreeing pair's public half does nothing in the token. */
export const PAIR_USAGE: Readonly<Record<PairPurpose, { readonly publicUsage: readonly number[]; readonly privateUsage: readonly number[] }>> = {
  sign: { publicUsage: [pkcs11js.CKA_VERIFY], privateUsage: [pkcs11js.CKA_SIGN] },
  decrypt: { publicUsage: [pkcs11js.CKA_ENCRYPT], privateUsage: [pkcs11js.CKA_DECRYPT] },
  agree: { publicUsage: [], privateUsage: [pkcs11js.CKA_DERIVE] },
};

/**
 * Key pairs: the private half a sensitive, never-extractable token object that
 * only signs (or, for RSA ENCRYPT_DECRYPT keys, only decrypts; for KEY_AGREEMENT
 * keys, only derives); the public half only verifies (or encrypts, or nothing).
 * Both carry the key version's CKA_ID and label.
 */
export function signingKeyPairTemplates(ref: KeyMaterialRef, params: SigningKeyPairParams, token: { readonly rawRsaDecrypt: boolean }): { publicKey: P11.Template; privateKey: P11.Template } {
  // A pair has one purpose, never two (KeyUsage).
  const purpose = pairPurpose(params);
  const mechanisms = keyPairMechanisms(params.kind, purpose, token.rawRsaDecrypt);
  return keyPairTemplates({
    keyType: params.kind === 'EC' ? pkcs11js.CKK_EC : params.kind === 'EDWARDS' ? CKK_EC_EDWARDS : pkcs11js.CKK_RSA,
    shape:
      params.kind === 'EC'
        ? [{ type: pkcs11js.CKA_EC_PARAMS, value: params.ecParams }]
        : params.kind === 'EDWARDS'
          ? [{ type: pkcs11js.CKA_EC_PARAMS, value: ED25519_PARAMS }]
          : rsaShape(params.modulusBits),
    id: objectId(ref),
    label: objectLabel(ref),
    persistent: true,
    ...PAIR_USAGE[purpose],
    mechanisms,
  });
}

/**
 * An imported key pair: the private half unwrapped (PKCS#8) into a session object
 * with exactly the attributes of a pair the service makes, then copied to the
 * token not modifiable; the public half created in the token from the public
 * values the private half gives (RSA) or the token's own signatures (ECC).
 */
export function importedKeyPairTemplates(
  ref: KeyMaterialRef,
  params: SigningKeyPairParams,
  token: { readonly rawRsaDecrypt: boolean },
  publicValues: P11.Template,
): { publicKey: P11.Template; privateKey: P11.Template } {
  const made = signingKeyPairTemplates(ref, params, token);
  const generationOnly = new Set([pkcs11js.CKA_MODULUS_BITS, pkcs11js.CKA_PUBLIC_EXPONENT]);
  return {
    // C_UnwrapKey refuses CKA_MODIFIABLE (the copy sets it) and makes a session object first.
    privateKey: made.privateKey.filter((a) => a.type !== pkcs11js.CKA_MODIFIABLE).map((a) => (a.type === pkcs11js.CKA_TOKEN ? { ...a, value: false } : a)),
    publicKey: [...made.publicKey.filter((a) => !generationOnly.has(a.type)), ...publicValues],
  };
}

const HASH_MECHANISMS = { sha256: [pkcs11js.CKM_SHA256, pkcs11js.CKG_MGF1_SHA256], sha384: [pkcs11js.CKM_SHA384, pkcs11js.CKG_MGF1_SHA384], sha512: [pkcs11js.CKM_SHA512, pkcs11js.CKG_MGF1_SHA512] } as const;

/** DER DigestInfo prefixes (RFC 8017 section 9.2) that PKCS#1 v1.5 signs in front of the digest. */
const DIGEST_INFO = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** The mechanism that signs (or verifies) a digest under a scheme, and the bytes it takes. */
export function signingMechanism(scheme: SigningScheme, digest: Buffer): { mechanism: P11.Mechanism; input: Buffer } {
  switch (scheme.padding) {
    case 'ECDSA':
      return { mechanism: { mechanism: pkcs11js.CKM_ECDSA }, input: digest };
    case 'EDDSA':
      return { mechanism: { mechanism: CKM_EDDSA }, input: digest };
    case 'PKCS1':
      return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS }, input: Buffer.concat([DIGEST_INFO[scheme.hash], digest]) };
    case 'PSS': {
      const [hashAlg, mgf] = HASH_MECHANISMS[scheme.hash];
      // AWS KMS uses a salt as long as the digest.
      const parameter: P11.RsaPSS = { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg, mgf, saltLen: scheme.digestBytes };
      return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter }, input: digest };
    }
  }
}

export function aesGcmMechanism(iv: Buffer, aad: Buffer): P11.Mechanism {
  const parameter: P11.AesGCM = { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad, ivBits: iv.length * 8, tagBits: 128 };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}

/** A session AES key that is sensitive, never extractable, and good for one use only. */
function sessionAesKeyTemplate(use: typeof pkcs11js.CKA_ENCRYPT | typeof pkcs11js.CKA_WRAP | typeof pkcs11js.CKA_UNWRAP, mechanism: number): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    ...[pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP].map((type) => ({ type, value: type === use })),
    allowedMechanisms(mechanism),
  ];
}

/**
 * What imported material is unwrapped into: a session object, with a root key's
 * attributes when it is to become one (the final token object is a copy of it
 * that is not modifiable, which an unwrap template cannot ask for in SoftHSM).
 */
export function importedKeyTemplate(ref: KeyMaterialRef | undefined): P11.Template {
  // C_UnwrapKey sets the length from what unwraps, and SoftHSM refuses CKA_VALUE_LEN and CKA_MODIFIABLE here.
  if (ref) {
    return symmetricRootKeyTemplate(ref)
      .filter((a) => a.type !== pkcs11js.CKA_VALUE_LEN && a.type !== pkcs11js.CKA_MODIFIABLE)
      .map((a) => (a.type === pkcs11js.CKA_TOKEN ? { ...a, value: false } : a));
  }
  // A session object that lives only long enough to compute the material's check value.
  return sessionAesKeyTemplate(pkcs11js.CKA_ENCRYPT, pkcs11js.CKM_AES_GCM);
}

/** The copy of unwrapped material that becomes its key version's token object: not modifiable, ever. */
export const IMPORTED_KEY_COPY: P11.Template = [
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_MODIFIABLE, value: false },
];

/**
 * The length probe of imported material (SoftHSM reports no CKA_VALUE_LEN for an
 * unwrapped key): a session copy that may be wrapped, only ever under an
 * ephemeral key of the token's own, so that nothing but the length of a
 * ciphertext under a key destroyed at once leaves the token; destroyed at once too.
 */
export function lengthProbeTemplate(): P11.Template {
  return sessionAesKeyTemplate(pkcs11js.CKA_ENCRYPT, pkcs11js.CKM_AES_GCM).map((a) => (a.type === pkcs11js.CKA_EXTRACTABLE ? { ...a, value: true } : a));
}

/** The ephemeral key that wraps a length probe: made in the token, never extractable, wraps and nothing else. */
export function probeWrappingKeyTemplate(): P11.Template {
  return [...sessionAesKeyTemplate(pkcs11js.CKA_WRAP, pkcs11js.CKM_AES_KEY_WRAP), { type: pkcs11js.CKA_VALUE_LEN, value: 32 }];
}

/** The ephemeral AES key of RSA_AES_KEY_WRAP: a session object that only unwraps, destroyed at once. */
export function ephemeralUnwrapKeyTemplate(): P11.Template {
  return sessionAesKeyTemplate(pkcs11js.CKA_UNWRAP, pkcs11js.CKM_AES_KEY_WRAP_PAD);
}

export function importWrappingKeyId(tokenId: string): Buffer {
  return Buffer.from(`import/${tokenId}`, 'utf8');
}

/**
 * The RSA pair GetParametersForImport hands out: token objects (they must outlive
 * a restart for the import token's 24 hours), the private half sensitive,
 * non-extractable and good for unwrapping only.
 */
export function importWrappingKeyPairTemplates(tokenId: string, modulusBits: number, persistent = true): { publicKey: P11.Template; privateKey: P11.Template } {
  return keyPairTemplates({
    keyType: pkcs11js.CKK_RSA,
    shape: rsaShape(modulusBits),
    id: importWrappingKeyId(tokenId),
    label: `kms-import/${tokenId}`,
    persistent,
    publicUsage: [pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_WRAP],
    privateUsage: [pkcs11js.CKA_UNWRAP],
    mechanisms: [pkcs11js.CKM_RSA_PKCS_OAEP],
  });
}

export function rsaOaepMechanism(hash: 'SHA_1' | 'SHA_256'): P11.Mechanism {
  const parameter: P11.RsaOAEP = {
    type: pkcs11js.CK_PARAMS_RSA_OAEP,
    hashAlg: hash === 'SHA_1' ? pkcs11js.CKM_SHA_1 : pkcs11js.CKM_SHA256,
    mgf: hash === 'SHA_1' ? pkcs11js.CKG_MGF1_SHA1 : pkcs11js.CKG_MGF1_SHA256,
    source: 1, // CKZ_DATA_SPECIFIED, with no label
  };
  return { mechanism: pkcs11js.CKM_RSA_PKCS_OAEP, parameter };
}

const IV_HIGH_WATER_LABEL = 'hsm-kms/iv-high-water';

/** Finds the IV high-water mark: a private data object of this application. */
export function ivHighWaterSearch(): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
    { type: pkcs11js.CKA_LABEL, value: IV_HIGH_WATER_LABEL },
  ];
}

/** The IV high-water mark: a token object, private, its value the highest fixed field used (uint32 big-endian). */
export function ivHighWaterTemplate(value: Buffer): P11.Template {
  return [
    ...ivHighWaterSearch(),
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_APPLICATION, value: 'hsm-kms' },
    { type: pkcs11js.CKA_VALUE, value },
  ];
}

/**
 * The one-use object an ECDH agreement derives into: a session object whose
 * value is read once, as AWS returns the raw shared secret, and destroyed.
 */
export function sharedSecretTemplate(secretBytes: number): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: false },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    { type: pkcs11js.CKA_VALUE_LEN, value: secretBytes },
    ...[pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_VERIFY, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_DERIVE].map((type) => ({ type, value: false })),
  ];
}

export function ecdhMechanism(peerPoint: Buffer): P11.Mechanism {
  const parameter: P11.ECDH1 = { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: peerPoint };
  return { mechanism: pkcs11js.CKM_ECDH1_DERIVE, parameter };
}
