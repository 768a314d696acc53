import { z } from 'zod';
import { defineOperation } from '../operation.js';
import { decodeMarker, encodeMarker, keyIdParam, marker, tagList } from '../schemas.js';

export const tagResource = defineOperation({
  name: 'TagResource',
  audit: { kind: 'change', request: ['KeyId', 'Tags'] },
  input: z.object({ KeyId: keyIdParam, Tags: tagList }),
  async handle({ tags }, ctx, input) {
    await tags.tagResource(ctx, input.KeyId, input.Tags);
    return {};
  },
});

export const untagResource = defineOperation({
  name: 'UntagResource',
  audit: { kind: 'change', request: ['KeyId', 'TagKeys'] },
  input: z.object({ KeyId: keyIdParam, TagKeys: z.array(z.string().min(1).max(128)).max(50) }),
  async handle({ tags }, ctx, input) {
    await tags.untagResource(ctx, input.KeyId, input.TagKeys);
    return {};
  },
});

export const listResourceTags = defineOperation({
  name: 'ListResourceTags',
  audit: { kind: 'read', request: ['KeyId', 'Limit', 'Marker'] },
  input: z.object({ KeyId: keyIdParam, Limit: z.number().int().min(1).max(50).optional(), Marker: marker }),
  async handle({ tags }, ctx, input) {
    const all = await tags.listResourceTags(ctx, input.KeyId);
    const after = decodeMarker(input.Marker);
    const rest = after === undefined ? all : all.filter((t) => t.TagKey > after);
    const limit = input.Limit ?? 50;
    const items = rest.slice(0, limit);
    const truncated = rest.length > limit;
    return {
      Tags: items,
      NextMarker: truncated ? encodeMarker(items[items.length - 1]!.TagKey) : undefined,
      Truncated: truncated,
    };
  },
});
