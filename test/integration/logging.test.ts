import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, DisableKeyCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { startTestService, TEST_SECRET_ACCESS_KEY, type TestService } from '../support/service.js';

const lines: string[] = [];
let kms: TestService;

beforeAll(async () => {
  kms = await startTestService({ logLines: lines });
});
afterAll(async () => {
  await kms?.cleanup();
});

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

    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    expect(requests.map((r) => r.op)).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'DisableKey', 'Decrypt']);
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
    ]) {
      expect(all).not.toContain(forbidden);
    }
  });
});
