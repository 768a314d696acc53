/**
 * The closed set of errors this service answers with. Each carries its AWS error
 * name (`__type` on the wire); how a protocol shows it (the HTTP status of AWS's
 * JSON protocol, say) is that protocol's own exhaustive map over these names.
 */
export const KMS_ERROR_NAMES = [
  'ValidationException',
  'SerializationException',
  'UnknownOperationException',
  'RequestEntityTooLargeException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'UnrecognizedClientException',
  'AccessDeniedException',
  'NotFoundException',
  'AlreadyExistsException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'InvalidAliasNameException',
  'InvalidArnException',
  'InvalidMarkerException',
  'InvalidGrantTokenException',
  'TagException',
  'LimitExceededException',
  'MalformedPolicyDocumentException',
  'UnsupportedOperationException',
  'ConflictException',
  'ExpiredImportTokenException',
  'InvalidImportTokenException',
  'IncorrectKeyMaterialException',
  'KMSInvalidSignatureException',
  'KMSInvalidMacException',
  'DryRunOperationException',
  'ThrottlingException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
] as const;

export type KmsErrorName = (typeof KMS_ERROR_NAMES)[number];

export abstract class KmsError extends Error {
  abstract readonly awsName: KmsErrorName;
  /** For the log only, never sent to the caller (e.g. the PKCS#11 return code behind a 500). */
  detail: string | undefined;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function kmsError(awsName: KmsErrorName) {
  return class extends KmsError {
    readonly awsName = awsName;
  };
}

// Request and protocol errors.
export class ValidationException extends kmsError('ValidationException') {}
export class SerializationException extends kmsError('SerializationException') {}
export class UnknownOperationException extends kmsError('UnknownOperationException') {}
export class RequestEntityTooLargeException extends kmsError('RequestEntityTooLargeException') {}

// Authentication.
export class MissingAuthenticationTokenException extends kmsError('MissingAuthenticationTokenException') {}
export class IncompleteSignatureException extends kmsError('IncompleteSignatureException') {}
export class InvalidSignatureException extends kmsError('InvalidSignatureException') {}
export class UnrecognizedClientException extends kmsError('UnrecognizedClientException') {}
export class AccessDeniedException extends kmsError('AccessDeniedException') {}

// KMS domain errors.
export class NotFoundException extends kmsError('NotFoundException') {}
export class AlreadyExistsException extends kmsError('AlreadyExistsException') {}
export class DisabledException extends kmsError('DisabledException') {}
export class KMSInvalidStateException extends kmsError('KMSInvalidStateException') {}
export class InvalidCiphertextException extends kmsError('InvalidCiphertextException') {}
export class IncorrectKeyException extends kmsError('IncorrectKeyException') {}
export class InvalidKeyUsageException extends kmsError('InvalidKeyUsageException') {}
export class InvalidAliasNameException extends kmsError('InvalidAliasNameException') {}
export class InvalidArnException extends kmsError('InvalidArnException') {}
export class InvalidMarkerException extends kmsError('InvalidMarkerException') {}
export class InvalidGrantTokenException extends kmsError('InvalidGrantTokenException') {}
export class TagException extends kmsError('TagException') {}
export class LimitExceededException extends kmsError('LimitExceededException') {}
export class MalformedPolicyDocumentException extends kmsError('MalformedPolicyDocumentException') {}
export class UnsupportedOperationException extends kmsError('UnsupportedOperationException') {}
export class ConflictException extends kmsError('ConflictException') {}
export class ExpiredImportTokenException extends kmsError('ExpiredImportTokenException') {}
export class InvalidImportTokenException extends kmsError('InvalidImportTokenException') {}
export class IncorrectKeyMaterialException extends kmsError('IncorrectKeyMaterialException') {}
export class KMSInvalidSignatureException extends kmsError('KMSInvalidSignatureException') {}
export class KMSInvalidMacException extends kmsError('KMSInvalidMacException') {}
export class DryRunOperationException extends kmsError('DryRunOperationException') {}
/** A request quota was exceeded; the SDKs back off and retry. */
export class ThrottlingException extends kmsError('ThrottlingException') {}

/** AWS's answer to a caller past a quota (or past the room of a bounded lane). */
export function throttled(): ThrottlingException {
  return new ThrottlingException('You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.');
}

/** The answer to a DryRun request that would have succeeded. */
export function dryRunSucceeded(): DryRunOperationException {
  return new DryRunOperationException('The request would have succeeded, but the DryRun option is set.');
}

// Server-side failures: the token or the store failed, never the caller.
export class KMSInternalException extends kmsError('KMSInternalException') {}
export class DependencyTimeoutException extends kmsError('DependencyTimeoutException') {}
export class KeyUnavailableException extends kmsError('KeyUnavailableException') {}
