import { randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An access key id in AWS's shape: AKIA and 16 base32 characters. */
export function generateAccessKeyId(): string {
  return 'AKIA' + [...randomBytes(16)].map((b) => BASE32[b % 32]).join('');
}

/** 240 random bits, 40 base64 characters like AWS's secrets. */
export function generateSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

const PRINCIPAL_ARN = /^arn:aws:iam::(\d{12}):(root|user\/[\w+=,.@-]{1,64}|role\/[\w+=,.@-]{1,64})$/;

/** The account and kind of an IAM-style principal ARN this service can hold, or undefined. */
export function parsePrincipalArn(arn: string): { accountId: string; kind: 'root' | 'user' | 'role'; name: string } | undefined {
  const m = PRINCIPAL_ARN.exec(arn);
  if (!m) return undefined;
  const resource = m[2]!;
  if (resource === 'root') return { accountId: m[1]!, kind: 'root', name: 'root' };
  const [kind, name] = resource.split('/') as ['user' | 'role', string];
  return { accountId: m[1]!, kind, name };
}
