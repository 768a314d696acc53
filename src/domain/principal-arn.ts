/** IAM-style principal ARNs, the one place that knows their shape. */
import { randomBytes } from 'node:crypto';

export type PrincipalKind = 'root' | 'user' | 'role';

export const rootArn = (accountId: string) => `arn:aws:iam::${accountId}:root`;

/** arn:aws:iam::ACCOUNT:user/NAME or role/NAME. */
export const iamArn = (accountId: string, kind: Exclude<PrincipalKind, 'root'>, name: string) => `arn:aws:iam::${accountId}:${kind}/${name}`;

export const isRoot = (p: { readonly arn: string; readonly accountId: string }) => p.arn === rootArn(p.accountId);

const PRINCIPAL_ARN = /^arn:aws:iam::(\d{12}):(root|user\/[\w+=,.@-]{1,64}|role\/[\w+=,.@-]{1,64})$/;

/** The account and kind of an IAM-style principal ARN this service can hold, or undefined. */
export function parsePrincipalArn(arn: string): { accountId: string; kind: PrincipalKind; name: string } | undefined {
  const m = PRINCIPAL_ARN.exec(arn);
  if (!m) return undefined;
  const resource = m[2]!;
  if (resource === 'root') return { accountId: m[1]!, kind: 'root', name: 'root' };
  const [kind, name] = resource.split('/') as ['user' | 'role', string];
  return { accountId: m[1]!, kind, name };
}

const UNIQUE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A new principal's immutable unique id, shaped as IAM's: AIDA (users) or AROA
 * (roles) and 17 random characters; a root's is its account id.
 */
export function newUniqueId(kind: PrincipalKind, accountId: string): string {
  if (kind === 'root') return accountId;
  const random = randomBytes(17);
  const tail = Array.from(random, (b) => UNIQUE_ID_ALPHABET[b & 31]).join('');
  return `${kind === 'user' ? 'AIDA' : 'AROA'}${tail}`;
}

/** The unique id a principal ARN binds to when it names a root (its account); users and roles have theirs in the store. */
export function rootUniqueId(arn: string): string | undefined {
  const parsed = parsePrincipalArn(arn);
  return parsed?.kind === 'root' ? parsed.accountId : undefined;
}
