import { z } from 'zod';
import { UnsupportedOperationException } from '../../domain/errors.js';
import type { CryptoService } from '../../services/crypto/crypto-service.js';
import type { CallContext } from '../../services/context.js';
import { defineOperation } from '../operation.js';
import { dryRun, encryptionContext, grantTokens, keyIdParam } from '../schemas.js';

const request = z.object({
  KeyId: keyIdParam,
  KeyPairSpec: z.enum(['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2', 'ECC_NIST_EDWARDS25519']),
  EncryptionContext: encryptionContext,
  GrantTokens: grantTokens,
  Recipient: z.unknown().optional(),
  DryRun: dryRun,
});

async function pair(crypto: CryptoService, ctx: CallContext, input: z.output<typeof request>, action: 'GenerateDataKeyPair' | 'GenerateDataKeyPairWithoutPlaintext') {
  if (input.KeyPairSpec === 'SM2' || input.KeyPairSpec === 'ECC_NIST_EDWARDS25519') {
    throw new UnsupportedOperationException(`KeyPairSpec ${input.KeyPairSpec} is not supported.`);
  }
  if (input.Recipient !== undefined) throw new UnsupportedOperationException('Recipient (Nitro Enclaves attestation) is not supported.');
  return crypto.generateDataKeyPair(ctx, { keyId: input.KeyId, keyPairSpec: input.KeyPairSpec, encryptionContext: input.EncryptionContext, dryRun: input.DryRun }, action);
}

export const generateDataKeyPair = defineOperation({
  name: 'GenerateDataKeyPair',
  audit: { kind: 'crypto', request: ['KeyId', 'KeyPairSpec', 'EncryptionContext'] },
  input: request,
  async handle({ crypto }, ctx, input) {
    const p = await pair(crypto, ctx, input, 'GenerateDataKeyPair');
    return { PrivateKeyCiphertextBlob: p.ciphertextBlob, PrivateKeyPlaintext: p.privateKey, PublicKey: p.publicKey, KeyId: p.key.arn, KeyPairSpec: input.KeyPairSpec, KeyMaterialId: p.keyMaterialId };
  },
});

export const generateDataKeyPairWithoutPlaintext = defineOperation({
  name: 'GenerateDataKeyPairWithoutPlaintext',
  audit: { kind: 'crypto', request: ['KeyId', 'KeyPairSpec', 'EncryptionContext'] },
  input: request.omit({ Recipient: true }),
  async handle({ crypto }, ctx, input) {
    const p = await pair(crypto, ctx, input, 'GenerateDataKeyPairWithoutPlaintext');
    p.privateKey.fill(0);
    return { PrivateKeyCiphertextBlob: p.ciphertextBlob, PublicKey: p.publicKey, KeyId: p.key.arn, KeyPairSpec: input.KeyPairSpec, KeyMaterialId: p.keyMaterialId };
  },
});
