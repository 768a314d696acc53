import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { keyMetadata } from '../key-metadata.js';
import { keyIdParam, tagList } from '../schemas.js';

/** A Region name as AWS's model allows it (us-east-1, ap-southeast-3, us-gov-west-1). */
const region = z.string().min(1).max(32).regex(/^([a-z]+-){2,3}\d+$/);

export const replicateKey = defineOperation({
  name: 'ReplicateKey',
  audit: { kind: 'change', request: ['KeyId', 'ReplicaRegion', 'Description', 'Tags', 'BypassPolicyLockoutSafetyCheck', 'Policy'], response: ['ReplicaKeyMetadata'] },
  input: z.object({
    KeyId: keyIdParam,
    ReplicaRegion: region,
    Policy: z.string().min(1).max(32768).optional(),
    BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
    Description: z.string().max(8192).optional(),
    Tags: tagList.optional(),
  }),
  async handle({ multiRegion }, ctx, input) {
    const { replica, regionKeys, tags } = await multiRegion.replicateKey(ctx, {
      keyId: input.KeyId,
      replicaRegion: input.ReplicaRegion,
      policy: input.Policy,
      bypassPolicyLockoutSafetyCheck: input.BypassPolicyLockoutSafetyCheck,
      description: input.Description,
      tags: input.Tags,
    });
    return { ReplicaKeyMetadata: keyMetadata(replica, regionKeys), ReplicaPolicy: replica.policy, ReplicaTags: tags };
  },
});

export const updatePrimaryRegion = defineOperation({
  name: 'UpdatePrimaryRegion',
  audit: { kind: 'change', request: ['KeyId', 'PrimaryRegion'] },
  input: z.object({ KeyId: keyIdParam, PrimaryRegion: region }),
  async handle({ multiRegion }, ctx, input) {
    await multiRegion.updatePrimaryRegion(ctx, input.KeyId, input.PrimaryRegion);
    return {};
  },
});
