import { z } from 'zod';
import type { Grant } from '../../domain/grant.js';
import { GRANT_OPERATIONS } from '../../domain/grant.js';
import { rootArn } from '../../domain/principal-arn.js';
import { defineOperation } from '../operation.js';
import { decodeMarker, dryRun, encodeMarker, epochSeconds, grantTokens, keyIdParam, marker, stringMap } from '../schemas.js';

const principal = z.string().min(1).max(256).regex(/^[\w+=,.@:/-]+$/, 'Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$');
const grantId = z.string().min(1).max(128);
const grantName = z.string().min(1).max(256).regex(/^[a-zA-Z0-9:/_-]+$/, 'Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$');
const contextConstraint = stringMap
  .refine((c) => Object.keys(c).length <= 8, 'Member must have at most 8 entries')
  .refine((c) => Object.entries(c).every(([k, v]) => k.length <= 384 && v.length <= 384), 'Member keys and values must have length less than or equal to 384');
const limit = z.number().int().min(1).max(1000).optional();

function grantEntry(g: Grant): Record<string, unknown> {
  const c = g.constraints;
  return {
    KeyId: g.keyArn,
    GrantId: g.grantId,
    Name: g.name,
    CreationDate: epochSeconds(g.creationDate),
    GranteePrincipal: g.granteePrincipal,
    RetiringPrincipal: g.retiringPrincipal,
    IssuingAccount: rootArn(g.issuingAccount),
    Operations: g.operations,
    Constraints: c && { EncryptionContextEquals: c.encryptionContextEquals, EncryptionContextSubset: c.encryptionContextSubset },
  };
}

function grantPage(page: { items: Grant[]; next: string | undefined }) {
  return { Grants: page.items.map(grantEntry), NextMarker: encodeMarker(page.next), Truncated: page.next !== undefined };
}

export const createGrant = defineOperation({
  name: 'CreateGrant',
  audit: { kind: 'change', request: ['KeyId', 'GranteePrincipal', 'RetiringPrincipal', 'Operations', 'Constraints', 'Name'], response: ['GrantId'] },
  input: z.object({
    KeyId: keyIdParam,
    GranteePrincipal: principal,
    RetiringPrincipal: principal.optional(),
    Operations: z.array(z.enum(GRANT_OPERATIONS)).min(1),
    Constraints: z.object({ EncryptionContextSubset: contextConstraint.optional(), EncryptionContextEquals: contextConstraint.optional() }).optional(),
    GrantTokens: grantTokens,
    Name: grantName.optional(),
    DryRun: dryRun,
  }),
  async handle({ grants }, ctx, input) {
    const c = input.Constraints;
    const { grantId: id, grantToken } = await grants.createGrant(ctx, {
      keyId: input.KeyId,
      granteePrincipal: input.GranteePrincipal,
      retiringPrincipal: input.RetiringPrincipal,
      operations: input.Operations,
      constraints: c && (c.EncryptionContextEquals || c.EncryptionContextSubset) ? { encryptionContextEquals: c.EncryptionContextEquals, encryptionContextSubset: c.EncryptionContextSubset } : undefined,
      name: input.Name,
      dryRun: input.DryRun,
    });
    return { GrantId: id, GrantToken: grantToken };
  },
});

export const listGrants = defineOperation({
  name: 'ListGrants',
  audit: { kind: 'read', request: ['KeyId', 'GrantId', 'GranteePrincipal', 'Limit', 'Marker'] },
  input: z.object({ KeyId: keyIdParam, Limit: limit, Marker: marker, GrantId: grantId.optional(), GranteePrincipal: principal.optional() }),
  async handle({ grants }, ctx, input) {
    const filter = { grantId: input.GrantId, granteePrincipal: input.GranteePrincipal };
    return grantPage(await grants.listGrants(ctx, input.KeyId, filter, decodeMarker(input.Marker), input.Limit ?? 50));
  },
});

export const listRetirableGrants = defineOperation({
  name: 'ListRetirableGrants',
  audit: { kind: 'read', request: ['RetiringPrincipal', 'Limit', 'Marker'] },
  input: z.object({ RetiringPrincipal: principal, Limit: limit, Marker: marker }),
  async handle({ grants }, ctx, input) {
    return grantPage(await grants.listRetirableGrants(ctx, input.RetiringPrincipal, decodeMarker(input.Marker), input.Limit ?? 50));
  },
});

export const retireGrant = defineOperation({
  name: 'RetireGrant',
  audit: { kind: 'change', request: ['KeyId', 'GrantId'] },
  input: z.object({ GrantToken: z.string().min(1).max(8192).optional(), KeyId: keyIdParam.optional(), GrantId: grantId.optional(), DryRun: dryRun }),
  async handle({ grants }, ctx, input) {
    await grants.retireGrant(ctx, { grantToken: input.GrantToken, keyId: input.KeyId, grantId: input.GrantId, dryRun: input.DryRun });
    return {};
  },
});

export const revokeGrant = defineOperation({
  name: 'RevokeGrant',
  audit: { kind: 'change', request: ['KeyId', 'GrantId'] },
  input: z.object({ KeyId: keyIdParam, GrantId: grantId, DryRun: dryRun }),
  async handle({ grants }, ctx, input) {
    await grants.revokeGrant(ctx, input.KeyId, input.GrantId, input.DryRun);
    return {};
  },
});
