import { KeyState, type KmsKey } from '../domain/key.js';
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
    PendingDeletionWindowInDays: key.pendingDeletionWindowInDays,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: key.keySpec,
    KeySpec: key.keySpec,
    ...algorithmsOf(key.keySpec, key.keyUsage),
    MultiRegion: false,
    ExpirationModel: key.origin === 'EXTERNAL' ? key.expirationModel : undefined,
    ValidTo: key.validTo ? epochSeconds(key.validTo) : undefined,
  };
}
