import type { EncryptionContext } from './encryption-context.js';
import { InvalidGrantTokenException, ValidationException } from './errors.js';
import type { KmsKey } from './key.js';

/** The operations a grant can allow (AWS "Grant operations"). */
export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'GenerateMac',
  'VerifyMac',
  'DescribeKey',
  'CreateGrant',
  'RetireGrant',
  'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

/** Operations that take an encryption context: the only ones a grant constraint can bind. */
const CONTEXT_OPERATIONS: ReadonlySet<GrantOperation> = new Set<GrantOperation>([
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
]);
/** Operations that always go with any grant, whatever its constraints. */
const GRANT_MANAGEMENT: ReadonlySet<GrantOperation> = new Set<GrantOperation>(['CreateGrant', 'RetireGrant', 'DescribeKey']);

export interface GrantConstraints {
  readonly encryptionContextEquals?: EncryptionContext;
  readonly encryptionContextSubset?: EncryptionContext;
}

export interface Grant {
  readonly grantId: string;
  readonly keyId: string;
  readonly keyArn: string;
  readonly name: string | undefined;
  readonly granteePrincipal: string;
  /** The grantee's unique id when the grant was made: only that principal holds it, never a namesake made later. */
  readonly granteeId: string;
  readonly retiringPrincipal: string | undefined;
  readonly retiringId: string | undefined;
  /** The account of the principal that created the grant: its root may retire it. */
  readonly issuingAccount: string;
  readonly operations: readonly GrantOperation[];
  readonly constraints: GrantConstraints | undefined;
  readonly creationDate: Date;
}

/** Whether a grant gives what a request for one asks (grantee, retiring principal, operations in any order, constraints). */
export function grantMatches(
  g: Grant,
  req: { readonly granteePrincipal: string; readonly retiringPrincipal?: string | undefined; readonly operations: readonly GrantOperation[]; readonly constraints?: GrantConstraints | undefined },
): boolean {
  return (
    g.granteePrincipal === req.granteePrincipal &&
    g.retiringPrincipal === req.retiringPrincipal &&
    JSON.stringify([...new Set(g.operations)].sort()) === JSON.stringify([...new Set(req.operations)].sort()) &&
    JSON.stringify(g.constraints ?? null) === JSON.stringify(req.constraints ?? null)
  );
}

/** The operations a key of this kind can perform, as CreateGrant checks them. */
export function operationsValidFor(key: Pick<KmsKey, 'keySpec' | 'keyUsage'>): ReadonlySet<GrantOperation> {
  const common = GRANT_MANAGEMENT;
  if (key.keyUsage === 'GENERATE_VERIFY_MAC') return new Set<GrantOperation>([...common, 'GenerateMac', 'VerifyMac']);
  if (key.keyUsage === 'SIGN_VERIFY') return new Set<GrantOperation>([...common, 'Sign', 'Verify', 'GetPublicKey']);
  if (key.keyUsage === 'KEY_AGREEMENT') return new Set<GrantOperation>([...common, 'DeriveSharedSecret', 'GetPublicKey']);
  if (key.keySpec === 'SYMMETRIC_DEFAULT') return new Set([...common, ...CONTEXT_OPERATIONS]);
  return new Set<GrantOperation>([...common, 'Decrypt', 'Encrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey']);
}

/** CreateGrant's rules for operations and constraints on this key (AWS CreateGrant, "Grant constraints"). */
export function checkGrantRequest(key: KmsKey, operations: readonly GrantOperation[], constraints: GrantConstraints | undefined): void {
  const valid = operationsValidFor(key);
  const invalid = operations.filter((op) => !valid.has(op));
  if (invalid.length > 0) throw new ValidationException(`Grant operations ${invalid.join(', ')} are not valid for ${key.arn} (KeySpec ${key.keySpec}, KeyUsage ${key.keyUsage}).`);
  if (!constraints) return;
  if (constraints.encryptionContextEquals && constraints.encryptionContextSubset) {
    throw new ValidationException('A grant constraint has either EncryptionContextEquals or EncryptionContextSubset, not both.');
  }
  if (key.keySpec !== 'SYMMETRIC_DEFAULT') throw new ValidationException('Encryption context grant constraints are supported only on symmetric encryption KMS keys.');
  const without = operations.filter((op) => !CONTEXT_OPERATIONS.has(op) && !GRANT_MANAGEMENT.has(op));
  if (without.length > 0) throw new ValidationException(`Grant constraints cannot apply to ${without.join(', ')}, which take no encryption context.`);
}

/** Grant constraints compare keys without case and values exactly (AWS GrantConstraints). */
function byLowerKey(context: EncryptionContext): Map<string, string> {
  return new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
}

function contextContains(request: EncryptionContext, subset: EncryptionContext): boolean {
  const have = byLowerKey(request);
  return Object.entries(subset).every(([k, v]) => have.get(k.toLowerCase()) === v);
}

function contextEquals(a: EncryptionContext, b: EncryptionContext): boolean {
  // Raw key counts: pairs that differ only in case must not merge into a match.
  return Object.keys(a).length === Object.keys(b).length && contextContains(a, b);
}

/**
 * Whether the grant lets its grantee perform the operation with this encryption
 * context. Constraints bind the cryptographic operations only; keys compare
 * without case and values exactly.
 */
export function grantPermits(grant: Grant, operation: string, encryptionContext: EncryptionContext | undefined): boolean {
  if (!(grant.operations as readonly string[]).includes(operation)) return false;
  const c = grant.constraints;
  if (!c || !CONTEXT_OPERATIONS.has(operation as GrantOperation)) return true;
  const context = encryptionContext ?? {};
  if (c.encryptionContextEquals) return contextEquals(context, c.encryptionContextEquals);
  if (c.encryptionContextSubset) return contextContains(context, c.encryptionContextSubset);
  return true;
}

/** Whether a new grant's constraints are at least as strict as the parent grant's (for grants made through a CreateGrant grant). */
export function constraintsAtLeastAsStrict(child: GrantConstraints | undefined, parent: GrantConstraints | undefined): boolean {
  if (!parent || (!parent.encryptionContextEquals && !parent.encryptionContextSubset)) return true;
  if (!child) return false;
  if (parent.encryptionContextEquals) return child.encryptionContextEquals !== undefined && contextEquals(child.encryptionContextEquals, parent.encryptionContextEquals);
  const childContext = child.encryptionContextEquals ?? child.encryptionContextSubset;
  return childContext !== undefined && contextContains(childContext, parent.encryptionContextSubset!);
}

const TOKEN_PREFIX = 'hsmkms-gt1.';

/**
 * A grant token names its grant, so that an instance that has not yet seen the
 * grant can find it at once. It carries no authority of its own: the caller must
 * still be the grant's grantee.
 */
export function encodeGrantToken(grantId: string, nonce: Buffer): string {
  return TOKEN_PREFIX + Buffer.concat([Buffer.from(grantId, 'hex'), nonce]).toString('base64url');
}

export function decodeGrantToken(token: string): string {
  const body = token.startsWith(TOKEN_PREFIX) ? Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url') : Buffer.alloc(0);
  if (body.length !== 48 || TOKEN_PREFIX + body.toString('base64url') !== token) throw new InvalidGrantTokenException('The grant token is not valid.');
  return body.subarray(0, 32).toString('hex');
}
