import { parsePrincipalArn } from '../domain/principal-arn.js';
import type { RecordedResource } from './call-record.js';

/**
 * One audit event in the shape AWS CloudTrail writes for AWS KMS (CloudTrail
 * record contents, event version 1.11), so that tools that read CloudTrail read
 * this trail too.
 */
export interface AuditEvent {
  readonly eventVersion: string;
  readonly userIdentity: UserIdentity;
  readonly eventTime: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly awsRegion: string;
  readonly sourceIPAddress: string;
  readonly userAgent: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  readonly additionalEventData?: Record<string, unknown>;
  readonly requestID?: string;
  readonly eventID: string;
  readonly readOnly: boolean;
  readonly resources?: readonly AuditResource[];
  readonly eventType: 'AwsApiCall' | 'AwsServiceEvent';
  readonly managementEvent: true;
  readonly recipientAccountId: string;
  readonly serviceEventDetails?: Record<string, unknown>;
  readonly eventCategory: 'Management';
  readonly tlsDetails?: TlsDetails;
}

export interface UserIdentity {
  /** Root, IAMUser, Role; Unknown when the caller could not be authenticated. Absent for the service itself. */
  readonly type?: 'Root' | 'IAMUser' | 'Role' | 'Unknown';
  readonly principalId?: string;
  readonly arn?: string;
  readonly accountId?: string;
  readonly accessKeyId?: string;
  readonly userName?: string;
  /** Background actions of the service itself. */
  readonly invokedBy?: string;
}

export interface AuditResource {
  readonly ARN: string;
  readonly accountId: string;
  readonly type: 'AWS::KMS::Key';
}

export interface TlsDetails {
  readonly tlsVersion: string;
  readonly cipherSuite: string;
  readonly clientProvidedHostHeader: string;
}

export const EVENT_VERSION = '1.11';
export const KMS_EVENT_SOURCE = 'kms.amazonaws.com';
/** The project's own admin API (principals, access keys, identity policies). */
export const ADMIN_EVENT_SOURCE = 'admin.hsm-kms';
/** What CloudTrail writes for the caller, address and agent of a service's own action. */
export const SERVICE_INVOKER = 'AWS Internal';

/** The identity of an authenticated caller, or of an unauthenticated one by the access key id it claimed. */
export function userIdentity(principal: { arn: string; accountId: string; uniqueId?: string; accessKeyId: string } | undefined, claimedAccessKeyId: string | undefined): UserIdentity {
  if (!principal) return claimedAccessKeyId === undefined ? { type: 'Unknown' } : { type: 'Unknown', accessKeyId: claimedAccessKeyId };
  const parsed = parsePrincipalArn(principal.arn);
  const base = { arn: principal.arn, accountId: principal.accountId, accessKeyId: principal.accessKeyId };
  if (!parsed || parsed.kind === 'root') return { type: 'Root', principalId: principal.accountId, ...base };
  // The principal's unique id (AIDA..., AROA...), as CloudTrail writes it: a namesake made later has another.
  const principalId = principal.uniqueId ?? `${principal.accountId}:${parsed.name}`;
  return parsed.kind === 'user' ? { type: 'IAMUser', principalId, ...base, userName: parsed.name } : { type: 'Role', principalId, ...base };
}

export function auditResources(resources: readonly RecordedResource[]): AuditResource[] | undefined {
  return resources.length === 0 ? undefined : resources.map((r) => ({ ARN: r.arn, accountId: r.accountId, type: 'AWS::KMS::Key' }));
}

/** CloudTrail's eventTime: UTC to the second. */
export function eventTime(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/** Members whose own members CloudTrail also writes in camelCase (maps such as EncryptionContext keep their keys). */
const STRUCTURES: ReadonlySet<string> = new Set(['Constraints', 'Tags', 'KeyMetadata', 'ReplicaKeyMetadata', 'AccessKey', 'Principal']);

/** CloudTrail's member names: lower camel case, acronyms kept (KeyId -> keyId, AWSAccountId stays). */
export function cloudTrailName(name: string): string {
  return /^[A-Z]{2}/.test(name) ? name : name.charAt(0).toLowerCase() + name.slice(1);
}

function renamed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(renamed);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [cloudTrailName(k), v]));
}

/**
 * The named members of a request or response as CloudTrail writes them, or null
 * when none is present. Only listed members are ever copied: plaintexts, keys,
 * messages, signatures and secrets are never listed, and binary values are dropped.
 */
export function pickMembers(source: Record<string, unknown> | undefined, members: readonly string[]): Record<string, unknown> | null {
  if (!source) return null;
  const out: Record<string, unknown> = {};
  for (const name of members) {
    if (!Object.hasOwn(source, name)) continue;
    const value = source[name];
    if (value === undefined || Buffer.isBuffer(value) || value instanceof Uint8Array) continue;
    out[cloudTrailName(name)] = STRUCTURES.has(name) ? renamed(value) : value;
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** The key ids an event's resources name (alias resources left out). */
export function eventKeyIds(event: Record<string, unknown>): string[] {
  const resources = Array.isArray(event.resources) ? (event.resources as Array<{ ARN?: unknown } | null>) : [];
  return resources.flatMap((r) => {
    const m = typeof r?.ARN === 'string' ? /:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/.exec(r.ARN) : null;
    return m ? [m[1]!] : [];
  });
}
