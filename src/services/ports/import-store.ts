import type { ExpirationModel, KmsKey } from '../../domain/key.js';
import type { WrappingAlgorithm, WrappingKeySpec } from './key-vault.js';

/** One GetParametersForImport answer: its wrapping key pair lives in the token until it expires. */
export interface ImportToken {
  readonly tokenId: string;
  readonly keyId: string;
  readonly wrappingAlgorithm: WrappingAlgorithm;
  readonly wrappingKeySpec: WrappingKeySpec;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

/** One imported key material of a key. */
export interface ImportedMaterial {
  readonly version: number;
  /** Computed in the token when it was first imported (a GCM tag under it, or the SHA-256 of a pair's public key). */
  readonly check: Buffer;
  readonly description: string | undefined;
  /** Undefined while it is not imported. */
  readonly expirationModel: ExpirationModel | undefined;
  readonly validTo: Date | undefined;
  /** In the token now (IMPORTED), or deleted or expired (PENDING_IMPORT). */
  readonly imported: boolean;
  /** Imported for an on-demand rotation that has not happened (PENDING_ROTATION): not yet part of the key. */
  readonly pendingRotation: boolean;
  readonly importedAt: Date;
}

/** A material about to be written to the token: named by a row (not imported) first, so that nothing in the token is ever unnamed. */
export interface MaterialReservation {
  readonly version: number;
  readonly check: Buffer;
  readonly description: string | undefined;
  readonly pendingRotation: boolean;
}

export interface NewImportedMaterial {
  readonly version: number;
  readonly check: Buffer;
  readonly description: string | undefined;
  readonly expirationModel: ExpirationModel;
  readonly validTo: Date | undefined;
  readonly pendingRotation: boolean;
}

/** Import tokens and imported key material (BYOK). */
export interface ImportStore {
  saveImportToken(token: ImportToken): Promise<void>;
  getImportToken(tokenId: string): Promise<ImportToken | undefined>;
  listExpiredImportTokens(now: Date, limit: number): Promise<ImportToken[]>;
  /** The key's outstanding import tokens, oldest first. */
  listImportTokensOfKey(keyId: string): Promise<ImportToken[]>;
  deleteImportToken(tokenId: string): Promise<void>;
  /** Every material of the key, by version: associated ones and one pending rotation, imported or not. */
  listImportedMaterial(keyId: string): Promise<ImportedMaterial[]>;
  /**
   * Material is in the token now (first import, a re-import, or new material for a
   * rotation): its row is written, its check value kept from the first time. A
   * material of the key (not pending rotation) is a key version too. PendingImport
   * becomes Enabled once every material of the key is imported.
   */
  recordImportedMaterial(keyId: string, material: NewImportedMaterial, at: Date): Promise<void>;
  /** A row for material about to be written to the token (a first import, or new material), unless one exists. */
  reserveImportedMaterial(keyId: string, material: MaterialReservation, at: Date): Promise<void>;
  /**
   * The material is going from the token (deleted or expired), recorded before the
   * token object is destroyed: it is no longer imported; one of the key leaves the
   * key PendingImport (PendingDeletion stays so).
   */
  markImportedMaterialDeleted(keyId: string, version: number): Promise<void>;
  /** Once its token object is destroyed: a material no key version names (pending rotation, or a reservation) is forgotten. */
  forgetImportedMaterial(keyId: string, version: number): Promise<void>;
  /** Imported material whose ValidTo has passed, with its key. */
  listExpiredImportedMaterial(now: Date, limit: number): Promise<Array<{ readonly key: KmsKey; readonly version: number }>>;
  /**
   * RotateKeyOnDemand of an imported key: the material pending rotation becomes
   * the key's current version (an ON_DEMAND rotation), and the rotation lease is
   * freed, in one transaction. False when no imported material was pending.
   */
  commitImportedRotation(keyId: string, version: number, at: Date): Promise<boolean>;
}
