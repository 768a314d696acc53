import { keyArn } from '../domain/arn.js';
import { awsKeyId, isReplica, keyMaterialId, KeyState, type KmsKey } from '../domain/key.js';
import { algorithmsOf } from '../domain/key-spec.js';
import { epochSeconds } from './schemas.js';

/**
 * KeyMetadata as DescribeKey, CreateKey and the AWS SDKs know it; regionKeys: a
 * multi-Region key's keys in every region (MultiRegionConfiguration).
 */
export function keyMetadata(key: KmsKey, regionKeys: readonly KmsKey[] = []): Record<string, unknown> {
  return {
    AWSAccountId: key.accountId,
    KeyId: awsKeyId(key.keyId),
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
    MultiRegion: key.primaryRegion !== undefined,
    MultiRegionConfiguration: multiRegionConfiguration(key, regionKeys),
    // AWS shows the waiting period of a primary key waiting for its replicas' deletion only.
    PendingDeletionWindowInDays: key.keyState === KeyState.PendingReplicaDeletion ? key.pendingDeletionWindowInDays : undefined,
    ExpirationModel: key.origin === 'EXTERNAL' ? key.expirationModel : undefined,
    ValidTo: key.validTo ? epochSeconds(key.validTo) : undefined,
    CurrentKeyMaterialId: currentKeyMaterialId(key),
  };
}

function multiRegionConfiguration(key: KmsKey, regionKeys: readonly KmsKey[]): Record<string, unknown> | undefined {
  if (key.primaryRegion === undefined) return undefined;
  const at = (region: string) => ({ Arn: keyArn({ accountId: key.accountId, region }, key.keyId), Region: region });
  return {
    MultiRegionKeyType: isReplica(key) ? 'REPLICA' : 'PRIMARY',
    PrimaryKey: at(key.primaryRegion),
    ReplicaKeys: regionKeys.filter((k) => k.region !== key.primaryRegion).map((k) => at(k.region)),
  };
}

/** AWS names the current material of symmetric encryption keys only, and of an imported one only while it has material. */
function currentKeyMaterialId(key: KmsKey): string | undefined {
  if (key.keySpec !== 'SYMMETRIC_DEFAULT' || key.keyState === KeyState.PendingImport) return undefined;
  return keyMaterialId({ keyId: key.keyId, version: key.currentVersion });
}
