import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { keyMetadata } from '../key-metadata.js';
import { keySpecParam, tagList } from '../schemas.js';

export const createKey = defineOperation({
  name: 'CreateKey',
  audit: { kind: 'change', request: ['Description', 'KeyUsage', 'KeySpec', 'CustomerMasterKeySpec', 'Origin', 'CustomKeyStoreId', 'BypassPolicyLockoutSafetyCheck', 'Tags', 'MultiRegion', 'Policy'], response: ['KeyMetadata'] },
  input: z.object({
    Policy: z.string().min(1).max(32768).optional(),
    Description: z.string().max(8192).optional(),
    KeyUsage: z.enum(['SIGN_VERIFY', 'ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT', 'ENCAPSULATE_DECAPSULATE']).optional(),
    CustomerMasterKeySpec: keySpecParam.optional(),
    KeySpec: keySpecParam.optional(),
    Origin: z.enum(['AWS_KMS', 'EXTERNAL', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']).optional(),
    CustomKeyStoreId: z.string().min(1).max(64).optional(),
    BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
    Tags: tagList.optional(),
    MultiRegion: z.boolean().optional(),
    XksKeyId: z.string().optional(),
  }),
  async handle({ keyAdmin }, ctx, input) {
    const key = await keyAdmin.createKey(ctx, {
      description: input.Description,
      keyUsage: input.KeyUsage,
      keySpec: input.KeySpec ?? input.CustomerMasterKeySpec,
      origin: input.Origin,
      policy: input.Policy,
      tags: input.Tags,
      customKeyStoreId: input.CustomKeyStoreId,
      multiRegion: input.MultiRegion,
      bypassPolicyLockoutSafetyCheck: input.BypassPolicyLockoutSafetyCheck,
    });
    return { KeyMetadata: keyMetadata(key, [key]) };
  },
});
