import type { KeySpec } from './key.js';
import { ED25519, isEccSpec, isRsaSpec } from './key-spec.js';

/**
 * AWS KMS's request quotas: requests per second, per account and region, by
 * quota name (AWS KMS Developer Guide, "Request quotas"). Cryptographic
 * operations share a quota by key type; data key pairs have one per key pair
 * spec; every management operation has its own.
 */
const MANAGEMENT_QUOTAS: Readonly<Record<string, number>> = {
  CancelKeyDeletion: 5, CreateAlias: 5, CreateKey: 5, DisableKey: 5, DisableKeyRotation: 5, EnableKey: 5, GetKeyLastUsage: 5,
  RotateKeyOnDemand: 5, UntagResource: 5, UpdateAlias: 5, UpdateKeyDescription: 5,
  TagResource: 10,
  DeleteAlias: 15, DeleteImportedKeyMaterial: 15, EnableKeyRotation: 15, ImportKeyMaterial: 15, PutKeyPolicy: 15, ScheduleKeyDeletion: 15,
  CreateGrant: 50, RetireGrant: 50, RevokeGrant: 50,
  ListGrants: 100, ListKeyPolicies: 100, ListKeyRotations: 100, ListRetirableGrants: 100,
  ListAliases: 500, ListKeys: 500,
  GetKeyPolicy: 1000, GetKeyRotationStatus: 1000,
  DescribeKey: 2000, GetPublicKey: 2000, ListResourceTags: 2000,
  GetParametersForImport: 1,
};

const DATA_KEY_PAIR_QUOTAS: Readonly<Record<string, number>> = {
  ECC_NIST_P256: 100, ECC_NIST_P384: 100, ECC_NIST_P521: 100, ECC_SECG_P256K1: 100, ECC_NIST_EDWARDS25519: 100,
  RSA_2048: 20, RSA_3072: 4, RSA_4096: 1,
};

const SYMMETRIC_CRYPTOGRAPHY = 'cryptographic-symmetric';
const CRYPTOGRAPHIC_ACTIONS: ReadonlySet<string> = new Set([
  'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'GenerateRandom', 'VerifyMac',
  'ReEncryptFrom', 'ReEncryptTo', 'Sign', 'Verify', 'DeriveSharedSecret',
]);

/** The symmetric cryptographic quota, which AWS sets by region. */
function symmetricQuota(region: string): number {
  if (['us-east-1', 'us-west-2', 'eu-west-1'].includes(region)) return 100_000;
  if (['us-east-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'eu-central-1', 'eu-west-2'].includes(region)) return 20_000;
  return 10_000;
}

/** Every quota and its default in a region: what `KMS_QUOTAS` may override. */
export function defaultRequestQuotas(region: string): Map<string, number> {
  return new Map<string, number>([
    [SYMMETRIC_CRYPTOGRAPHY, symmetricQuota(region)],
    ['cryptographic-rsa', 1000],
    ['cryptographic-ecc', 1000],
    ...Object.entries(DATA_KEY_PAIR_QUOTAS).map(([spec, rate]) => [`GenerateDataKeyPair-${spec}`, rate] as [string, number]),
    ...Object.entries(MANAGEMENT_QUOTAS),
  ]);
}

/**
 * The quota one action is counted against, or undefined when none applies (the
 * admin API, operations AWS sets no quota for). The key's spec decides the
 * cryptographic quota; a data key pair's spec decides its own.
 */
export function quotaOf(action: string, keySpec: KeySpec | undefined, keyPairSpec?: string): string | undefined {
  if (action === 'GenerateDataKeyPair' || action === 'GenerateDataKeyPairWithoutPlaintext') return keyPairSpec && `GenerateDataKeyPair-${keyPairSpec}`;
  if (CRYPTOGRAPHIC_ACTIONS.has(action)) {
    if (keySpec !== undefined && isRsaSpec(keySpec)) return 'cryptographic-rsa';
    if (keySpec !== undefined && (isEccSpec(keySpec) || keySpec === ED25519)) return 'cryptographic-ecc';
    return SYMMETRIC_CRYPTOGRAPHY; // symmetric and HMAC keys, and GenerateRandom
  }
  return Object.hasOwn(MANAGEMENT_QUOTAS, action) ? action : undefined;
}

/**
 * A token bucket: `rate` requests a second, and a burst of up to one second's
 * worth (at least one request, so that fractional rates still serve).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly capacity: number;

  constructor(
    private readonly rate: number,
    now: number,
  ) {
    this.capacity = Math.max(1, rate);
    this.tokens = this.capacity;
    this.updatedAt = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) * this.rate) / 1000);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
