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
