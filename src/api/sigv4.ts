/**
 * AWS Signature Version 4 verification for header-signed requests
 * (`Authorization: AWS4-HMAC-SHA256 ...`), as a non-S3 service sees them.
 *
 * Pure function of the request, the injected clock and the secret lookup;
 * node:crypto only. Error messages follow AWS's wording and never contain the
 * secret or the signature we compute.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import {
  IncompleteSignatureException,
  InvalidSignatureException,
  MissingAuthenticationTokenException,
  UnrecognizedClientException,
} from '../domain/errors.js';

export interface SignedRequest {
  method: string;
  /** Raw request path as received (still percent-encoded), without the query. */
  path: string;
  /** Raw query string without '?', may be ''. */
  query: string;
  /** Node's IncomingMessage.headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SigV4Options {
  /** The regions this endpoint answers for: a credential scoped to another is refused. */
  regions: readonly string[];
  service: string;
  now: Date;
  /** Allowed clock skew either way; default 5 minutes. */
  maxSkewMs?: number;
  /** Secret access key for an access key id; undefined = unknown key. */
  secretFor(accessKeyId: string): string | undefined;
}

export interface VerifiedCaller {
  accessKeyId: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SIGNATURE_RE = /^[0-9a-f]{64}$/;
// RFC 7230 token, lower-case only (SigV4 requires lower-case signed header names).
const HEADER_NAME_RE = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

export interface ParsedAuthorization {
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  scopeTerminator: string;
  signedHeaders: string[];
  signature: string;
}

/** The Authorization header, parsed (once per request: verifySigV4 takes the result); undefined when there is none. Throws for a malformed one. */
export function readAuthorization(headers: SignedRequest['headers']): ParsedAuthorization | undefined {
  const authorization = singleHeader(headers, 'authorization');
  return authorization === undefined ? undefined : parseAuthorization(authorization);
}

export function verifySigV4(req: SignedRequest, opts: SigV4Options, auth: ParsedAuthorization | undefined = readAuthorization(req.headers)): VerifiedCaller {
  if (auth === undefined) {
    // Query-string (presigned) authentication is deliberately not supported:
    // KMS calls are POSTs with a JSON body, and every SDK signs them with a header.
    if (/(?:^|&)X-Amz-Algorithm=/i.test(req.query)) {
      throw new IncompleteSignatureException(
        'Query-string authentication is not supported by this service; sign the request with an Authorization header.',
      );
    }
    throw new MissingAuthenticationTokenException('Missing Authentication Token');
  }

  if (!auth.signedHeaders.includes('host')) {
    throw new IncompleteSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  // Headers that choose what the request does must be covered by the signature, or a
  // captured request could be replayed as another operation (X-Amz-Target). Content-Type
  // need not be, as in AWS: the AWS SDK for JavaScript v2 does not sign it, and only
  // AWS's JSON 1.1 is spoken here whatever it says.
  for (const name of Object.keys(req.headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && lower !== 'x-amz-content-sha256' && !auth.signedHeaders.includes(lower)) {
      throw new IncompleteSignatureException(`'${lower}' must be a 'SignedHeader' in the AWS Authorization.`);
    }
  }
  const { amzDate, timeMs } = requestDate(req.headers);

  if (auth.scopeDate !== amzDate.slice(0, 8)) {
    throw new InvalidSignatureException(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (!opts.regions.includes(auth.scopeRegion)) {
    // AWS's words, and the regions this endpoint answers for, which AWS leaves the caller to guess.
    throw new InvalidSignatureException(`Credential should be scoped to a valid region. This endpoint serves ${opts.regions.join(', ')}, not '${auth.scopeRegion.slice(0, 32)}'.`);
  }
  if (auth.scopeService !== opts.service) {
    throw new InvalidSignatureException(`Credential should be scoped to correct service: '${opts.service}'.`);
  }
  if (auth.scopeTerminator !== TERMINATOR) {
    throw new InvalidSignatureException(
      `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${auth.scopeTerminator}'.`,
    );
  }

  const secret = opts.secretFor(auth.accessKeyId);
  if (secret === undefined) {
    throw new UnrecognizedClientException('The security token included in the request is invalid.');
  }

  checkSkew(amzDate, timeMs, opts.now, opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);

  // One-shot hashing (crypto.hash): no Hash object per request.
  const payloadHash = hash('sha256', req.body, 'hex');
  const declaredHash = singleHeader(req.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined) {
    if (declaredHash === 'UNSIGNED-PAYLOAD') {
      throw new InvalidSignatureException("This service requires signed payloads; 'UNSIGNED-PAYLOAD' is not supported.");
    }
    if (declaredHash.toLowerCase() !== payloadHash) {
      throw new InvalidSignatureException("The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  }

  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalUri(req.path),
    canonicalQuery(req.query),
    canonicalHeaders(req.headers, auth.signedHeaders),
    auth.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${auth.scopeDate}/${auth.scopeRegion}/${auth.scopeService}/${TERMINATOR}`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;

  const expected = hmac(signingKey(auth.accessKeyId, secret, auth, scope), stringToSign);
  const provided = Buffer.from(auth.signature, 'hex'); // 32 bytes: format checked in parseAuthorization

  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    throw new InvalidSignatureException(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { accessKeyId: auth.accessKeyId };
}

interface CachedSigningKey {
  readonly secret: string;
  readonly key: Buffer;
}

const MAX_CACHED_SIGNING_KEYS = 1024;
const signingKeys = new Map<string, CachedSigningKey>();

/**
 * The derived key changes once a day per credential and scope, so it is cached:
 * four of the five HMACs per request are saved. A changed secret misses the cache.
 */
function signingKey(accessKeyId: string, secret: string, auth: ParsedAuthorization, scope: string): Buffer {
  const cacheKey = `${accessKeyId}/${scope}`;
  const cached = signingKeys.get(cacheKey);
  if (cached && cached.secret === secret) return cached.key;
  let key = hmac(`AWS4${secret}`, auth.scopeDate);
  key = hmac(key, auth.scopeRegion);
  key = hmac(key, auth.scopeService);
  key = hmac(key, TERMINATOR);
  if (signingKeys.size >= MAX_CACHED_SIGNING_KEYS) signingKeys.delete(signingKeys.keys().next().value!); // the oldest
  signingKeys.set(cacheKey, { secret, key });
  return key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * A header by its lower-case name, own properties only: node's header object has
 * Object's prototype, so a signed header named `constructor` or `__proto__` would
 * otherwise read a function.
 */
function ownHeader(headers: SignedRequest['headers'], name: string): string | string[] | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined;
}

/** A header that must occur at most once (Node already drops or joins most duplicates). */
function singleHeader(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = ownHeader(headers, name);
  if (Array.isArray(value)) {
    if (value.length > 1) throw new IncompleteSignatureException(`Multiple '${name}' headers are not allowed.`);
    return value[0];
  }
  return value;
}

function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new IncompleteSignatureException(
      `Unsupported AWS 'algorithm': only '${ALGORITHM}' is accepted in the Authorization header.`,
    );
  }
  const parts = new Map<string, string>();
  for (const component of space < 0 ? [] : trimmed.slice(space + 1).split(',')) {
    const c = component.trim();
    const eq = c.indexOf('=');
    const name = eq < 0 ? c : c.slice(0, eq);
    if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
      throw new IncompleteSignatureException(
        `Authorization header has an unexpected component '${name.slice(0, 32)}'; expected 'Credential', 'SignedHeaders' and 'Signature'.`,
      );
    }
    if (eq < 0 || parts.has(name)) {
      throw new IncompleteSignatureException(`Authorization header must contain exactly one '${name}=' parameter.`);
    }
    parts.set(name, c.slice(eq + 1));
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((n) => !parts.has(n));
  if (missing.length > 0) {
    throw new IncompleteSignatureException(
      missing.map((n) => `Authorization header requires '${n}' parameter.`).join(' '),
    );
  }

  const credential = (parts.get('Credential') ?? '').split('/');
  const [accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator] = credential;
  if (
    credential.length !== 5 ||
    !accessKeyId ||
    !scopeDate ||
    !scopeRegion ||
    !scopeService ||
    !scopeTerminator
  ) {
    throw new IncompleteSignatureException(
      "Credential must have the form '<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'.",
    );
  }

  const signedHeaders = (parts.get('SignedHeaders') ?? '').split(';');
  if (!signedHeaders.every((h) => HEADER_NAME_RE.test(h))) {
    throw new IncompleteSignatureException(
      'SignedHeaders must be a non-empty, semicolon-separated list of lower-case header names.',
    );
  }

  const signature = parts.get('Signature') ?? '';
  if (!SIGNATURE_RE.test(signature)) {
    throw new IncompleteSignatureException('Signature must be 64 lower-case hexadecimal characters.');
  }

  return { accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator, signedHeaders, signature };
}

/** The request time from X-Amz-Date (ISO 8601 basic) or, failing that, Date (ISO basic or HTTP-date). */
function requestDate(headers: SignedRequest['headers']): { amzDate: string; timeMs: number } {
  const amz = singleHeader(headers, 'x-amz-date');
  const raw = amz ?? singleHeader(headers, 'date');
  if (raw === undefined) {
    throw new IncompleteSignatureException(
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  const value = raw.trim();
  const m = AMZ_DATE_RE.exec(value);
  if (m) {
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    // Out-of-range fields are refused (Date.UTC would silently roll them over); in range, the value is its own canonical form.
    if (date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s) {
      return { amzDate: value, timeMs: date.getTime() };
    }
  }
  const timeMs = m || amz !== undefined ? Number.NaN : Math.floor(Date.parse(value) / 1000) * 1000;
  if (!Number.isFinite(timeMs)) {
    throw new IncompleteSignatureException(
      `Date must be in ISO-8601 'basic format'. Got '${value.slice(0, 40)}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  return { amzDate: formatAmzDate(timeMs), timeMs };
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function checkSkew(amzDate: string, timeMs: number, now: Date, maxSkewMs: number): void {
  const nowMs = now.getTime();
  const minutes = `${maxSkewMs / 60_000} min.`;
  if (timeMs < nowMs - maxSkewMs) {
    throw new InvalidSignatureException(
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(nowMs - maxSkewMs)} (${formatAmzDate(nowMs)} - ${minutes})`,
    );
  }
  if (timeMs > nowMs + maxSkewMs) {
    throw new InvalidSignatureException(
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(nowMs + maxSkewMs)} (${formatAmzDate(nowMs)} + ${minutes})`,
    );
  }
}

/** RFC 3986 encoding: everything but unreserved characters (A-Z a-z 0-9 - _ . ~) is %XX (UTF-8). */
function uriEncode(value: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    // Lone surrogates cannot come from an HTTP request line; fail closed.
    throw new InvalidSignatureException('The request path or query string is not valid.');
  }
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Canonical URI for non-S3 services: the raw (already percent-encoded) path is
 * normalised ('.', '..' and empty segments removed) and each segment encoded
 * once more — i.e. twice relative to the decoded path, as the AWS SDKs do.
 */
function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(segment));
  }
  if (segments.length === 0) return '/';
  return `/${segments.join('/')}${path.endsWith('/') ? '/' : ''}`;
}

function uriDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // malformed escape: sign it as sent (its '%' gets encoded)
  }
}

/** Canonical query: each key and value decoded, re-encoded, then sorted by key then value. */
function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(uriDecode(key)), uriEncode(uriDecode(value))]);
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaderValue(value: string): string {
  return value.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

function canonicalHeaders(headers: SignedRequest['headers'], signed: string[]): string {
  let out = '';
  for (const name of signed) {
    const value = ownHeader(headers, name);
    const canonical =
      value === undefined
        ? ''
        : Array.isArray(value)
          ? value.map(canonicalHeaderValue).join(',')
          : canonicalHeaderValue(value);
    out += `${name}:${canonical}\n`;
  }
  return out; // ends with '\n', so joining with '\n' yields the blank line the spec requires
}
