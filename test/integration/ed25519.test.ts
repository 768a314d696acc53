import { createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { CreateKeyCommand, DescribeKeyCommand, GetPublicKeyCommand, SignCommand, VerifyCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { useTestService } from '../support/service.js';

const kms = useTestService();

describe('Ed25519 keys (SoftHSMv2 CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA)', () => {
  it('signs RAW messages that Node verifies, and Verify refuses flipped bits and foreign signatures', async () => {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' }));
    const keyId = KeyMetadata!.KeyId!;
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.SigningAlgorithms).toEqual(['ED25519_SHA_512', 'ED25519_PH_SHA_512']);
    const spki = Buffer.from((await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyType).toBe('ed25519');

    const message = Buffer.from('an Ed25519 message');
    const signature = Buffer.from((await kms.client.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' }))).Signature!);
    expect(signature.length).toBe(64);
    expect(nodeVerify(null, message, publicKey, signature)).toBe(true);
    expect((await kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: signature, SigningAlgorithm: 'ED25519_SHA_512' }))).SignatureValid).toBe(true);

    const flipped = Buffer.from(signature);
    flipped[0]! ^= 0x01;
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: flipped, SigningAlgorithm: 'ED25519_SHA_512' })), 'KMSInvalidSignatureException');
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: Buffer.from('other'), Signature: signature, SigningAlgorithm: 'ED25519_SHA_512' })), 'KMSInvalidSignatureException');
    const foreign = nodeSign(null, message, generateKeyPairSync('ed25519').privateKey);
    await expectAwsError(kms.client.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: foreign, SigningAlgorithm: 'ED25519_SHA_512' })), 'KMSInvalidSignatureException');

    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_SHA_512' })), 'ValidationException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.alloc(64), MessageType: 'DIGEST', SigningAlgorithm: 'ED25519_PH_SHA_512' })), 'UnsupportedOperationException');
    await expectAwsError(kms.client.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm: 'ECDSA_SHA_256' })), 'InvalidKeyUsageException');
  });
});
