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

/** Calls the admin API (HsmKmsAdmin.<Operation>) with a SigV4-signed request, as the AWS SDKs call KMS. */
export async function callAdmin(options: AdminClientOptions, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const url = new URL(options.endpoint);
  const body = JSON.stringify(input);
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `HsmKmsAdmin.${operation}` },
    body,
  });
  const signer = new SignatureV4({
    service: 'kms',
    region: options.region,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    sha256: Sha256,
  });
  const signed = await signer.sign(request);
  const response = await fetch(new URL('/', url), { method: 'POST', headers: signed.headers as Record<string, string>, body });
  const text = await response.text();
  const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (!response.ok) throw new AdminCallError(String(parsed.__type ?? response.status), String(parsed.message ?? text));
  return parsed;
}
