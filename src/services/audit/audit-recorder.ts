import { randomUUID } from 'node:crypto';
import type { CallRecord } from '../../audit/call-record.js';
import {
  auditResources,
  eventKeyIds,
  EVENT_VERSION,
  eventTime,
  KMS_EVENT_SOURCE,
  SERVICE_INVOKER,
  userIdentity,
  type AuditEvent,
  type TlsDetails,
} from '../../audit/event.js';
import type { AuditSink } from '../../audit/ports.js';
import { awsKeyId, storeKeyId, type KmsKey } from '../../domain/key.js';
import type { KeyUsageTracker } from '../keys/key-usage.js';
import type { Clock, Principal } from '../ports/index.js';

/** Everything the protocol edge knows about one answered call. */
export interface ApiCallFacts {
  readonly requestId: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly at: Date;
  readonly region: string;
  /** The account the event belongs to: the caller's, or the service's default for an unauthenticated caller. */
  readonly recipientAccountId: string;
  readonly principal: Principal | undefined;
  readonly claimedAccessKeyId: string | undefined;
  readonly sourceIp: string | undefined;
  readonly userAgent: string | undefined;
  readonly tls: TlsDetails | undefined;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  readonly readOnly: boolean;
  /** Whether the answer waits for the event to be on disk (state changes). */
  readonly durable: boolean;
  /** A cryptographic operation: a success counts as the last use of its keys. */
  readonly cryptographic: boolean;
  readonly record: CallRecord;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/** Background actions of the service itself (rotation, destruction, expiry, recovery). */
export interface ServiceEvents {
  /** Resolves once the event is on disk. */
  serviceEvent(eventName: string, key: Pick<KmsKey, 'keyId' | 'arn' | 'accountId' | 'region'>, details: Record<string, unknown>): Promise<void>;
}

/** CloudTrail's limit for errorMessage. */
const MAX_MESSAGE = 1024;

/**
 * Turns answered calls and background actions into audit events, hands them to
 * the sink, and counts successful cryptographic calls as the last use of their
 * keys (once their event is written, so the CloudTrailEventId it names exists).
 */
export class AuditRecorder implements ServiceEvents {
  constructor(
    private readonly sink: AuditSink,
    private readonly usage: KeyUsageTracker,
    private readonly clock: Clock,
  ) {}

  /** False while the trail cannot be written: calls are then refused before they do anything. */
  get writable(): boolean {
    return this.sink.writable;
  }

  async apiCall(f: ApiCallFacts): Promise<void> {
    const eventID = randomUUID();
    const r = f.record;
    const data: Record<string, unknown> = {};
    if (r.keyMaterialIds.length === 1) data.keyMaterialId = r.keyMaterialIds[0];
    else if (r.keyMaterialIds.length === 2) [data.sourceKeyMaterialId, data.destinationKeyMaterialId] = r.keyMaterialIds;
    if (r.authorizedBy) data.authorizedBy = r.authorizedBy;
    if (r.grantId) data.grantId = r.grantId;
    const event: AuditEvent = {
      eventVersion: EVENT_VERSION,
      userIdentity: userIdentity(f.principal, f.claimedAccessKeyId),
      eventTime: eventTime(f.at),
      eventSource: f.eventSource,
      eventName: f.eventName,
      awsRegion: f.region,
      sourceIPAddress: f.sourceIp ?? 'unknown',
      userAgent: (f.userAgent ?? '').slice(0, MAX_MESSAGE),
      ...(f.error ? { errorCode: f.error.code, errorMessage: f.error.message.slice(0, MAX_MESSAGE) } : {}),
      requestParameters: f.requestParameters,
      responseElements: f.error ? null : f.responseElements,
      ...(Object.keys(data).length > 0 ? { additionalEventData: data } : {}),
      requestID: f.requestId,
      eventID,
      readOnly: f.readOnly,
      ...(r.resources.length > 0 ? { resources: auditResources(r.resources) } : {}),
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: f.recipientAccountId,
      eventCategory: 'Management',
      ...(f.tls ? { tlsDetails: f.tls } : {}),
    };
    await this.sink.append(event, f.durable);
    if (f.cryptographic && !f.error) {
      const usage = { operation: f.eventName, timestamp: f.at, eventId: eventID, requestId: f.requestId };
      for (const keyId of r.keyIds) this.usage.record(keyId, usage);
    }
  }

  /**
   * After a crash: the last uses of keys that the store had not taken yet, from
   * the trail's own events (successful calls of the given cryptographic operations).
   */
  replayUsage(events: ReadonlyArray<Record<string, unknown>>, cryptographic: ReadonlySet<string>): number {
    let replayed = 0;
    for (const e of events) {
      const { eventName: operation, eventTime, eventID: eventId, requestID: requestId } = e;
      if (e.eventType !== 'AwsApiCall' || e.errorCode !== undefined || typeof operation !== 'string' || !cryptographic.has(operation)) continue;
      if (typeof eventTime !== 'string' || typeof eventId !== 'string' || typeof requestId !== 'string') continue;
      const usage = { operation, timestamp: new Date(eventTime), eventId, requestId };
      if (Number.isNaN(usage.timestamp.getTime())) continue;
      for (const keyId of eventKeyIds(e)) {
        // A multi-Region key's uses are its region's key's.
        this.usage.record(storeKeyId(keyId, typeof e.awsRegion === 'string' ? e.awsRegion : ''), usage);
        replayed++;
      }
    }
    return replayed;
  }

  async serviceEvent(eventName: string, key: Pick<KmsKey, 'keyId' | 'arn' | 'accountId' | 'region'>, details: Record<string, unknown>): Promise<void> {
    const event: AuditEvent = {
      eventVersion: EVENT_VERSION,
      userIdentity: { accountId: key.accountId, invokedBy: SERVICE_INVOKER },
      eventTime: eventTime(this.clock.now()),
      eventSource: KMS_EVENT_SOURCE,
      eventName,
      awsRegion: key.region,
      sourceIPAddress: SERVICE_INVOKER,
      userAgent: SERVICE_INVOKER,
      requestParameters: null,
      responseElements: null,
      eventID: randomUUID(),
      readOnly: false,
      resources: auditResources([{ arn: key.arn, accountId: key.accountId, keyId: key.keyId }]),
      eventType: 'AwsServiceEvent',
      managementEvent: true,
      recipientAccountId: key.accountId,
      serviceEventDetails: { keyId: awsKeyId(key.keyId), ...details },
      eventCategory: 'Management',
    };
    await this.sink.append(event, true);
  }
}
