import { z } from 'zod';
import { UnsupportedOperationException } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { missingMember } from '../protocol.js';
import { blob, dryRun, dryRunModifiers, encryptionAlgorithm, encryptionContext, grantTokens, keyIdParam } from '../schemas.js';

export const decrypt = defineOperation({
  name: 'Decrypt',
  audit: { kind: 'crypto', request: ['KeyId', 'EncryptionContext', 'EncryptionAlgorithm', 'DryRunModifiers'] },
  input: z.object({
    CiphertextBlob: blob(1, 6144).optional(),
    EncryptionContext: encryptionContext,
    GrantTokens: grantTokens,
    KeyId: keyIdParam.optional(),
    EncryptionAlgorithm: encryptionAlgorithm,
    Recipient: z.unknown().optional(),
    DryRun: dryRun,
    DryRunModifiers: dryRunModifiers,
  }),
  async handle({ crypto }, ctx, input) {
    if (input.Recipient !== undefined) throw new UnsupportedOperationException('Recipient (Nitro Enclaves attestation) is not supported.');
    const named = { keyId: input.KeyId, encryptionContext: input.EncryptionContext, encryptionAlgorithm: input.EncryptionAlgorithm };
    if (input.DryRun && input.DryRunModifiers?.includes('IGNORE_CIPHERTEXT')) return crypto.checkDecryptAccess(ctx, named);
    if (input.CiphertextBlob === undefined) throw missingMember('CiphertextBlob');
    const { key, plaintext, keyMaterialId } = await crypto.decrypt(ctx, {
      ciphertextBlob: input.CiphertextBlob,
      keyId: input.KeyId,
      encryptionContext: input.EncryptionContext,
      encryptionAlgorithm: input.EncryptionAlgorithm,
      dryRun: input.DryRun,
    });
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: input.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT', KeyMaterialId: keyMaterialId };
  },
});
