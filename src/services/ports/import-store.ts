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

/** Import tokens and imported key material (BYOK). */
export interface ImportStore {
  saveImportToken(token: ImportToken): Promise<void>;
  getImportToken(tokenId: string): Promise<ImportToken | undefined>;
  listExpiredImportTokens(now: Date, limit: number): Promise<ImportToken[]>;
  /** The key's outstanding import tokens, oldest first. */
  listImportTokensOfKey(keyId: string): Promise<ImportToken[]>;
  deleteImportToken(tokenId: string): Promise<void>;
  /** The check value of the material first imported into the key, if any was. */
  getMaterialCheck(keyId: string): Promise<Buffer | undefined>;
  /** The key has material (version 1): PendingImport becomes Enabled; the first check value is kept. */
  recordImportedMaterial(keyId: string, check: Buffer, model: ExpirationModel, validTo: Date | undefined, at: Date): Promise<void>;
  /** Back to PendingImport, without material; done before the token object is destroyed. */
  markImportedMaterialDeleted(keyId: string): Promise<void>;
  listKeysWithExpiredMaterial(now: Date, limit: number): Promise<KmsKey[]>;
}
