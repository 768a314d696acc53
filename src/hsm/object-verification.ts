import { pkcs11js } from './pkcs11js.js';
import { CKK_EC_EDWARDS, CKM_EDDSA, HMAC_MECHANISM_SET, keyPairMechanisms, PAIR_USAGE, type PairPurpose } from './templates.js';

/**
 * What a key version's token object says about itself, read with
 * C_GetAttributeValue: the service judges it by these facts, never by its label
 * or id alone.
 */
export interface ObjectFacts {
  readonly objectClass: number;
  readonly keyType: number;
  /** The boolean attributes that exist for the class (a public key has no CKA_SENSITIVE). */
  readonly flags: ReadonlyMap<number, boolean>;
  /** CKA_ALLOWED_MECHANISMS; empty when the object sets none (any mechanism). */
  readonly mechanisms: readonly number[];
}

/** What the token does that decides what its objects can carry. */
export interface TokenTraits {
  /** The token keeps CKA_ALLOWED_MECHANISMS (where it does not, no object carries it). */
  readonly allowedMechanismsAttribute: boolean;
  /** RSA decryption pairs allow raw RSA where the token has no OAEP with SHA-256. */
  readonly rawRsaDecrypt: boolean;
}

export interface Judgement {
  /** What makes the object unfit for use, whatever its history: each a phrase for the operational log. */
  readonly problems: string[];
  /**
   * What objects made before every object was locked to its purpose lack (no
   * CKA_ALLOWED_MECHANISMS; imported objects left modifiable): tolerated only for a
   * key version that has no check value recorded yet, a problem for any other.
   */
  readonly legacyGaps: string[];
}

const A = pkcs11js;

/** The boolean attributes read from each class of key object. */
export const SECRET_FLAGS = [A.CKA_TOKEN, A.CKA_PRIVATE, A.CKA_SENSITIVE, A.CKA_EXTRACTABLE, A.CKA_NEVER_EXTRACTABLE, A.CKA_ALWAYS_SENSITIVE, A.CKA_LOCAL, A.CKA_MODIFIABLE, A.CKA_ENCRYPT, A.CKA_DECRYPT, A.CKA_SIGN, A.CKA_VERIFY, A.CKA_WRAP, A.CKA_UNWRAP, A.CKA_DERIVE];
export const PRIVATE_FLAGS = [A.CKA_TOKEN, A.CKA_PRIVATE, A.CKA_SENSITIVE, A.CKA_EXTRACTABLE, A.CKA_NEVER_EXTRACTABLE, A.CKA_ALWAYS_SENSITIVE, A.CKA_LOCAL, A.CKA_MODIFIABLE, A.CKA_DECRYPT, A.CKA_SIGN, A.CKA_UNWRAP, A.CKA_DERIVE];
export const PUBLIC_FLAGS = [A.CKA_TOKEN, A.CKA_MODIFIABLE, A.CKA_ENCRYPT, A.CKA_VERIFY, A.CKA_WRAP, A.CKA_DERIVE];

const NAMES = new Map<number, string>([
  [A.CKA_TOKEN, 'CKA_TOKEN'],
  [A.CKA_PRIVATE, 'CKA_PRIVATE'],
  [A.CKA_SENSITIVE, 'CKA_SENSITIVE'],
  [A.CKA_EXTRACTABLE, 'CKA_EXTRACTABLE'],
  [A.CKA_NEVER_EXTRACTABLE, 'CKA_NEVER_EXTRACTABLE'],
  [A.CKA_ALWAYS_SENSITIVE, 'CKA_ALWAYS_SENSITIVE'],
  [A.CKA_LOCAL, 'CKA_LOCAL'],
  [A.CKA_MODIFIABLE, 'CKA_MODIFIABLE'],
  [A.CKA_ENCRYPT, 'CKA_ENCRYPT'],
  [A.CKA_DECRYPT, 'CKA_DECRYPT'],
  [A.CKA_SIGN, 'CKA_SIGN'],
  [A.CKA_VERIFY, 'CKA_VERIFY'],
  [A.CKA_WRAP, 'CKA_WRAP'],
  [A.CKA_UNWRAP, 'CKA_UNWRAP'],
  [A.CKA_DERIVE, 'CKA_DERIVE'],
]);

function judge(): Judgement & { require(facts: ObjectFacts, what: string, type: number, value: boolean): void } {
  const problems: string[] = [];
  return {
    problems,
    legacyGaps: [],
    require(facts, what, type, value) {
      if (facts.flags.get(type) !== value) problems.push(`${what} has ${NAMES.get(type)} ${String(facts.flags.get(type) ?? 'missing')}, not ${String(value)}`);
    },
  };
}

function plain(j: Judgement): Judgement {
  return { problems: j.problems, legacyGaps: j.legacyGaps };
}

/** Usage attributes: exactly these on, every other one read off. */
function requireUsage(j: ReturnType<typeof judge>, facts: ObjectFacts, what: string, usages: readonly number[], on: readonly number[]): void {
  for (const type of usages) j.require(facts, what, type, on.includes(type));
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((m) => b.includes(m));
}

function requireMechanisms(j: Judgement, token: TokenTraits, facts: ObjectFacts, what: string, fits: (mechanisms: readonly number[]) => boolean): void {
  if (!token.allowedMechanismsAttribute) return;
  if (facts.mechanisms.length === 0) j.legacyGaps.push(`${what} sets no CKA_ALLOWED_MECHANISMS`);
  else if (!fits(facts.mechanisms)) j.problems.push(`${what} allows mechanisms ${facts.mechanisms.map((m) => `0x${m.toString(16)}`).join(', ')}, not those of its purpose`);
}

function requireNotModifiable(j: Judgement, facts: ObjectFacts, what: string): void {
  if (facts.flags.get(A.CKA_MODIFIABLE) !== false) j.legacyGaps.push(`${what} is modifiable`);
}

/** Whether the token made the key itself and it was never anything but sensitive and non-extractable. */
export function madeInToken(facts: ObjectFacts): boolean {
  return facts.flags.get(A.CKA_LOCAL) === true && facts.flags.get(A.CKA_NEVER_EXTRACTABLE) === true && facts.flags.get(A.CKA_ALWAYS_SENSITIVE) === true;
}

const SECRET_USAGES = [A.CKA_ENCRYPT, A.CKA_DECRYPT, A.CKA_SIGN, A.CKA_VERIFY, A.CKA_WRAP, A.CKA_UNWRAP, A.CKA_DERIVE];

/**
 * A symmetric root key (AES for AES-GCM) or an HMAC key (a generic secret for its
 * one HMAC mechanism): a private, sensitive, non-extractable token object with
 * exactly its usage. Whether it was made in the token or imported is the
 * caller's to compare with what was recorded.
 */
export function judgeSecretKey(facts: ObjectFacts, token: TokenTraits): Judgement {
  const j = judge();
  const what = 'the secret key';
  if (facts.objectClass !== A.CKO_SECRET_KEY) j.problems.push(`${what} is of class ${facts.objectClass}`);
  for (const [type, value] of [[A.CKA_TOKEN, true], [A.CKA_PRIVATE, true], [A.CKA_SENSITIVE, true], [A.CKA_EXTRACTABLE, false]] as const) j.require(facts, what, type, value);
  requireNotModifiable(j, facts, what);
  if (facts.keyType === A.CKK_AES) {
    requireUsage(j, facts, what, SECRET_USAGES, [A.CKA_ENCRYPT, A.CKA_DECRYPT]);
    requireMechanisms(j, token, facts, what, (m) => sameSet(m, [A.CKM_AES_GCM]));
  } else if (facts.keyType === A.CKK_GENERIC_SECRET) {
    requireUsage(j, facts, what, SECRET_USAGES, [A.CKA_SIGN, A.CKA_VERIFY]);
    requireMechanisms(j, token, facts, what, (m) => m.length === 1 && HMAC_MECHANISM_SET.has(m[0]!));
  } else {
    j.problems.push(`${what} is of key type ${facts.keyType}, neither AES nor a generic secret`);
  }
  return plain(j);
}

/**
 * A key pair of this service: both halves of one key type and one purpose
 * (signing, RSA decryption or ECDH), the private half private, sensitive and
 * never extractable, both locked to the purpose's mechanisms. Whether it was
 * made in the token or imported is the caller's to compare with what was
 * recorded; whether the halves belong together (the same modulus or curve), the
 * caller's to read.
 */
export function judgeKeyPair(privateKey: ObjectFacts, publicKey: ObjectFacts, token: TokenTraits): Judgement {
  const j = judge();
  const priv = 'the private key';
  const pub = 'the public key';
  if (privateKey.objectClass !== A.CKO_PRIVATE_KEY) j.problems.push(`${priv} is of class ${privateKey.objectClass}`);
  if (publicKey.objectClass !== A.CKO_PUBLIC_KEY) j.problems.push(`${pub} is of class ${publicKey.objectClass}`);
  for (const [type, value] of [[A.CKA_TOKEN, true], [A.CKA_PRIVATE, true], [A.CKA_SENSITIVE, true], [A.CKA_EXTRACTABLE, false]] as const) j.require(privateKey, priv, type, value);
  j.require(publicKey, pub, A.CKA_TOKEN, true);
  requireNotModifiable(j, privateKey, priv);
  requireNotModifiable(j, publicKey, pub);
  if (privateKey.keyType !== publicKey.keyType) j.problems.push(`the halves are of key types ${privateKey.keyType} and ${publicKey.keyType}`);
  const kind = privateKey.keyType === A.CKK_EC ? 'EC' : privateKey.keyType === CKK_EC_EDWARDS ? 'EDWARDS' : privateKey.keyType === A.CKK_RSA ? 'RSA' : undefined;
  if (!kind) {
    j.problems.push(`${priv} is of key type ${privateKey.keyType}, not RSA, EC or Edwards`);
    return plain(j);
  }
  // The purpose the private half claims; its flags must then be exactly that purpose's, and no other.
  const purpose: PairPurpose = privateKey.flags.get(A.CKA_DECRYPT) === true ? 'decrypt' : privateKey.flags.get(A.CKA_DERIVE) === true ? 'agree' : 'sign';
  if (purpose === 'decrypt' && kind !== 'RSA') j.problems.push(`${priv} of an elliptic-curve pair decrypts`);
  if (purpose === 'agree' && kind !== 'EC') j.problems.push(`${priv} of a pair that is not on a NIST curve derives`);
  requireUsage(j, privateKey, priv, [A.CKA_DECRYPT, A.CKA_SIGN, A.CKA_UNWRAP, A.CKA_DERIVE], PAIR_USAGE[purpose].privateUsage);
  requireUsage(j, publicKey, pub, [A.CKA_ENCRYPT, A.CKA_VERIFY, A.CKA_WRAP, A.CKA_DERIVE], PAIR_USAGE[purpose].publicUsage);
  const expected = keyPairMechanisms(kind, purpose, token.rawRsaDecrypt);
  // A pair made where the token had OAEP with SHA-256 allows no raw RSA; one made elsewhere may: both fit.
  const fits = (m: readonly number[]) => sameSet(m, expected) || (kind === 'RSA' && purpose === 'decrypt' && sameSet(m, keyPairMechanisms(kind, purpose, !token.rawRsaDecrypt)));
  requireMechanisms(j, token, privateKey, priv, fits);
  requireMechanisms(j, token, publicKey, pub, fits);
  if (kind === 'EC' && privateKey.mechanisms.includes(CKM_EDDSA)) j.problems.push(`${priv} allows EdDSA on a Weierstrass curve`);
  return plain(j);
}
