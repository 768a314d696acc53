import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ExpiredImportTokenException,
  IncorrectKeyMaterialException,
  InvalidImportTokenException,
  KMSInvalidStateException,
  NotFoundException,
  UnsupportedOperationException,
  ValidationException,
} from '../../domain/errors.js';
import { awsKeyId, isReplica, keyMaterialId, materialRef, type ExpirationModel, type KeyMaterialRef, type KmsKey } from '../../domain/key.js';
import type { ServiceEvents } from '../audit/audit-recorder.js';
import { assertNotPendingDeletion } from '../../domain/key-state-rules.js';
import { isRsaSpec, RSA_SPECS } from '../../domain/key-spec.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from './key-directory.js';
import { keyPairParams } from './key-pair-params.js';
import type { Clock, ImportStore, KeyVault, KeyVersionCheckStore, MultiRegionStore, Serialized, WrappingAlgorithm, WrappingKeySpec } from '../ports/index.js';

export const IMPORT_TOKEN_LIFETIME_MS = 24 * 3_600_000;
/** How far ahead imported key material may expire (AWS: 365 days from the request). */
export const MAX_VALID_TO_DAYS = 365;
const DAY_MS = 86_400_000;
/**
 * Outstanding import tokens kept per key. AWS documents no limit, but each one is
 * an RSA key pair in the HSM for a day: past this many, the oldest is retired
 * (its key pair destroyed) rather than the new request refused, so a client that
 * asks again after losing its parameters is never stuck.
 */
export const MAX_OUTSTANDING_IMPORT_TOKENS = 10;

export interface ImportParameters {
  readonly key: KmsKey;
  readonly importToken: Buffer;
  readonly publicKey: Buffer;
  readonly parametersValidTo: Date;
}

export type ImportType = 'NEW_KEY_MATERIAL' | 'EXISTING_KEY_MATERIAL';

export interface ImportRequest {
  readonly keyId: string;
  readonly importToken: Buffer;
  readonly encryptedKeyMaterial: Buffer;
  readonly expirationModel?: ExpirationModel;
  readonly validTo?: Date;
  /** NEW_KEY_MATERIAL: material for the next on-demand rotation; EXISTING_KEY_MATERIAL (the default): a material of the key again. */
  readonly importType?: ImportType;
  /** With EXISTING_KEY_MATERIAL: which material of the key this is. */
  readonly keyMaterialId?: string;
  readonly keyMaterialDescription?: string;
}

/** What an import did: which material of the key it was. */
export interface Imported {
  readonly key: KmsKey;
  readonly version: number;
}

function assertExternal(key: KmsKey): void {
  if (key.origin !== 'EXTERNAL') throw new UnsupportedOperationException(`${key.arn} has Origin ${key.origin}; key material can be imported only into keys with Origin EXTERNAL.`);
}

/**
 * Bring your own key: the material arrives wrapped under an RSA key that the token
 * generated, and the token unwraps it straight into a non-extractable object. Node
 * never holds it. Deletion and expiry return the key to PendingImport; only the
 * same material (compared by a check value made in the token) may come back.
 */
export class KeyImporter {
  constructor(
    private readonly store: ImportStore & Pick<MultiRegionStore, 'listMultiRegionKeys'> & Pick<KeyVersionCheckStore, 'getKeyVersionCheck'>,
    private readonly vault: KeyVault,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
    private readonly events: ServiceEvents,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /**
     * A key's imports and deletions take turns (in this process, and across
     * instances on PostgreSQL): each reads the key's materials, decides a version
     * and writes its token object, which another one must not interleave with.
     * A multi-Region key's regions take turns together: they share the objects.
     */
    private readonly serialized: Serialized,
  ) {}

  async getParametersForImport(ctx: CallContext, keyId: string, algorithm: WrappingAlgorithm, spec: WrappingKeySpec): Promise<ImportParameters> {
    const extra = new Map([
      ['kms:wrappingalgorithm', [algorithm]],
      ['kms:wrappingkeyspec', [spec]],
    ]);
    const key = await this.access.useKey(ctx, keyId, false, { action: 'GetParametersForImport', extra });
    assertExternal(key);
    assertNotPendingDeletion(key);
    // An RSA private key is larger than RSA-OAEP can carry (AWS: RSA_AES_KEY_WRAP only for RSA material).
    if (isRsaSpec(key.keySpec) && algorithm.startsWith('RSAES_OAEP')) {
      throw new ValidationException(`${algorithm} cannot wrap RSA private key material; use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.`);
    }
    const missing = this.vault.missingWrappingMechanism(algorithm);
    if (missing) throw new UnsupportedOperationException(`WrappingAlgorithm ${algorithm} is not available: the HSM lacks ${missing}.`);
    const tokenId = randomUUID();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + IMPORT_TOKEN_LIFETIME_MS);
    const publicKey = await this.vault.createImportWrappingKey(tokenId, RSA_SPECS[spec].modulusBits);
    await this.store.saveImportToken({ tokenId, keyId: key.keyId, wrappingAlgorithm: algorithm, wrappingKeySpec: spec, createdAt: now, expiresAt });
    await this.retireSupersededTokens(key.keyId);
    return { key, importToken: Buffer.from(tokenId.replace(/-/g, ''), 'hex'), publicKey, parametersValidTo: expiresAt };
  }

  async importKeyMaterial(ctx: CallContext, req: ImportRequest): Promise<Imported> {
    const extra = new Map<string, string[]>([['kms:expirationmodel', [req.expirationModel ?? 'KEY_MATERIAL_EXPIRES']]]);
    // A timestamp in epoch seconds, compared with numeric operators (AWS's kms:ValidTo examples).
    if (req.validTo) extra.set('kms:validto', [String(Math.floor(req.validTo.getTime() / 1000))]);
    const key = await this.access.useKey(ctx, req.keyId, false, { action: 'ImportKeyMaterial', extra });
    assertExternal(key);
    assertNotPendingDeletion(key);
    const model = req.expirationModel ?? 'KEY_MATERIAL_EXPIRES';
    if (model === 'KEY_MATERIAL_EXPIRES' && req.validTo === undefined) throw new ValidationException('ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.');
    if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && req.validTo !== undefined) throw new ValidationException('ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.');
    const now = this.clock.now();
    if (req.validTo !== undefined && req.validTo.getTime() <= now.getTime()) throw new ValidationException('ValidTo must be in the future.');
    // AWS's bound: a ValidTo past it would also leave a key whose material never expires in practice.
    if (req.validTo !== undefined && req.validTo.getTime() > now.getTime() + MAX_VALID_TO_DAYS * DAY_MS) {
      throw new ValidationException(`ValidTo must be at most ${MAX_VALID_TO_DAYS} days from now.`);
    }

    const symmetric = key.keySpec === 'SYMMETRIC_DEFAULT';
    // Only symmetric encryption keys hold several materials (AWS: asymmetric and HMAC keys refuse these members).
    if (!symmetric && (req.importType !== undefined || req.keyMaterialId !== undefined)) {
      throw new ValidationException('ImportType and KeyMaterialId apply to symmetric encryption keys only: an asymmetric key has one key material.');
    }
    if (req.importType === 'NEW_KEY_MATERIAL' && req.keyMaterialId !== undefined) throw new ValidationException('KeyMaterialId cannot be given with ImportType NEW_KEY_MATERIAL.');
    if (req.importType === 'NEW_KEY_MATERIAL' && key.primaryRegion !== undefined) {
      throw new UnsupportedOperationException(`${key.arn} is a multi-Region key: rotating multi-Region keys with imported material (ImportType NEW_KEY_MATERIAL) is not available.`);
    }

    const token = await this.importToken(req.importToken, key, now);
    const { version, pendingRotation } = await this.serialized(importTurn(key), async () => {
      const materials = await this.store.listImportedMaterial(key.keyId);
      const associated = materials.filter((m) => !m.pendingRotation);
      let version: number;
      let pendingRotation: boolean;
      let check: Buffer;
      try {
        // The material's check value, computed in the token from a session object that is destroyed at once.
        check = await this.unwrap(key, undefined, token.tokenId, token.wrappingAlgorithm, req.encryptedKeyMaterial);
        const same = materials.find((m) => sameCheck(m.check, check));
        if (associated.length === 0) {
          // The first material, whatever ImportType says: it becomes current, and the key's for good.
          [version, pendingRotation] = [1, false];
        } else if (req.importType === 'NEW_KEY_MATERIAL') {
          if (same) throw new IncorrectKeyMaterialException(`This key material is already ${same.pendingRotation ? 'pending rotation in' : 'a key material of'} ${key.arn}.`);
          const pending = materials.find((m) => m.pendingRotation);
          if (pending) {
            throw new KMSInvalidStateException(`${key.arn} already has key material pending rotation (${keyMaterialId({ keyId: key.keyId, version: pending.version })}): rotate to it, or delete it first.`);
          }
          [version, pendingRotation] = [Math.max(key.currentVersion, ...materials.map((m) => m.version)) + 1, true];
        } else {
          const named = req.keyMaterialId === undefined ? materials : materials.filter((m) => keyMaterialId({ keyId: key.keyId, version: m.version }) === req.keyMaterialId);
          if (req.keyMaterialId !== undefined && named.length === 0) throw new NotFoundException(`${key.arn} has no key material ${req.keyMaterialId}.`);
          const match = named.find((m) => sameCheck(m.check, check));
          if (!match) throw incorrectMaterial(key);
          [version, pendingRotation] = [match.version, match.pendingRotation];
        }
        // A multi-Region key has one material in all its regions: each region imports the same (AWS).
        const shared = key.primaryRegion === undefined ? undefined : await this.store.getKeyVersionCheck(materialRef(key, version));
        if (shared && !sameCheck(shared.value, check)) throw incorrectMaterial(key);
        const ref = { keyId: key.keyId, version };
        const row = materials.find((m) => m.version === version);
        // Another region's key has the material in the token now: this region's import is recorded, the object is theirs too.
        if (!row?.imported && !(await this.importedElsewhere(key, version))) {
          // A row names the version before its token object exists, so that a crash leaves nothing unnamed in the token
          // (deleting the key destroys every version a row names); an import that fails forgets a row it made.
          if (!row) await this.store.reserveImportedMaterial(key.keyId, { version, check, description: req.keyMaterialDescription, pendingRotation }, now);
          try {
            // Into the token for good (a leftover of an import or deletion that a crash cut short goes first).
            await this.vault.destroyKey(ref);
            const kept = await this.unwrap(key, ref, token.tokenId, token.wrappingAlgorithm, req.encryptedKeyMaterial);
            if (!sameCheck(kept, check)) throw incorrectMaterial(key);
          } catch (e) {
            // The row goes only once the token surely holds nothing under the version; the caller hears the import's own error.
            const destroyed = await this.vault.destroyKey(ref).then(
              () => true,
              () => false,
            );
            if (!row && destroyed) await this.store.forgetImportedMaterial(key.keyId, version).catch(() => undefined);
            throw e;
          }
        }
      } finally {
        // An import token serves one import: its wrapping key pair, which could unwrap the material
        // again for anyone holding the PIN and the wrapped bytes, goes at once, whatever came of it.
        await this.retireToken(token.tokenId);
      }
      await this.store.recordImportedMaterial(key.keyId, { version, check, description: req.keyMaterialDescription, expirationModel: model, validTo: req.validTo, pendingRotation }, now);
      return { version, pendingRotation };
    });
    this.keys.forgetKey(key.keyId);
    this.logger.info({ keyId: awsKeyId(key.keyId), arn: key.arn, version, pendingRotation, expirationModel: model, validTo: req.validTo?.toISOString() }, 'key material imported');
    return { key, version };
  }

  /** The material unwrapped into its key's kind of token object (or, with no ref, only its check value). */
  private unwrap(key: KmsKey, ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer> {
    const pair = keyPairParams(key.keySpec, key.keyUsage);
    return pair ? this.vault.importKeyPair(ref, tokenId, algorithm, wrapped, pair) : this.vault.importSymmetricKey(ref, tokenId, algorithm, wrapped);
  }

  /** The key's current material, or the one KeyMaterialId names (a pending rotation's too); returns which it was. */
  async deleteImportedKeyMaterial(ctx: CallContext, keyId: string, materialId: string | undefined): Promise<Imported> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'DeleteImportedKeyMaterial' });
    assertExternal(key);
    const materials = await this.store.listImportedMaterial(key.keyId);
    const version = materialId === undefined ? key.currentVersion : materials.find((m) => keyMaterialId({ keyId: key.keyId, version: m.version }) === materialId)?.version;
    if (version === undefined) throw new NotFoundException(`${key.arn} has no key material ${materialId}.`);
    // Allowed while the key waits for deletion too: it stays PendingDeletion (AWS).
    await this.serialized(importTurn(key), () => this.removeMaterial(key, version, 'deleted'));
    return { key, version };
  }

  /** The scheduler's job: material past its ValidTo is destroyed; expired import tokens' key pairs too. */
  async expire(): Promise<void> {
    const now = this.clock.now();
    for (const { key, version } of await this.store.listExpiredImportedMaterial(now, 100)) {
      try {
        await this.serialized(importTurn(key), async () => {
          // Looked at again in turn: a re-import may have moved its ValidTo meanwhile.
          const m = (await this.store.listImportedMaterial(key.keyId)).find((x) => x.version === version);
          if (m?.imported && m.expirationModel === 'KEY_MATERIAL_EXPIRES' && m.validTo !== undefined && m.validTo <= now) await this.removeMaterial(key, version, 'expired');
        });
      } catch (e) {
        this.logger.error({ keyId: key.keyId, version, err: e }, 'expiring imported key material failed; will retry');
      }
    }
    for (const token of await this.store.listExpiredImportTokens(now, 100)) await this.retireToken(token.tokenId);
  }

  /**
   * A multi-Region replica of an imported key is being destroyed: the versions no
   * other region has imported leave the token now, not with the primary (the
   * primary's rows still name them meanwhile, so a crash leaves nothing unnamed).
   * Returns the versions destroyed.
   */
  async releaseRegionMaterial(key: KmsKey): Promise<number[]> {
    if (key.origin !== 'EXTERNAL' || !isReplica(key)) return [];
    return this.serialized(importTurn(key), async () => {
      const destroyed: number[] = [];
      for (const m of await this.store.listImportedMaterial(key.keyId)) {
        if (!m.imported || (await this.importedElsewhere(key, m.version))) continue;
        await this.vault.destroyKey({ keyId: key.keyId, version: m.version });
        destroyed.push(m.version);
      }
      return destroyed;
    });
  }

  /** Every outstanding import token of the key retired (a deleted replica's, before its region's key is made again). */
  async retireTokensOf(keyId: string): Promise<void> {
    for (const token of await this.store.listImportTokensOfKey(keyId)) await this.retireToken(token.tokenId);
  }

  /** The oldest outstanding tokens past the cap. */
  private async retireSupersededTokens(keyId: string): Promise<void> {
    const outstanding = await this.store.listImportTokensOfKey(keyId);
    for (const token of outstanding.slice(0, Math.max(0, outstanding.length - MAX_OUTSTANDING_IMPORT_TOKENS))) await this.retireToken(token.tokenId);
  }

  /** An import token's end: its key pair first, then its row (a crash between leaves a row the expiry job clears). */
  private async retireToken(tokenId: string): Promise<void> {
    await this.vault.destroyImportWrappingKey(tokenId);
    await this.store.deleteImportToken(tokenId);
  }

  /** Store first (PendingImport refuses cryptography), token object second: a crash in between leaves only a harmless object, still named by its row. */
  private async removeMaterial(key: KmsKey, version: number, why: 'deleted' | 'expired'): Promise<void> {
    await this.store.markImportedMaterialDeleted(key.keyId, version);
    this.keys.forgetKey(key.keyId);
    // A multi-Region key's object stays while another region has the material: it goes with the last.
    if (!(await this.importedElsewhere(key, version))) await this.vault.destroyKey({ keyId: key.keyId, version });
    // A pending rotation's material, now out of the token, is forgotten (a crash before leaves it named, not imported).
    await this.store.forgetImportedMaterial(key.keyId, version);
    this.logger.info({ keyId: awsKeyId(key.keyId), arn: key.arn, version, reason: why }, 'imported key material destroyed');
    if (why === 'expired') await this.events.serviceEvent('DeleteExpiredKeyMaterial', key, { keyMaterialId: keyMaterialId({ keyId: key.keyId, version }) });
  }

  /** Whether another region's key of a multi-Region key has the version's material imported now (in the shared token object). */
  private async importedElsewhere(key: KmsKey, version: number): Promise<boolean> {
    if (key.primaryRegion === undefined) return false;
    for (const other of await this.store.listMultiRegionKeys(awsKeyId(key.keyId))) {
      if (other.keyId !== key.keyId && (await this.store.listImportedMaterial(other.keyId)).some((m) => m.version === version && m.imported)) return true;
    }
    return false;
  }

  private async importToken(raw: Buffer, key: KmsKey, now: Date) {
    const hex = raw.toString('hex');
    const tokenId = raw.length === 16 ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : '';
    const token = tokenId ? await this.store.getImportToken(tokenId) : undefined;
    if (!token || token.keyId !== key.keyId) throw new InvalidImportTokenException('The import token is not valid for this KMS key.');
    if (token.expiresAt.getTime() <= now.getTime()) throw new ExpiredImportTokenException('The import token has expired. Call GetParametersForImport again.');
    return token;
  }
}

/** The turn a key's imports and deletions take: a multi-Region key's regions share one. */
function importTurn(key: KmsKey): string {
  return `import/${awsKeyId(key.keyId)}`;
}

function sameCheck(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function incorrectMaterial(key: KmsKey): IncorrectKeyMaterialException {
  return new IncorrectKeyMaterialException(`The key material is not the key material previously imported into ${key.arn}.`);
}
