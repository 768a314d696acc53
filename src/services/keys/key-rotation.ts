import type { Logger } from 'pino';
import { ConflictException, KMSInvalidStateException, LimitExceededException, UnsupportedOperationException } from '../../domain/errors.js';
import { awsKeyId, isMultiRegionKeyId, isReplica, keyMaterialId, primaryKeyId, type KmsKey } from '../../domain/key.js';
import { assertUsableForCrypto } from '../../domain/key-state-rules.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from './key-directory.js';
import type { ServiceEvents } from '../audit/audit-recorder.js';
import type { Clock, ImportedMaterial, ImportStore, KeyRotation, KeyStore, KeyVault, MultiRegionStore, Page, RotationStatus, RotationStore, RotationType } from '../ports/index.js';
import type { SlowLane } from '../crypto/slow-lane.js';

export const DEFAULT_ROTATION_PERIOD_DAYS = 365;
export const MAX_ON_DEMAND_ROTATIONS = 25;
const DAY_MS = 86_400_000;
/** How long one instance may take to rotate a key before another may try. */
export const ROTATION_LEASE_MS = 5 * 60_000;

/**
 * Symmetric encryption keys rotate: automatically only with AWS_KMS origin, on
 * demand with imported material too (to material imported with ImportType
 * NEW_KEY_MATERIAL), as in AWS since 2025.
 */
export function assertRotatable(key: KmsKey, how: 'automatically' | 'on demand' = 'automatically'): void {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || (key.origin !== 'AWS_KMS' && (how === 'automatically' || key.origin !== 'EXTERNAL'))) {
    const which = how === 'automatically' ? 'symmetric keys with AWS_KMS origin' : 'symmetric keys with AWS_KMS or EXTERNAL origin';
    throw new UnsupportedOperationException(`${key.arn} cannot be rotated ${how}: only ${which} are.`);
  }
}

/** A multi-Region key rotates in its primary's region, and its replicas with it (AWS). */
function assertNotReplica(key: KmsKey): void {
  if (isReplica(key)) {
    throw new UnsupportedOperationException(`${key.arn} is a multi-Region replica key: its rotation is its primary key's, in ${key.primaryRegion}.`);
  }
}

/** One key material of a key, as ListKeyRotations shows it. */
export interface KeyMaterialEntry {
  readonly version: number;
  /** Absent for the key's first material (and for one pending rotation). */
  readonly rotation: KeyRotation | undefined;
  readonly state: 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION';
  /** Imported keys only. */
  readonly imported: ImportedMaterial | undefined;
}

/**
 * Rotation: each rotation creates a new non-extractable token object (a new key
 * version) that new encryptions use; older versions stay for decryption. Order
 * for crash safety: version row (invisible), token object, then one transaction
 * makes it current. A lease in the store lets one instance rotate a key once.
 */
export class KeyRotator {
  constructor(
    private readonly store: KeyStore & RotationStore & Pick<ImportStore, 'listImportedMaterial' | 'commitImportedRotation'> & Pick<MultiRegionStore, 'listMultiRegionKeys'>,
    private readonly vault: KeyVault,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
    private readonly events: ServiceEvents,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** On-demand rotations make key material on a caller's request: counted in the lane of slow token work. */
    private readonly slowLane: SlowLane,
    private readonly leaseMs = ROTATION_LEASE_MS,
  ) {}

  async enableKeyRotation(ctx: CallContext, keyId: string, periodDays = DEFAULT_ROTATION_PERIOD_DAYS): Promise<void> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'EnableKeyRotation', extra: new Map([['kms:rotationperiodindays', [String(periodDays)]]]) });
    assertRotatable(key);
    assertNotReplica(key);
    assertUsableForCrypto(key);
    await this.store.setRotation(key.keyId, true, periodDays, new Date(this.clock.now().getTime() + periodDays * DAY_MS));
  }

  async disableKeyRotation(ctx: CallContext, keyId: string): Promise<void> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'DisableKeyRotation' });
    assertRotatable(key);
    assertNotReplica(key);
    assertUsableForCrypto(key);
    const status = await this.store.getRotationStatus(key.keyId);
    await this.store.setRotation(key.keyId, false, status?.periodDays ?? DEFAULT_ROTATION_PERIOD_DAYS, undefined);
  }

  async getKeyRotationStatus(ctx: CallContext, keyId: string): Promise<{ key: KmsKey; status: RotationStatus }> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'GetKeyRotationStatus' });
    assertRotatable(key, 'on demand');
    // Automatic rotation is a multi-Region key's shared property: its primary's, wherever it is read.
    const status = (await this.store.getRotationStatus(primaryKeyId(key))) ?? {
      enabled: false,
      periodDays: DEFAULT_ROTATION_PERIOD_DAYS,
      nextRotationDate: undefined,
      onDemandStartedAt: undefined,
    };
    return { key, status };
  }

  async rotateKeyOnDemand(ctx: CallContext, keyId: string): Promise<KmsKey> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'RotateKeyOnDemand' });
    assertRotatable(key, 'on demand');
    assertNotReplica(key);
    assertUsableForCrypto(key);
    const done = await this.store.listRotations(key.keyId, 0, 1000);
    if (done.items.filter((r) => r.rotationType === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw new LimitExceededException(`${key.arn} has reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`);
    }
    if (key.origin === 'EXTERNAL' && key.primaryRegion !== undefined) {
      throw new UnsupportedOperationException(`${key.arn} is a multi-Region key with imported material: its on-demand rotation is not available.`);
    }
    const pending = key.origin === 'EXTERNAL' ? (await this.store.listImportedMaterial(key.keyId)).find((m) => m.pendingRotation) : undefined;
    if (key.origin === 'EXTERNAL' && !pending?.imported) {
      throw new KMSInvalidStateException(`${key.arn} has no imported key material pending rotation: import new key material (ImportType NEW_KEY_MATERIAL) first.`);
    }
    if (!(await this.store.acquireRotationLease(key.keyId, this.clock.now(), this.leaseMs, 'ON_DEMAND'))) {
      // No lease for a key that became a replica since it was read (UpdatePrimaryRegion).
      const now = await this.store.getKey(key.keyId);
      if (now) assertNotReplica(now);
      throw new ConflictException(`A rotation of ${key.arn} is already in progress.`);
    }
    if (pending) {
      // The material is in the token already: the rotation is one transaction of the store.
      if (!(await this.store.commitImportedRotation(key.keyId, pending.version, this.clock.now()))) {
        await this.store.releaseRotationLease(key.keyId);
        throw new ConflictException(`The key material pending rotation of ${key.arn} changed meanwhile; try again.`);
      }
      this.keys.forgetKey(key.keyId);
      this.logger.info({ keyId: awsKeyId(key.keyId), arn: key.arn, version: pending.version, rotationType: 'ON_DEMAND' }, 'key rotated to imported key material');
      return key;
    }
    await this.slowLane.run(() => this.rotate(key.keyId, 'ON_DEMAND'));
    return key;
  }

  /**
   * The key's materials: ROTATIONS_ONLY lists those rotations made (AWS's
   * default); ALL_KEY_MATERIAL the first material and one pending rotation too.
   * Paged by version.
   */
  async listKeyRotations(ctx: CallContext, keyId: string, afterVersion: number, limit: number, all: boolean): Promise<{ key: KmsKey; page: Page<KeyMaterialEntry> }> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'ListKeyRotations' });
    assertRotatable(key, 'on demand');
    const rotations = new Map((await this.store.listRotations(key.keyId, 0, 10_000)).items.map((r) => [r.version, r]));
    const imported = key.origin === 'EXTERNAL' ? new Map((await this.store.listImportedMaterial(key.keyId)).map((m) => [m.version, m])) : undefined;
    const versions = [...new Set([1, ...rotations.keys(), ...(imported?.keys() ?? [])])].sort((a, b) => a - b);
    const entries: KeyMaterialEntry[] = versions
      .map((version) => {
        const material = imported?.get(version);
        const state = material?.pendingRotation ? 'PENDING_ROTATION' : version === key.currentVersion ? 'CURRENT' : 'NON_CURRENT';
        return { version, rotation: rotations.get(version), state, imported: material } as const;
      })
      .filter((e) => (all ? e.version === 1 || e.rotation || e.state === 'PENDING_ROTATION' : e.rotation !== undefined))
      // An imported key's first material exists once it was imported.
      .filter((e) => imported === undefined || e.imported !== undefined || e.rotation !== undefined);
    const rest = entries.filter((e) => e.version > afterVersion);
    const items = rest.slice(0, limit);
    return { key, page: { items, next: rest.length > limit ? String(items.at(-1)!.version) : undefined } };
  }

  /** The scheduler's job: rotate every key whose automatic rotation is due, each failure isolated. */
  async rotateDueKeys(): Promise<{ rotated: string[]; failed: string[] }> {
    const rotated: string[] = [];
    const failed: string[] = [];
    const now = this.clock.now();
    for (const keyId of await this.store.listKeysDueForRotation(now, 100)) {
      try {
        if (!(await this.store.acquireRotationLease(keyId, now, this.leaseMs, 'AUTOMATIC'))) continue;
        await this.rotate(keyId, 'AUTOMATIC');
        rotated.push(keyId);
      } catch (e) {
        failed.push(keyId);
        await this.store.releaseRotationLease(keyId).catch(() => undefined);
        this.logger.error({ keyId: awsKeyId(keyId), err: e }, 'automatic rotation failed; will retry');
      }
    }
    return { rotated, failed };
  }

  /** Versions left half-made by a crash (their lease expired): destroy the token object, forget the row. */
  async recoverInterruptedRotations(): Promise<number> {
    const orphans = await this.store.listProvisioningVersions(this.clock.now());
    for (const ref of orphans) {
      await this.vault.destroyKey(ref);
      await this.store.abandonProvisioningVersion(ref);
      this.logger.warn({ keyId: awsKeyId(ref.keyId), version: ref.version }, 'removed a key version whose rotation a crash interrupted');
      const key = await this.store.getKey(ref.keyId);
      if (key) await this.events.serviceEvent('RecoverInterruptedKeyRotation', key, { keyMaterialId: keyMaterialId(ref), keyMaterialDestroyed: true });
    }
    return orphans.length;
  }

  private async rotate(keyId: string, type: RotationType): Promise<void> {
    const key = await this.store.getKey(keyId);
    if (!key) throw new Error(`key ${keyId} vanished during rotation`);
    const now = this.clock.now();
    // A number no attempt had before: an attempt that recovery gave up on never names another's object.
    const version = await this.store.insertProvisioningVersion(keyId, now, type);
    try {
      await this.vault.createSymmetricKey({ keyId, version });
    } catch (e) {
      await this.store.abandonProvisioningVersion({ keyId, version }).catch(() => undefined);
      throw e;
    }
    const status = await this.store.getRotationStatus(keyId);
    // An on-demand rotation leaves the automatic schedule where it was, as AWS does.
    const next = type === 'ON_DEMAND' ? status?.nextRotationDate : status?.enabled ? new Date(now.getTime() + status.periodDays * DAY_MS) : undefined;
    if (!(await this.store.commitKeyVersion(keyId, version, next))) {
      // Recovery gave the version up meanwhile (its lease had expired): its object, this attempt's alone, goes too.
      await this.vault.destroyKey({ keyId, version }).catch(() => undefined);
      throw new ConflictException(`The rotation of ${key.arn} took too long and was abandoned; try again.`);
    }
    // A multi-Region key's regions took the new version in the same transaction.
    for (const k of isMultiRegionKeyId(keyId) ? await this.store.listMultiRegionKeys(awsKeyId(keyId)) : [key]) this.keys.forgetKey(k.keyId);
    this.logger.info({ keyId: awsKeyId(keyId), arn: key.arn, version, rotationType: type }, 'key rotated');
    // An on-demand rotation is its caller's RotateKeyOnDemand event; an automatic one is the service's own.
    if (type === 'AUTOMATIC') {
      await this.events.serviceEvent('RotateKey', key, {
        rotationType: type,
        keyOrigin: key.origin,
        previousKeyMaterialId: keyMaterialId({ keyId, version: key.currentVersion }),
        currentKeyMaterialId: keyMaterialId({ keyId, version }),
      });
    }
  }
}
