import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  RotateKeyOnDemandCommand,
  VerifyMacCommand,
  type KeySpec,
  type MacAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();

const SPECS: Array<[KeySpec, MacAlgorithmSpec, number]> = [
  ['HMAC_224', 'HMAC_SHA_224', 28],
  ['HMAC_256', 'HMAC_SHA_256', 32],
  ['HMAC_384', 'HMAC_SHA_384', 48],
  ['HMAC_512', 'HMAC_SHA_512', 64],
];

async function hmacKey(spec: KeySpec): Promise<string> {
  return (await createKey(kms.client, { KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' })).KeyId!;
}

describe('HMAC keys', () => {
  for (const [spec, algorithm, length] of SPECS) {
    it(`${spec}: MACs of ${length} bytes that verify, repeat for the same message, and refuse a flipped bit`, async () => {
      const keyId = await hmacKey(spec);
      const m = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
      expect(m.KeySpec).toBe(spec);
      expect(m.KeyUsage).toBe('GENERATE_VERIFY_MAC');
      expect(m.MacAlgorithms).toEqual([algorithm]);
      expect(m.EncryptionAlgorithms).toBeUndefined();

      const message = Buffer.from(`message for ${spec}`);
      const out = await kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: message, MacAlgorithm: algorithm }));
      expect(out.Mac!.length).toBe(length);
      expect(out.MacAlgorithm).toBe(algorithm);
      expect(out.KeyId).toBe(m.Arn);
      const again = await kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: message, MacAlgorithm: algorithm }));
      expect(Buffer.from(again.Mac!).equals(Buffer.from(out.Mac!))).toBe(true);

      const ok = await kms.client.send(new VerifyMacCommand({ KeyId: keyId, Message: message, Mac: out.Mac, MacAlgorithm: algorithm }));
      expect(ok.MacValid).toBe(true);

      const flippedMessage = Buffer.from(message);
      flippedMessage[0]! ^= 0x01;
      await expectAwsError(kms.client.send(new VerifyMacCommand({ KeyId: keyId, Message: flippedMessage, Mac: out.Mac, MacAlgorithm: algorithm })), 'KMSInvalidMacException');
      const flippedMac = Buffer.from(out.Mac!);
      flippedMac[flippedMac.length - 1]! ^= 0x80;
      await expectAwsError(kms.client.send(new VerifyMacCommand({ KeyId: keyId, Message: message, Mac: flippedMac, MacAlgorithm: algorithm })), 'KMSInvalidMacException');
      await expectAwsError(
        kms.client.send(new VerifyMacCommand({ KeyId: keyId, Message: message, Mac: Buffer.from(out.Mac!).subarray(0, length - 1), MacAlgorithm: algorithm })),
        'KMSInvalidMacException',
      );
    });
  }

  it('gives different MACs under different keys of the same spec', async () => {
    const message = Buffer.from('same message');
    const macs = await Promise.all(
      [await hmacKey('HMAC_256'), await hmacKey('HMAC_256')].map(async (KeyId) =>
        Buffer.from((await kms.client.send(new GenerateMacCommand({ KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!),
      ),
    );
    expect(macs[0]!.equals(macs[1]!)).toBe(false);
  });

  it('refuses wrong combinations with AWS error types', async () => {
    const keyId = await hmacKey('HMAC_256');
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_512' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.alloc(4097), MacAlgorithm: 'HMAC_SHA_256' })), 'ValidationException');
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_256', DryRun: true })), 'DryRunOperationException');
    await expectAwsError(kms.client.send(new CreateKeyCommand({ KeySpec: 'HMAC_256' })), 'ValidationException');
    await expectAwsError(kms.client.send(new CreateKeyCommand({ KeyUsage: 'GENERATE_VERIFY_MAC' })), 'ValidationException');
    const symmetric = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: symmetric, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_256' })), 'InvalidKeyUsageException');
    await kms.client.send(new DisableKeyCommand({ KeyId: keyId }));
    await expectAwsError(kms.client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('x'), MacAlgorithm: 'HMAC_SHA_256' })), 'DisabledException');
  });
});
