import { randomBytes, randomUUID } from 'node:crypto';
import { keyArn } from '../../domain/arn.js';
import { keyMaterialId } from '../../domain/key.js';
import { KMSInternalException, KMSInvalidStateException, LimitExceededException, NotFoundException, TagException, UnsupportedOperationException } from '../../domain/errors.js';
import { createKeyConditions } from '../../domain/policy/request-conditions.js';
import { checkSpecAndUsage, ED25519, isHmacSpec } from '../../domain/key-spec.js';
import { awsKeyId, KeyState, storeKeyId, type KeySpec, type KeyUsage, type KmsKey, type Tag } from '../../domain/key.js';
import { assertHasKeyMaterial, assertNotPendingDeletion, isPendingDeletion } from '../../domain/key-state-rules.js';
import { defaultKeyPolicy } from '../../domain/default-policy.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from './key-directory.js';
import { keyPairParams } from './key-pair-params.js';
import type { KeyPolicies } from './key-policies.js';
import type { Clock, DeletionStore, KeyStore, KeyVault, MultiRegionStore, Page } from '../ports/index.js';
import type { KeyLastUse } from '../access/access-ports.js';
import type { ServiceEvents } from '../audit/audit-recorder.js';
import type { KeyUsageTracker } from './key-usage.js';
import { validateTags, MAX_TAGS_PER_KEY } from './tags.js';

export interface CreateKeyRequest {
  /** A fixed key id (the seed file's); the API never sets one: AWS picks key ids. */
  readonly keyId?: string;
  readonly description?: string;
  readonly keyUsage?: string;
  readonly keySpec?: string;
  readonly origin?: string;
  readonly policy?: string;
  readonly tags?: readonly Tag[];
  readonly customKeyStoreId?: string;
  readonly multiRegion?: boolean;
  readonly bypassPolicyLockoutSafetyCheck?: boolean;
}

/** A key and, for a multi-Region key, its keys in every region. */
export interface DescribedKey {
  readonly key: KmsKey;
  readonly regionKeys: readonly KmsKey[];
}

const DAY_MS = 86_400_000;
/** A creation that has not completed after this long was interrupted; none takes more than a moment. */
export const INTERRUPTED_CREATION_AFTER_MS = 5 * 60_000;

/** Creating keys and moving them between states; key material is touched only to create it. */
export class KeyAdmin {
  constructor(
    private readonly store: DeletionStore & KeyStore & Pick<MultiRegionStore, 'listMultiRegionKeys'>,
    private readonly vault: KeyVault,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
    private readonly policies: KeyPolicies,
    private readonly usage: KeyUsageTracker,
    private readonly events: ServiceEvents,
    private readonly clock: Clock,
    /** AWS's resource quota of KMS keys per account and Region. */
    private readonly maxKeysPerAccount = 100_000,
  ) {}

  async createKey(ctx: CallContext, req: CreateKeyRequest): Promise<KmsKey> {
    const { keySpec, keyUsage } = checkSpecAndUsage(req.keySpec ?? 'SYMMETRIC_DEFAULT', req.keyUsage);
    const origin = req.origin ?? 'AWS_KMS';
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') throw new UnsupportedOperationException(`Origin ${origin} is not supported; AWS_KMS and EXTERNAL are.`);
    if (origin === 'EXTERNAL') assertImportable(keySpec, keyUsage);
    if (req.customKeyStoreId !== undefined) throw new UnsupportedOperationException('Custom key stores are not supported: every key already lives in this service\'s HSM.');
    const tags = validateTags(req.tags ?? []);
    if (tags.length > MAX_TAGS_PER_KEY) throw new TagException(`A key can have at most ${MAX_TAGS_PER_KEY} tags.`);
    const extra = createKeyConditions({
      keySpec,
      keyUsage,
      origin,
      multiRegionKeyType: req.multiRegion ? 'PRIMARY' : undefined,
      bypassPolicyLockoutSafetyCheck: req.bypassPolicyLockoutSafetyCheck ?? false,
      tags,
    });
    await this.access.authorizeWithoutKey(ctx, 'CreateKey', '*', extra);
    const policy = req.policy ?? defaultKeyPolicy(ctx.scope.accountId);

    // A multi-Region key's KeyId is mrk- and 32 hex digits, the same in each region it is replicated to.
    const keyId = req.keyId ?? (req.multiRegion ? storeKeyId(`mrk-${randomBytes(16).toString('hex')}`, ctx.scope.region) : randomUUID());
    let key: KmsKey = {
      keyId,
      accountId: ctx.scope.accountId,
      region: ctx.scope.region,
      arn: keyArn(ctx.scope, keyId),
      description: req.description ?? '',
      keyUsage,
      keySpec,
      origin,
      // An imported key waits for its material (ImportKeyMaterial).
      keyState: origin === 'EXTERNAL' ? KeyState.PendingImport : KeyState.Enabled,
      creationDate: this.clock.now(),
      deletionDate: undefined,
      pendingDeletionWindowInDays: undefined,
      currentVersion: 1,
      policy,
      // AWS's default policy names the account alone.
      policyPrincipals: {},
      primaryRegion: req.multiRegion ? ctx.scope.region : undefined,
    };
    // AWS's default policy needs no check; a given one must be valid and must not lock the creator out.
    if (req.policy !== undefined) key = { ...key, policyPrincipals: await this.policies.checkNewPolicy(ctx, key, policy, req.bypassPolicyLockoutSafetyCheck ?? false) };
    // Row first (invisible), token object second, then the row becomes visible:
    // a crash in between leaves only a provisioning row that start-up cleans away.
    // AWS's resource quota: each new key is a new object in the HSM, whose store is finite.
    if (!(await this.store.insertProvisioningKey({ key, tags }, this.maxKeysPerAccount))) {
      throw new LimitExceededException(`This account has ${this.maxKeysPerAccount} KMS keys in this Region, the most it may have.`);
    }
    try {
      const pair = keyPairParams(keySpec, keyUsage);
      // An imported key's material comes later, with ImportKeyMaterial.
      if (origin === 'AWS_KMS') {
        if (isHmacSpec(keySpec)) await this.vault.createHmacKey({ keyId, version: 1 }, keySpec);
        else if (pair) await this.vault.createSigningKeyPair({ keyId, version: 1 }, pair);
        else await this.vault.createSymmetricKey({ keyId, version: 1 });
      }
    } catch (e) {
      // The token may have kept an object despite the error: destroy it before forgetting the row.
      await this.vault
        .destroyKey({ keyId, version: 1 })
        .then(() => this.store.deleteProvisioningKey(keyId))
        .catch(() => undefined); // left for recovery, which retries both
      throw e;
    }
    if (!(await this.store.activateKey(keyId))) {
      await this.vault.destroyKey({ keyId, version: 1 }).catch(() => undefined);
      throw new KMSInternalException('The key could not be created; try again.');
    }
    ctx.record.addKey(key);
    return key;
  }

  /**
   * Finishes what a crash interrupted: half-created keys are destroyed in the token
   * and forgotten. Runs at start-up and in the scheduler; only creations older than
   * INTERRUPTED_CREATION_AFTER_MS are touched, so another instance's are left alone.
   */
  async recoverInterruptedCreations(): Promise<number> {
    const pending = await this.store.listProvisioningKeys(new Date(this.clock.now().getTime() - INTERRUPTED_CREATION_AFTER_MS));
    for (const ref of pending) {
      await this.vault.destroyKey(ref);
      await this.store.deleteProvisioningKey(ref.keyId);
      const key = { keyId: ref.keyId, arn: keyArn(ref, ref.keyId), accountId: ref.accountId, region: ref.region };
      await this.events.serviceEvent('RecoverInterruptedKeyCreation', key, { keyMaterialId: keyMaterialId(ref), keyMaterialDestroyed: true });
    }
    return pending.length;
  }

  async describeKey(ctx: CallContext, keyId: string): Promise<DescribedKey> {
    const key = await this.access.useKey(ctx, keyId, true, { action: 'DescribeKey' });
    return { key, regionKeys: await this.regionKeysOf(key) };
  }

  /** A multi-Region key's keys in every region (KeyMetadata's MultiRegionConfiguration); none for a single-Region key. */
  async regionKeysOf(key: KmsKey): Promise<KmsKey[]> {
    return key.primaryRegion === undefined ? [] : this.store.listMultiRegionKeys(awsKeyId(key.keyId));
  }

  async listKeys(ctx: CallContext, after: string | undefined, limit: number): Promise<Page<KmsKey>> {
    await this.access.authorizeWithoutKey(ctx, 'ListKeys');
    return this.store.listKeys(ctx.scope, after, limit);
  }

  async enableKey(ctx: CallContext, keyId: string): Promise<void> {
    const key = await this.current(ctx, keyId, 'EnableKey');
    assertHasKeyMaterial(key);
    await this.save({ ...key, keyState: KeyState.Enabled });
  }

  async disableKey(ctx: CallContext, keyId: string): Promise<void> {
    const key = await this.current(ctx, keyId, 'DisableKey', true);
    assertHasKeyMaterial(key);
    await this.save({ ...key, keyState: KeyState.Disabled });
  }

  async updateKeyDescription(ctx: CallContext, keyId: string, description: string): Promise<void> {
    const key = await this.current(ctx, keyId, 'UpdateKeyDescription');
    assertNotPendingDeletion(key);
    await this.save({ ...key, description });
  }

  async scheduleKeyDeletion(ctx: CallContext, keyId: string, pendingWindowInDays: number): Promise<KmsKey> {
    const key = await this.current(ctx, keyId, 'ScheduleKeyDeletion', true, new Map([['kms:schedulekeydeletionpendingwindowindays', [String(pendingWindowInDays)]]]));
    assertNotPendingDeletion(key);
    // The store decides between PendingDeletion and (a multi-Region primary key with replicas, which outlives them:
    // they share its material) PendingReplicaDeletion, in turn with replication and the primary's moves.
    const scheduled = await this.store.scheduleKeyDeletion(key.keyId, pendingWindowInDays, new Date(this.clock.now().getTime() + pendingWindowInDays * DAY_MS));
    this.keys.forgetKey(key.keyId);
    const updated = await this.store.getKey(key.keyId);
    if (!scheduled || !updated) throw new KMSInvalidStateException(`${key.arn} changed meanwhile (it is pending deletion, or gone).`);
    return updated;
  }

  async cancelKeyDeletion(ctx: CallContext, keyId: string): Promise<KmsKey> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'CancelKeyDeletion' });
    // Conditional in the store: once the deletion job has begun destroying material, nothing brings the key back.
    const cancelled = await this.store.cancelKeyDeletion(key.keyId);
    this.keys.forgetKey(key.keyId);
    if (!cancelled) {
      throw new KMSInvalidStateException(
        isPendingDeletion(key) ? `${key.arn} is being deleted and can no longer be recovered.` : `${key.arn} is not pending deletion (or pending replica deletion).`,
      );
    }
    return { ...key, keyState: KeyState.Disabled, deletionDate: undefined, pendingDeletionWindowInDays: undefined };
  }

  /** GetKeyLastUsage: the last successful cryptographic use, and since when uses are known. */
  async getKeyLastUsage(ctx: CallContext, keyId: string): Promise<{ key: KmsKey; lastUsage: KeyLastUse | undefined; trackingStart: Date }> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'GetKeyLastUsage' });
    return { key, lastUsage: await this.usage.lastUsage(key.keyId), trackingStart: await this.usage.trackingStartFor(key) };
  }

  /**
   * The key as the store has it now, not as a cache remembers it: a change must
   * start from the latest state (another instance may have scheduled its deletion).
   * DisableKey and ScheduleKeyDeletion tell policies kms:TrailingDaysWithoutKeyUsage.
   */
  private async current(ctx: CallContext, keyId: string, action: string, lastUsageCondition = false, extra: Map<string, string[]> = new Map()): Promise<KmsKey> {
    let resolved: KmsKey;
    if (lastUsageCondition) {
      resolved = await this.access.resolve(ctx, action, keyId, false);
      const days = await this.usage.trailingDaysWithoutUsage(resolved, this.clock.now());
      await this.access.authorize(ctx, resolved, { action, keyRef: keyId, extra: new Map([...extra, ['kms:trailingdayswithoutkeyusage', [String(days)]]]) });
    } else resolved = await this.access.useKey(ctx, keyId, false, { action, extra });
    const fresh = await this.store.getKey(resolved.keyId);
    if (!fresh) throw new NotFoundException(`Key '${resolved.arn}' does not exist`);
    return fresh;
  }

  private async save(key: KmsKey): Promise<void> {
    await this.store.updateKey(key);
    this.keys.forgetKey(key.keyId);
  }
}

/**
 * The keys whose material can be imported here: symmetric encryption keys, and
 * RSA and ECC signing keys and RSA encryption keys (PKCS#8, unwrapped by the token).
 */
function assertImportable(keySpec: KeySpec, keyUsage: KeyUsage): void {
  if (isHmacSpec(keySpec)) {
    throw new UnsupportedOperationException('Importing HMAC key material is not available: the HSM keeps no length for unwrapped generic secrets, so their HMAC is refused (SoftHSM 2.6).');
  }
  if (keyUsage === 'KEY_AGREEMENT') throw new UnsupportedOperationException('Importing key material into KEY_AGREEMENT keys is not available yet.');
  if (keySpec === ED25519) throw new UnsupportedOperationException('Importing Ed25519 key material is not available.');
}
