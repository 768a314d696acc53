import { z } from 'zod';
import { aliasArn } from '../../domain/arn.js';
import { awsKeyId } from '../../domain/key.js';
import { defineOperation } from '../operation.js';
import { aliasName, decodeMarker, encodeMarker, epochSeconds, keyIdParam, marker } from '../schemas.js';

export const createAlias = defineOperation({
  name: 'CreateAlias',
  audit: { kind: 'change', request: ['AliasName', 'TargetKeyId'] },
  input: z.object({ AliasName: aliasName, TargetKeyId: keyIdParam }),
  async handle({ aliases }, ctx, input) {
    await aliases.createAlias(ctx, input.AliasName, input.TargetKeyId);
    return {};
  },
});

export const updateAlias = defineOperation({
  name: 'UpdateAlias',
  audit: { kind: 'change', request: ['AliasName', 'TargetKeyId'] },
  input: z.object({ AliasName: aliasName, TargetKeyId: keyIdParam }),
  async handle({ aliases }, ctx, input) {
    await aliases.updateAlias(ctx, input.AliasName, input.TargetKeyId);
    return {};
  },
});

export const deleteAlias = defineOperation({
  name: 'DeleteAlias',
  audit: { kind: 'change', request: ['AliasName'] },
  input: z.object({ AliasName: aliasName }),
  async handle({ aliases }, ctx, input) {
    await aliases.deleteAlias(ctx, input.AliasName);
    return {};
  },
});

export const listAliases = defineOperation({
  name: 'ListAliases',
  audit: { kind: 'read', request: ['KeyId', 'Limit', 'Marker'] },
  input: z.object({ KeyId: keyIdParam.optional(), Limit: z.number().int().min(1).max(100).optional(), Marker: marker }),
  async handle({ aliases }, ctx, input) {
    const page = await aliases.listAliases(ctx, input.KeyId, decodeMarker(input.Marker), input.Limit ?? 50);
    return {
      Aliases: page.items.map((a) => ({
        AliasName: a.aliasName,
        AliasArn: aliasArn(ctx.scope, a.aliasName),
        TargetKeyId: awsKeyId(a.targetKeyId),
        CreationDate: epochSeconds(a.creationDate),
        LastUpdatedDate: epochSeconds(a.lastUpdatedDate),
      })),
      NextMarker: encodeMarker(page.next),
      Truncated: page.next !== undefined,
    };
  },
});
