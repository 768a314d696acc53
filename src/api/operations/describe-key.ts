import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { keyMetadata } from '../key-metadata.js';
import { grantTokens, keyIdParam } from '../schemas.js';

export const describeKey = defineOperation({
  name: 'DescribeKey',
  audit: { kind: 'read', request: ['KeyId'] },
  input: z.object({ KeyId: keyIdParam, GrantTokens: grantTokens }),
  async handle({ keyAdmin }, ctx, input) {
    const { key, regionKeys } = await keyAdmin.describeKey(ctx, input.KeyId);
    return { KeyMetadata: keyMetadata(key, regionKeys) };
  },
});
