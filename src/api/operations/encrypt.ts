import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { blob, dryRun, encryptionAlgorithm, encryptionContext, grantTokens, keyIdParam } from '../schemas.js';

export const encrypt = defineOperation({
  name: 'Encrypt',
  audit: { kind: 'crypto', request: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm'] },
  input: z.object({
    KeyId: keyIdParam,
    Plaintext: blob(1, 4096),
    EncryptionContext: encryptionContext,
    GrantTokens: grantTokens,
    EncryptionAlgorithm: encryptionAlgorithm,
    DryRun: dryRun,
  }),
  async handle({ crypto }, ctx, input) {
    const { key, ciphertextBlob } = await crypto.encrypt(ctx, {
      keyId: input.KeyId,
      plaintext: input.Plaintext,
      encryptionContext: input.EncryptionContext,
      encryptionAlgorithm: input.EncryptionAlgorithm,
      dryRun: input.DryRun,
    });
    return { CiphertextBlob: ciphertextBlob, KeyId: key.arn, EncryptionAlgorithm: input.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' };
  },
});
