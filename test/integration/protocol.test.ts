import { CreateKeyCommand, DecryptCommand, EncryptCommand, ListGrantsCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonRequestHeaders, signJsonRequest } from '../../src/cli/admin-client.js';
import { expectAwsError } from '../support/errors.js';
import { kmsClient, useTestService, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const kms = useTestService();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const requestIds = new Set<string>();

interface SendOptions {
  target?: string | undefined;
  accessKeyId?: string;
  secretAccessKey?: string;
  unsigned?: boolean;
}

/** A raw AWS JSON 1.1 request, signed like an SDK signs it (or not at all). */
async function post(body: string | Buffer, options: SendOptions = {}): Promise<Response> {
  const target = 'target' in options ? options.target : 'TrentService.ListKeys';
  const credentials = { accessKeyId: options.accessKeyId ?? TEST_ACCESS_KEY_ID, secretAccessKey: options.secretAccessKey ?? TEST_SECRET_ACCESS_KEY };
  const headers = options.unsigned
    ? jsonRequestHeaders(new URL(kms.endpoint), target)
    : (await signJsonRequest({ endpoint: kms.endpoint, region: 'us-east-1', ...credentials }, target, body)).headers;
  const { host: _host, ...sent } = headers;
  const res = await fetch(kms.endpoint, { method: 'POST', headers: sent, body });
  const requestId = res.headers.get('x-amzn-requestid');
  expect(requestId).toMatch(UUID);
  expect(requestIds.has(requestId!)).toBe(false);
  requestIds.add(requestId!);
  return res;
}

/** A correct signed call still succeeds: the server is up and unharmed. */
async function expectServing(): Promise<void> {
  const res = await post('{}');
  expect(res.status).toBe(200);
  const body = (await res.json()) as { Keys?: unknown[]; Truncated?: boolean };
  expect(Array.isArray(body.Keys)).toBe(true);
  expect(body.Truncated).toBe(false);
}

/** Checks an error response, then that the next correct call still succeeds. */
async function expectError(res: Response, status: number, type: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/x-amz-json-1.1');
  expect(res.headers.get('x-amzn-errortype')).toBe(type);
  const body = (await res.json()) as { __type?: string; message?: string };
  expect(body.__type).toBe(type);
  expect(typeof body.message).toBe('string');
  await expectServing();
  return body.message!;
}

// After every test too (some make no raw error call).
afterEach(expectServing);

describe('authentication errors', () => {
  it('answers InvalidSignatureException for a wrong secret', async () => {
    await expectError(await post('{}', { secretAccessKey: 'not-the-right-secret-at-all' }), 400, 'InvalidSignatureException');
  });

  it('answers UnrecognizedClientException for an unknown access key', async () => {
    await expectError(await post('{}', { accessKeyId: 'AKIAUNKNOWN000000000' }), 400, 'UnrecognizedClientException');
  });

  it('answers MissingAuthenticationTokenException for an unsigned request', async () => {
    await expectError(await post('{}', { unsigned: true }), 403, 'MissingAuthenticationTokenException');
  });

  it('raises the same errors by name through the AWS SDK', async () => {
    const wrongSecret = kmsClient(kms.endpoint, TEST_ACCESS_KEY_ID, 'not-the-right-secret-at-all');
    const unknown = kmsClient(kms.endpoint, 'AKIAUNKNOWN000000000', TEST_SECRET_ACCESS_KEY);
    try {
      await expectAwsError(wrongSecret.send(new ListKeysCommand({})), 'InvalidSignatureException');
      await expectAwsError(unknown.send(new ListKeysCommand({})), 'UnrecognizedClientException');
    } finally {
      wrongSecret.destroy();
      unknown.destroy();
    }
  });
});

describe('protocol errors', () => {
  it('answers SerializationException for malformed JSON and for a body that is not an object', async () => {
    await expectError(await post('{"Limit": 5'), 400, 'SerializationException');
    await expectError(await post('[1, 2, 3]'), 400, 'SerializationException');
    await expectError(await post('"text"'), 400, 'SerializationException');
  });

  it('answers UnknownOperationException for an unknown or missing target', async () => {
    await expectError(await post('{}', { target: 'TrentService.Frobnicate' }), 400, 'UnknownOperationException');
    await expectError(await post('{}', { target: 'SomeOtherService.ListKeys' }), 400, 'UnknownOperationException');
    await expectError(await post('{}', { target: undefined }), 400, 'UnknownOperationException');
  });

  it('answers 413 for a body over 64 KiB', async () => {
    const big = JSON.stringify({ Policy: 'x'.repeat(70 * 1024) });
    await expectError(await post(big, { target: 'TrentService.CreateKey' }), 413, 'RequestEntityTooLargeException');
  });

  it('answers ValidationException naming the member and the constraint', async () => {
    const message = await expectError(await post('{"NumberOfBytes": 2000}', { target: 'TrentService.GenerateRandom' }), 400, 'ValidationException');
    expect(message).toContain("'numberOfBytes'");
    expect(message).toMatch(/^1 validation error detected/);
    const missing = await expectError(await post('{}', { target: 'TrentService.Encrypt' }), 400, 'ValidationException');
    expect(missing).toMatch(/^2 validation errors detected/);
    expect(missing).toContain('Member must not be null');
    const mistyped = await expectError(await post('{"Limit": "5"}', { target: 'TrentService.ListKeys' }), 400, 'ValidationException');
    expect(mistyped).toContain("'limit'");
    expect(mistyped).not.toContain('must not be null');
    await expectError(await post('{"KeyId": "alias/x", "Plaintext": "not base64!"}', { target: 'TrentService.Encrypt' }), 400, 'ValidationException');
    // A context pair that a JavaScript object would lose must be refused, never silently dropped.
    const proto = await expectError(
      await post('{"KeyId": "alias/x", "Plaintext": "aGk=", "EncryptionContext": {"__proto__": "tenant-1"}}', { target: 'TrentService.Encrypt' }),
      400,
      'ValidationException',
    );
    expect(proto).toContain('__proto__');
  });

  it('refuses lone surrogates in encryption contexts and grant constraints (they would all encode as U+FFFD), and keeps surrogate pairs', async () => {
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const context of ['{"tenant": "\\ud800"}', '{"tenant": "a\\udc00"}', '{"\\udbff": "x"}']) {
      const message = await expectError(await post(`{"KeyId": "${keyId}", "Plaintext": "aGk=", "EncryptionContext": ${context}}`, { target: 'TrentService.Encrypt' }), 400, 'ValidationException');
      expect(message).toContain('well-formed Unicode');
    }
    const grant = `{"KeyId": "${keyId}", "GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Encrypt"], "Constraints": {"EncryptionContextSubset": {"t": "\\ud83d"}}}`;
    await expectError(await post(grant, { target: 'TrentService.CreateGrant' }), 400, 'ValidationException');
    expect((await kms.client.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
    // A well-formed pair (an emoji) is an ordinary character.
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('hi'), EncryptionContext: { tenant: '\u{1F600}' } }));
    await kms.client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: '\u{1F600}' } }));
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenant: '\uFFFD' } })), 'InvalidCiphertextException');
  });

  it('serves GET /healthz without authentication and nothing else outside POST /', async () => {
    const health = await fetch(`${kms.endpoint}/healthz`);
    expect(health.status).toBe(200);
    const other = await fetch(`${kms.endpoint}/keys`);
    expect(other.status).toBe(400);
    for (const res of [health, other]) {
      expect(res.headers.get('x-amzn-requestid')).toMatch(UUID);
      expect(requestIds.has(res.headers.get('x-amzn-requestid')!)).toBe(false);
      requestIds.add(res.headers.get('x-amzn-requestid')!);
    }
    expect(other.headers.get('content-type')).toContain('application/x-amz-json-1.1');
    expect(((await other.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });
});

describe('successful responses', () => {
  it('are JSON 1.1 with a request id and base64 blobs', async () => {
    const res = await post('{"NumberOfBytes": 16}', { target: 'TrentService.GenerateRandom' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-amz-json-1.1');
    const body = (await res.json()) as { Plaintext: string };
    expect(Buffer.from(body.Plaintext, 'base64')).toHaveLength(16);
  });
});
