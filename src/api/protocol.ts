import type { z } from 'zod';
import { KMSInternalException, KmsError, ValidationException, type KmsErrorName } from '../domain/errors.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'TrentService.';

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** AWS's wording: "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: ..." */
/** A member the request needs in its case (CiphertextBlob unless a DryRun ignores it), in AWS's validation wording. */
export function missingMember(name: string): ValidationException {
  return new ValidationException(`1 validation error detected: Value at '${lowerFirst(name)}' failed to satisfy constraint: Member must not be null`);
}

export function validationError(error: z.ZodError, input: unknown): ValidationException {
  const parts = error.issues.map((issue) => {
    const at = issue.path.map((p) => (typeof p === 'number' ? `${p + 1}` : lowerFirst(String(p)))).join('.');
    // zod does not report the offending value; look it up to tell a missing member from a mistyped one.
    const value = issue.path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined), input);
    const what = issue.code === 'invalid_type' && value === undefined ? 'Member must not be null' : issue.message;
    return `Value at '${at || 'body'}' failed to satisfy constraint: ${what}`;
  });
  const n = parts.length;
  return new ValidationException(`${n} validation error${n === 1 ? '' : 's'} detected: ${parts.join('; ')}`);
}

/** Blobs travel as base64; everything else as JSON already is. Undefined members are left out. */
export function encodeOutput(output: Record<string, unknown>): string {
  const wire: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(output)) {
    if (v === undefined) continue;
    wire[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
  }
  return JSON.stringify(wire);
}

/** Any failure as the one KmsError that goes on the wire; unknown errors become KMSInternalException. */
export function asKmsError(e: unknown): KmsError {
  return e instanceof KmsError ? e : new KMSInternalException('An internal error occurred. The request can be retried.');
}

/**
 * AWS answers these with no message at all: a caller learns that a ciphertext,
 * signature or MAC did not verify, never which check failed (the audit trail and
 * the log keep the reason).
 */
const WITHOUT_MESSAGE: ReadonlySet<KmsErrorName> = new Set<KmsErrorName>(['InvalidCiphertextException', 'KMSInvalidSignatureException', 'KMSInvalidMacException']);

/** The error body the AWS SDKs parse: `__type` names the exception, `message` explains it. */
export function encodeError(e: KmsError): string {
  return JSON.stringify(WITHOUT_MESSAGE.has(e.awsName) ? { __type: e.awsName } : { __type: e.awsName, message: e.message });
}

/** The HTTP status AWS answers each error with in the JSON 1.1 protocol: one entry per error, checked by the compiler. */
const HTTP_STATUS: Readonly<Record<KmsErrorName, number>> = {
  ValidationException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
  RequestEntityTooLargeException: 413,
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 400,
  InvalidSignatureException: 400,
  UnrecognizedClientException: 400,
  AccessDeniedException: 400,
  NotFoundException: 400,
  AlreadyExistsException: 400,
  DisabledException: 400,
  KMSInvalidStateException: 400,
  InvalidCiphertextException: 400,
  IncorrectKeyException: 400,
  InvalidKeyUsageException: 400,
  InvalidAliasNameException: 400,
  InvalidArnException: 400,
  InvalidMarkerException: 400,
  InvalidGrantTokenException: 400,
  TagException: 400,
  LimitExceededException: 400,
  MalformedPolicyDocumentException: 400,
  UnsupportedOperationException: 400,
  ConflictException: 400,
  ExpiredImportTokenException: 400,
  InvalidImportTokenException: 400,
  IncorrectKeyMaterialException: 400,
  KMSInvalidSignatureException: 400,
  KMSInvalidMacException: 400,
  DryRunOperationException: 412,
  ThrottlingException: 400,
  // Server-side failures: the token or the store failed, never the caller; the SDKs retry them.
  KMSInternalException: 500,
  DependencyTimeoutException: 503,
  KeyUnavailableException: 500,
};

export function httpStatusOf(e: KmsError): number {
  return HTTP_STATUS[e.awsName];
}
