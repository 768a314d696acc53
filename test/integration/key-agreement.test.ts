import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DeriveSharedSecretCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetPublicKeyCommand,
  SignCommand,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { trailBytes } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();
const CURVES = { ECC_NIST_P256: 'prime256v1', ECC_NIST_P384: 'secp384r1', ECC_NIST_P521: 'secp521r1' } as const;

async function agreementKey(KeySpec: keyof typeof CURVES = 'ECC_NIST_P256'): Promise<string> {
  return (await kms.client.send(new CreateKeyCommand({ KeySpec, KeyUsage: 'KEY_AGREEMENT' }))).KeyMetadata!.KeyId!;
}

function peer(curve: string) {
  const pair = generateKeyPairSync('ec', { namedCurve: curve });
  return { privateKey: pair.privateKey, spki: pair.publicKey.export({ format: 'der', type: 'spki' }) };
}

describe('key agreement (KEY_AGREEMENT keys, DeriveSharedSecret)', () => {
  it.each(Object.entries(CURVES))('%s: ECDH in the token gives the shared secret Node computes with the peer private key', async (spec, curve) => {
    const keyId = await agreementKey(spec as keyof typeof CURVES);
    const metadata = (await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    expect(metadata).toMatchObject({ KeySpec: spec, KeyUsage: 'KEY_AGREEMENT', KeyAgreementAlgorithms: ['ECDH'] });
    expect(metadata.SigningAlgorithms).toBeUndefined();
    const published = await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(published).toMatchObject({ KeyUsage: 'KEY_AGREEMENT', KeyAgreementAlgorithms: ['ECDH'] });
    const other = peer(curve);
    const out = await kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: other.spki }));
    expect(out).toMatchObject({ KeyId: metadata.Arn, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: 'AWS_KMS' });
    const expected = diffieHellman({ privateKey: other.privateKey, publicKey: createPublicKey({ key: Buffer.from(published.PublicKey!), format: 'der', type: 'spki' }) });
    expect(Buffer.from(out.SharedSecret!).toString('hex')).toBe(expected.toString('hex'));
    // The secret is the caller's alone: never in the audit trail.
    expect(await trailBytes(kms.service.audit.dir)).not.toContain(Buffer.from(out.SharedSecret!).toString('base64'));
  });

  it('refuses a peer key on another curve or not a key at all, a key of another usage, and a disabled key', async () => {
    const keyId = await agreementKey('ECC_NIST_P256');
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer('secp384r1').spki })), 'ValidationException');
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: Buffer.from('not a key') })), 'ValidationException');
    const rsaPeer = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: rsaPeer })), 'ValidationException');
    // A signing key does not agree; an agreeing key does not sign.
    const signing = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: signing, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer('prime256v1').spki })), 'InvalidKeyUsageException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
    // secp256k1 has no key agreement in AWS.
    await expectAwsError(kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'KEY_AGREEMENT' })), 'ValidationException');
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer('prime256v1').spki, DryRun: true })), 'DryRunOperationException');
    await kms.client.send(new DisableKeyCommand({ KeyId: keyId }));
    await expectAwsError(kms.client.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer('prime256v1').spki })), 'DisabledException');
  });

  it('grants DeriveSharedSecret on agreement keys only', async () => {
    const keyId = await agreementKey();
    await kms.client.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:root', Operations: ['DeriveSharedSecret', 'GetPublicKey'] }));
    await expectAwsError(kms.client.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:root', Operations: ['Sign'] })), 'ValidationException');
  });
});
