import { keyMaterialId, KeyState, type KmsKey } from '../domain/key.js';
import { algorithmsOf } from '../domain/key-spec.js';
import { epochSeconds } from './schemas.js';

/** KeyMetadata as DescribeKey, CreateKey and the AWS SDKs know it. */
export function keyMetadata(key: KmsKey): Record<string, unknown> {
  return {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: epochSeconds(key.creationDate),
    Enabled: key.keyState === KeyState.Enabled,
    Description: key.description,
    KeyUsage: key.keyUsage,
    KeyState: key.keyState,
    DeletionDate: key.deletionDate ? epochSeconds(key.deletionDate) : undefined,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...algorithmsOf(key.keySpec, key.keyUsage),
    MultiRegion: false,
    ExpirationModel: key.origin === 'EXTERNAL' ? key.expirationModel : undefined,
    ValidTo: key.validTo ? epochSeconds(key.validTo) : undefined,
    CurrentKeyMaterialId: currentKeyMaterialId(key),
  };
}

/** AWS names the current material of symmetric encryption keys only, and of an imported one only while it has material. */
function currentKeyMaterialId(key: KmsKey): string | undefined {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.keyState === KeyState.PendingImport) return undefined;
  return keyMaterialId({ keyId: key.keyId, version: key.currentVersion });
}
