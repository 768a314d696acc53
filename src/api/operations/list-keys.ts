import { z } from 'zod';
import { awsKeyId } from '../../domain/key.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, encodeMarker, marker } from '../schemas.js';

export const listKeys = defineOperation({
  name: 'ListKeys',
  audit: { kind: 'read', request: ['Limit', 'Marker'] },
  input: z.object({ Limit: z.number().int().min(1).max(1000).optional(), Marker: marker }),
  async handle({ keyAdmin }, ctx, input) {
    const page = await keyAdmin.listKeys(ctx, decodeMarker(input.Marker), input.Limit ?? 100);
    return {
      Keys: page.items.map((k) => ({ KeyId: awsKeyId(k.keyId), KeyArn: k.arn })),
      NextMarker: encodeMarker(page.next),
      Truncated: page.next !== undefined,
    };
  },
});
