import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { blob, dryRun, grantTokens, keyIdParam } from '../schemas.js';

const macAlgorithm = z.enum(['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512']);

export const generateMac = defineOperation({
  name: 'GenerateMac',
  audit: { kind: 'crypto', request: ['KeyId', 'MacAlgorithm'] },
  input: z.object({ KeyId: keyIdParam, Message: blob(1, 4096), MacAlgorithm: macAlgorithm, GrantTokens: grantTokens, DryRun: dryRun }),
  async handle({ macs }, ctx, input) {
    const { key, mac } = await macs.generateMac(ctx, { keyId: input.KeyId, message: input.Message, macAlgorithm: input.MacAlgorithm, dryRun: input.DryRun });
    return { Mac: mac, MacAlgorithm: input.MacAlgorithm, KeyId: key.arn };
  },
});

export const verifyMac = defineOperation({
  name: 'VerifyMac',
  audit: { kind: 'crypto', request: ['KeyId', 'MacAlgorithm'] },
  input: z.object({ KeyId: keyIdParam, Message: blob(1, 4096), Mac: blob(1, 6144), MacAlgorithm: macAlgorithm, GrantTokens: grantTokens, DryRun: dryRun }),
  async handle({ macs }, ctx, input) {
    const key = await macs.verifyMac(ctx, { keyId: input.KeyId, message: input.Message, mac: input.Mac, macAlgorithm: input.MacAlgorithm, dryRun: input.DryRun });
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: input.MacAlgorithm };
  },
});
