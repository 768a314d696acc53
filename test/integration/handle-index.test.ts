import { CreateKeyCommand, EncryptCommand, SignCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { startTestService } from '../support/service.js';

describe('the token handle index', () => {
  it('lets the first use of every key after a restart run without searching the token', async () => {
    const first = await startTestService();
    const keys: string[] = [];
    try {
      for (let i = 0; i < 120; i++) keys.push((await first.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!);
      keys.push((await first.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!);
      await first.stop();
      const restarted = await startTestService({ dataDir: first.dataDir });
      try {
        const before = restarted.service.token.searches;
        for (const keyId of keys.slice(0, -1)) await restarted.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(keyId) }));
        await restarted.client.send(new SignCommand({ KeyId: keys.at(-1), Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
        expect(restarted.service.token.searches - before).toBe(0);
        // A key made after the start is known at once too: its handle is kept when it is made.
        const fresh = (await restarted.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
        await restarted.client.send(new EncryptCommand({ KeyId: fresh, Plaintext: Buffer.from('new') }));
        expect(restarted.service.token.searches - before).toBe(0);
      } finally {
        await restarted.stop();
      }
    } finally {
      await first.cleanup();
    }
  });
});
