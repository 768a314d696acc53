import { describe, expect, it } from 'vitest';
import { parseSeed } from '../../src/config/seed-file.js';
import type { KmsKey } from '../../src/domain/key.js';
import { materialCheckValue } from '../../src/domain/material-check.js';
import { checkSeed, type SeedState } from '../../src/services/seeding/seed-check.js';
import { SeedCalls } from '../../src/services/seeding/seed-calls.js';

const untouched = () => Promise.reject(new Error('the check read the service before refusing'));
const nothingRead: SeedState = {
  keys: { get: untouched },
  principals: { getAccessKey: untouched, listAccessKeys: untouched, uniqueIdsOf: untouched },
  materials: { listImportedMaterial: untouched },
  access: { assertPolicyKeepsCaller: untouched },
  tags: { listResourceTags: untouched },
  aliases: { targetOf: untouched },
};
const calls = new SeedCalls({ apiCall: untouched }, '111122223333', 'us-east-1');

describe('the seed check', () => {
  it('refuses given key material outside the development profile, before reading anything', async () => {
    const doc = parseSeed(`keys:\n  - id: 5eed0000-0000-4000-8000-000000000001\n    material: ${Buffer.alloc(32, 1).toString('base64')}\n`, 'seed.yaml');
    await expect(checkSeed(doc, nothingRead, calls, { development: false })).rejects.toThrow(/^seed\.yaml:3: keys\.0\.material: given key material is for development only/);
  });

  it('refuses a key id the service holds in another region or account', async () => {
    const doc = parseSeed(`keys:\n  - id: 5eed0000-0000-4000-8000-000000000001\n`, 'seed.yaml');
    const elsewhere = { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', region: 'eu-west-1', accountId: '111122223333' } as unknown as KmsKey;
    const state = { ...nothingRead, keys: { get: async () => elsewhere } };
    await expect(checkSeed(doc, state, calls, { development: true })).rejects.toThrow(/^seed\.yaml:2: keys\.0: key 5eed0000-.* exists in 111122223333 eu-west-1; the seed file's keys are made in 111122223333 us-east-1/);
  });

  it('computes the check value the token records for AES-256 material (a known answer)', () => {
    // AES-256-GCM of 16 zero bytes under a zero key and a zero IV with the check's AAD, computed apart (Python's cryptography, AESGCM).
    expect(materialCheckValue(Buffer.alloc(32)).toString('hex')).toBe(KNOWN_ZERO_KEY_CHECK);
  });
});

const KNOWN_ZERO_KEY_CHECK = 'cea7403d4d606b6e074ec5d3baf39d18f472082e7f745d9efb1081f6890bae16';
