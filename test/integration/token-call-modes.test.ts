import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateMacCommand, VerifyMacCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { useTestService } from '../support/service.js';

// The embedded token runs small symmetric operations synchronously; a network HSM's profile keeps them asynchronous.
const kms = useTestService({ config: { pkcs11: { sessions: 4, synchronousSmallOperations: false } } });

describe('small symmetric operations called asynchronously (a network HSM profile)', () => {
  it('encrypt, decrypt and MAC as the synchronous calls do', async () => {
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('async path'), EncryptionContext: { mode: 'async' } }));
    const { Plaintext } = await kms.client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { mode: 'async' } }));
    expect(Buffer.from(Plaintext!).toString()).toBe('async path');
    const macKey = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
    const { Mac } = await kms.client.send(new GenerateMacCommand({ KeyId: macKey, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m') }));
    expect((await kms.client.send(new VerifyMacCommand({ KeyId: macKey, MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('m'), Mac }))).MacValid).toBe(true);
  });
});
