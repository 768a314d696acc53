import { randomBytes } from 'node:crypto';
import { AccessDeniedException, dryRunSucceeded, InvalidArnException, NotFoundException, ValidationException } from '../../domain/errors.js';
import {
  grantMatches,
  checkGrantRequest,
  constraintsAtLeastAsStrict,
  decodeGrantToken,
  encodeGrantToken,
  type Grant,
  type GrantConstraints,
  type GrantOperation,
} from '../../domain/grant.js';
import type { KmsKey } from '../../domain/key.js';
import { assertNotPendingDeletion } from '../../domain/key-state-rules.js';
import { parsePrincipalArn, rootArn } from '../../domain/principal-arn.js';
import type { GrantStore, PrincipalStore } from './access-ports.js';
import { bindPrincipals, displayedPrincipal } from './principal-bindings.js';
import { isBoundArn } from '../../domain/policy/policy.js';
import type { Authorizer } from './authorizer.js';
import type { CallContext } from '../context.js';
import type { GrantDirectory } from './grant-directory.js';
import type { Clock, Page } from '../ports/index.js';

/** AWS's quota of grants per KMS key. */
export const MAX_GRANTS_PER_KEY = 50_000;
/** No AWS service calls this one, so no grant is ever for an AWS resource. */
const NOT_FOR_AWS_RESOURCE: [string, string[]] = ['kms:grantisforawsresource', ['false']];

export interface CreateGrantRequest {
  readonly keyId: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  readonly operations: readonly GrantOperation[];
  readonly constraints?: GrantConstraints;
  readonly name?: string;
  readonly dryRun?: boolean;
}

export interface RetireGrantRequest {
  readonly grantToken?: string;
  readonly keyId?: string;
  readonly grantId?: string;
  readonly dryRun?: boolean;
}

/** Grants: delegations of some operations on one key to one principal, usable at once through their token. */
export class GrantService {
  constructor(
    private readonly store: GrantStore,
    private readonly principals: Pick<PrincipalStore, 'uniqueIdsOf'>,
    private readonly grants: GrantDirectory,
    private readonly access: Authorizer,
    private readonly clock: Clock,
  ) {}

  async createGrant(ctx: CallContext, req: CreateGrantRequest): Promise<{ grantId: string; grantToken: string }> {
    for (const p of [req.granteePrincipal, req.retiringPrincipal]) {
      if (p !== undefined && !parsePrincipalArn(p)) throw new ValidationException(`${p} is not a valid principal ARN.`);
    }
    const operations = [...new Set(req.operations)];
    const extra = new Map<string, string[]>([
      ['kms:grantoperations', operations],
      ['kms:granteeprincipal', [req.granteePrincipal]],
      NOT_FOR_AWS_RESOURCE,
    ]);
    if (req.retiringPrincipal) extra.set('kms:retiringprincipal', [req.retiringPrincipal]);
    const constraintType = req.constraints?.encryptionContextEquals ? 'EncryptionContextEquals' : req.constraints?.encryptionContextSubset ? 'EncryptionContextSubset' : undefined;
    if (constraintType) extra.set('kms:grantconstrainttype', [constraintType]);
    const key = await this.access.useKey(ctx, req.keyId, false, {
      action: 'CreateGrant',
      extra,
      // A grantee creating grants through a grant hands on no more than it holds.
      grantFilter: (parent) => operations.every((op) => parent.operations.includes(op)) && constraintsAtLeastAsStrict(req.constraints, parent.constraints),
    });
    assertNotPendingDeletion(key);
    checkGrantRequest(key, operations, req.constraints);
    // The grant binds to the principals that hold these ARNs now; AWS refuses ones that do not exist.
    const named = req.retiringPrincipal === undefined ? [req.granteePrincipal] : [req.granteePrincipal, req.retiringPrincipal];
    const { ids, missing } = await bindPrincipals(this.principals, named);
    if (missing.length > 0) throw new InvalidArnException(`${missing[0]} is not a valid principal: no such user or role exists.`);
    const granteeId = ids[req.granteePrincipal]!;
    const retiringId = req.retiringPrincipal === undefined ? undefined : ids[req.retiringPrincipal];
    if (req.dryRun) throw dryRunSucceeded();

    const nonce = randomBytes(16);
    if (req.name !== undefined) {
      // Idempotent by name: the same request returns the same grant (with a new token).
      const same = (await this.store.grantsOfKey(key.keyId)).find((g) => g.name === req.name && g.granteeId === granteeId && g.retiringId === retiringId && grantMatches(g, { ...req, operations }));
      if (same) return { grantId: same.grantId, grantToken: encodeGrantToken(same.grantId, nonce) };
    }
    const grant: Grant = {
      grantId: randomBytes(32).toString('hex'),
      keyId: key.keyId,
      keyArn: key.arn,
      name: req.name,
      granteePrincipal: req.granteePrincipal,
      granteeId,
      retiringPrincipal: req.retiringPrincipal,
      retiringId,
      issuingAccount: ctx.principal.accountId,
      operations,
      constraints: req.constraints,
      creationDate: this.clock.now(),
    };
    await this.store.createGrant(grant, MAX_GRANTS_PER_KEY);
    this.grants.forget(key.keyId);
    return { grantId: grant.grantId, grantToken: encodeGrantToken(grant.grantId, nonce) };
  }

  async listGrants(ctx: CallContext, keyId: string, filter: { grantId?: string; granteePrincipal?: string }, after: string | undefined, limit: number): Promise<Page<Grant>> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'ListGrants', extra: new Map([NOT_FOR_AWS_RESOURCE]) });
    return this.displayed(await this.store.listGrants(key.keyId, filter, after, limit));
  }

  /** Grants as AWS lists them: a principal that was deleted (or whose ARN a namesake now holds) shows as its unique id. */
  private async displayed(page: Page<Grant>): Promise<Page<Grant>> {
    const arns = [...new Set(page.items.flatMap((g) => (g.retiringPrincipal === undefined ? [g.granteePrincipal] : [g.granteePrincipal, g.retiringPrincipal])))];
    const current = await this.principals.uniqueIdsOf(arns.filter(isBoundArn));
    const items = page.items.map((g) => ({
      ...g,
      granteePrincipal: displayedPrincipal(g.granteePrincipal, g.granteeId, current),
      retiringPrincipal: g.retiringPrincipal === undefined ? undefined : displayedPrincipal(g.retiringPrincipal, g.retiringId, current),
    }));
    return { ...page, items };
  }

  async listRetirableGrants(ctx: CallContext, retiringPrincipal: string, after: string | undefined, limit: number): Promise<Page<Grant>> {
    await this.access.authorizeWithoutKey(ctx, 'ListRetirableGrants');
    if (parsePrincipalArn(retiringPrincipal)?.accountId !== ctx.principal.accountId) {
      throw new AccessDeniedException(`User: ${ctx.principal.arn} is not authorized to perform: kms:ListRetirableGrants for ${retiringPrincipal}: the retiring principal must be in the caller's account`);
    }
    // Only the grants of the principal that holds the ARN now, on keys of this region (each region's grants are apart).
    const holder = (await bindPrincipals(this.principals, [retiringPrincipal])).ids[retiringPrincipal];
    const page = await this.store.listRetirableGrants(retiringPrincipal, after, limit);
    return this.displayed({ ...page, items: page.items.filter((g) => g.retiringId === holder && inRegion(g, ctx.scope.region)) });
  }

  /**
   * Retiring is for the grant's retiring principal, its grantee when the grant
   * includes RetireGrant, and the root of the account that holds the key or made
   * the grant (AWS RetireGrant).
   */
  async retireGrant(ctx: CallContext, req: RetireGrantRequest): Promise<void> {
    const grant = await this.findForRetirement(ctx, req);
    const caller = ctx.principal.arn;
    const keyAccount = parseKeyArnAccount(grant.keyArn);
    // The principals the grant was made for, never namesakes made since.
    const isRetiring = grant.retiringPrincipal === caller && grant.retiringId === ctx.principal.uniqueId;
    const isGrantee = grant.granteePrincipal === caller && grant.granteeId === ctx.principal.uniqueId;
    const may =
      isRetiring ||
      (isGrantee && grant.operations.includes('RetireGrant')) ||
      caller === rootArn(keyAccount) ||
      caller === rootArn(grant.issuingAccount);
    if (!may) {
      throw new AccessDeniedException(
        `User: ${caller} is not authorized to perform: kms:RetireGrant on resource: ${grant.keyArn} because it is neither the grant's retiring principal nor a grantee allowed to retire it`,
      );
    }
    if (req.dryRun) throw dryRunSucceeded();
    await this.store.deleteGrant(grant.grantId);
    this.grants.forget(grant.keyId);
  }

  async revokeGrant(ctx: CallContext, keyId: string, grantId: string, dryRun: boolean | undefined): Promise<void> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'RevokeGrant', extra: new Map([NOT_FOR_AWS_RESOURCE]) });
    await this.grantOn(key, grantId);
    if (dryRun) throw dryRunSucceeded();
    await this.store.deleteGrant(grantId);
    this.grants.forget(key.keyId);
  }

  private async findForRetirement(ctx: CallContext, req: RetireGrantRequest): Promise<Grant> {
    if (req.grantToken !== undefined) {
      const grant = await this.store.getGrant(decodeGrantToken(req.grantToken));
      // Each region's grants are apart: a token of another region's grant names nothing here.
      if (!grant || !inRegion(grant, ctx.scope.region)) throw new NotFoundException('The grant named by the grant token does not exist (it may be retired already).');
      return grant;
    }
    if (req.keyId === undefined || req.grantId === undefined) throw new ValidationException('RetireGrant needs a GrantToken, or both KeyId and GrantId.');
    return this.grantOn(await this.access.resolve(ctx, 'RetireGrant', req.keyId, false), req.grantId);
  }

  private async grantOn(key: KmsKey, grantId: string): Promise<Grant> {
    const grant = await this.store.getGrant(grantId);
    if (!grant || grant.keyId !== key.keyId) throw new NotFoundException(`Grant ${grantId} does not exist on ${key.arn}.`);
    return grant;
  }
}

/** Each region's grants are apart: whether the grant is on a key of this region. */
function inRegion(grant: Grant, region: string): boolean {
  return grant.keyArn.startsWith(`arn:aws:kms:${region}:`);
}

function parseKeyArnAccount(keyArn: string): string {
  return keyArn.split(':')[4]!;
}
