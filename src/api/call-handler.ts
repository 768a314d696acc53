import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { CallRecord } from '../audit/call-record.js';
import { ADMIN_EVENT_SOURCE, KMS_EVENT_SOURCE, pickMembers, type TlsDetails } from '../audit/event.js';
import { InvalidSignatureException, KMSInternalException, KmsError, SerializationException, UnknownOperationException, UnsupportedOperationException } from '../domain/errors.js';
import type { AuditRecorder } from '../services/audit/audit-recorder.js';
import type { CallContext } from '../services/context.js';
import type { Clock, CredentialDirectory, Principal } from '../services/ports/index.js';
import { ADMIN_OPERATIONS, ADMIN_TARGET_PREFIX } from './admin/admin-operations.js';
import type { AuditSpec, Operation, Output, Services } from './operation.js';
import { OPERATIONS } from './operations/index.js';
import { asKmsError, encodeError, encodeOutput, httpStatusOf, JSON_CONTENT_TYPE, TARGET_PREFIX, validationError } from './protocol.js';
import { readAuthorization, verifySigV4, type ParsedAuthorization } from './sigv4.js';
import { callerIdentityXml, isStsQuery, stsAction, stsCodeOf, stsErrorXml, STS_EVENT_SOURCE, XML_CONTENT_TYPE } from './sts-protocol.js';

/** One request as it arrived, whatever carried it. */
export interface RawCall {
  readonly method: string;
  /** Path and query string. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Set when the transport could not read the body (too large, broken): the call is refused with it. */
  readonly bodyError?: KmsError;
  readonly sourceIp: string | undefined;
  readonly tls: TlsDetails | undefined;
}

export interface CallAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface CallHandlerDeps {
  readonly services: Services;
  /** Told of every answered call: its operation (Unknown for a target that names none), outcome (Success or the AWS error name) and seconds. */
  readonly observe?: (operation: string, outcome: string, seconds: number) => void;
  readonly credentials: CredentialDirectory;
  readonly audit: AuditRecorder;
  /** The regions this endpoint answers for, the default one first (where events of calls signed for none go). */
  readonly regions: readonly string[];
  /** The service's default account: where events of unauthenticated callers go. */
  readonly accountId: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

const UNAVAILABLE = 'The audit trail cannot be written at the moment, so the request was not performed. It can be retried.';

/**
 * The AWS JSON 1.1 protocol without its transport: authenticate, parse,
 * authorize and dispatch, then record the call's audit event and answer only
 * once the event is written (on disk, for state changes). Every call gets one
 * event, refused ones too. No domain decision is taken here.
 */
export class CallHandler {
  /** Calls being answered: a graceful stop lets them finish (and record their events) first. */
  private readonly inFlight = new Set<Promise<CallAnswer>>();

  constructor(private readonly deps: CallHandlerDeps) {}

  handle(call: RawCall): Promise<CallAnswer> {
    const answer = this.answer(call);
    this.inFlight.add(answer);
    const done = () => void this.inFlight.delete(answer);
    answer.then(done, done);
    return answer;
  }

  /** Resolves once every call under way has been answered, or after timeoutMs. */
  async settle(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private answer(call: RawCall): Promise<CallAnswer> {
    return isStsQuery(call.method, call.headers) ? this.answerSts(call) : this.answerKms(call);
  }

  /** STS's GetCallerIdentity, which the AWS CLI and SDKs send to the same endpoint: who the caller is. */
  private async answerSts(call: RawCall): Promise<CallAnswer> {
    const { deps } = this;
    const requestId = randomUUID();
    const startedAt = process.hrtime.bigint();
    const at = new Date();
    const action = stsAction(call.body);
    let principal: Principal | undefined;
    let authorization: ParsedAuthorization | undefined;
    let error: KmsError | undefined;
    try {
      if (!deps.audit.writable) throw new KMSInternalException(UNAVAILABLE);
      if (call.bodyError) throw call.bodyError;
      authorization = readAuthorization(call.headers);
      principal = await this.authenticate(call, authorization, 'sts');
      if (action !== 'GetCallerIdentity') throw new UnsupportedOperationException(`Only GetCallerIdentity is served of STS, not ${String(action).slice(0, 64)}.`);
    } catch (e) {
      error = asKmsError(e);
    }
    await deps.audit
      .apiCall({
        requestId,
        eventSource: STS_EVENT_SOURCE,
        eventName: action === 'GetCallerIdentity' ? action : 'UnknownOperation',
        at,
        ...this.callerFacts(call, principal, authorization),
        requestParameters: null,
        responseElements: null,
        readOnly: true,
        durable: false,
        cryptographic: false,
        record: new CallRecord(),
        error: error && { code: stsCodeOf(error), message: error.message },
      })
      .catch((e: unknown) => {
        deps.logger.error({ requestId, err: e }, 'audit event not written; the call is answered with an error');
        error = new KMSInternalException(UNAVAILABLE);
      });
    const headers = { 'content-type': XML_CONTENT_TYPE, 'x-amzn-RequestId': requestId };
    deps.observe?.('sts:GetCallerIdentity', error ? stsCodeOf(error) : 'Success', Number(process.hrtime.bigint() - startedAt) / 1e9);
    if (error) {
      const { status, body } = stsErrorXml(error, requestId);
      return { status, headers, body };
    }
    return { status: 200, headers, body: callerIdentityXml({ arn: principal!.arn, userId: principal!.uniqueId, account: principal!.accountId }, requestId) };
  }

  private async answerKms(call: RawCall): Promise<CallAnswer> {
    const { deps } = this;
    const requestId = randomUUID();
    const startedAt = process.hrtime.bigint();
    const at = new Date();
    const record = new CallRecord();
    const target = singleValue(call.headers['x-amz-target']);
    const operation = operationFor(target);
    const body = parseBody(call.body);
    // The Authorization header is parsed once: for the credential lookup, the signature check and the event.
    let authorization: ParsedAuthorization | undefined;
    let authorizationError: unknown;
    try {
      authorization = readAuthorization(call.headers);
    } catch (e) {
      authorizationError = e;
    }
    let principal: Principal | undefined;
    let output: Output | undefined;
    let error: KmsError | undefined;
    try {
      // Fail closed, first of all: nothing is done, and nothing is told (not even whether a credential exists), that the trail could not record.
      if (!deps.audit.writable) throw new KMSInternalException(UNAVAILABLE);
      if (call.bodyError) throw call.bodyError;
      if (authorizationError !== undefined) throw authorizationError;
      principal = await this.authenticate(call, authorization);
      if (!operation) throw new UnknownOperationException(target ? `Unknown operation ${target}` : 'Missing X-Amz-Target header');
      if (body instanceof KmsError) throw body;
      const parsed = operation.input.safeParse(body);
      if (!parsed.success) throw validationError(parsed.error, body);
      const ctx: CallContext = {
        requestId,
        principal,
        // Verified: the region the request was signed for is one this endpoint answers for.
        scope: { region: authorization!.scopeRegion, accountId: principal.accountId },
        request: { sourceIp: call.sourceIp, secureTransport: call.tls !== undefined, grantTokens: (parsed.data as { GrantTokens?: string[] }).GrantTokens ?? [] },
        record,
        quotasCharged: new Set(),
      };
      output = await operation.handle(deps.services, ctx, parsed.data);
    } catch (e) {
      error = asKmsError(e);
      if (!(e instanceof KmsError)) deps.logger.error({ requestId, err: e }, 'unexpected error');
    }

    const spec: AuditSpec | undefined = operation?.audit;
    try {
      await deps.audit.apiCall({
        requestId,
        eventSource: target?.startsWith(ADMIN_TARGET_PREFIX) ? ADMIN_EVENT_SOURCE : KMS_EVENT_SOURCE,
        eventName: operation?.name ?? eventNameOf(target),
        at,
        ...this.callerFacts(call, principal, authorization),
        requestParameters: spec && !(body instanceof KmsError) ? pickMembers(body, spec.request) : null,
        responseElements: spec && output ? responseElements(spec, output, record) : null,
        readOnly: spec?.readOnly ?? spec?.kind !== 'change',
        durable: spec?.kind === 'change' && (!error || httpStatusOf(error) >= 500),
        cryptographic: spec?.kind === 'crypto',
        record,
        error: error && { code: error.awsName, message: error.message },
      });
    } catch (e) {
      // The answer waits for its event: without one, the caller learns only that the call failed.
      deps.logger.error({ requestId, err: e }, 'audit event not written; the call is answered with an error');
      error = new KMSInternalException(UNAVAILABLE);
    }

    const status = error ? httpStatusOf(error) : 200;
    const failed = error !== undefined && status >= 500;
    // Built only when written: at the default level, a successful call logs nothing.
    if (failed || deps.logger.isLevelEnabled('debug')) {
      const line = {
        requestId,
        op: operation?.name ?? target,
        keyId: record.resources.find((r) => r.keyId !== undefined)?.arn,
        principal: principal?.arn,
        status,
        outcome: error ? error.awsName : 'ok',
        latencyMs: Math.round(Number(process.hrtime.bigint() - startedAt) / 1e3) / 1e3,
      };
      if (failed) deps.logger.error({ ...line, message: error!.message, detail: error!.detail }, 'request failed');
      else deps.logger.debug(line, 'request');
    }

    deps.observe?.(operation?.name ?? 'Unknown', error ? error.awsName : 'Success', Number(process.hrtime.bigint() - startedAt) / 1e9);
    const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-RequestId': requestId };
    if (error) return { status, headers: { ...headers, 'x-amzn-ErrorType': error.awsName }, body: encodeError(error) };
    return { status, headers, body: encodeOutput(output!) };
  }

  /** What every audit event says of the caller and the connection, whatever the protocol. */
  private callerFacts(call: RawCall, principal: Principal | undefined, authorization: ParsedAuthorization | undefined) {
    return {
      region: authorization !== undefined && this.deps.regions.includes(authorization.scopeRegion) ? authorization.scopeRegion : this.deps.regions[0]!,
      recipientAccountId: principal?.accountId ?? this.deps.accountId,
      principal,
      claimedAccessKeyId: authorization?.accessKeyId,
      sourceIp: call.sourceIp,
      userAgent: singleValue(call.headers['user-agent']),
      tls: call.tls,
    };
  }

  /** Authentication comes before anything else, as in AWS: an unsigned request learns nothing. */
  private async authenticate(call: RawCall, authorization: ParsedAuthorization | undefined, service: 'kms' | 'sts' = 'kms'): Promise<Principal> {
    const claimed = authorization?.accessKeyId;
    const credential = claimed === undefined ? undefined : await this.deps.credentials.lookup(claimed);
    // KMS_DEV_CONVENIENCES (development profile on loopback only): any access key is the account root, unchecked.
    if (credential?.anyKey) {
      // Unchecked signature, but a region this endpoint answers for, as a checked one must be.
      if (!this.deps.regions.includes(authorization!.scopeRegion)) throw new InvalidSignatureException(`Credential should be scoped to a valid region. This endpoint serves ${this.deps.regions.join(', ')}.`);
      return credential.principal;
    }
    const q = call.url.indexOf('?');
    verifySigV4(
      { method: call.method, path: q < 0 ? call.url : call.url.slice(0, q), query: q < 0 ? '' : call.url.slice(q + 1), headers: call.headers, body: call.body },
      {
        regions: this.deps.regions,
        service,
        now: this.deps.clock.now(),
        secretFor: (id) => (id === claimed ? credential?.secretAccessKey : undefined),
      },
      authorization,
    );
    return credential!.principal;
  }
}

/**
 * What CloudTrail logs of an answer: the listed members, and for a state change
 * the key's ARN as responseElements.keyId (AWS adds it since December 2022).
 */
function responseElements(spec: AuditSpec, output: Output, record: CallRecord): Record<string, unknown> | null {
  const picked = typeof spec.response === 'function' ? spec.response(output) : pickMembers(output, spec.response ?? []);
  if (spec.kind !== 'change' || picked?.keyMetadata !== undefined || picked?.keyId !== undefined) return picked;
  const key = record.resources.find((r) => r.keyId !== undefined);
  return key ? { ...picked, keyId: key.arn } : picked;
}

function operationFor(target: string | undefined): Operation | undefined {
  if (target?.startsWith(TARGET_PREFIX)) return OPERATIONS.get(target.slice(TARGET_PREFIX.length));
  if (target?.startsWith(ADMIN_TARGET_PREFIX)) return ADMIN_OPERATIONS.get(target.slice(ADMIN_TARGET_PREFIX.length));
  return undefined;
}

/** The name a refused call with an unknown target is recorded under (bounded: the caller chose it). */
function eventNameOf(target: string | undefined): string {
  if (!target) return 'UnknownOperation';
  const name = target.slice(target.indexOf('.') + 1);
  return name.slice(0, 128) || 'UnknownOperation';
}

function singleValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}


function parseBody(body: Buffer): Record<string, unknown> | KmsError {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return new SerializationException('Start of structure or map found where not expected, or the body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return new SerializationException('The request body must be a JSON object.');
  return value as Record<string, unknown>;
}
