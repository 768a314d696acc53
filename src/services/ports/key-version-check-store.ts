import type { KeyMaterialRef } from '../../domain/key.js';
import type { KeyVersionCheck } from './key-vault.js';

/** What identifies each key version's token object, recorded when it is made (see VerifiedKeyVault). */
export interface KeyVersionCheckStore {
  /** The check of a key version's token object, as recorded when it was made (or first used, for versions older than check values). */
  getKeyVersionCheck(ref: KeyMaterialRef): Promise<KeyVersionCheck | undefined>;
  /** 'CREATION' replaces any earlier record (a version number retried after a crash); 'FIRST_USE' never replaces one. */
  saveKeyVersionCheck(ref: KeyMaterialRef, check: KeyVersionCheck, recordedBy: 'CREATION' | 'FIRST_USE', at: Date): Promise<void>;
}
