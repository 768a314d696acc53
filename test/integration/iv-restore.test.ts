import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBlob } from '../../src/domain/ciphertext-blob.js';
import { startTestService } from '../support/service.js';

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe('the IV sequence is bound to the token', () => {
  it('refuses to start on a database restored from an older copy, says how to recover, and recovers past every IV used', async () => {
    const first = await startTestService({ config: { ivAdvanceToToken: false } });
    scratch.push(first.dataDir);
    const keyId = (await first.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await first.stop();
    const database = path.join(first.dataDir, 'kms.sqlite');
    await copyFile(database, `${database}.backup`);

    // Two more starts use two more fixed fields; their ciphertexts carry them.
    const usedFields: number[] = [];
    for (let i = 0; i < 2; i++) {
      const again = await startTestService({ dataDir: first.dataDir, config: { ivAdvanceToToken: false } });
      const blob = (await again.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`after the backup ${i}`) }))).CiphertextBlob!;
      usedFields.push(again.service.ivs.fixedField);
      expect(parseBlob(Buffer.from(blob)).iv.readUInt32BE(0)).toBe(again.service.ivs.fixedField);
      await again.stop();
    }

    // The backup comes back: its IV sequence would hand out those fixed fields again.
    await copyFile(`${database}.backup`, database);
    await expect(startTestService({ dataDir: first.dataDir, config: { ivAdvanceToToken: false } })).rejects.toThrow(/the database is behind the token[\s\S]*KMS_IV_ADVANCE_TO_TOKEN=true/);

    const recovered = await startTestService({ dataDir: first.dataDir, config: { ivAdvanceToToken: true } });
    try {
      expect(recovered.service.ivs.fixedField).toBeGreaterThan(Math.max(...usedFields));
      const blob = (await recovered.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('after the restore') }))).CiphertextBlob!;
      expect(Buffer.from((await recovered.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('after the restore');
    } finally {
      await recovered.stop();
    }
    // Once past, an ordinary start is allowed again.
    const ordinary = await startTestService({ dataDir: first.dataDir, config: { ivAdvanceToToken: false } });
    await ordinary.stop();
  });
});
