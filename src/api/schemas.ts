import { z } from 'zod';
import { InvalidMarkerException } from '../domain/errors.js';

/** Shapes shared by several operations, with AWS's documented limits. */

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A base64 blob on the wire, a Buffer inside, with its length limits in bytes. */
export function blob(min: number, max: number) {
  return z
    .string()
    .regex(BASE64, 'Member must be valid base64')
    .transform((s) => Buffer.from(s, 'base64'))
    .refine((b) => b.length >= min, `Member must have length greater than or equal to ${min}`)
    .refine((b) => b.length <= max, `Member must have length less than or equal to ${max}`);
}

export const keyIdParam = z.string().min(1).max(2048);

/** A UTF-16 surrogate without its other half: JSON can carry one, UTF-8 cannot (it would become U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A map of strings. Checked on the raw JSON object: zod's record would silently drop
 * a "__proto__" key, and a dropped pair would no longer be bound to the ciphertext.
 * Keys and values must be well-formed Unicode: every lone surrogate would encode as
 * the same U+FFFD, so different contexts would bind the same ciphertext.
 */
export const stringMap = z.custom<Record<string, string>>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !Object.hasOwn(v, '__proto__') &&
    Object.entries(v).every(([k, s]) => typeof s === 'string' && !LONE_SURROGATE.test(k) && !LONE_SURROGATE.test(s)),
  'Member must be a map of strings to strings of well-formed Unicode, without the key __proto__',
);

export const encryptionContext = stringMap.optional();

export const grantTokens = z.array(z.string().min(1).max(8192)).max(10).optional();

export const encryptionAlgorithm = z.enum(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE']).optional();

export const aliasName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9/_-]+$/, 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$');

/** No bound on the count here: AWS answers too many tags with TagException (CreateKey), from the use case. */
export const tagList = z.array(z.object({ TagKey: z.string().min(1).max(128), TagValue: z.string().max(256) }));

export const marker = z.string().min(1).max(1024).regex(/^[\u0020-\u00FF]*$/).optional();

export const dryRun = z.boolean().optional();
/** Decrypt's and ReEncrypt's: with DryRun, IGNORE_CIPHERTEXT checks the named key's permissions without a ciphertext. */
export const dryRunModifiers = z.array(z.enum(['IGNORE_CIPHERTEXT'])).optional();

/** Markers are opaque to callers: the last item's sort key, base64url-encoded. */
export function encodeMarker(sortKey: string | undefined): string | undefined {
  return sortKey === undefined ? undefined : Buffer.from(sortKey, 'utf8').toString('base64url');
}

export function decodeMarker(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const decoded = Buffer.from(value, 'base64url').toString('utf8');
  if (decoded.length === 0 || encodeMarker(decoded) !== value) throw new InvalidMarkerException('The marker that specifies where pagination should next begin is not valid.');
  return decoded;
}

/** Epoch seconds, as the AWS JSON protocol writes timestamps. */
export const epochSeconds = (d: Date) => d.getTime() / 1000;

/** AWS's KeySpec values: one it does not list fails validation; one it lists and this service cannot make is refused by the use case. */
export const keySpecParam = z.enum([
  'RSA_2048', 'RSA_3072', 'RSA_4096',
  'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'ECC_NIST_EDWARDS25519',
  'SYMMETRIC_DEFAULT', 'HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512',
  'SM2', 'ML_DSA_44', 'ML_DSA_65', 'ML_DSA_87', 'ML_KEM_512', 'ML_KEM_768', 'ML_KEM_1024',
]);
