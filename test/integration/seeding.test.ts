import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateKeyCommand, DescribeKeyCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, ListAliasesCommand, ListResourceTagsCommand, SignCommand } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeed } from '../../src/config/seed-file.js';
import { startTestService, type TestService } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** The README's example: the first yaml block of its Seeding section. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Seeding'));
  return /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
}

const PAYMENTS = '1234abcd-12ab-34cd-56ef-1234567890ab';
const SIGNING = '0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c';

async function aliasesOf(kms: TestService): Promise<Record<string, string | undefined>> {
  const { Aliases } = await kms.client.send(new ListAliasesCommand({}));
  return Object.fromEntries((Aliases ?? []).map((a) => [a.AliasName!, a.TargetKeyId]));
}

describe('the seed file (KMS_SEED_FILE)', () => {
  it('makes exactly what the README example says, changes nothing the second time, and reconciles a changed file', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-seed-'));
    folders.push(dataDir);
    const file = path.join(dataDir, 'seed.yaml');
    const example = await readmeExample();
    // The compose file mounts seed.example.yaml: the same example.
    expect(await readFile(path.join(root, 'seed.example.yaml'), 'utf8')).toBe(example);
    await writeFile(file, example);

    const log: string[] = [];
    let kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
    try {
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: 'alias/payments' }))).KeyMetadata).toMatchObject({ KeyId: PAYMENTS, Description: 'payments envelope key' });
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: SIGNING }))).KeyMetadata).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
      await kms.client.send(new SignCommand({ KeyId: 'alias/signing', Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
      expect((await kms.client.send(new ListResourceTagsCommand({ KeyId: PAYMENTS }))).Tags).toEqual([
        { TagKey: 'env', TagValue: 'local' },
        { TagKey: 'team', TagValue: 'payments' },
      ]);
      expect(await kms.client.send(new GetKeyRotationStatusCommand({ KeyId: PAYMENTS }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
      expect(JSON.parse((await kms.client.send(new GetKeyPolicyCommand({ KeyId: PAYMENTS, PolicyName: 'default' }))).Policy!).Statement[0].Sid).toBe('Enable IAM User Permissions');
      expect(log.some((l) => l.includes('"created":2'))).toBe(true);
      // A key the file does not know, made by hand: left alone by every later start.
      const mine = (await kms.client.send(new CreateKeyCommand({ Description: 'not seeded' }))).KeyMetadata!.KeyId!;
      await kms.stop();

      log.length = 0;
      kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
      expect(log.some((l) => l.includes('the seed file was applied'))).toBe(false);
      await kms.stop();

      // The alias moves to the other key, the policy is replaced, a tag changes.
      const changed = example
        .replace('aliases: [alias/payments]', 'aliases: []')
        .replace('aliases: [alias/signing]', 'aliases: [alias/signing, alias/payments]')
        .replace('env: local', 'env: staging')
        .replace('Sid: Enable IAM User Permissions', 'Sid: Root may do all');
      await writeFile(file, changed);
      log.length = 0;
      kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
      expect(await aliasesOf(kms)).toMatchObject({ 'alias/payments': SIGNING, 'alias/signing': SIGNING });
      expect(JSON.parse((await kms.client.send(new GetKeyPolicyCommand({ KeyId: PAYMENTS, PolicyName: 'default' }))).Policy!).Statement[0].Sid).toBe('Root may do all');
      expect((await kms.client.send(new ListResourceTagsCommand({ KeyId: PAYMENTS }))).Tags).toContainEqual({ TagKey: 'env', TagValue: 'staging' });
      expect(log.some((l) => l.includes('"created":0') && l.includes('"changed":2'))).toBe(true);
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: mine }))).KeyMetadata!.Description).toBe('not seeded');
    } finally {
      await kms.stop();
    }
  });

  it('refuses every kind of bad file with its line and the reason, and applies nothing of it', async () => {
    const good = `keys:\n  - id: ${PAYMENTS}\n    aliases: [alias/first]\n`;
    const cases: Array<[string, string, RegExp]> = [
      ['syntax', `${good}  - id: [unclosed\n`, /seed\.yaml:5: Flow sequence/],
      ['unknown field', `${good}  - id: ${SIGNING}\n    colour: blue\n`, /seed\.yaml:4: keys\.1: Unrecognized key.*colour/],
      ['bad key id', `${good}  - id: not-a-uuid\n`, /seed\.yaml:4: keys\.1\.id: must be a key id/],
      ['bad alias', `${good}  - id: ${SIGNING}\n    aliases: [payments]\n`, /seed\.yaml:5: keys\.1\.aliases\.0: must be alias\//],
      ['alias twice', `${good}  - id: ${SIGNING}\n    aliases: [alias/first]\n`, /seed\.yaml:5: keys\.1\.aliases\.0: alias\/first names two keys/],
      ['key twice', `${good}  - id: ${PAYMENTS}\n`, /seed\.yaml:4: keys\.1\.id: key .* is declared twice/],
      ['rotation too short', `${good}    rotation: { enabled: true, periodDays: 30 }\n`, /seed\.yaml:4: keys\.0\.rotation\.periodDays: /],
    ];
    for (const [name, text, message] of cases) expect(() => parseSeed(text, 'seed.yaml'), name).toThrow(message);

    // Through a real start: refused, and the good first key is not made either.
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-seed-bad-'));
    folders.push(dataDir);
    const file = path.join(dataDir, 'seed.yaml');
    await writeFile(file, cases[1]![1]);
    await expect(startTestService({ dataDir, config: { seedFile: file } })).rejects.toThrow(/seed\.yaml:4: keys\.1: Unrecognized key/);
    const plain = await startTestService({ dataDir });
    try {
      expect(await aliasesOf(plain)).toEqual({});
    } finally {
      await plain.stop();
    }
  });
});
