import type { Logger } from 'pino';
import { awsKeyId, isReplica, KeyState, keyMaterialId, primaryKeyId, type KmsKey } from '../../domain/key.js';
import type { ServiceEvents } from '../audit/audit-recorder.js';
import type { KeyDirectory } from './key-directory.js';
import type { Clock, DeletionStore, KeyStore, KeyVault } from '../ports/index.js';
import { AccessDeniedException, KMSInvalidStateException } from '../../domain/errors.js';
import type { CallContext } from '../context.js';

export interface DestructionRun {
  readonly destroyed: string[];
  readonly failed: string[];
}

const BATCH = 100;

/**
 * Destroys keys whose deletion window has passed: every version's token object
 * (C_DestroyObject), then the key itself in the store. The order makes a crash
 * harmless: destruction is first marked as begun (CancelKeyDeletion is refused
 * from then on), objects already destroyed are skipped on the next run, and the
 * key disappears only when nothing of it is left in the token. Safe to run on
 * several instances at once: each step is idempotent.
 */
export class KeyDestroyer {
  constructor(
    private readonly store: DeletionStore & Pick<KeyStore, 'updateKey'>,
    private readonly vault: KeyVault,
    private readonly keys: KeyDirectory,
    private readonly events: ServiceEvents,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** A multi-Region replica of an imported key: the material only it had imported leaves the token with it (returns the versions destroyed). */
    private readonly releaseRegionMaterial: (key: KmsKey) => Promise<number[]> = async () => [],
  ) {}

  async runOnce(): Promise<DestructionRun> {
    const destroyed: string[] = [];
    const failed: string[] = [];
    const due = await this.store.listKeysDueForDeletion(this.clock.now(), BATCH);
    for (const key of due) {
      try {
        if (await this.destroy(key)) destroyed.push(key.keyId);
      } catch (e) {
        // One key's failure must not stop the others; it is retried on the next run.
        failed.push(key.keyId);
        this.logger.error({ keyId: awsKeyId(key.keyId), arn: key.arn, err: e }, 'key destruction failed; will retry');
      }
    }
    return { destroyed, failed };
  }

  /**
   * KMS_DEV_CONVENIENCES: a key pending deletion destroyed now rather than at the
   * end of its window, by the same steps (its deletion date moved to now first).
   * The operator's alone to ask.
   */
  async destroyNow(ctx: CallContext, keyId: string): Promise<void> {
    if (!ctx.principal.operator) throw new AccessDeniedException(`User: ${ctx.principal.arn} is not authorized to perform: DeleteKeyNow: only the operator may`);
    const key = await this.keys.resolve(ctx, keyId, { allowAlias: false, crossAccount: false });
    if (key.keyState !== KeyState.PendingDeletion) {
      const why = key.keyState === KeyState.PendingReplicaDeletion ? 'delete its replicas first' : 'schedule its deletion first';
      throw new KMSInvalidStateException(`${key.arn} is ${key.keyState}, not PendingDeletion: ${why}.`);
    }
    await this.store.updateKey({ ...key, deletionDate: this.clock.now() });
    this.keys.forgetKey(key.keyId);
    if (!(await this.destroy({ ...key, deletionDate: this.clock.now() }))) throw new KMSInvalidStateException(`${key.arn} is no longer pending deletion.`);
  }

  private async destroy(key: KmsKey): Promise<boolean> {
    const now = this.clock.now();
    if (!(await this.store.beginKeyDestruction(key.keyId, now))) return false;
    this.keys.forgetKey(key.keyId);
    const replica = isReplica(key);
    let versions: number[];
    if (replica) {
      // A multi-Region replica's material is its primary's, which outlives every replica: only the primary destroys it,
      // but for imported material only this region still had.
      versions = await this.releaseRegionMaterial(key);
    } else {
      versions = await this.store.listKeyVersions(key.keyId);
      for (const version of versions) await this.vault.destroyKey({ keyId: key.keyId, version });
    }
    await this.store.completeKeyDestruction(key.keyId, versions, now);
    this.keys.forgetKey(key.keyId);
    // The last replica gone, a primary waiting for it has started its own waiting period.
    if (replica) this.keys.forgetKey(primaryKeyId(key));
    this.logger.info({ keyId: awsKeyId(key.keyId), arn: key.arn, versions, destroyedAt: now.toISOString() }, replica ? 'multi-Region replica key deleted' : 'key material destroyed');
    await this.events.serviceEvent('DeleteKey', key, { destroyedKeyMaterialIds: versions.map((version) => keyMaterialId({ keyId: key.keyId, version })) });
    return true;
  }
}
