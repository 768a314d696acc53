import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { testAdmin, useTestService, TEST_SECRET_ACCESS_KEY } from '../support/service.js';

const lines: string[] = [];

const kms = useTestService({ logLines: lines });

describe('request logs', () => {
  it('write one structured line per request and never a plaintext, data key, PIN or secret', async () => {
    const secretText = 'the-launch-code-is-0000';
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({}));
    const keyArn = KeyMetadata!.Arn!;
    const blob = (await kms.client.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from(secretText) }))).CiphertextBlob;
    await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }));
    const dataKey = await kms.client.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata!.KeyId, KeySpec: 'AES_256' }));
    await kms.client.send(new DisableKeyCommand({ KeyId: KeyMetadata!.KeyId }));
    await expectAwsError(kms.client.send(new DecryptCommand({ CiphertextBlob: blob })), 'DisabledException');
    // The admin API hands out a new secret once, in its answer, never in the log.
    const admin = testAdmin(kms.endpoint);
    await admin('CreatePrincipal', { Arn: 'arn:aws:iam::111122223333:user/logged' });
    const { AccessKey } = (await admin('CreateAccessKey', { PrincipalArn: 'arn:aws:iam::111122223333:user/logged' })) as { AccessKey: { SecretAccessKey: string } };

    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(requests.map((r) => r.op)).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'DisableKey', 'Decrypt', 'CreatePrincipal', 'CreateAccessKey']);
    for (const r of requests) {
      expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.principal).toBe('arn:aws:iam::111122223333:root');
      expect(typeof r.latencyMs).toBe('number');
    }
    expect(requests[1]).toMatchObject({ op: 'Encrypt', keyId: keyArn, status: 200, outcome: 'ok' });
    expect(requests[5]).toMatchObject({ op: 'Decrypt', status: 400, outcome: 'DisabledException' });

    const all = lines.join('\n');
    const pin = (await readFile(path.join(kms.dataDir, 'softhsm', 'user.pin'), 'utf8')).trim();
    const soPin = (await readFile(path.join(kms.dataDir, 'softhsm', 'so.pin'), 'utf8')).trim();
    for (const forbidden of [
      secretText,
      Buffer.from(secretText).toString('base64'),
      Buffer.from(dataKey.Plaintext!).toString('base64'),
      Buffer.from(dataKey.Plaintext!).toString('hex'),
      pin,
      soPin,
      TEST_SECRET_ACCESS_KEY,
      AccessKey.SecretAccessKey,
    ]) {
      expect(all).not.toContain(forbidden);
    }
  });
});
