/** IAM-style principal ARNs, the one place that knows their shape. */

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
