import { z } from 'zod';
import { UnsupportedOperationException, ValidationException } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';
import { dryRun, encryptionContext, grantTokens, keyIdParam } from '../schemas.js';

export const dataKeyRequest = z.object({
  KeyId: keyIdParam,
  EncryptionContext: encryptionContext,
  NumberOfBytes: z.number().int().min(1).max(1024).optional(),
  KeySpec: z.enum(['AES_256', 'AES_128']).optional(),
  GrantTokens: grantTokens,
  Recipient: z.unknown().optional(),
  DryRun: dryRun,
});

/** Exactly one of KeySpec and NumberOfBytes says how long the data key is. */
export function dataKeyLength(input: z.output<typeof dataKeyRequest>): number {
  if (input.Recipient !== undefined) throw new UnsupportedOperationException('Recipient (Nitro Enclaves attestation) is not supported.');
  if (input.KeySpec !== undefined && input.NumberOfBytes !== undefined) {
    throw new ValidationException('Please specify either number of bytes or key spec.');
  }
  if (input.KeySpec === undefined && input.NumberOfBytes === undefined) {
    throw new ValidationException('Please specify either number of bytes or key spec.');
  }
  return input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32);
}

export const generateDataKey = defineOperation({
  name: 'GenerateDataKey',
  audit: { kind: 'crypto', request: ['KeyId', 'KeySpec', 'NumberOfBytes', 'EncryptionContext'] },
  input: dataKeyRequest,
  async handle({ crypto }, ctx, input) {
    const { key, plaintext, ciphertextBlob, keyMaterialId } = await crypto.generateDataKey(ctx, {
      keyId: input.KeyId,
      numberOfBytes: dataKeyLength(input),
      encryptionContext: input.EncryptionContext,
      dryRun: input.DryRun,
    });
    return { CiphertextBlob: ciphertextBlob, Plaintext: plaintext, KeyId: key.arn, KeyMaterialId: keyMaterialId };
  },
});
