import { defaultKeyPolicy } from '../../domain/default-policy.js';
import {
  AlreadyExistsException,
  KMSInvalidStateException,
  LimitExceededException,
  NotFoundException,
  TagException,
  UnsupportedOperationException,
  ValidationException,
} from '../../domain/errors.js';
import { keyArn } from '../../domain/arn.js';
import { awsKeyId, isReplica, KeyState, storeKeyId, type KmsKey, type Tag } from '../../domain/key.js';
import { assertUsableForCrypto } from '../../domain/key-state-rules.js';
import { createKeyConditions, requestTagConditions } from '../../domain/policy/request-conditions.js';
import type { Authorizer } from '../access/authorizer.js';
import type { GrantDirectory } from '../access/grant-directory.js';
import type { ServiceEvents } from '../audit/audit-recorder.js';
import type { CallContext } from '../context.js';
import type { Clock, KeyStore, MultiRegionStore } from '../ports/index.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyPolicies } from './key-policies.js';
import { MAX_TAGS_PER_KEY, validateTags } from './tags.js';

export interface ReplicateKeyRequest {
  readonly keyId: string;
  readonly replicaRegion: string;
  readonly policy?: string;
  readonly bypassPolicyLockoutSafetyCheck?: boolean;
  readonly description?: string;
  readonly tags?: readonly Tag[];
}

export interface Replicated {
  readonly replica: KmsKey;
  /** Every region's key, the new replica's included (its KeyMetadata's MultiRegionConfiguration). */
  readonly regionKeys: readonly KmsKey[];
  readonly tags: readonly Tag[];
}

/**
 * Multi-Region keys across the regions this deployment serves: a replica is a
 * key of its own in its region (its own policy, grants, aliases, tags, state)
 * sharing the primary's KeyId and key material, which stays one set of objects
 * in the one token. A replica in another HSM would need that HSM's own key
 * transfer (see the README); this service does not make one.
 */
export class MultiRegionKeys {
  constructor(
    private readonly store: MultiRegionStore & Pick<KeyStore, 'getKey'>,
    private readonly keys: KeyDirectory,
    private readonly grants: Pick<GrantDirectory, 'forget'>,
    private readonly access: Authorizer,
    private readonly policies: KeyPolicies,
    private readonly events: ServiceEvents,
    private readonly clock: Clock,
    /** The regions this deployment answers for. */
    private readonly regions: readonly string[],
    /** Retires a key's outstanding import tokens (their wrapping key pairs in the token, then their rows). */
    private readonly retireImportTokens: (keyId: string) => Promise<void>,
    /** AWS's resource quota of KMS keys per account and Region. */
    private readonly maxKeysPerAccount = 100_000,
  ) {}

  async replicateKey(ctx: CallContext, req: ReplicateKeyRequest): Promise<Replicated> {
    const primary = await this.access.useKey(ctx, req.keyId, false, { action: 'ReplicateKey', extra: new Map([['kms:replicaregion', [req.replicaRegion]]]) });
    assertPrimary(primary, 'replicated');
    if (req.replicaRegion === primary.region) throw new ValidationException(`${primary.arn} is in ${req.replicaRegion} already: a replica must be in another Region.`);
    this.assertServed(req.replicaRegion);
    // Only an Enabled primary is replicated: Disabled answers DisabledException, other states KMSInvalidStateException.
    assertUsableForCrypto(primary);
    const tags = validateTags(req.tags ?? []);
    if (tags.length > MAX_TAGS_PER_KEY) throw new TagException(`A key can have at most ${MAX_TAGS_PER_KEY} tags.`);

    // The replica is a new key in its region: its creation (and tagging) is authorized there, by the caller's identity policies.
    const there: CallContext = { ...ctx, scope: { ...ctx.scope, region: req.replicaRegion } };
    const createConditions = createKeyConditions({
      keySpec: primary.keySpec,
      keyUsage: primary.keyUsage,
      origin: primary.origin,
      multiRegionKeyType: 'REPLICA',
      bypassPolicyLockoutSafetyCheck: req.bypassPolicyLockoutSafetyCheck ?? false,
      tags,
    });
    await this.access.authorizeWithoutKey(there, 'CreateKey', '*', createConditions);
    if (tags.length > 0) await this.access.authorizeWithoutKey(there, 'TagResource', '*', new Map(requestTagConditions(tags)));

    const keyId = storeKeyId(awsKeyId(primary.keyId), req.replicaRegion);
    const alreadyThere = () => new AlreadyExistsException(`${awsKeyId(primary.keyId)} already has a key in ${req.replicaRegion}.`);
    if (await this.store.getKey(keyId)) throw alreadyThere();
    let replica: KmsKey = {
      ...primary,
      keyId,
      region: req.replicaRegion,
      arn: keyArn({ accountId: primary.accountId, region: req.replicaRegion }, keyId),
      description: req.description ?? '',
      // A replica of imported material waits for its own import of the same material (AWS).
      keyState: primary.origin === 'EXTERNAL' ? KeyState.PendingImport : KeyState.Enabled,
      expirationModel: undefined,
      validTo: undefined,
      creationDate: this.clock.now(),
      deletionDate: undefined,
      pendingDeletionWindowInDays: undefined,
      // AWS gives a replica the default key policy, not its primary's, unless one is given.
      policy: req.policy ?? defaultKeyPolicy(ctx.scope.accountId),
      policyPrincipals: {},
    };
    if (req.policy !== undefined) replica = { ...replica, policyPrincipals: await this.policies.checkNewPolicy(there, replica, req.policy, req.bypassPolicyLockoutSafetyCheck ?? false) };

    // A replica deleted before in that region may have left import tokens: their wrapping keys go before its row does.
    await this.retireImportTokens(keyId);
    const outcome = await this.store.insertReplicaKey({ key: replica, tags }, primary.keyId, this.maxKeysPerAccount);
    if (outcome === 'exists') throw alreadyThere();
    if (outcome === 'quota') throw new LimitExceededException(`This account has ${this.maxKeysPerAccount} KMS keys, the most it may have.`);
    if (outcome === 'primary-changed') throw new KMSInvalidStateException(`${primary.arn} changed while it was being replicated; try again.`);
    // A replica deleted before in that region had this store id: nothing remembered of it may count for the new one.
    this.keys.forgetKey(keyId);
    this.grants.forget(keyId);
    const created = await this.store.getKey(keyId);
    if (!created) throw new NotFoundException(`Key '${replica.arn}' does not exist`);
    ctx.record.addKey(created);
    // AWS records the replica's creation in its own region too.
    await this.events.serviceEvent('CreateKey', created, { multiRegionKeyType: 'REPLICA', primaryKeyArn: primary.arn });
    return { replica: created, regionKeys: await this.store.listMultiRegionKeys(awsKeyId(primary.keyId)), tags };
  }

  async updatePrimaryRegion(ctx: CallContext, keyId: string, primaryRegion: string): Promise<void> {
    const condition = new Map([['kms:primaryregion', [primaryRegion]]]);
    const primary = await this.access.useKey(ctx, keyId, false, { action: 'UpdatePrimaryRegion', extra: condition });
    assertPrimary(primary, 'given another primary Region');
    if (primaryRegion === primary.region) throw new ValidationException(`${primary.arn} is the primary key already: name the Region of one of its replicas.`);
    this.assertServed(primaryRegion);
    const replicaId = storeKeyId(awsKeyId(primary.keyId), primaryRegion);
    const replica = await this.store.getKey(replicaId);
    if (!replica || replica.accountId !== primary.accountId) throw new NotFoundException(`${awsKeyId(primary.keyId)} has no replica key in ${primaryRegion}.`);
    // Both keys change: the caller must be allowed on each, each in its own region.
    await this.access.authorize({ ...ctx, scope: { ...ctx.scope, region: primaryRegion } }, replica, { action: 'UpdatePrimaryRegion', keyRef: replica.arn, extra: condition });
    // Both must be Enabled: Disabled answers DisabledException, other states KMSInvalidStateException.
    assertUsableForCrypto(primary);
    assertUsableForCrypto(replica);
    if (!(await this.store.updatePrimaryRegion(primary.keyId, replicaId, this.clock.now()))) {
      throw new KMSInvalidStateException(`${primary.arn} is rotating, or it or its replica in ${primaryRegion} changed meanwhile; try again.`);
    }
    for (const k of await this.store.listMultiRegionKeys(awsKeyId(primary.keyId))) this.keys.forgetKey(k.keyId);
  }

  private assertServed(region: string): void {
    if (!this.regions.includes(region)) {
      throw new UnsupportedOperationException(`This deployment does not serve ${region}; it serves ${this.regions.join(', ')} (KMS_REGIONS).`);
    }
  }
}

/** Only a multi-Region primary key is replicated or moved (AWS). */
function assertPrimary(key: KmsKey, what: string): void {
  if (key.primaryRegion === undefined) throw new UnsupportedOperationException(`${key.arn} is not a multi-Region key: only a multi-Region primary key can be ${what}.`);
  if (isReplica(key)) throw new UnsupportedOperationException(`${key.arn} is a multi-Region replica key: only its primary key, in ${key.primaryRegion}, can be ${what}.`);
}
