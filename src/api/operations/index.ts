import type { Operation } from '../operation.js';
import { createAlias, deleteAlias, listAliases, updateAlias } from './alias-operations.js';
import { createKey } from './create-key.js';
import { decrypt } from './decrypt.js';
import { describeKey } from './describe-key.js';
import { encrypt } from './encrypt.js';
import { generateDataKey } from './generate-data-key.js';
import { generateDataKeyWithoutPlaintext } from './generate-data-key-without-plaintext.js';
import { generateRandom } from './generate-random.js';
import { cancelKeyDeletion, disableKey, enableKey, scheduleKeyDeletion, updateKeyDescription } from './key-state-operations.js';
import { listKeys } from './list-keys.js';
import { reEncrypt } from './re-encrypt.js';
import { generateMac, verifyMac } from './mac-operations.js';
import { getPublicKey, sign, verify } from './sign-operations.js';
import { generateDataKeyPair, generateDataKeyPairWithoutPlaintext } from './generate-data-key-pair.js';
import { deleteImportedKeyMaterial, getParametersForImport, importKeyMaterial } from './import-operations.js';
import { disableKeyRotation, enableKeyRotation, getKeyRotationStatus, listKeyRotations, rotateKeyOnDemand } from './rotation-operations.js';
import { listResourceTags, tagResource, untagResource } from './tag-operations.js';
import { getKeyPolicy, listKeyPolicies, putKeyPolicy } from './key-policy-operations.js';
import { getKeyLastUsage } from './get-key-last-usage.js';
import { createGrant, listGrants, listRetirableGrants, retireGrant, revokeGrant } from './grant-operations.js';
import { refusedOperations } from './refused-operations.js';
import { deriveSharedSecret } from './derive-shared-secret.js';
import { replicateKey, updatePrimaryRegion } from './multi-region-operations.js';

const all: Operation[] = [
  createKey, describeKey, listKeys,
  encrypt, decrypt, reEncrypt, generateDataKey, generateDataKeyWithoutPlaintext, generateRandom,
  enableKey, disableKey, updateKeyDescription, scheduleKeyDeletion, cancelKeyDeletion,
  createAlias, updateAlias, deleteAlias, listAliases,
  tagResource, untagResource, listResourceTags,
  enableKeyRotation, disableKeyRotation, getKeyRotationStatus, rotateKeyOnDemand, listKeyRotations,
  getParametersForImport, importKeyMaterial, deleteImportedKeyMaterial,
  generateMac, verifyMac,
  sign, verify, getPublicKey, deriveSharedSecret,
  generateDataKeyPair, generateDataKeyPairWithoutPlaintext,
  getKeyPolicy, putKeyPolicy, listKeyPolicies,
  createGrant, listGrants, listRetirableGrants, retireGrant, revokeGrant,
  getKeyLastUsage,
  replicateKey, updatePrimaryRegion,
  ...refusedOperations,
] as Operation[];

/** Every operation this service answers (serving it, or refusing it as not available), by its X-Amz-Target name. */
export const OPERATIONS: ReadonlyMap<string, Operation> = new Map(all.map((op) => [op.name, op]));
