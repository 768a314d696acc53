/**
 * Table-driven tests of the IAM-style policy evaluator (src/domain/policy), each
 * case written from AWS's documentation of the rule it checks; `cite` names the
 * page and the rule and is printed in the test name.
 */
import { describe, expect, it } from 'vitest';
import { defaultKeyPolicy } from '../../src/domain/default-policy.js';
import { MalformedPolicyDocumentException } from '../../src/domain/errors.js';
import { normalizeConditionKey } from '../../src/domain/policy/conditions.js';
import { combineVerdicts, decide, denialMessage, type DenialReason, type PolicyDecision } from '../../src/domain/policy/decision.js';
import { MAX_POLICY_BYTES, Policy, type PolicyKind, type PolicyPrincipal, type PolicyRequest, type PolicyVerdict } from '../../src/domain/policy/policy.js';
import { rootArn } from '../../src/domain/principal-arn.js';

// ---------------------------------------------------------------------------
// Documentation pages the cases cite.
const IAM = 'https://docs.aws.amazon.com/IAM/latest/UserGuide';
const KMS = 'https://docs.aws.amazon.com/kms/latest/developerguide';
const OPS = `${IAM}/reference_policies_elements_condition_operators.html`;
const MULTI = `${IAM}/reference_policies_multi-value-conditions.html`;
const MULTI_EX = `${IAM}/reference_policies_condition_examples-multi-valued-context-keys.html`;
const GLOBAL = `${IAM}/reference_policies_condition-keys.html`;
const EVAL = `${IAM}/reference_policies_evaluation-logic.html`;
const ACTION = `${IAM}/reference_policies_elements_action.html`;
const NOT_ACTION = `${IAM}/reference_policies_elements_notaction.html`;
const RESOURCE = `${IAM}/reference_policies_elements_resource.html`;
const NOT_RESOURCE = `${IAM}/reference_policies_elements_notresource.html`;
const PRINCIPAL = `${IAM}/reference_policies_elements_principal.html`;
const NOT_PRINCIPAL = `${IAM}/reference_policies_elements_notprincipal.html`;
const KMS_KEYS = `${KMS}/conditions-kms.html`;
const DEFAULT_POLICY = `${KMS}/key-policy-default.html`;
const CROSS_ACCOUNT = `${KMS}/key-policy-modifying-external-accounts.html`;
const KEY_POLICIES = `${KMS}/key-policies.html`;
const IAM_POLICIES = `${KMS}/iam-policies.html`;
const TROUBLESHOOT = `${KMS}/policy-evaluation.html`;
const QUOTAS = `${KMS}/resource-limits.html`;

// ---------------------------------------------------------------------------
// Principals, resources and request helpers.
const ACCOUNT = '111122223333';
const OTHER = '444455556666';
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
const FOREIGN_KEY_ARN = `arn:aws:kms:us-east-1:${OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const alice: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT };
const carol: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:user/carol`, accountId: ACCOUNT };
const adminRole: PolicyPrincipal = { arn: `arn:aws:iam::${ACCOUNT}:role/AdminOps`, accountId: ACCOUNT };
const root: PolicyPrincipal = { arn: rootArn(ACCOUNT), accountId: ACCOUNT };
const bob: PolicyPrincipal = { arn: `arn:aws:iam::${OTHER}:user/bob`, accountId: OTHER };
const otherRoot: PolicyPrincipal = { arn: rootArn(OTHER), accountId: OTHER };

/** Condition values as written in the documentation; names are normalised as the evaluator expects. */
type Ctx = Record<string, string | readonly string[]>;

function req(ctx: Ctx = {}, over: { action?: string; resource?: string; principal?: PolicyPrincipal } = {}): PolicyRequest {
  const conditions = new Map<string, readonly string[]>();
  for (const [name, value] of Object.entries(ctx)) conditions.set(normalizeConditionKey(name), typeof value === 'string' ? [value] : [...value]);
  return { action: over.action ?? 'kms:Encrypt', resource: over.resource ?? KEY_ARN, principal: over.principal ?? alice, conditions };
}

type Statement = Record<string, unknown>;
const doc = (statements: readonly Statement[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/** An identity-policy statement allowing every KMS action when the condition holds. */
const allowIf = (Condition: Record<string, unknown>): Statement => ({ Effect: 'Allow', Action: 'kms:*', Resource: '*', Condition });
const denyIf = (Condition: Record<string, unknown>): Statement => ({ Effect: 'Deny', Action: 'kms:*', Resource: '*', Condition });
const ALLOW_ALL: Statement = { Effect: 'Allow', Action: 'kms:*', Resource: '*' };
const keyStmt = (Effect: 'Allow' | 'Deny', AWS: string | string[], Action: string | string[] = 'kms:*', extra: Statement = {}): Statement => ({
  Effect,
  Principal: { AWS },
  Action,
  Resource: '*',
  ...extra,
});

const ALLOW: PolicyVerdict = { deny: false, allow: true, delegatedAllow: false };
const DELEGATED: PolicyVerdict = { deny: false, allow: false, delegatedAllow: true };
const DENY: PolicyVerdict = { deny: true, allow: false, delegatedAllow: false };
const NONE: PolicyVerdict = { deny: false, allow: false, delegatedAllow: false };

interface EvalCase {
  readonly name: string;
  readonly cite: string;
  readonly kind?: PolicyKind;
  /** The policy's statements, or 'default' for defaultKeyPolicy(ACCOUNT). */
  readonly statements: readonly Statement[] | 'default';
  readonly request: PolicyRequest;
  readonly expected: PolicyVerdict;
}

// ---------------------------------------------------------------------------
// Condition operators, one key each (identity policy, alice, kms:Encrypt on KEY_ARN).
const operatorCases: EvalCase[] = [
  // String operators
  { name: 'StringEquals matches the exact value', cite: `${KMS_KEYS} kms:CallerAccount: account of the caller`, statements: [allowIf({ StringEquals: { 'kms:CallerAccount': ACCOUNT } })], request: req({ 'kms:CallerAccount': ACCOUNT }), expected: ALLOW },
  { name: 'StringEquals is case-sensitive on values', cite: `${OPS} String: StringEquals exact matching, case sensitive`, statements: [allowIf({ StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } })], request: req({ 'aws:ResourceTag/Project': 'alpha' }), expected: NONE },
  { name: 'StringEquals on an absent key is false', cite: `${OPS} key not present in request context: condition returns false`, statements: [allowIf({ StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } })], request: req(), expected: NONE },
  { name: 'StringEquals with several policy values ORs them', cite: `${MULTI} multiple values for one key: logical OR`, statements: [allowIf({ StringEquals: { 'kms:KeySpec': ['RSA_2048', 'SYMMETRIC_DEFAULT'] } })], request: req({ 'kms:KeySpec': 'SYMMETRIC_DEFAULT' }), expected: ALLOW },
  { name: 'StringNotEquals holds for another value', cite: `${KMS_KEYS} kms:ViaService: AWS service making the request on the caller's behalf`, statements: [allowIf({ StringNotEquals: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } })], request: req({ 'kms:ViaService': 's3.us-east-1.amazonaws.com' }), expected: ALLOW },
  { name: 'StringNotEquals holds when the key is absent', cite: `${OPS} absent key: negated operators (StringNotEquals) return true`, statements: [allowIf({ StringNotEquals: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } })], request: req(), expected: ALLOW },
  { name: 'StringNotEquals with several values NORs them', cite: `${MULTI} negated operator with multiple values: logical NOR`, statements: [allowIf({ StringNotEquals: { 'kms:ViaService': ['ec2.us-east-1.amazonaws.com', 'rds.us-east-1.amazonaws.com'] } })], request: req({ 'kms:ViaService': 'rds.us-east-1.amazonaws.com' }), expected: NONE },
  { name: 'StringEqualsIgnoreCase ignores case', cite: `${KMS_KEYS} kms:KeyUsage; ${OPS} StringEqualsIgnoreCase: ignoring case`, statements: [allowIf({ StringEqualsIgnoreCase: { 'kms:KeyUsage': 'encrypt_decrypt' } })], request: req({ 'kms:KeyUsage': 'ENCRYPT_DECRYPT' }), expected: ALLOW },
  { name: 'StringNotEqualsIgnoreCase is false for a value differing only by case', cite: `${KMS_KEYS} kms:KeyOrigin; ${OPS} StringNotEqualsIgnoreCase: negated, ignoring case`, statements: [allowIf({ StringNotEqualsIgnoreCase: { 'kms:KeyOrigin': 'aws_kms' } })], request: req({ 'kms:KeyOrigin': 'AWS_KMS' }), expected: NONE },
  { name: 'StringNotEqualsIgnoreCase holds for another value', cite: `${KMS_KEYS} kms:KeyOrigin: AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE`, statements: [allowIf({ StringNotEqualsIgnoreCase: { 'kms:KeyOrigin': 'external' } })], request: req({ 'kms:KeyOrigin': 'AWS_KMS' }), expected: ALLOW },
  { name: 'StringLike * matches any run of characters', cite: `${KMS_KEYS} kms:RequestAlias: alias name in the request, e.g. alias/finance*`, statements: [allowIf({ StringLike: { 'kms:RequestAlias': 'alias/finance-*' } })], request: req({ 'kms:RequestAlias': 'alias/finance-payroll' }), expected: ALLOW },
  { name: 'StringLike ? matches exactly one character', cite: `${OPS} StringLike: multi-character (*) and single-character (?) wildcards`, statements: [allowIf({ StringLike: { 'aws:ResourceTag/Env': 'prod-?' } })], request: req({ 'aws:ResourceTag/Env': 'prod-1' }), expected: ALLOW },
  { name: 'StringLike ? does not match two characters', cite: `${OPS} StringLike: ? matches a single character`, statements: [allowIf({ StringLike: { 'aws:ResourceTag/Env': 'prod-?' } })], request: req({ 'aws:ResourceTag/Env': 'prod-12' }), expected: NONE },
  { name: 'StringLike is case-sensitive', cite: `${OPS} StringLike: case-sensitive matching`, statements: [allowIf({ StringLike: { 'kms:RequestAlias': 'alias/finance*' } })], request: req({ 'kms:RequestAlias': 'alias/Finance-payroll' }), expected: NONE },
  { name: 'StringNotLike is false when the value matches', cite: `${OPS} StringNotLike: negated case-sensitive matching with wildcards`, statements: [allowIf({ StringNotLike: { 'kms:RequestAlias': 'alias/test-*' } })], request: req({ 'kms:RequestAlias': 'alias/test-1' }), expected: NONE },
  { name: 'StringNotLike holds when the key is absent', cite: `${OPS} absent key: negated operators (StringNotLike) return true`, statements: [allowIf({ StringNotLike: { 'kms:RequestAlias': 'alias/test-*' } })], request: req(), expected: ALLOW },
  { name: 'StringEquals on kms:EncryptionAlgorithm', cite: `${KMS_KEYS} kms:EncryptionAlgorithm: algorithm used in the operation`, statements: [allowIf({ StringEquals: { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } })], request: req({ 'kms:EncryptionAlgorithm': 'RSAES_OAEP_SHA_256' }), expected: NONE },
  { name: 'StringEquals on kms:GranteePrincipal', cite: `${KMS_KEYS} kms:GranteePrincipal: grantee principal in CreateGrant`, statements: [allowIf({ StringEquals: { 'kms:GranteePrincipal': `arn:aws:iam::${ACCOUNT}:role/app` } })], request: req({ 'kms:GranteePrincipal': `arn:aws:iam::${ACCOUNT}:role/app` }, { action: 'kms:CreateGrant' }), expected: ALLOW },
  { name: 'StringEquals on aws:RequestTag/<k>', cite: `${GLOBAL} aws:RequestTag/tag-key: tag key-value pair passed in the request`, statements: [allowIf({ StringEquals: { 'aws:RequestTag/Purpose': 'Test' } })], request: req({ 'aws:RequestTag/Purpose': 'Test' }, { action: 'kms:TagResource' }), expected: ALLOW },
  { name: 'StringEquals on aws:ResourceTag/<k> (tag key name is case-insensitive)', cite: `${GLOBAL} aws:ResourceTag/tag-key: tag key case-insensitive, value case-sensitive`, statements: [allowIf({ StringEquals: { 'aws:ResourceTag/Project': 'Alpha' } })], request: req({ 'aws:resourcetag/project': 'Alpha' }), expected: ALLOW },

  // Numeric operators (kms:ScheduleKeyDeletionPendingWindowInDays is a documented numeric key)
  { name: 'NumericEquals', cite: `${OPS} Numeric: NumericEquals matching; ${KMS_KEYS} kms:ScheduleKeyDeletionPendingWindowInDays`, statements: [allowIf({ NumericEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' }, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericNotEquals holds for another number', cite: `${OPS} Numeric: NumericNotEquals negated matching`, statements: [allowIf({ NumericNotEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 30 } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' }, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericNotEquals holds when the key is absent', cite: `${OPS} absent key: negated operators (NumericNotEquals) return true`, statements: [allowIf({ NumericNotEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 30 } })], request: req(), expected: ALLOW },
  { name: 'NumericLessThan is strict', cite: `${OPS} Numeric: NumericLessThan "less than" matching`, statements: [allowIf({ NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' }, { action: 'kms:ScheduleKeyDeletion' }), expected: NONE },
  { name: 'NumericLessThan on an absent key is false', cite: `${OPS} absent key: condition returns false`, statements: [allowIf({ NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({}, { action: 'kms:ScheduleKeyDeletion' }), expected: NONE },
  { name: 'NumericLessThanEquals includes equality', cite: `${OPS} Numeric: NumericLessThanEquals "less than or equals" matching`, statements: [allowIf({ NumericLessThanEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' }, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericGreaterThan', cite: `${OPS} Numeric: NumericGreaterThan "greater than" matching`, statements: [allowIf({ NumericGreaterThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '8' }, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericGreaterThan is strict', cite: `${OPS} Numeric: NumericGreaterThan "greater than" matching`, statements: [allowIf({ NumericGreaterThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' }, { action: 'kms:ScheduleKeyDeletion' }), expected: NONE },
  { name: 'NumericGreaterThanEquals includes equality', cite: `${OPS} Numeric: NumericGreaterThanEquals "greater than or equals" matching`, statements: [allowIf({ NumericGreaterThanEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' }, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericGreaterThanEquals is false below the bound', cite: `${OPS} Numeric: NumericGreaterThanEquals "greater than or equals" matching`, statements: [allowIf({ NumericGreaterThanEquals: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '7' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '6' }, { action: 'kms:ScheduleKeyDeletion' }), expected: NONE },

  // Date operators on aws:CurrentTime
  { name: 'DateEquals', cite: `${OPS} Date: DateEquals matching a specific date; ${GLOBAL} aws:CurrentTime`, statements: [allowIf({ DateEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } })], request: req({ 'aws:CurrentTime': '2024-06-01T12:00:00Z' }), expected: ALLOW },
  { name: 'DateEquals is false one second earlier', cite: `${OPS} Date: DateEquals matching a specific date`, statements: [allowIf({ DateEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } })], request: req({ 'aws:CurrentTime': '2024-06-01T11:59:59Z' }), expected: NONE },
  { name: 'DateEquals reads a policy time without a zone as UTC, whatever the server\'s TZ', cite: `${OPS} Date: W3C ISO 8601 date formats (times are UTC)`, statements: [allowIf({ DateEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00' } })], request: req({ 'aws:CurrentTime': '2024-06-01T12:00:00Z' }), expected: ALLOW },
  { name: 'DateNotEquals holds one second later', cite: `${OPS} Date: DateNotEquals negated matching`, statements: [allowIf({ DateNotEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } })], request: req({ 'aws:CurrentTime': '2024-06-01T12:00:01Z' }), expected: ALLOW },
  { name: 'DateNotEquals holds when the key is absent', cite: `${OPS} absent key: negated operators (DateNotEquals) return true`, statements: [allowIf({ DateNotEquals: { 'aws:CurrentTime': '2024-06-01T12:00:00Z' } })], request: req(), expected: ALLOW },
  { name: 'DateLessThan', cite: `${OPS} Date: DateLessThan matching before a date; ${GLOBAL} aws:CurrentTime ISO 8601`, statements: [allowIf({ DateLessThan: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } })], request: req({ 'aws:CurrentTime': '2024-12-31T23:59:59Z' }), expected: ALLOW },
  { name: 'DateLessThan is strict', cite: `${OPS} Date: DateLessThan matching before a date`, statements: [allowIf({ DateLessThan: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } })], request: req({ 'aws:CurrentTime': '2025-01-01T00:00:00Z' }), expected: NONE },
  { name: 'DateLessThanEquals includes the instant itself', cite: `${OPS} Date: DateLessThanEquals at or before a date`, statements: [allowIf({ DateLessThanEquals: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } })], request: req({ 'aws:CurrentTime': '2025-01-01T00:00:00Z' }), expected: ALLOW },
  { name: 'DateGreaterThan is false before the date', cite: `${OPS} Date: DateGreaterThan matching after a date`, statements: [allowIf({ DateGreaterThan: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } })], request: req({ 'aws:CurrentTime': '2024-12-31T23:59:59Z' }), expected: NONE },
  { name: 'DateGreaterThanEquals with an epoch policy value', cite: `${OPS} Date: ISO 8601 or epoch (UNIX) time; 1735689600 = 2025-01-01T00:00:00Z`, statements: [allowIf({ DateGreaterThanEquals: { 'aws:CurrentTime': '1735689600' } })], request: req({ 'aws:CurrentTime': '2025-01-01T00:00:00Z' }), expected: ALLOW },
  { name: 'DateLessThan with an epoch policy value is false after it', cite: `${OPS} Date: epoch (UNIX) time accepted`, statements: [allowIf({ DateLessThan: { 'aws:CurrentTime': 1735689600 } })], request: req({ 'aws:CurrentTime': '2025-01-01T00:00:01Z' }), expected: NONE },
  { name: 'DateLessThan with an epoch policy value holds just before it', cite: `${OPS} Date: epoch (UNIX) time in seconds`, statements: [allowIf({ DateLessThan: { 'aws:CurrentTime': '1735689600' } })], request: req({ 'aws:CurrentTime': '2024-12-31T23:59:59Z' }), expected: ALLOW },

  // Bool
  { name: 'Bool aws:SecureTransport true', cite: `${GLOBAL} aws:SecureTransport: request sent with TLS; ${OPS} Bool`, statements: [allowIf({ Bool: { 'aws:SecureTransport': 'true' } })], request: req({ 'aws:SecureTransport': 'true' }), expected: ALLOW },
  { name: 'Bool aws:SecureTransport false does not match true', cite: `${OPS} Bool: boolean matching`, statements: [allowIf({ Bool: { 'aws:SecureTransport': 'true' } })], request: req({ 'aws:SecureTransport': 'false' }), expected: NONE },
  { name: 'Bool on kms:GrantIsForAWSResource with a JSON boolean', cite: `${KMS_KEYS} kms:GrantIsForAWSResource: Bool, grant created by an integrated AWS service`, statements: [allowIf({ Bool: { 'kms:GrantIsForAWSResource': true } })], request: req({ 'kms:GrantIsForAWSResource': 'true' }, { action: 'kms:CreateGrant' }), expected: ALLOW },
  { name: 'Bool on an absent key is false', cite: `${OPS} absent key: condition returns false`, statements: [allowIf({ Bool: { 'kms:GrantIsForAWSResource': true } })], request: req({}, { action: 'kms:CreateGrant' }), expected: NONE },

  // IpAddress / NotIpAddress on aws:SourceIp
  { name: 'IpAddress IPv4 CIDR contains the address', cite: `${OPS} IP address: IpAddress specified IP address or range; ${GLOBAL} aws:SourceIp`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })], request: req({ 'aws:SourceIp': '203.0.113.7' }), expected: ALLOW },
  { name: 'IpAddress IPv4 CIDR excludes another network', cite: `${OPS} IP address: IpAddress CIDR`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })], request: req({ 'aws:SourceIp': '203.0.114.7' }), expected: NONE },
  { name: 'IpAddress single address without prefix length', cite: `${OPS} IP address: a single address is a /32`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.7' } })], request: req({ 'aws:SourceIp': '203.0.113.7' }), expected: ALLOW },
  { name: 'IpAddress single address excludes its neighbour', cite: `${OPS} IP address: a single address is a /32`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.7' } })], request: req({ 'aws:SourceIp': '203.0.113.8' }), expected: NONE },
  { name: 'IpAddress /22 (prefix not on an octet boundary) contains the address', cite: `${OPS} IP address: RFC 4632 CIDR format`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.112.0/22' } })], request: req({ 'aws:SourceIp': '203.0.115.9' }), expected: ALLOW },
  { name: 'IpAddress /22 excludes the next block', cite: `${OPS} IP address: RFC 4632 CIDR format`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.112.0/22' } })], request: req({ 'aws:SourceIp': '203.0.116.1' }), expected: NONE },
  { name: 'IpAddress IPv6 CIDR contains the address', cite: `${OPS} IP address: IPv6 e.g. 2001:DB8:1234:5678::/64`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '2001:DB8:1234:5678::/64' } })], request: req({ 'aws:SourceIp': '2001:db8:1234:5678:abcd::1' }), expected: ALLOW },
  { name: 'IpAddress IPv6 CIDR excludes the next /64', cite: `${OPS} IP address: IPv6 CIDR`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '2001:DB8:1234:5678::/64' } })], request: req({ 'aws:SourceIp': '2001:db8:1234:5679::1' }), expected: NONE },
  { name: 'IpAddress IPv6: :: compression equals the full form', cite: `${OPS} IP address: IPv6 addresses (RFC 4291 text forms)`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '2001:db8:0:0:0:0:0:1' } })], request: req({ 'aws:SourceIp': '2001:db8::1' }), expected: ALLOW },
  { name: 'IpAddress on an absent key is false', cite: `${OPS} absent key: condition returns false`, statements: [allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })], request: req(), expected: NONE },
  { name: 'NotIpAddress holds outside the range', cite: `${OPS} IP address: NotIpAddress all addresses except the range`, statements: [allowIf({ NotIpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } })], request: req({ 'aws:SourceIp': '198.51.100.1' }), expected: ALLOW },
  { name: 'NotIpAddress is false inside the range', cite: `${OPS} IP address: NotIpAddress`, statements: [allowIf({ NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })], request: req({ 'aws:SourceIp': '203.0.113.200' }), expected: NONE },
  { name: 'NotIpAddress holds when the key is absent', cite: `${OPS} absent key: negated operators (NotIpAddress) return true`, statements: [allowIf({ NotIpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })], request: req(), expected: ALLOW },

  // ARN operators on aws:PrincipalArn
  { name: 'ArnEquals on aws:PrincipalArn', cite: `${GLOBAL} aws:PrincipalArn: ARN of the principal; ${OPS} ARN: ArnEquals`, statements: [allowIf({ ArnEquals: { 'aws:PrincipalArn': alice.arn } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: ALLOW },
  { name: 'ArnEquals is case-sensitive', cite: `${OPS} ARN: case-sensitive matching of the ARN`, statements: [allowIf({ ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/Alice` } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: NONE },
  { name: 'ArnEquals accepts wildcards like ArnLike', cite: `${OPS} ARN: each of the six colon-delimited components can include * and ?`, statements: [allowIf({ ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/al?ce` } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: ALLOW },
  { name: 'ArnLike with * in the resource part', cite: `${OPS} ARN: ArnLike multi-character wildcard`, statements: [allowIf({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/Admin*` } })], request: req({ 'aws:PrincipalArn': adminRole.arn }, { principal: adminRole }), expected: ALLOW },
  { name: 'ArnLike with * in the account segment', cite: `${OPS} ARN: each component checked separately, with wildcards`, statements: [allowIf({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:root' } })], request: req({ 'aws:PrincipalArn': otherRoot.arn }, { principal: otherRoot }), expected: ALLOW },
  { name: 'ArnLike does not let * in a segment cross into another', cite: `${OPS} ARN: each of the six colon-delimited components checked separately`, statements: [allowIf({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/*` } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: NONE },
  { name: 'ArnNotEquals holds for another principal', cite: `${OPS} ARN: ArnNotEquals negated matching`, statements: [allowIf({ ArnNotEquals: { 'aws:PrincipalArn': alice.arn } })], request: req({ 'aws:PrincipalArn': carol.arn }, { principal: carol }), expected: ALLOW },
  { name: 'ArnNotLike is false for a matching principal', cite: `${OPS} ARN: ArnNotLike negated matching with wildcards`, statements: [allowIf({ ArnNotLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:*` } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: NONE },
  { name: 'ArnNotLike holds when the key is absent', cite: `${OPS} absent key: negated operators (ArnNotLike) return true`, statements: [allowIf({ ArnNotLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:*` } })], request: req(), expected: ALLOW },

  // Null
  { name: 'Null true holds when the key is absent', cite: `${OPS} Null: true = key is not present`, statements: [allowIf({ Null: { 'aws:TagKeys': 'true' } })], request: req(), expected: ALLOW },
  { name: 'Null true is false when the key is present', cite: `${OPS} Null: true = key is not present`, statements: [allowIf({ Null: { 'aws:TagKeys': 'true' } })], request: req({ 'aws:TagKeys': ['Owner'] }), expected: NONE },
  { name: 'Null false holds when the key is present', cite: `${OPS} Null: false = key exists and its value is not null`, statements: [allowIf({ Null: { 'kms:EncryptionContextKeys': 'false' } })], request: req({ 'kms:EncryptionContextKeys': ['Department'] }), expected: ALLOW },
  { name: 'Null false is false when the key is absent', cite: `${OPS} Null: false = key exists`, statements: [allowIf({ Null: { 'kms:EncryptionContextKeys': false } })], request: req(), expected: NONE },

  // BinaryEquals
  { name: 'BinaryEquals compares base64 bytes', cite: `${OPS} BinaryEquals: byte-for-byte, policy value base-64 encoded`, statements: [allowIf({ BinaryEquals: { key: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } })], request: req({ key: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' }), expected: ALLOW },
  { name: 'BinaryEquals is false for other bytes', cite: `${OPS} BinaryEquals: byte-for-byte comparison`, statements: [allowIf({ BinaryEquals: { key: 'QmluYXJ5VmFsdWVJbkJhc2U2NA==' } })], request: req({ key: 'T3RoZXJWYWx1ZQ==' }), expected: NONE },

  // ...IfExists
  { name: 'StringEqualsIfExists holds when the key is absent', cite: `${OPS} IfExists: if the key is not present, the condition evaluates to true`, statements: [allowIf({ StringEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } })], request: req(), expected: ALLOW },
  { name: 'StringEqualsIfExists evaluates normally when present', cite: `${OPS} IfExists: if the key is present, evaluate the condition as specified`, statements: [allowIf({ StringEqualsIfExists: { 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } })], request: req({ 'kms:ViaService': 's3.us-east-1.amazonaws.com' }), expected: NONE },
  { name: 'NumericLessThanEqualsIfExists holds when absent', cite: `${OPS} IfExists: absent key => true`, statements: [allowIf({ NumericLessThanEqualsIfExists: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({}, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'NumericLessThanEqualsIfExists is false when present and out of range', cite: `${OPS} IfExists: present key evaluated normally`, statements: [allowIf({ NumericLessThanEqualsIfExists: { 'kms:ScheduleKeyDeletionPendingWindowInDays': '30' } })], request: req({ 'kms:ScheduleKeyDeletionPendingWindowInDays': '31' }, { action: 'kms:ScheduleKeyDeletion' }), expected: NONE },
  { name: 'BoolIfExists holds when absent', cite: `${OPS} IfExists: absent key => true (Bool)`, statements: [allowIf({ BoolIfExists: { 'aws:SecureTransport': 'true' } })], request: req(), expected: ALLOW },
  { name: 'BoolIfExists is false when present and different', cite: `${OPS} IfExists: present key evaluated normally (Bool)`, statements: [allowIf({ BoolIfExists: { 'aws:SecureTransport': 'true' } })], request: req({ 'aws:SecureTransport': 'false' }), expected: NONE },
  { name: 'ArnLikeIfExists evaluates normally when present', cite: `${OPS} IfExists: present key evaluated normally (ArnLike)`, statements: [allowIf({ ArnLikeIfExists: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/*` } })], request: req({ 'aws:PrincipalArn': alice.arn }), expected: ALLOW },
  { name: 'DateLessThanIfExists is false when present and later', cite: `${OPS} IfExists: present key evaluated normally (Date)`, statements: [allowIf({ DateLessThanIfExists: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } })], request: req({ 'aws:CurrentTime': '2026-01-01T00:00:00Z' }), expected: NONE },
];

// ---------------------------------------------------------------------------
// Several keys and operators; ForAnyValue / ForAllValues on multivalued keys; kms:EncryptionContext.
const multiValueCases: EvalCase[] = [
  { name: 'two keys under one operator are ANDed (one fails)', cite: `${MULTI} multiple context keys: logical AND`, statements: [allowIf({ StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': 'ec2.us-east-1.amazonaws.com' } })], request: req({ 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': 'rds.us-east-1.amazonaws.com' }), expected: NONE },
  { name: 'two operators are ANDed (both hold)', cite: `${MULTI} multiple condition operators: logical AND`, statements: [allowIf({ StringEquals: { 'kms:CallerAccount': ACCOUNT }, Bool: { 'aws:SecureTransport': 'true' } })], request: req({ 'kms:CallerAccount': ACCOUNT, 'aws:SecureTransport': 'true' }), expected: ALLOW },
  { name: 'two operators are ANDed (one fails)', cite: `${MULTI} multiple condition operators: logical AND`, statements: [allowIf({ StringEquals: { 'kms:CallerAccount': ACCOUNT }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })], request: req({ 'kms:CallerAccount': ACCOUNT, 'aws:SourceIp': '192.0.2.1' }), expected: NONE },

  { name: 'ForAnyValue:StringEquals kms:EncryptionContextKeys, one key matches', cite: `${MULTI} ForAnyValue: at least one request value matches; ${KMS_KEYS} kms:EncryptionContextKeys multivalued`, statements: [allowIf({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } })], request: req({ 'kms:EncryptionContextKeys': ['Project', 'Other'] }), expected: ALLOW },
  { name: 'ForAnyValue is false when the key is absent', cite: `${MULTI} ForAnyValue: returns false if there is no context key`, statements: [allowIf({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } })], request: req(), expected: NONE },
  { name: 'ForAllValues:StringEquals kms:EncryptionContextKeys, one key outside the set', cite: `${MULTI} ForAllValues: every request value must match a policy value`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } })], request: req({ 'kms:EncryptionContextKeys': ['Department', 'Secret'] }), expected: NONE },
  { name: 'ForAllValues:StringEquals kms:EncryptionContextKeys is case-sensitive', cite: `${KMS_KEYS} kms:EncryptionContextKeys: StringEquals requires case-sensitive context keys`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department'] } })], request: req({ 'kms:EncryptionContextKeys': ['department'] }), expected: NONE },
  { name: 'ForAllValues holds when the key is absent', cite: `${MULTI} ForAllValues: returns true if there is no context key`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['Department', 'Project'] } })], request: req(), expected: ALLOW },
  { name: 'ForAllValues holds for an empty value set', cite: `${MULTI_EX} ForAllValues: true when the key resolves to an empty data set`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Owner', 'CostCenter'] } })], request: req({ 'aws:TagKeys': [] }), expected: ALLOW },
  { name: 'ForAllValues:StringEquals aws:TagKeys subset of allowed keys', cite: `${GLOBAL} aws:TagKeys multivalued; ${MULTI} ForAllValues every value matches`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Owner', 'CostCenter'] } })], request: req({ 'aws:TagKeys': ['Owner', 'CostCenter'] }, { action: 'kms:TagResource' }), expected: ALLOW },
  { name: 'ForAnyValue:StringNotEquals aws:TagKeys: one value outside the list', cite: `${MULTI} ForAnyValue with a negated operator: some request value matches none`, statements: [allowIf({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['Owner'] } })], request: req({ 'aws:TagKeys': ['Owner', 'Project'] }, { action: 'kms:TagResource' }), expected: ALLOW },
  { name: 'ForAnyValue:StringNotEquals aws:TagKeys: every value listed', cite: `${MULTI} ForAnyValue with a negated operator`, statements: [allowIf({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['Owner'] } })], request: req({ 'aws:TagKeys': ['Owner'] }, { action: 'kms:TagResource' }), expected: NONE },
  { name: 'Deny ForAllValues:StringNotLike aws:TagKeys key1*: a key1 tag spares the request', cite: `${MULTI_EX} Deny ForAllValues:StringNotLike key1*: all tag keys must start with key1 to avoid deny... values matching key1* do not match`, statements: [ALLOW_ALL, denyIf({ 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } })], request: req({ 'aws:TagKeys': ['key1a', 'key1b'] }, { action: 'kms:TagResource' }), expected: ALLOW },
  { name: 'Deny ForAllValues:StringNotLike aws:TagKeys key1*: no key1 tag is denied', cite: `${MULTI_EX} Deny ForAllValues:StringNotLike key1*: every value fails key1* => condition true => deny`, statements: [ALLOW_ALL, denyIf({ 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } })], request: req({ 'aws:TagKeys': ['key2', 'key3'] }, { action: 'kms:TagResource' }), expected: DENY },
  { name: 'Deny ForAllValues:StringNotLike aws:TagKeys key1*: no tags at all is denied', cite: `${MULTI_EX} ForAllValues returns true if there are no context keys in the request`, statements: [ALLOW_ALL, denyIf({ 'ForAllValues:StringNotLike': { 'aws:TagKeys': 'key1*' } })], request: req({}, { action: 'kms:TagResource' }), expected: DENY },
  { name: 'Deny ForAllValues:StringLike with Null false: absent tags not denied', cite: `${MULTI_EX} Null false prevents missing keys evaluating ForAllValues to true`, statements: [ALLOW_ALL, denyIf({ Null: { 'aws:TagKeys': 'false' }, 'ForAllValues:StringLike': { 'aws:TagKeys': ['key1*', 'key2*'] } })], request: req({}, { action: 'kms:TagResource' }), expected: ALLOW },
  { name: 'ForAnyValue:StringEquals kms:GrantOperations', cite: `${KMS_KEYS} kms:GrantOperations multivalued; ForAnyValue at least one`, statements: [allowIf({ 'ForAnyValue:StringEquals': { 'kms:GrantOperations': 'Decrypt' } })], request: req({ 'kms:GrantOperations': ['Encrypt', 'Decrypt'] }, { action: 'kms:CreateGrant' }), expected: ALLOW },
  { name: 'ForAllValues:StringEquals kms:GrantOperations rejects an extra operation', cite: `${KMS_KEYS} kms:GrantOperations: ForAllValues allows only the listed operations`, statements: [allowIf({ 'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt', 'RetireGrant'] } })], request: req({ 'kms:GrantOperations': ['Decrypt', 'Encrypt'] }, { action: 'kms:CreateGrant' }), expected: NONE },
  { name: 'ForAnyValue:StringLike kms:ResourceAliases, one alias matches', cite: `${KMS_KEYS} kms:ResourceAliases multivalued: aliases associated with the key`, statements: [allowIf({ 'ForAnyValue:StringLike': { 'kms:ResourceAliases': 'alias/finance*' } })], request: req({ 'kms:ResourceAliases': ['alias/hr', 'alias/finance-key'] }), expected: ALLOW },
  { name: 'ForAllValues:StringLike kms:ResourceAliases, one alias outside', cite: `${KMS_KEYS} kms:ResourceAliases with ForAllValues: every alias must match`, statements: [allowIf({ 'ForAllValues:StringLike': { 'kms:ResourceAliases': 'alias/finance*' } })], request: req({ 'kms:ResourceAliases': ['alias/hr', 'alias/finance-key'] }), expected: NONE },

  { name: 'kms:EncryptionContext:<key> name is case-insensitive, including the context key', cite: `${KMS_KEYS} kms:EncryptionContext:context-key: key name not case sensitive`, statements: [allowIf({ StringEquals: { 'kms:EncryptionContext:Department': 'IT' } })], request: req({ 'KMS:ENCRYPTIONCONTEXT:department': 'IT' }), expected: ALLOW },
  { name: 'kms:EncryptionContext:<key> value is case-sensitive with StringEquals', cite: `${KMS_KEYS} kms:EncryptionContext:context-key: value case sensitivity depends on operator`, statements: [allowIf({ StringEquals: { 'kms:EncryptionContext:Department': 'IT' } })], request: req({ 'kms:EncryptionContext:Department': 'it' }), expected: NONE },
  { name: 'kms:EncryptionContext:<key> value with StringEqualsIgnoreCase', cite: `${KMS_KEYS} kms:EncryptionContext:context-key: StringEqualsIgnoreCase for case-insensitive values`, statements: [allowIf({ StringEqualsIgnoreCase: { 'kms:EncryptionContext:Department': 'IT' } })], request: req({ 'kms:EncryptionContext:Department': 'it' }), expected: ALLOW },
  { name: 'kms:EncryptionContext:<key> absent from the context', cite: `${KMS_KEYS} kms:EncryptionContext:context-key; ${OPS} absent key => false`, statements: [allowIf({ StringEquals: { 'kms:EncryptionContext:Department': 'IT' } })], request: req({ 'kms:EncryptionContext:Project': 'IT' }), expected: NONE },
  { name: 'StringEquals kms:RequestAlias names the alias used', cite: `${KMS_KEYS} kms:RequestAlias: alias/ExampleAlias`, statements: [allowIf({ StringEquals: { 'kms:RequestAlias': 'alias/ExampleAlias' } })], request: req({ 'kms:RequestAlias': 'alias/ExampleAlias' }), expected: ALLOW },
];

// ---------------------------------------------------------------------------
// Statement structure: Effect, Action/NotAction, Resource/NotResource, Principal/NotPrincipal.
const statementCases: EvalCase[] = [
  { name: 'explicit deny overrides an allow in the same policy', cite: `${EVAL} an explicit deny in any policy overrides any allows`, statements: [ALLOW_ALL, { Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' }], request: req(), expected: DENY },
  { name: 'a deny for another action leaves the allow', cite: `${EVAL} deny applies only to matching requests`, statements: [ALLOW_ALL, { Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*' }], request: req(), expected: ALLOW },
  { name: 'no matching statement is an implicit deny', cite: `${EVAL} by default all requests are implicitly denied`, statements: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }], request: req(), expected: NONE },
  { name: 'Action "*" matches every action', cite: `${ACTION} wildcard * for all actions`, statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }], request: req({}, { action: 'kms:ScheduleKeyDeletion' }), expected: ALLOW },
  { name: 'kms:Generate* matches GenerateDataKeyWithoutPlaintext', cite: `${ACTION} wildcards in action names: kms:Generate*`, statements: [{ Effect: 'Allow', Action: 'kms:Generate*', Resource: '*' }], request: req({}, { action: 'kms:GenerateDataKeyWithoutPlaintext' }), expected: ALLOW },
  { name: 'kms:Generate* does not match Encrypt', cite: `${ACTION} wildcards in action names`, statements: [{ Effect: 'Allow', Action: 'kms:Generate*', Resource: '*' }], request: req(), expected: NONE },
  { name: 'kms:*Key* matches DescribeKey', cite: `${ACTION} wildcard anywhere in the name: kms:*Key*`, statements: [{ Effect: 'Allow', Action: 'kms:*Key*', Resource: '*' }], request: req({}, { action: 'kms:DescribeKey' }), expected: ALLOW },
  { name: 'kms:*Key* does not match Decrypt', cite: `${ACTION} wildcard anywhere in the name`, statements: [{ Effect: 'Allow', Action: 'kms:*Key*', Resource: '*' }], request: req({}, { action: 'kms:Decrypt' }), expected: NONE },
  { name: 'action names are case-insensitive', cite: `${ACTION} action names are case insensitive (KMS:encrypt = kms:Encrypt)`, statements: [{ Effect: 'Allow', Action: 'KMS:encrypt', Resource: '*' }], request: req(), expected: ALLOW },
  { name: 'action wildcards are case-insensitive too', cite: `${ACTION} action names are case insensitive`, statements: [{ Effect: 'Allow', Action: 'kms:generate*', Resource: '*' }], request: req({}, { action: 'kms:GenerateDataKey' }), expected: ALLOW },
  { name: 'NotAction allows every other action', cite: `${NOT_ACTION} NotAction with Allow: all actions except those listed`, statements: [{ Effect: 'Allow', NotAction: 'kms:Decrypt', Resource: '*' }], request: req(), expected: ALLOW },
  { name: 'NotAction excludes the listed action', cite: `${NOT_ACTION} NotAction: listed actions are not matched`, statements: [{ Effect: 'Allow', NotAction: 'kms:Decrypt', Resource: '*' }], request: req({}, { action: 'kms:Decrypt' }), expected: NONE },
  { name: 'Deny with NotAction denies everything but the listed wildcards', cite: `${NOT_ACTION} NotAction with Deny: deny all except listed`, statements: [ALLOW_ALL, { Effect: 'Deny', NotAction: ['kms:Describe*', 'kms:List*'], Resource: '*' }], request: req(), expected: DENY },
  { name: 'Deny with NotAction spares a listed action', cite: `${NOT_ACTION} NotAction with Deny`, statements: [ALLOW_ALL, { Effect: 'Deny', NotAction: ['kms:Describe*', 'kms:List*'], Resource: '*' }], request: req({}, { action: 'kms:DescribeKey' }), expected: ALLOW },
  { name: 'Resource naming the key ARN matches it', cite: `${RESOURCE} Resource: the ARN of the resource`, statements: [{ Effect: 'Allow', Action: 'kms:*', Resource: KEY_ARN }], request: req(), expected: ALLOW },
  { name: 'Resource naming another key does not match', cite: `${RESOURCE} Resource: the ARN of the resource`, statements: [{ Effect: 'Allow', Action: 'kms:*', Resource: OTHER_KEY_ARN }], request: req(), expected: NONE },
  { name: 'Resource with wildcards in region and key id', cite: `${RESOURCE} wildcards (* and ?) within ARN segments`, statements: [{ Effect: 'Allow', Action: 'kms:*', Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` }], request: req(), expected: ALLOW },
  { name: 'Resource wildcard for one account excludes another account\'s key', cite: `${RESOURCE} wildcards within ARN segments`, statements: [{ Effect: 'Allow', Action: 'kms:*', Resource: `arn:aws:kms:*:${ACCOUNT}:key/*` }], request: req({}, { resource: FOREIGN_KEY_ARN }), expected: NONE },
  { name: 'Resource "*" matches an operation on no key', cite: `${IAM_POLICIES} CreateKey etc. are not on a particular key: Resource "*"`, statements: [{ Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*' }], request: req({}, { action: 'kms:CreateKey', resource: '*' }), expected: ALLOW },
  { name: 'NotResource allows keys other than those listed', cite: `${NOT_RESOURCE} NotResource: matches every resource except those listed`, statements: [{ Effect: 'Allow', Action: 'kms:*', NotResource: OTHER_KEY_ARN }], request: req(), expected: ALLOW },
  { name: 'NotResource excludes the listed key (wildcard)', cite: `${NOT_RESOURCE} NotResource with wildcards`, statements: [{ Effect: 'Allow', Action: 'kms:*', NotResource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234*` }], request: req(), expected: NONE },

  // Key policies: Principal / NotPrincipal
  { name: 'key policy naming the user allows that user', cite: `${KEY_POLICIES} Principal: IAM user ARN gets the permissions directly`, kind: 'key', statements: [keyStmt('Allow', alice.arn)], request: req(), expected: ALLOW },
  { name: 'key policy naming one user does not match another', cite: `${PRINCIPAL} Principal: only the named principal`, kind: 'key', statements: [keyStmt('Allow', alice.arn)], request: req({}, { principal: carol }), expected: NONE },
  { name: 'key policy naming the account root delegates for an IAM user', cite: `${DEFAULT_POLICY} account principal: enables IAM policies to allow access`, kind: 'key', statements: [keyStmt('Allow', rootArn(ACCOUNT))], request: req(), expected: DELEGATED },
  { name: 'a bare 12-digit account id is the account principal', cite: `${PRINCIPAL} AWS account principals: "AWS": "123456789012" same as the root ARN`, kind: 'key', statements: [keyStmt('Allow', ACCOUNT)], request: req(), expected: DELEGATED },
  { name: 'Principal "*" allows any principal, any account', cite: `${PRINCIPAL} all principals: "Principal": "*"`, kind: 'key', statements: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }], request: req({}, { principal: bob }), expected: ALLOW },
  { name: 'Principal {"AWS": "*"} allows any principal', cite: `${PRINCIPAL} all principals: "AWS": "*"`, kind: 'key', statements: [keyStmt('Allow', '*')], request: req(), expected: ALLOW },
  { name: 'key policy deny for everyone overrides a named allow', cite: `${EVAL} explicit deny overrides allow`, kind: 'key', statements: [keyStmt('Allow', alice.arn), keyStmt('Deny', '*', 'kms:Encrypt')], request: req(), expected: DENY },
  { name: 'key policy deny naming the account applies to its users', cite: `${PRINCIPAL} account principal includes every principal in the account (Deny)`, kind: 'key', statements: [keyStmt('Allow', alice.arn), keyStmt('Deny', rootArn(ACCOUNT), 'kms:Encrypt')], request: req(), expected: DENY },
  { name: 'key policy condition on aws:PrincipalArn in a deny', cite: `${NOT_PRINCIPAL} recommended instead: Deny with ArnNotEquals aws:PrincipalArn`, kind: 'key', statements: [keyStmt('Allow', rootArn(ACCOUNT)), keyStmt('Deny', '*', 'kms:*', { Condition: { ArnNotEquals: { 'aws:PrincipalArn': alice.arn } } })], request: req({ 'aws:PrincipalArn': carol.arn }, { principal: carol }), expected: DENY },
  { name: 'NotPrincipal deny listing the account spares its root', cite: `${NOT_PRINCIPAL} Deny to all principals except those named`, kind: 'key', statements: [keyStmt('Allow', rootArn(ACCOUNT)), { Effect: 'Deny', NotPrincipal: { AWS: rootArn(ACCOUNT) }, Action: 'kms:*', Resource: '*' }], request: req({}, { principal: root }), expected: ALLOW },
  { name: 'NotPrincipal deny listing only the account still denies its users', cite: `${NOT_PRINCIPAL} account ARN in NotPrincipal does not exclude the account's users`, kind: 'key', statements: [keyStmt('Allow', alice.arn), { Effect: 'Deny', NotPrincipal: { AWS: rootArn(ACCOUNT) }, Action: 'kms:*', Resource: '*' }], request: req(), expected: DENY },
  { name: 'NotPrincipal deny listing the account and the user spares the user', cite: `${NOT_PRINCIPAL} specify the user ARN and the account ARN of the not-denied principal`, kind: 'key', statements: [keyStmt('Allow', alice.arn), { Effect: 'Deny', NotPrincipal: { AWS: [rootArn(ACCOUNT), alice.arn] }, Action: 'kms:*', Resource: '*' }], request: req(), expected: ALLOW },
  { name: 'NotPrincipal deny denies a principal of another account', cite: `${NOT_PRINCIPAL} Deny applies to all principals except those named`, kind: 'key', statements: [keyStmt('Allow', '*'), { Effect: 'Deny', NotPrincipal: { AWS: [rootArn(ACCOUNT), alice.arn] }, Action: 'kms:*', Resource: '*' }], request: req({}, { principal: bob }), expected: DENY },

  // The default key policy
  { name: 'default key policy: IAM user in the account is delegated to IAM', cite: `${DEFAULT_POLICY} "Enable IAM User Permissions": IAM policies decide for users`, statements: 'default', kind: 'key', request: req(), expected: DELEGATED },
  { name: 'default key policy: the account root is allowed', cite: `${DEFAULT_POLICY} allows the account root user full access`, statements: 'default', kind: 'key', request: req({}, { principal: root, action: 'kms:PutKeyPolicy' }), expected: ALLOW },
  { name: 'default key policy: a user of another account gets nothing', cite: `${CROSS_ACCOUNT} external account must be named in the key policy`, statements: 'default', kind: 'key', request: req({}, { principal: bob }), expected: NONE },
  { name: 'default key policy: the root of another account gets nothing', cite: `${CROSS_ACCOUNT} external account must be named in the key policy`, statements: 'default', kind: 'key', request: req({}, { principal: otherRoot }), expected: NONE },
];

const evaluateCase = (c: EvalCase) =>
  Policy.parse(c.statements === 'default' ? defaultKeyPolicy(ACCOUNT) : doc(c.statements), c.kind ?? 'identity').evaluate(c.request);

describe('policy evaluation: condition operators', () => {
  it.each(operatorCases)('$name — $cite', (c) => {
    expect(evaluateCase(c)).toEqual(c.expected);
  });
});

describe('policy evaluation: multiple keys, set operators and kms:EncryptionContext', () => {
  it.each(multiValueCases)('$name — $cite', (c) => {
    expect(evaluateCase(c)).toEqual(c.expected);
  });
});

describe('policy evaluation: statement elements and key policies', () => {
  it.each(statementCases)('$name — $cite', (c) => {
    expect(evaluateCase(c)).toEqual(c.expected);
  });
});

// ---------------------------------------------------------------------------
// decide(): key policy and identity policies together.
interface DecisionCase {
  readonly name: string;
  readonly cite: string;
  readonly principal: PolicyPrincipal;
  readonly action?: string;
  /** The key policy's statements, 'default' for defaultKeyPolicy(ACCOUNT), or undefined for an operation on no key. */
  readonly keyPolicy: readonly Statement[] | 'default' | undefined;
  /** The principal's identity policies, each a list of statements. */
  readonly identity: readonly (readonly Statement[])[];
  readonly expected: PolicyDecision;
}

const ENCRYPT_ONLY: Statement = { Effect: 'Allow', Action: 'kms:Encrypt', Resource: KEY_ARN };
const IDENTITY_ALL: Statement = { Effect: 'Allow', Action: 'kms:*', Resource: '*' };
const DENY_ENCRYPT: Statement = { Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' };
const denied = (reason: DenialReason, grantsMayAllow: boolean): PolicyDecision => ({ allowed: false, reason, grantsMayAllow });
const ALLOWED: PolicyDecision = { allowed: true };
const DEFAULT_STMT: Statement = keyStmt('Allow', rootArn(ACCOUNT));
const externalStmt = (who: string): Statement => keyStmt('Allow', who, ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey']);

const decisionCases: DecisionCase[] = [
  { name: 'same account: delegated key policy + identity allow => allowed', cite: `${DEFAULT_POLICY} key policy enables IAM policies; IAM policy allows`, principal: alice, keyPolicy: 'default', identity: [[ENCRYPT_ONLY]], expected: ALLOWED },
  { name: 'same account: delegated key policy without identity allow', cite: `${DEFAULT_POLICY} IAM policies required once the key policy delegates`, principal: alice, keyPolicy: 'default', identity: [], expected: denied('no-identity-policy', true) },
  { name: 'same account: identity allow for another action only', cite: `${IAM_POLICIES} IAM policy must allow the action`, principal: alice, keyPolicy: 'default', identity: [[{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }]], expected: denied('no-identity-policy', true) },
  { name: 'same account: key policy naming the user is enough alone', cite: `${KEY_POLICIES} a key policy statement naming the principal gives access by itself`, principal: alice, keyPolicy: [keyStmt('Allow', alice.arn)], identity: [], expected: ALLOWED },
  { name: 'same account: no key policy statement applies, identity allow is not enough', cite: `${KEY_POLICIES} no principal has access unless the key policy allows it`, principal: alice, keyPolicy: [keyStmt('Allow', carol.arn)], identity: [[IDENTITY_ALL]], expected: denied('no-resource-policy', true) },
  { name: 'identity policy deny => explicit-deny-identity', cite: `${EVAL} explicit deny in an identity-based policy`, principal: alice, keyPolicy: 'default', identity: [[IDENTITY_ALL, DENY_ENCRYPT]], expected: denied('explicit-deny-identity', false) },
  { name: 'a deny in any one of several identity policies wins', cite: `${EVAL} explicit deny in any policy overrides allows`, principal: alice, keyPolicy: 'default', identity: [[IDENTITY_ALL], [DENY_ENCRYPT]], expected: denied('explicit-deny-identity', false) },
  { name: 'an allow in one of several identity policies suffices', cite: `${EVAL} allows from identity policies are combined`, principal: alice, keyPolicy: 'default', identity: [[{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }], [ENCRYPT_ONLY]], expected: ALLOWED },
  { name: 'key policy deny => explicit-deny-resource even with an identity allow', cite: `${EVAL} explicit deny in a resource-based policy`, principal: alice, keyPolicy: [DEFAULT_STMT, keyStmt('Deny', alice.arn, 'kms:Encrypt')], identity: [[IDENTITY_ALL]], expected: denied('explicit-deny-resource', false) },
  { name: 'key policy deny also stops the account root', cite: `${KEY_POLICIES} the key policy can deny the root user`, principal: root, keyPolicy: [DEFAULT_STMT, keyStmt('Deny', '*', 'kms:Encrypt')], identity: [], expected: denied('explicit-deny-resource', false) },
  { name: 'same account root with the default key policy', cite: `${DEFAULT_POLICY} account root user has full access`, principal: root, keyPolicy: 'default', identity: [], expected: ALLOWED },
  { name: 'same account root left out of the key policy', cite: `${KEY_POLICIES} without a key policy statement for the account, even the root has no access`, principal: root, keyPolicy: [keyStmt('Allow', alice.arn)], identity: [], expected: denied('no-resource-policy', true) },
  { name: 'cross-account: key policy names the account and IAM policy allows', cite: `${CROSS_ACCOUNT} both the key policy and an IAM policy in the external account`, principal: bob, keyPolicy: [DEFAULT_STMT, externalStmt(rootArn(OTHER))], identity: [[ENCRYPT_ONLY]], expected: ALLOWED },
  { name: 'cross-account: key policy names the account, no IAM policy', cite: `${CROSS_ACCOUNT} external account must delegate via IAM policies`, principal: bob, keyPolicy: [DEFAULT_STMT, externalStmt(rootArn(OTHER))], identity: [], expected: denied('no-identity-policy', true) },
  { name: 'cross-account: key policy names the user, no IAM policy', cite: `${CROSS_ACCOUNT} even a named external user needs an IAM policy`, principal: bob, keyPolicy: [DEFAULT_STMT, externalStmt(bob.arn)], identity: [], expected: denied('no-identity-policy', true) },
  { name: 'cross-account: key policy names the user and IAM policy allows', cite: `${CROSS_ACCOUNT} key policy + IAM policy`, principal: bob, keyPolicy: [DEFAULT_STMT, externalStmt(bob.arn)], identity: [[{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: KEY_ARN }]], expected: ALLOWED },
  { name: 'cross-account: IAM policy alone is not enough', cite: `${CROSS_ACCOUNT} key policy must give the external account permission`, principal: bob, keyPolicy: 'default', identity: [[IDENTITY_ALL]], expected: denied('no-resource-policy', true) },
  { name: 'cross-account: root of the named account is allowed', cite: `${CROSS_ACCOUNT} external account root has the permissions the key policy gives its account`, principal: otherRoot, keyPolicy: [DEFAULT_STMT, externalStmt(rootArn(OTHER))], identity: [], expected: ALLOWED },
  { name: 'cross-account: root of an account not named', cite: `${CROSS_ACCOUNT} the key policy must name the external account`, principal: otherRoot, keyPolicy: 'default', identity: [], expected: denied('no-resource-policy', true) },
  { name: 'cross-account: action outside what the key policy gives the account', cite: `${CROSS_ACCOUNT} external account limited to the key policy's actions`, principal: bob, action: 'kms:ScheduleKeyDeletion', keyPolicy: [DEFAULT_STMT, externalStmt(rootArn(OTHER))], identity: [[IDENTITY_ALL]], expected: denied('no-resource-policy', true) },
  { name: 'no key: identity policy allows CreateKey', cite: `${IAM_POLICIES} CreateKey is controlled by IAM policies only`, principal: alice, action: 'kms:CreateKey', keyPolicy: undefined, identity: [[{ Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*' }]], expected: ALLOWED },
  { name: 'no key: no identity policy', cite: `${IAM_POLICIES} CreateKey is controlled by IAM policies only`, principal: alice, action: 'kms:CreateKey', keyPolicy: undefined, identity: [], expected: denied('no-identity-policy', false) },
  { name: 'no key: identity deny', cite: `${EVAL} explicit deny in an identity-based policy`, principal: alice, action: 'kms:ListKeys', keyPolicy: undefined, identity: [[IDENTITY_ALL, { Effect: 'Deny', Action: 'kms:List*', Resource: '*' }]], expected: denied('explicit-deny-identity', false) },
  { name: 'no key: the account root is always allowed', cite: `${IAM}/id_root-user.html root user has full access to all resources in the account`, principal: root, action: 'kms:CreateKey', keyPolicy: undefined, identity: [], expected: ALLOWED },
];

describe('decide(): key policy and identity policies together', () => {
  it.each(decisionCases)('$name — $cite', (c) => {
    const action = c.action ?? 'kms:Encrypt';
    const resource = c.keyPolicy === undefined ? '*' : KEY_ARN;
    const request = req({}, { action, resource, principal: c.principal });
    const keyDoc = c.keyPolicy === 'default' ? defaultKeyPolicy(ACCOUNT) : c.keyPolicy && doc(c.keyPolicy);
    const keyPolicy = keyDoc === undefined ? undefined : Policy.parse(keyDoc, 'key').evaluate(request);
    const identity = combineVerdicts(c.identity.map((s) => Policy.parse(doc(s), 'identity').evaluate(request)));
    const keyAccountId = c.keyPolicy === undefined ? undefined : ACCOUNT;
    expect(decide({ principal: c.principal, keyAccountId, keyPolicy, identity })).toEqual(c.expected);
  });
});

// ---------------------------------------------------------------------------
// combineVerdicts() on its own.
describe('combineVerdicts()', () => {
  it.each([
    { name: 'no policies: nothing allowed', cite: `${EVAL} implicit deny by default`, verdicts: [], expected: NONE },
    { name: 'one allow among no-matches allows', cite: `${EVAL} an allow in any identity policy`, verdicts: [NONE, ALLOW], expected: ALLOW },
    { name: 'a deny wins over an allow', cite: `${EVAL} explicit deny overrides allow`, verdicts: [ALLOW, DENY], expected: DENY },
    { name: 'delegation means nothing in identity policies', cite: `${DEFAULT_POLICY} delegation is a key-policy notion`, verdicts: [DELEGATED], expected: NONE },
  ])('$name — $cite', ({ verdicts, expected }) => {
    expect(combineVerdicts(verdicts)).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------
// denialMessage(): AWS's AccessDeniedException wording.
describe('denialMessage()', () => {
  const head = `User: ${alice.arn} is not authorized to perform: kms:Encrypt on resource: ${KEY_ARN}`;
  it.each([
    { reason: 'no-resource-policy' as const, cite: `${TROUBLESHOOT} "because no resource-based policy allows the kms:Encrypt action"`, expected: `${head} because no resource-based policy allows the kms:Encrypt action` },
    { reason: 'no-identity-policy' as const, cite: `${TROUBLESHOOT} "because no identity-based policy allows the ... action"`, expected: `${head} because no identity-based policy allows the kms:Encrypt action` },
    { reason: 'explicit-deny-resource' as const, cite: `${TROUBLESHOOT} "with an explicit deny in a resource-based policy"`, expected: `${head} with an explicit deny in a resource-based policy` },
    { reason: 'explicit-deny-identity' as const, cite: `${TROUBLESHOOT} "with an explicit deny in an identity-based policy"`, expected: `${head} with an explicit deny in an identity-based policy` },
  ])('$reason — $cite', ({ reason, expected }) => {
    expect(denialMessage(alice.arn, 'kms:Encrypt', KEY_ARN, reason)).toBe(expected);
  });

  it('matches the documented example exactly', () => {
    expect(denialMessage('arn:aws:iam::111122223333:user/alice', 'kms:Encrypt', 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'no-resource-policy')).toBe(
      'User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab because no resource-based policy allows the kms:Encrypt action',
    );
  });
});

// ---------------------------------------------------------------------------
// Policy.parse(): documents AWS KMS refuses with MalformedPolicyDocumentException.
const OK_STMT: Statement = { Effect: 'Allow', Action: 'kms:*', Resource: '*' };
const OK_KEY_STMT: Statement = keyStmt('Allow', rootArn(ACCOUNT));

/** A valid identity policy padded (in the Sid) to exactly `bytes` UTF-8 bytes. */
function paddedPolicy(bytes: number): string {
  const empty = doc([{ ...OK_STMT, Sid: '' }]);
  return doc([{ ...OK_STMT, Sid: 'x'.repeat(bytes - Buffer.byteLength(empty)) }]);
}

interface MalformedCase {
  readonly name: string;
  readonly cite: string;
  readonly kind: PolicyKind;
  readonly document: string;
}

const malformedCases: MalformedCase[] = [
  { name: 'not JSON', cite: `${KMS}/APIReference/API_PutKeyPolicy.html policy must be a JSON document`, kind: 'key', document: '{"Version": "2012-10-17", "Statement": [' },
  { name: 'unknown Effect', cite: `${IAM}/reference_policies_elements_effect.html Effect: Allow or Deny`, kind: 'identity', document: doc([{ ...OK_STMT, Effect: 'Permit' }]) },
  { name: 'missing Action (and NotAction)', cite: `${ACTION} a statement must include Action or NotAction`, kind: 'identity', document: doc([{ Effect: 'Allow', Resource: '*' }]) },
  { name: 'both Action and NotAction', cite: `${IAM}/reference_policies_grammar.html statement has one of Action or NotAction`, kind: 'identity', document: doc([{ ...OK_STMT, NotAction: 'kms:Decrypt' }]) },
  { name: 'missing Resource (and NotResource)', cite: `${RESOURCE} statements must include Resource or NotResource`, kind: 'identity', document: doc([{ Effect: 'Allow', Action: 'kms:*' }]) },
  { name: 'unknown condition operator', cite: `${OPS} only the documented condition operators`, kind: 'identity', document: doc([allowIf({ StringMatches: { 'kms:CallerAccount': ACCOUNT } })]) },
  { name: 'Principal in an identity policy', cite: `${PRINCIPAL} you cannot use Principal in identity-based policies`, kind: 'identity', document: doc([{ ...OK_STMT, Principal: { AWS: alice.arn } }]) },
  { name: 'missing Principal in a key policy', cite: `${KEY_POLICIES} each key policy statement must specify Principal`, kind: 'key', document: doc([OK_STMT]) },
  { name: 'principal ARN with a short account id', cite: `${PRINCIPAL} AWS principals: 12-digit account id or valid ARN`, kind: 'key', document: doc([keyStmt('Allow', 'arn:aws:iam::12:user/x')]) },
  { name: 'non-numeric value for NumericLessThan', cite: `${OPS} Numeric condition operators take numbers`, kind: 'identity', document: doc([allowIf({ NumericLessThan: { 'kms:ScheduleKeyDeletionPendingWindowInDays': 'thirty' } })]) },
  { name: 'Null with IfExists', cite: `${OPS} IfExists: works with any operator except Null`, kind: 'identity', document: doc([allowIf({ NullIfExists: { 'aws:TagKeys': 'true' } })]) },
  { name: 'ForAllValues with kms:EncryptionContext:<key>', cite: `${KMS_KEYS} kms:EncryptionContext:context-key is single-valued; ForAllValues rejected (OverlyPermissiveCondition)`, kind: 'key', document: doc([{ ...OK_KEY_STMT, Condition: { 'ForAllValues:StringEquals': { 'kms:EncryptionContext:Department': 'IT' } } }]) },
  { name: 'policy over 32768 bytes', cite: `${QUOTAS} key policy document size: 32 KB (32,768 bytes)`, kind: 'identity', document: paddedPolicy(MAX_POLICY_BYTES + 1) },
  { name: 'invalid date for DateLessThan', cite: `${OPS} Date operators take ISO 8601 dates or epoch time`, kind: 'identity', document: doc([allowIf({ DateLessThan: { 'aws:CurrentTime': 'next tuesday' } })]) },
  { name: 'invalid CIDR for IpAddress', cite: `${OPS} IpAddress takes an IP address or CIDR range`, kind: 'identity', document: doc([allowIf({ IpAddress: { 'aws:SourceIp': '203.0.113.0/33' } })]) },
];

describe('Policy.parse() rejects malformed policies', () => {
  it.each(malformedCases)('$name — $cite', (c) => {
    expect(() => Policy.parse(c.document, c.kind)).toThrow(MalformedPolicyDocumentException);
  });

  // Condition keys AWS documents but this service never fills: a condition on them could never be decided.
  it.each(['aws:PrincipalOrgID', 'aws:SourceVpce', 'kms:MadeUpKey'])(
    'refuses a new policy naming %s, which this service never fills',
    (key) => {
      const document = doc([{ ...OK_STMT, Effect: 'Deny', Condition: { StringEquals: { [key]: 'x' } } }]);
      expect(() => Policy.parse(document, 'identity', 'new')).toThrow(`Condition key ${key} is not supported by this service`);
    },
  );

  it('reads a stored policy naming such a key failing closed: its Deny applies, its Allow does not', () => {
    const request = { action: 'kms:Encrypt', resource: '*', principal: alice, conditions: { get: () => undefined } };
    const deny = Policy.parse(doc([OK_STMT, { ...OK_STMT, Effect: 'Deny', Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'x' } } }]), 'identity');
    expect(deny.evaluate(request).deny).toBe(true);
    const allow = Policy.parse(doc([{ ...OK_STMT, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'x' } } }]), 'identity');
    expect(allow.evaluate(request).allow).toBe(false);
    // Another service's key never applies to KMS, in AWS too: accepted, and decided as absent.
    expect(() => Policy.parse(doc([{ ...OK_STMT, Condition: { StringEquals: { 's3:prefix': 'x' } } }]), 'identity', 'new')).not.toThrow();
  });

  // Names of Object's own members are operators no more than any other unknown name (they used to answer "spec.compile is not a function").
  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])('names a condition operator called %s unknown', (operator) => {
    const document = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"${operator}":{"kms:CallerAccount":"${ACCOUNT}"}}}]}`;
    expect(() => Policy.parse(document, 'identity')).toThrow(`Unknown condition operator ${operator}.`);
  });

  it('accepts a policy of exactly 32768 bytes (control for the size case)', () => {
    const document = paddedPolicy(MAX_POLICY_BYTES);
    expect(Buffer.byteLength(document)).toBe(32_768);
    expect(Policy.parse(document, 'identity').evaluate(req())).toEqual(ALLOW);
  });

  it('accepts ForAnyValue with kms:EncryptionContextKeys and Principal in a key policy (controls)', () => {
    const policy = Policy.parse(doc([{ ...OK_KEY_STMT, Condition: { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'Department' } } }]), 'key');
    expect(policy.evaluate(req({ 'kms:EncryptionContextKeys': ['Department'] }, { principal: root }))).toEqual(ALLOW);
  });
});

describe('key policies bind the users and roles they name to unique ids', () => {
  const user = `arn:aws:iam::${ACCOUNT}:user/erin`;
  const doc = (effect: 'Allow' | 'Deny') => JSON.stringify({ Statement: [{ Effect: effect, Principal: { AWS: user }, Action: 'kms:Encrypt', Resource: '*' }] });
  const ask = (policy: Policy, uniqueId: string) => policy.evaluate({ action: 'kms:Encrypt', resource: '*', principal: { arn: user, accountId: ACCOUNT, uniqueId }, conditions: new Map() });

  it(`matches the principal bound when the policy was written, never a namesake (${KEY_POLICIES})`, () => {
    const allow = Policy.parse(doc('Allow'), 'key', 'stored', { [user]: 'AIDAERINFIRST0000000' });
    expect(ask(allow, 'AIDAERINFIRST0000000').allow).toBe(true);
    expect(ask(allow, 'AIDAERINSECOND000000').allow).toBe(false);
    const deny = Policy.parse(doc('Deny'), 'key', 'stored', { [user]: 'AIDAERINFIRST0000000' });
    expect(ask(deny, 'AIDAERINFIRST0000000').deny).toBe(true);
    expect(ask(deny, 'AIDAERINSECOND000000').deny).toBe(false);
  });

  it('reads a policy not bound yet so that its named users count in a Deny and never in an Allow', () => {
    expect(ask(Policy.parse(doc('Allow'), 'key', 'stored', null), 'AIDAERINFIRST0000000').allow).toBe(false);
    expect(ask(Policy.parse(doc('Deny'), 'key', 'stored', null), 'AIDAERINFIRST0000000').deny).toBe(true);
    expect(ask(Policy.parse(doc('Deny'), 'key', 'stored', {}), 'AIDAERINFIRST0000000').deny).toBe(true);
  });

  it('binds nothing in a root or an account: they are their account', () => {
    const rootDoc = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: rootArn(ACCOUNT) }, Action: 'kms:*', Resource: '*' }] });
    const verdict = Policy.parse(rootDoc, 'key', 'stored', {}).evaluate({ action: 'kms:Encrypt', resource: '*', principal: { arn: rootArn(ACCOUNT), accountId: ACCOUNT, uniqueId: ACCOUNT }, conditions: new Map() });
    expect(verdict.allow).toBe(true);
  });
});
