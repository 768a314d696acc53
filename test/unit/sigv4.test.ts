import { createHash, createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { verifySigV4, type SignedRequest, type SigV4Options } from '../../src/api/sigv4.js';
import {
  IncompleteSignatureException,
  InvalidSignatureException,
  MissingAuthenticationTokenException,
  UnrecognizedClientException,
} from '../../src/domain/errors.js';

const AKID = 'AKIAHSMKMSTEST000001';
const SECRET = 'testSecretKey/abcdefghijklmnopqrstuvwxyz01';
const REGION = 'us-east-1';
const NOW = new Date('2026-11-23T12:20:00Z');
const HOST = 'kms.us-east-1.amazonaws.com';

const options = (over: Partial<SigV4Options> = {}): SigV4Options => ({
  regions: [REGION],
  service: 'kms',
  now: NOW,
  secretFor: (id) => (id === AKID ? SECRET : undefined),
  ...over,
});

/** RFC 3986 encoding as the AWS SDKs put query strings on the wire. */
const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

interface SignArgs {
  path?: string; // raw wire path (already percent-encoded)
  query?: Record<string, string>;
  body?: string;
  signingDate?: Date;
  region?: string;
  service?: string;
  accessKeyId?: string;
  secret?: string;
  applyChecksum?: boolean;
  headers?: Record<string, string>;
  /** Leave out X-Amz-Target (and, with omitContentType, Content-Type): only host is signed then. */
  omitTarget?: boolean;
  omitContentType?: boolean;
}

/** Signs a KMS-shaped request with the AWS SDK's signer and returns what Node's server would see. */
async function smithySigned(args: SignArgs = {}): Promise<SignedRequest> {
  const body = args.body ?? JSON.stringify({ KeyId: 'alias/test', Plaintext: 'aGVsbG8=' });
  const signer = new SignatureV4({
    credentials: { accessKeyId: args.accessKeyId ?? AKID, secretAccessKey: args.secret ?? SECRET },
    region: args.region ?? REGION,
    service: args.service ?? 'kms',
    sha256: Sha256,
    applyChecksum: args.applyChecksum ?? true,
  });
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: HOST,
    path: args.path ?? '/',
    query: args.query ?? {},
    headers: {
      host: HOST,
      ...(args.omitContentType ? {} : { 'content-type': 'application/x-amz-json-1.1' }),
      ...(args.omitTarget ? {} : { 'x-amz-target': 'TrentService.Encrypt' }),
      ...args.headers,
    },
    body,
  });
  const signed = await signer.sign(request, { signingDate: args.signingDate ?? NOW });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return {
    method: signed.method,
    path: signed.path,
    query: Object.entries(signed.query ?? {})
      .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
      .join('&'),
    headers,
    body: Buffer.from(body),
  };
}

const authParts = (req: SignedRequest) => {
  const m = /Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})/.exec(
    req.headers['authorization'] as string,
  );
  if (!m) throw new Error('unexpected authorization header');
  return { credential: m[1]!, signedHeaders: m[2]!, signature: m[3]! };
};

const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

describe('verifySigV4 with requests signed by @smithy/signature-v4', () => {
  it('accepts a KMS Encrypt call and returns the access key id', async () => {
    const req = await smithySigned();
    expect(req.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts a request without x-amz-content-sha256', async () => {
    const req = await smithySigned({ applyChecksum: false });
    expect(req.headers['x-amz-content-sha256']).toBeUndefined();
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts a request with a query string', async () => {
    const req = await smithySigned({ query: { b: 'two words', a: 'x/y=z&', Zed: 'ü~*' } });
    expect(req.query).toContain('two%20words');
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts query parameters in any order and without values', async () => {
    const signed = await smithySigned({ query: { b: '2', a: '1', c: '' } });
    const req = { ...signed, query: 'c&b=2&a=1' };
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts a path with characters that need encoding', async () => {
    const req = await smithySigned({ path: '/keys/my%20key%3A1/%C3%BCber/a%2Fb/' });
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts a path that needs normalising', async () => {
    const req = await smithySigned({ path: '/a/./b/../c//d' });
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts header values with extra whitespace and an empty body', async () => {
    const req = await smithySigned({ body: '', headers: { 'x-custom': '  a   b  c ' } });
    expect(authParts(req).signedHeaders).toContain('x-custom');
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  it('accepts Authorization components in any order without spaces after commas', async () => {
    const req = await smithySigned();
    const { credential, signedHeaders, signature } = authParts(req);
    req.headers['authorization'] =
      `AWS4-HMAC-SHA256 Signature=${signature},SignedHeaders=${signedHeaders},  Credential=${credential}`;
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });
});

describe('verifySigV4 against hand-computed vectors', () => {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

  it('accepts a signature computed by hand from an explicit canonical request', () => {
    const body = '{"KeyId":"alias/x"}';
    const canonicalRequest = [
      'POST',
      '/',
      'a=1&b=x%20y',
      'content-type:application/x-amz-json-1.1',
      'host:kms.us-east-1.amazonaws.com',
      'x-amz-date:20261123T122000Z',
      'x-amz-target:TrentService.Decrypt',
      '',
      'content-type;host;x-amz-date;x-amz-target',
      sha256hex(body),
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      '20261123T122000Z',
      '20261123/us-east-1/kms/aws4_request',
      sha256hex(canonicalRequest),
    ].join('\n');
    const kDate = hmac(`AWS4${SECRET}`, '20261123');
    const kSigning = hmac(hmac(hmac(kDate, 'us-east-1'), 'kms'), 'aws4_request');
    const signature = hmac(kSigning, stringToSign).toString('hex');

    const req: SignedRequest = {
      method: 'POST',
      path: '/',
      query: 'b=x%20y&a=1',
      headers: {
        host: 'kms.us-east-1.amazonaws.com',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-date': '20261123T122000Z',
        'x-amz-target': '  TrentService.Decrypt ',
        'user-agent': 'not signed',
        authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${signature}`,
      },
      body: Buffer.from(body),
    };
    expect(verifySigV4(req, options())).toEqual({ accessKeyId: AKID });
  });

  // AWS SigV4 test suite, "get-vanilla" and "get-vanilla-query-order-key-case".
  const suite = (query: string, signature: string): SignedRequest => ({
    method: 'GET',
    path: '/',
    query,
    headers: {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
    body: Buffer.alloc(0),
  });
  const suiteOptions = options({
    service: 'service',
    now: new Date('2015-08-30T12:36:00Z'),
    secretFor: (id) => (id === 'AKIDEXAMPLE' ? 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' : undefined),
  });

  it('accepts the AWS test-suite get-vanilla vector', () => {
    const req = suite('', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
    expect(verifySigV4(req, suiteOptions)).toEqual({ accessKeyId: 'AKIDEXAMPLE' });
  });

  it('accepts the AWS test-suite get-vanilla-query-order-key-case vector', () => {
    const req = suite(
      'Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    );
    expect(verifySigV4(req, suiteOptions)).toEqual({ accessKeyId: 'AKIDEXAMPLE' });
  });
});

describe('verifySigV4 rejections', () => {
  const MISMATCH = /does not match the signature you provided/;

  it('rejects a scope date that differs from x-amz-date', async () => {
    const req = await smithySigned();
    req.headers['authorization'] = (req.headers['authorization'] as string).replace('/20261123/', '/20261122/');
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(/Date in Credential scope does not match/);
  });

  it('rejects the wrong region', async () => {
    const req = await smithySigned({ region: 'eu-west-1' });
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(/^Credential should be scoped to a valid region\. This endpoint serves us-east-1, not 'eu-west-1'\.$/);
    // Served where the endpoint answers for that region too.
    expect(verifySigV4(req, options({ regions: [REGION, 'eu-west-1'] })).accessKeyId).toBe(AKID);
  });

  it('rejects the wrong service', async () => {
    const req = await smithySigned({ service: 's3' });
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow("Credential should be scoped to correct service: 'kms'.");
  });

  it('rejects a signed header tampered with after signing', async () => {
    const req = await smithySigned();
    req.headers['x-amz-target'] = 'TrentService.Decrypt';
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(MISMATCH);
  });

  it.each(['constructor', '__proto__', 'tostring'])('refuses SignedHeaders naming %s as any absent header (no prototype member is read)', async (name) => {
    const req = await smithySigned();
    const auth = String(req.headers.authorization).replace(/SignedHeaders=([^,]+)/, (_, list: string) => `SignedHeaders=${list};${name}`);
    req.headers.authorization = auth;
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(MISMATCH);
  });

  it('rejects a tampered body (no x-amz-content-sha256)', async () => {
    const req = await smithySigned({ applyChecksum: false });
    req.body = Buffer.from(JSON.stringify({ KeyId: 'alias/other', Plaintext: 'aGVsbG8=' }));
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(MISMATCH);
  });

  it('rejects a body that does not match x-amz-content-sha256', async () => {
    const req = await smithySigned();
    req.body = Buffer.from('{}');
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(/x-amz-content-sha256/);
  });

  it('rejects UNSIGNED-PAYLOAD', async () => {
    const req = await smithySigned({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(/UNSIGNED-PAYLOAD/);
  });

  it('rejects a request signed 6 minutes before now', async () => {
    const req = await smithySigned({ signingDate: minutes(-6) });
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(
      'Signature expired: 20261123T121400Z is now earlier than 20261123T121500Z (20261123T122000Z - 5 min.)',
    );
  });

  it('rejects a request signed 6 minutes after now', async () => {
    const req = await smithySigned({ signingDate: minutes(6) });
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(
      'Signature not yet current: 20261123T122600Z is still later than 20261123T122500Z (20261123T122000Z + 5 min.)',
    );
  });

  it('accepts requests within the allowed skew', async () => {
    expect(verifySigV4(await smithySigned({ signingDate: minutes(-4) }), options())).toEqual({ accessKeyId: AKID });
    expect(verifySigV4(await smithySigned({ signingDate: minutes(4) }), options())).toEqual({ accessKeyId: AKID });
  });

  it('honours a custom maxSkewMs', async () => {
    const req = await smithySigned({ signingDate: minutes(-4) });
    expect(() => verifySigV4(req, options({ maxSkewMs: 60_000 }))).toThrow(InvalidSignatureException);
  });

  it('rejects an unknown access key id', async () => {
    const req = await smithySigned({ accessKeyId: 'AKIAUNKNOWN000000000' });
    expect(() => verifySigV4(req, options())).toThrow(UnrecognizedClientException);
    expect(() => verifySigV4(req, options())).toThrow('The security token included in the request is invalid.');
  });

  it('rejects a signature made with the wrong secret, without leaking secrets', async () => {
    const req = await smithySigned({ secret: 'wrongSecret' });
    let error: unknown;
    try {
      verifySigV4(req, options());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidSignatureException);
    const message = (error as Error).message;
    expect(message).toMatch(MISMATCH);
    expect(message).not.toContain(SECRET);
    expect(message).not.toMatch(/[0-9a-f]{64}/);
  });

  it('rejects a request without Authorization', async () => {
    const req = await smithySigned();
    delete req.headers['authorization'];
    expect(() => verifySigV4(req, options())).toThrow(MissingAuthenticationTokenException);
    expect(() => verifySigV4(req, options())).toThrow('Missing Authentication Token');
  });

  it('rejects presigned (query-string) authentication', async () => {
    const req = await smithySigned();
    delete req.headers['authorization'];
    req.query = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00';
    expect(() => verifySigV4(req, options())).toThrow(IncompleteSignatureException);
  });

  it.each([
    ['another scheme', 'Bearer abc'],
    ['no components', 'AWS4-HMAC-SHA256'],
    ['missing Signature', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date`],
    ['short credential', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms, SignedHeaders=host, Signature=${'a'.repeat(64)}`],
    ['short signature', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=abc`],
    ['duplicate component', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, Credential=x, SignedHeaders=host, Signature=${'a'.repeat(64)}`],
    ['unknown component', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, Foo=bar, SignedHeaders=host, Signature=${'a'.repeat(64)}`],
    ['upper-case signed header', `AWS4-HMAC-SHA256 Credential=${AKID}/20261123/us-east-1/kms/aws4_request, SignedHeaders=Host, Signature=${'a'.repeat(64)}`],
  ])('rejects a malformed Authorization header (%s)', async (_name, authorization) => {
    const req = await smithySigned();
    req.headers['authorization'] = authorization;
    expect(() => verifySigV4(req, options())).toThrow(IncompleteSignatureException);
  });

  it('rejects SignedHeaders without host', async () => {
    const req = await smithySigned();
    req.headers['authorization'] = (req.headers['authorization'] as string).replace(
      /SignedHeaders=[^,]+/,
      'SignedHeaders=content-type;x-amz-date;x-amz-target',
    );
    expect(() => verifySigV4(req, options())).toThrow(IncompleteSignatureException);
    expect(() => verifySigV4(req, options())).toThrow(/Host/);
  });

  it('rejects a missing or unparsable x-amz-date', async () => {
    const req = await smithySigned();
    delete req.headers['x-amz-date'];
    expect(() => verifySigV4(req, options())).toThrow(IncompleteSignatureException);
    req.headers['x-amz-date'] = '20261323T122000Z';
    expect(() => verifySigV4(req, options())).toThrow(IncompleteSignatureException);
  });

  it('rejects a wrong terminator', async () => {
    const req = await smithySigned();
    req.headers['authorization'] = (req.headers['authorization'] as string).replace('/aws4_request', '/aws5_request');
    expect(() => verifySigV4(req, options())).toThrow(InvalidSignatureException);
  });
});

describe('headers that choose the operation must be signed', () => {
  it('refuses a request whose X-Amz-Target was added after signing (it could be replayed as another operation)', async () => {
    const req = await smithySigned();
    const { 'x-amz-target': target, ...rest } = req.headers;
    expect(target).toBe('TrentService.Encrypt');
    // Sign without the target, then add one: the signature alone would still verify.
    expect(Object.keys(rest).length).toBeGreaterThan(0);
    const resigned = await smithySigned({ omitTarget: true, omitContentType: true });
    expect(() => verifySigV4(resigned, options())).not.toThrow();
    const replayed = { ...resigned, headers: { ...resigned.headers, 'x-amz-target': 'TrentService.ScheduleKeyDeletion' } };
    expect(() => verifySigV4(replayed, options())).toThrow(IncompleteSignatureException);
  });

  it('accepts a Content-Type that was not signed, as AWS does (the AWS SDK for JavaScript v2 does not sign it)', async () => {
    const unsignedType = await smithySigned({ omitContentType: true });
    const withType = { ...unsignedType, headers: { ...unsignedType.headers, 'content-type': 'application/x-amz-json-1.1' } };
    expect(() => verifySigV4(withType, options())).not.toThrow();
  });
});
