import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AdminClientOptions {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** An AWS JSON 1.1 error answer, with its `__type` as the error name. */
export class AdminCallError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

/** The service could not be reached at all: the message names the URL and the cause. */
export class AdminConnectionError extends Error {}

/** The headers of an AWS JSON 1.1 POST, before signing (no X-Amz-Target when `target` is undefined). */
export function jsonRequestHeaders(url: URL, target: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-amz-json-1.1' };
  if (target !== undefined) headers['x-amz-target'] = target;
  return headers;
}

/** Builds an AWS JSON 1.1 POST to the endpoint's root and SigV4-signs it, as the AWS SDKs sign KMS calls. */
export async function signJsonRequest(
  options: AdminClientOptions,
  target: string | undefined,
  body: string | Uint8Array,
): Promise<{ url: URL; headers: Record<string, string> }> {
  const url = new URL(options.endpoint);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: '/',
    headers: jsonRequestHeaders(url, target),
    body,
  });
  const signer = new SignatureV4({
    service: 'kms',
    region: options.region,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    sha256: Sha256,
  });
  const signed = await signer.sign(request);
  return { url, headers: signed.headers as Record<string, string> };
}

/** Calls the admin API (HsmKmsAdmin.<Operation>) with a SigV4-signed request, as the AWS SDKs call KMS. */
export async function callAdmin(options: AdminClientOptions, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = JSON.stringify(input);
  const { url, headers } = await signJsonRequest(options, `HsmKmsAdmin.${operation}`, body);
  let response: Response;
  try {
    response = await fetch(new URL('/', url), { method: 'POST', headers, body });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new AdminConnectionError(`cannot reach the service at ${url.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  const text = await response.text();
  const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (!response.ok) throw new AdminCallError(String(parsed.__type ?? response.status), String(parsed.message ?? text));
  return parsed;
}
