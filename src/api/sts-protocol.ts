import type { IncomingHttpHeaders } from 'node:http';
import type { KmsError } from '../domain/errors.js';
import { httpStatusOf } from './protocol.js';

/**
 * STS's GetCallerIdentity on the KMS endpoint: the AWS CLI and SDKs send it to a
 * profile's endpoint_url, in STS's query protocol (a form-encoded POST, an XML
 * answer). The only STS action served: it tells a caller who it is, as AWS does.
 */
const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_EVENT_SOURCE = 'sts.amazonaws.com';

/** A call in STS's query protocol: no X-Amz-Target, a form-encoded body. */
export function isStsQuery(method: string, headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return method === 'POST' && headers['x-amz-target'] === undefined && typeof type === 'string' && type.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** The Action a form-encoded body names, or undefined. */
export function stsAction(body: Buffer): string | undefined {
  return new URLSearchParams(body.toString('utf8')).get('Action') ?? undefined;
}

function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function callerIdentityXml(identity: { arn: string; userId: string; account: string }, requestId: string): string {
  return (
    `<GetCallerIdentityResponse xmlns="${NAMESPACE}"><GetCallerIdentityResult>` +
    `<Arn>${xmlText(identity.arn)}</Arn><UserId>${xmlText(identity.userId)}</UserId><Account>${xmlText(identity.account)}</Account>` +
    `</GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
  );
}

/** STS's names for the authentication failures KMS names otherwise. */
const STS_CODES: Readonly<Record<string, string>> = {
  UnrecognizedClientException: 'InvalidClientTokenId',
  InvalidSignatureException: 'SignatureDoesNotMatch',
  MissingAuthenticationTokenException: 'MissingAuthenticationToken',
  IncompleteSignatureException: 'IncompleteSignature',
};

/** The code STS answers (and CloudTrail records) for an error. */
export function stsCodeOf(error: KmsError): string {
  return STS_CODES[error.awsName] ?? error.awsName;
}

/** An error in STS's form: its code, sender or receiver, and the request id. */
export function stsErrorXml(error: KmsError, requestId: string): { status: number; body: string } {
  const code = stsCodeOf(error);
  const status = httpStatusOf(error);
  const body =
    `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `<Code>${xmlText(code)}</Code><Message>${xmlText(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return { status, body };
}

export const XML_CONTENT_TYPE = 'text/xml';
