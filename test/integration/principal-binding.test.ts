import path from 'node:path';
import Database from 'better-sqlite3';
import { CreateKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { kmsClient, startTestService, testAdmin } from '../support/service.js';

describe('key policies written before principals had unique ids', () => {
  it('are bound at start-up to the principals that hold their ARNs then, and keep working for them', async () => {
    const first = await startTestService();
    const frank = 'arn:aws:iam::111122223333:user/frank';
    const admin = testAdmin(first.endpoint);
    await admin('CreatePrincipal', { Arn: frank });
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: frank })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const policy = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: frank }, Action: 'kms:Encrypt', Resource: '*' },
      ],
    });
    const keyId = (await first.client.send(new CreateKeyCommand({ Policy: policy }))).KeyMetadata!.KeyId!;
    await first.stop();

    const file = path.join(first.dataDir, 'kms.sqlite');
    const db = new Database(file);
    const frankId = (db.prepare('SELECT unique_id FROM principals WHERE arn = ?').get(frank) as { unique_id: string }).unique_id;
    // As a policy written before this release is stored: no bindings.
    db.prepare('UPDATE keys SET policy_principals = NULL WHERE key_id = ?').run(keyId);
    db.close();

    const again = await startTestService({ dataDir: first.dataDir });
    try {
      const reopened = new Database(file, { readonly: true });
      const row = reopened.prepare('SELECT policy_principals FROM keys WHERE key_id = ?').get(keyId) as { policy_principals: string | null };
      reopened.close();
      expect(JSON.parse(row.policy_principals!)).toEqual({ [frank]: frankId });
      const client = kmsClient(again.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey);
      await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('still frank') }));
      client.destroy();
    } finally {
      await again.cleanup();
    }
  });
});
