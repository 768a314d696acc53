import { z } from 'zod';
import { algorithmsOf } from '../../domain/key-spec.js';
import { ValidationException } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { blob, dryRun, grantTokens, keyIdParam } from '../schemas.js';

const signingAlgorithm = z.enum([
  'RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PKCS1_V1_5_SHA_384', 'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256', 'ECDSA_SHA_384', 'ECDSA_SHA_512', 'SM2DSA', 'ML_DSA_SHAKE_256', 'ED25519_SHA_512', 'ED25519_PH_SHA_512',
]);
const messageType = z.enum(['RAW', 'DIGEST', 'EXTERNAL_MU']).optional();
const message = blob(1, 4096);

/** EXTERNAL_MU is ML-DSA's precomputed mu: no key here takes it, and it is never read as RAW. */
function signedMessageType(type: 'RAW' | 'DIGEST' | 'EXTERNAL_MU' | undefined): 'RAW' | 'DIGEST' {
  if (type === 'EXTERNAL_MU') throw new ValidationException('MessageType EXTERNAL_MU is valid only for ML-DSA keys, which this service does not have.');
  return type ?? 'RAW';
}

export const sign = defineOperation({
  name: 'Sign',
  audit: { kind: 'crypto', request: ['KeyId', 'MessageType', 'SigningAlgorithm'] },
  input: z.object({ KeyId: keyIdParam, Message: message, MessageType: messageType, GrantTokens: grantTokens, SigningAlgorithm: signingAlgorithm, DryRun: dryRun }),
  async handle({ signer }, ctx, input) {
    const { key, signature } = await signer.sign(ctx, {
      keyId: input.KeyId,
      message: input.Message,
      messageType: signedMessageType(input.MessageType),
      signingAlgorithm: input.SigningAlgorithm,
      dryRun: input.DryRun,
    });
    return { KeyId: key.arn, Signature: signature, SigningAlgorithm: input.SigningAlgorithm };
  },
});

export const verify = defineOperation({
  name: 'Verify',
  audit: { kind: 'crypto', request: ['KeyId', 'MessageType', 'SigningAlgorithm'] },
  input: z.object({
    KeyId: keyIdParam,
    Message: message,
    MessageType: messageType,
    Signature: blob(1, 6144),
    SigningAlgorithm: signingAlgorithm,
    GrantTokens: grantTokens,
    DryRun: dryRun,
  }),
  async handle({ signer }, ctx, input) {
    const key = await signer.verify(ctx, {
      keyId: input.KeyId,
      message: input.Message,
      messageType: signedMessageType(input.MessageType),
      signature: input.Signature,
      signingAlgorithm: input.SigningAlgorithm,
      dryRun: input.DryRun,
    });
    return { KeyId: key.arn, SignatureValid: true, SigningAlgorithm: input.SigningAlgorithm };
  },
});

export const getPublicKey = defineOperation({
  name: 'GetPublicKey',
  audit: { kind: 'read', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam, GrantTokens: grantTokens }),
  async handle({ signer }, ctx, input) {
    const { key, publicKey } = await signer.publicKey(ctx, input.KeyId);
    return {
      KeyId: key.arn,
      PublicKey: publicKey,
      CustomerMasterKeySpec: key.keySpec,
      KeySpec: key.keySpec,
      KeyUsage: key.keyUsage,
      ...algorithmsOf(key.keySpec, key.keyUsage),
    };
  },
});
