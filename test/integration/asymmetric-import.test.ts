import { constants, createCipheriv, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes, verify, type KeyObject } from 'node:crypto';
import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GetParametersForImportCommand,
  GetPublicKeyCommand,
  ImportKeyMaterialCommand,
  SignCommand,
  type AlgorithmSpec,
  type KeySpec,
  type KeyUsageType,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { startTestService, useTestService } from '../support/service.js';

/** RSA and ECC private keys made with Node's crypto, imported as AWS takes them (PKCS#8, wrapped), and used. */
const kms = useTestService();

/** What a customer does: RSA_AES_KEY_WRAP (an AES key under RSA-OAEP, then the PKCS#8 key under AES key wrap with padding), or RSA-OAEP alone. */
function wrap(privateKey: KeyObject, wrappingPublicKey: Uint8Array, algorithm: AlgorithmSpec): Buffer {
  const rsa = createPublicKey({ key: Buffer.from(wrappingPublicKey), format: 'der', type: 'spki' });
  const oaepHash = algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1';
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  if (algorithm.startsWith('RSAES_OAEP')) return publicEncrypt({ key: rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, pkcs8);
  const aes = randomBytes(32);
  const cipher = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([publicEncrypt({ key: rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, aes), cipher.update(pkcs8), cipher.final()]);
}

async function importInto(keyId: string, privateKey: KeyObject, algorithm: AlgorithmSpec = 'RSA_AES_KEY_WRAP_SHA_1') {
  const params = await kms.client.send(new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_3072' }));
  return kms.client.send(
    new ImportKeyMaterialCommand({ KeyId: keyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: wrap(privateKey, params.PublicKey!, algorithm), ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
  );
}

async function externalKey(KeySpec: KeySpec, KeyUsage: KeyUsageType): Promise<string> {
  const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec, KeyUsage }));
  expect(KeyMetadata).toMatchObject({ KeyState: 'PendingImport', Origin: 'EXTERNAL' });
  return KeyMetadata!.KeyId!;
}

const SIGNING: Array<[KeySpec, { type: 'rsa'; modulusLength: number } | { type: 'ec'; namedCurve: string }, SigningAlgorithmSpec, string]> = [
  ['RSA_2048', { type: 'rsa', modulusLength: 2048 }, 'RSASSA_PSS_SHA_256', 'sha256'],
  ['ECC_NIST_P256', { type: 'ec', namedCurve: 'prime256v1' }, 'ECDSA_SHA_256', 'sha256'],
  ['ECC_NIST_P384', { type: 'ec', namedCurve: 'secp384r1' }, 'ECDSA_SHA_384', 'sha384'],
  ['ECC_NIST_P521', { type: 'ec', namedCurve: 'secp521r1' }, 'ECDSA_SHA_512', 'sha512'],
  ['ECC_SECG_P256K1', { type: 'ec', namedCurve: 'secp256k1' }, 'ECDSA_SHA_256', 'sha256'],
];

describe('imported RSA and ECC key material', () => {
  it.each(SIGNING)('%s: signs inside the token, with the public key Node made, verified by Node', async (spec, shape, algorithm, hash) => {
    const pair = shape.type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: shape.modulusLength }) : generateKeyPairSync('ec', { namedCurve: shape.namedCurve });
    const keyId = await externalKey(spec, 'SIGN_VERIFY');
    const imported = await importInto(keyId, pair.privateKey);
    expect(imported.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({ KeyState: 'Enabled', KeySpec: spec });
    const published = Buffer.from((await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    expect(published.toString('hex')).toBe(pair.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'));
    const { Signature } = await kms.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('imported'), SigningAlgorithm: algorithm }));
    const options = shape.type === 'rsa' ? { key: pair.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key: pair.publicKey };
    expect(verify(hash, Buffer.from('imported'), options, Buffer.from(Signature!))).toBe(true);
  });

  it('ECC material small enough for RSA-OAEP alone (as AWS allows) is unwrapped straight into the private key', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyId = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await importInto(keyId, pair.privateKey, 'RSAES_OAEP_SHA_1');
    const published = Buffer.from((await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    expect(published.toString('hex')).toBe(pair.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'));
    // Another process verifies the imported pair against the record of its import before it signs with it.
    const other = await startTestService({ dataDir: kms.dataDir });
    try {
      const { Signature } = await other.client.send(new SignCommand({ KeyId: keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect(verify('sha256', Buffer.from('m'), pair.publicKey, Buffer.from(Signature!))).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('RSA ENCRYPT_DECRYPT: decrypts what Node encrypted under the public key; the same material comes back after deletion, other material does not', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyId = await externalKey('RSA_2048', 'ENCRYPT_DECRYPT');
    await importInto(keyId, pair.privateKey);
    const ciphertext = publicEncrypt({ key: pair.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from('for the token'));
    const opened = await kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('for the token');

    await kms.client.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe('PendingImport');
    await expectAwsError(importInto(keyId, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'IncorrectKeyMaterialException');
    await importInto(keyId, pair.privateKey);
    const again = await kms.client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }));
    expect(Buffer.from(again.Plaintext!).toString()).toBe('for the token');
    // Re-importing the same material while it is there: accepted; other material: refused.
    await importInto(keyId, pair.privateKey);
    await expectAwsError(importInto(keyId, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'IncorrectKeyMaterialException');
  });

  it('refuses material of another spec or kind, RSA-OAEP for RSA material, and HMAC and key-agreement imports', async () => {
    const ecc = await externalKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await expectAwsError(importInto(ecc, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), 'IncorrectKeyMaterialException');
    await expectAwsError(importInto(ecc, generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey), 'IncorrectKeyMaterialException');
    const rsa = await externalKey('RSA_2048', 'SIGN_VERIFY');
    await expectAwsError(importInto(rsa, generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey), 'IncorrectKeyMaterialException');
    await expectAwsError(kms.client.send(new GetParametersForImportCommand({ KeyId: rsa, WrappingAlgorithm: 'RSAES_OAEP_SHA_1', WrappingKeySpec: 'RSA_4096' })), 'ValidationException');
    expect((await kms.client.send(new DescribeKeyCommand({ KeyId: rsa }))).KeyMetadata!.KeyState).toBe('PendingImport');
    await expectAwsError(kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' })), 'UnsupportedOperationException');
    await expectAwsError(kms.client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' })), 'UnsupportedOperationException');
  });
});
