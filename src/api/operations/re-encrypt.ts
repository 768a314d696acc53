import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { missingMember } from '../protocol.js';
import { blob, dryRun, dryRunModifiers, encryptionAlgorithm, encryptionContext, grantTokens, keyIdParam } from '../schemas.js';

export const reEncrypt = defineOperation({
  name: 'ReEncrypt',
  audit: { kind: 'crypto', request: ['SourceKeyId', 'SourceEncryptionContext', 'SourceEncryptionAlgorithm', 'DestinationKeyId', 'DestinationEncryptionContext', 'DestinationEncryptionAlgorithm', 'DryRunModifiers'] },
  input: z.object({
    CiphertextBlob: blob(1, 6144).optional(),
    SourceEncryptionContext: encryptionContext,
    SourceKeyId: keyIdParam.optional(),
    DestinationKeyId: keyIdParam,
    DestinationEncryptionContext: encryptionContext,
    SourceEncryptionAlgorithm: encryptionAlgorithm,
    DestinationEncryptionAlgorithm: encryptionAlgorithm,
    GrantTokens: grantTokens,
    DryRun: dryRun,
    DryRunModifiers: dryRunModifiers,
  }),
  async handle({ crypto }, ctx, input) {
    const ignoreCiphertext = input.DryRun === true && input.DryRunModifiers?.includes('IGNORE_CIPHERTEXT') === true;
    if (input.CiphertextBlob === undefined && !ignoreCiphertext) throw missingMember('CiphertextBlob');
    const { source, destination } = await crypto.reEncrypt(ctx, {
      ciphertextBlob: input.CiphertextBlob ?? Buffer.alloc(0),
      ignoreCiphertext,
      sourceKeyId: input.SourceKeyId,
      sourceEncryptionContext: input.SourceEncryptionContext,
      sourceEncryptionAlgorithm: input.SourceEncryptionAlgorithm,
      destinationKeyId: input.DestinationKeyId,
      destinationEncryptionContext: input.DestinationEncryptionContext,
      destinationEncryptionAlgorithm: input.DestinationEncryptionAlgorithm,
      dryRun: input.DryRun,
    });
    return {
      CiphertextBlob: destination.ciphertextBlob,
      SourceKeyId: source.key.arn,
      KeyId: destination.key.arn,
      SourceKeyMaterialId: source.keyMaterialId,
      DestinationKeyMaterialId: destination.keyMaterialId,
      SourceEncryptionAlgorithm: input.SourceEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: input.DestinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT',
    };
  },
});
