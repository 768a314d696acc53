/**
 * The closed set of errors this service answers with. Each carries the AWS
 * error name (`__type` on the wire) and the HTTP status AWS uses for it, so the
 * HTTP edge serialises every failure in one place without a lookup table.
 */
export abstract class KmsError extends Error {
  abstract readonly awsName: string;
  readonly httpStatus: number = 400;
  /** For the log only, never sent to the caller (e.g. the PKCS#11 return code behind a 500). */
  detail: string | undefined;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function kmsError(awsName: string, httpStatus = 400) {
  return class extends KmsError {
    readonly awsName = awsName;
    override readonly httpStatus = httpStatus;
  };
}

// Request and protocol errors.
export class ValidationException extends kmsError('ValidationException') {}
export class SerializationException extends kmsError('SerializationException') {}
export class UnknownOperationException extends kmsError('UnknownOperationException') {}
export class RequestEntityTooLargeException extends kmsError('RequestEntityTooLargeException', 413) {}

// Authentication.
export class MissingAuthenticationTokenException extends kmsError('MissingAuthenticationTokenException', 403) {}
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
export class DryRunOperationException extends kmsError('DryRunOperationException', 412) {}

/** The answer to a DryRun request that would have succeeded. */
export function dryRunSucceeded(): DryRunOperationException {
  return new DryRunOperationException('The request would have succeeded, but the DryRun option is set.');
}

// Server-side failures: the token or the store failed, never the caller.
export class KMSInternalException extends kmsError('KMSInternalException', 500) {}
export class DependencyTimeoutException extends kmsError('DependencyTimeoutException', 503) {}
export class KeyUnavailableException extends kmsError('KeyUnavailableException', 500) {}
