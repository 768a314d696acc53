import { z } from 'zod';
import { UnsupportedOperationException } from '../../domain/errors.js';
import { defineOperation } from '../operation.js';

export const generateRandom = defineOperation({
  name: 'GenerateRandom',
  audit: { kind: 'read', request: ['NumberOfBytes', 'CustomKeyStoreId'] },
  input: z.object({
    NumberOfBytes: z.number().int().min(1).max(1024),
    CustomKeyStoreId: z.string().min(1).max(64).optional(),
    Recipient: z.unknown().optional(),
  }),
  async handle({ crypto }, ctx, input) {
    if (input.CustomKeyStoreId !== undefined) throw new UnsupportedOperationException('Custom key stores are not supported.');
    if (input.Recipient !== undefined) throw new UnsupportedOperationException('Recipient (Nitro Enclaves attestation) is not supported.');
    return { Plaintext: await crypto.generateRandom(ctx, input.NumberOfBytes) };
  },
});
