import type { z } from 'zod';
import { KMSInternalException, KmsError, ValidationException } from '../domain/errors.js';

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const TARGET_PREFIX = 'TrentService.';

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** AWS's wording: "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: ..." */
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

/** The error body the AWS SDKs parse: `__type` names the exception, `message` explains it. */
export function encodeError(e: KmsError): string {
  return JSON.stringify({ __type: e.awsName, message: e.message });
}
