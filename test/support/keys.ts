import { CreateKeyCommand, type CreateKeyCommandInput, type KeyMetadata, type KMSClient } from '@aws-sdk/client-kms';
import { keyArn } from '../../src/domain/arn.js';
import { KeyState, type KmsKey } from '../../src/domain/key.js';

/** Creates a key through the API and returns its metadata. */
export async function createKey(client: KMSClient, input: CreateKeyCommandInput = {}): Promise<KeyMetadata> {
  const { KeyMetadata } = await client.send(new CreateKeyCommand(input));
  return KeyMetadata!;
}

/**
 * A hand-built key record (an enabled symmetric key in account 111122223333,
 * us-east-1) for code that works below the API; `over` replaces any field.
 */
export function keyFixture(keyId: string, over: Partial<KmsKey> = {}): KmsKey {
  const scope = { region: over.region ?? 'us-east-1', accountId: over.accountId ?? '111122223333' };
  return {
    keyId,
    accountId: scope.accountId,
    region: scope.region,
    arn: keyArn(scope, keyId),
    description: '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    origin: 'AWS_KMS',
    keyState: KeyState.Enabled,
    creationDate: new Date(),
    deletionDate: undefined,
    pendingDeletionWindowInDays: undefined,
    currentVersion: 1,
    policy: '{}',
    policyPrincipals: {},
    ...over,
  };
}
