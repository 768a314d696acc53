import type { KeySpec } from './key.js';

/** HMAC key specs as AWS defines them: key length and the one MAC algorithm each supports. */
export const HMAC_SPECS = {
  HMAC_224: { keyBytes: 28, macAlgorithm: 'HMAC_SHA_224', macBytes: 28 },
  HMAC_256: { keyBytes: 32, macAlgorithm: 'HMAC_SHA_256', macBytes: 32 },
  HMAC_384: { keyBytes: 48, macAlgorithm: 'HMAC_SHA_384', macBytes: 48 },
  HMAC_512: { keyBytes: 64, macAlgorithm: 'HMAC_SHA_512', macBytes: 64 },
} as const;

export type HmacKeySpec = keyof typeof HMAC_SPECS;
export type MacAlgorithm = (typeof HMAC_SPECS)[HmacKeySpec]['macAlgorithm'];

export function isHmacSpec(spec: string): spec is HmacKeySpec {
  return Object.hasOwn(HMAC_SPECS, spec);
}

/** What DescribeKey lists for a key spec. */
export function algorithmsOf(spec: KeySpec): { EncryptionAlgorithms?: string[]; MacAlgorithms?: string[] } {
  return isHmacSpec(spec) ? { MacAlgorithms: [HMAC_SPECS[spec].macAlgorithm] } : { EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] };
}
