import { pkcs11js } from './pkcs11js.js';
import { DependencyTimeoutException, InvalidCiphertextException, KeyUnavailableException, KMSInternalException, KmsError } from '../domain/errors.js';
import { SessionUnavailable } from './session-pool.js';

/** What the caller of a token operation was doing, which decides how a return code reads. */
export type TokenOperation = 'decrypt' | 'unwrap' | 'encrypt' | 'sign' | 'verify' | 'derive' | 'generate' | 'destroy' | 'find' | 'random' | 'session';

export interface Classified {
  /** The error to throw to the domain. */
  readonly error: KmsError;
  /** The session is in an unknown state and must not go back to the pool. */
  readonly evictSession: boolean;
  /** The cached object handle no longer names the object. */
  readonly dropHandle: boolean;
  /** The application must log in again (the token forgot the login). */
  readonly relogin: boolean;
  /** The device failed or stopped answering: the module is initialised again (with backoff) before the token is used again. */
  readonly resetToken: boolean;
}

/** The device itself is gone or broken: no session or login of it can be trusted. */
const DEVICE_LOST = new Set([pkcs11js.CKR_DEVICE_ERROR, pkcs11js.CKR_DEVICE_REMOVED, pkcs11js.CKR_TOKEN_NOT_PRESENT, pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED]);

const NOTHING = { evictSession: false, dropHandle: false, relogin: false, resetToken: false } as const;

const SESSION_LOST = new Set([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_OPERATION_ACTIVE,
  pkcs11js.CKR_OPERATION_NOT_INITIALIZED,
  // A refused call may leave an operation half-initialised.
  pkcs11js.CKR_ARGUMENTS_BAD,
]);

const HANDLE_LOST = new Set([pkcs11js.CKR_OBJECT_HANDLE_INVALID, pkcs11js.CKR_KEY_HANDLE_INVALID]);

/**
 * Ciphertext that the token refused to authenticate. SoftHSMv2 reports a failed
 * GCM tag check as CKR_GENERAL_ERROR; other tokens use the codes the standard names.
 */
const BAD_CIPHERTEXT = new Set([
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11js.CKR_GENERAL_ERROR,
  0x00000021, // CKR_AEAD_DECRYPT_FAILED (PKCS#11 3.0)
]);

/** Wrapped key material that the token refused to unwrap (or unwrapped into nothing usable). */
const BAD_WRAPPED_KEY = new Set([
  ...BAD_CIPHERTEXT,
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
  pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE,
  pkcs11js.CKR_DATA_LEN_RANGE,
  pkcs11js.CKR_DATA_INVALID,
  pkcs11js.CKR_TEMPLATE_INCONSISTENT,
  pkcs11js.CKR_KEY_SIZE_RANGE,
  pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID,
]);

/** AWS's answer when a key's key store cannot be reached (a retryable 500). */
export const UNAVAILABLE = 'The key store is not available. The request can be retried.';

/** The one place where PKCS#11 return codes become API errors and session decisions. */
export function classifyTokenError(e: unknown, operation: TokenOperation): Classified {
  const code = e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
  const name = e instanceof Error ? e.message : String(e);
  if (e instanceof KmsError) return { error: e, ...NOTHING };
  if (e instanceof SessionUnavailable) {
    // Retryable, as AWS's DependencyTimeoutException; a call that never returned means the device is unwell.
    const error = e.reason === 'closed' ? new KeyUnavailableException(UNAVAILABLE) : new DependencyTimeoutException('The key store did not answer in time. The request can be retried.');
    error.detail = `${operation}: ${e.reason}`;
    return { error, ...NOTHING, resetToken: e.reason === 'hung' };
  }
  if (code !== undefined && operation === 'unwrap' && BAD_WRAPPED_KEY.has(code)) {
    return { error: new InvalidCiphertextException('The wrapped key material could not be unwrapped with this import token.'), ...NOTHING };
  }
  if (code !== undefined && operation === 'decrypt' && BAD_CIPHERTEXT.has(code)) {
    return { error: new InvalidCiphertextException('The ciphertext is not valid for this key and encryption context.'), ...NOTHING };
  }
  if (code !== undefined && DEVICE_LOST.has(code)) {
    const error = new KeyUnavailableException(UNAVAILABLE);
    error.detail = `${operation}: ${name}`;
    return { error, evictSession: true, dropHandle: false, relogin: false, resetToken: true };
  }
  const error = new KMSInternalException('The key store failed. The request can be retried.');
  error.detail = `${operation}: ${name}`;
  return {
    error,
    evictSession: code === undefined || SESSION_LOST.has(code),
    dropHandle: code !== undefined && HANDLE_LOST.has(code),
    relogin: code === pkcs11js.CKR_USER_NOT_LOGGED_IN,
    resetToken: false,
  };
}
