import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  ListAliasesCommand,
  ListGrantsCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeed } from '../../src/config/seed-file.js';
import { SEED_USER_AGENT } from '../../src/services/seeding/seed-calls.js';
import { auditEvents, trailBytes } from '../support/audit.js';
import { expectAwsError } from '../support/errors.js';
import { kmsClient, startTestService, testAdmin, type TestService } from '../support/service.js';

const root = path.resolve(import.meta.dirname, '../..');
const folders: string[] = [];
afterAll(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

async function scratch(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `hsm-kms-seed-${name}-`));
  folders.push(dir);
  return dir;
}

/** The README's example: the first yaml block of its Seeding section. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Seeding'));
  return /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
}

const PAYMENTS = '1234abcd-12ab-34cd-56ef-1234567890ab';
const SIGNING = '0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c';
const SHARED = '5eed0000-0000-4000-8000-000000000001';
const APP = 'arn:aws:iam::111122223333:user/app';
const APP_KEY = 'AKIAHSMKMSEXAMPLEAPP';
const APP_SECRET = 'hsmKmsLocalAppSecretNotForRealUse0000000';
const MATERIAL = 'ZGV2LW9ubHkgc2hhcmVkIGtleSAtIG5vdCBzZWNyZXQ=';

async function aliasesOf(kms: TestService): Promise<Record<string, string | undefined>> {
  const { Aliases } = await kms.client.send(new ListAliasesCommand({}));
  return Object.fromEntries((Aliases ?? []).map((a) => [a.AliasName!, a.TargetKeyId]));
}

async function principalsOf(kms: TestService): Promise<string[]> {
  return ((await testAdmin(kms.endpoint)('ListPrincipals', {})) as { Principals: Array<{ Arn: string }> }).Principals.map((p) => p.Arn);
}

async function seedEvents(kms: TestService): Promise<Array<Record<string, unknown>>> {
  return (await auditEvents(kms.service.audit.dir)).filter((e) => e.userAgent === SEED_USER_AGENT);
}

describe('the seed file (KMS_SEED_FILE)', () => {
  it('makes exactly what the README example says, audited, changes nothing the second time, and reconciles a changed file', async () => {
    const dataDir = await scratch('example');
    const file = path.join(dataDir, 'seed.yaml');
    const example = await readmeExample();
    // The compose file mounts seed.example.yaml: the same example.
    expect(await readFile(path.join(root, 'seed.example.yaml'), 'utf8')).toBe(example);
    await writeFile(file, example);

    const log: string[] = [];
    let kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
    let sharedCiphertext: Uint8Array;
    try {
      // Keys, with their fixed ids, specs, descriptions, tags, policy and rotation.
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: 'alias/payments' }))).KeyMetadata).toMatchObject({ KeyId: PAYMENTS, Description: 'payments envelope key' });
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: SIGNING }))).KeyMetadata).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: 'alias/team-shared' }))).KeyMetadata).toMatchObject({ KeyId: SHARED, Origin: 'EXTERNAL', KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
      expect((await kms.client.send(new ListResourceTagsCommand({ KeyId: PAYMENTS }))).Tags).toEqual([
        { TagKey: 'env', TagValue: 'local' },
        { TagKey: 'team', TagValue: 'payments' },
      ]);
      expect(await kms.client.send(new GetKeyRotationStatusCommand({ KeyId: PAYMENTS }))).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
      expect(JSON.parse((await kms.client.send(new GetKeyPolicyCommand({ KeyId: PAYMENTS, PolicyName: 'default' }))).Policy!).Statement[0].Sid).toBe('Enable IAM User Permissions');
      expect(await aliasesOf(kms)).toEqual({ 'alias/payments': PAYMENTS, 'alias/signing': SIGNING, 'alias/team-shared': SHARED });

      // The principal, with its fixed access key: its identity policy lets it encrypt, the grant lets it sign.
      expect(await principalsOf(kms)).toContain(APP);
      const app = kmsClient(kms.endpoint, APP_KEY, APP_SECRET);
      const blob = (await app.send(new EncryptCommand({ KeyId: 'alias/payments', Plaintext: Buffer.from('seeded') }))).CiphertextBlob!;
      expect(Buffer.from((await app.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('seeded');
      const signature = (await app.send(new SignCommand({ KeyId: 'alias/signing', Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
      expect((await app.send(new VerifyCommand({ KeyId: SIGNING, Message: Buffer.from('m'), Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' }))).SignatureValid).toBe(true);
      await expectAwsError(app.send(new DescribeKeyCommand({ KeyId: SIGNING })), 'AccessDeniedException');
      sharedCiphertext = (await kms.client.send(new EncryptCommand({ KeyId: 'alias/team-shared', Plaintext: Buffer.from('from my machine') }))).CiphertextBlob!;

      expect(log.some((l) => l.includes('"created":5'))).toBe(true);
      const banner = log.find((l) => l.includes('seed file gives'));
      expect(banner).toContain(SHARED);

      // Each change is in the audit trail as its call; no secret and no material is.
      const names = (await seedEvents(kms)).map((e) => `${String(e.eventSource).split('.')[0]}:${String(e.eventName)}`);
      expect(names).toEqual([
        'admin:CreatePrincipal',
        'admin:PutFixedAccessKey',
        'admin:PutPrincipalPolicy',
        'kms:CreateKey',
        'kms:CreateAlias',
        'kms:EnableKeyRotation',
        'kms:CreateKey',
        'kms:CreateAlias',
        'kms:CreateKey',
        'kms:GetParametersForImport',
        'kms:ImportKeyMaterial',
        'kms:CreateAlias',
        'kms:CreateGrant',
      ]);
      expect((await seedEvents(kms)).every((e) => (e.userIdentity as { type: string }).type === 'Root' && e.errorCode === undefined)).toBe(true);
      const trail = await trailBytes(kms.service.audit.dir);
      for (const secret of [APP_SECRET, MATERIAL, 'dev-only shared key']) expect(trail).not.toContain(secret);
      // A key the file does not know, made by hand: left alone by every later start.
      const mine = (await kms.client.send(new CreateKeyCommand({ Description: 'not seeded' }))).KeyMetadata!.KeyId!;
      await kms.stop();

      log.length = 0;
      kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
      expect(log.some((l) => l.includes('the seed file was applied'))).toBe(false);
      expect(await seedEvents(kms)).toHaveLength(13);
      await kms.stop();

      // The alias moves to the other encryption key, the key policy is replaced, a tag changes, the
      // principal's secret and identity policy change, and the grant loses Verify.
      const changed = example
        .replace('aliases: [alias/payments]', 'aliases: []')
        .replace('aliases: [alias/team-shared]', 'aliases: [alias/team-shared, alias/payments]')
        .replace('env: local', 'env: staging')
        .replace('Sid: Enable IAM User Permissions', 'Sid: Root may do all')
        .replace(APP_SECRET, 'anotherLocalSecretForTheAppUser000000000')
        .replace('[kms:Encrypt, kms:Decrypt, kms:GenerateDataKey]', '[kms:Encrypt, kms:Decrypt]')
        .replace('operations: [Sign, Verify]', 'operations: [Sign]');
      await writeFile(file, changed);
      log.length = 0;
      kms = await startTestService({ dataDir, config: { seedFile: file }, logLines: log });
      expect(await aliasesOf(kms)).toMatchObject({ 'alias/payments': SHARED, 'alias/team-shared': SHARED });
      expect(JSON.parse((await kms.client.send(new GetKeyPolicyCommand({ KeyId: PAYMENTS, PolicyName: 'default' }))).Policy!).Statement[0].Sid).toBe('Root may do all');
      expect((await kms.client.send(new ListResourceTagsCommand({ KeyId: PAYMENTS }))).Tags).toContainEqual({ TagKey: 'env', TagValue: 'staging' });
      await expectAwsError(kmsClient(kms.endpoint, APP_KEY, APP_SECRET).send(new EncryptCommand({ KeyId: PAYMENTS, Plaintext: Buffer.from('x') })), 'InvalidSignatureException');
      const renewed = kmsClient(kms.endpoint, APP_KEY, 'anotherLocalSecretForTheAppUser000000000');
      await renewed.send(new EncryptCommand({ KeyId: PAYMENTS, Plaintext: Buffer.from('x') }));
      await expectAwsError(renewed.send(new GenerateDataKeyCommand({ KeyId: PAYMENTS, KeySpec: 'AES_256' })), 'AccessDeniedException');
      const grants = (await kms.client.send(new ListGrantsCommand({ KeyId: SIGNING }))).Grants!;
      expect(grants.map((g) => [g.Name, g.Operations])).toEqual([['app-signs', ['Sign']]]);
      // The payments key, the shared key (its new alias), the principal and the grant.
      expect(log.some((l) => l.includes('"created":0') && l.includes('"changed":4'))).toBe(true);
      expect((await kms.client.send(new DescribeKeyCommand({ KeyId: mine }))).KeyMetadata!.Description).toBe('not seeded');
    } finally {
      await kms.stop();
    }

    // Another machine seeded with the same file decrypts what the first one encrypted.
    const other = await startTestService({ dataDir: await scratch('other-machine'), config: { seedFile: file } });
    try {
      const { Plaintext, KeyId } = await other.client.send(new DecryptCommand({ CiphertextBlob: sharedCiphertext }));
      expect(Buffer.from(Plaintext!).toString()).toBe('from my machine');
      expect(KeyId).toContain(SHARED);
    } finally {
      await other.cleanup();
    }
  });

  it('refuses every kind of malformed file with its line and the reason', () => {
    const good = `keys:\n  - id: ${PAYMENTS}\n    aliases: [alias/first]\n`;
    const cases: Array<[string, string, RegExp]> = [
      ['syntax', `${good}  - id: [unclosed\n`, /seed\.yaml:5: Flow sequence/],
      ['unknown field', `${good}  - id: ${SIGNING}\n    colour: blue\n`, /seed\.yaml:4: keys\.1: Unrecognized key.*colour/],
      ['bad key id', `${good}  - id: not-a-uuid\n`, /seed\.yaml:4: keys\.1\.id: must be a key id/],
      ['bad alias', `${good}  - id: ${SIGNING}\n    aliases: [payments]\n`, /seed\.yaml:5: keys\.1\.aliases\.0: must be alias\//],
      ['alias twice', `${good}  - id: ${SIGNING}\n    aliases: [alias/first]\n`, /seed\.yaml:5: keys\.1\.aliases\.0: alias\/first names two keys/],
      ['key twice', `${good}  - id: ${PAYMENTS}\n`, /seed\.yaml:4: keys\.1\.id: key .* is declared twice/],
      ['rotation too short', `${good}    rotation: { enabled: true, periodDays: 30 }\n`, /seed\.yaml:4: keys\.0\.rotation\.periodDays: /],
      ['material too short', `${good}    material: c2hvcnQ=\n`, /seed\.yaml:4: keys\.0\.material: must be 32 bytes/],
      ['material of an asymmetric key', `${good}    keySpec: RSA_2048\n    material: ${MATERIAL}\n`, /seed\.yaml:5: keys\.0\.material: given material is imported into SYMMETRIC_DEFAULT keys only/],
      ['material and rotation', `${good}    material: ${MATERIAL}\n    rotation: { enabled: true }\n`, /seed\.yaml:5: keys\.0\.rotation: .*not rotated automatically/],
      ['unknown grant operation', `${good}    grants:\n      - { name: g, grantee: ${APP}, operations: [Fly] }\n`, /seed\.yaml:5: keys\.0\.grants\.0\.operations\.0: Invalid option: expected one of "Decrypt"/],
      ['grant twice', `${good}    grants:\n      - { name: g, grantee: ${APP}, operations: [Encrypt] }\n      - { name: g, grantee: ${APP}, operations: [Decrypt] }\n`, /seed\.yaml:6: keys\.0\.grants\.1\.name: grant g is declared twice/],
      ['root as a principal', `principals:\n  - arn: arn:aws:iam::111122223333:root\n${good}`, /seed\.yaml:2: principals\.0\.arn: must be a user or role ARN/],
      ['bad access key id', `principals:\n  - arn: ${APP}\n    accessKeys:\n      - { id: akia-lower, secret: ${APP_SECRET} }\n`, /seed\.yaml:4: principals\.0\.accessKeys\.0\.id: must be 16 to 128 upper-case/],
      ['access key twice', `principals:\n  - arn: ${APP}\n    accessKeys:\n      - { id: ${APP_KEY}, secret: ${APP_SECRET} }\n  - arn: arn:aws:iam::111122223333:user/b\n    accessKeys:\n      - { id: ${APP_KEY}, secret: ${APP_SECRET} }\n`, /seed\.yaml:7: principals\.1\.accessKeys\.0\.id: access key .* is declared twice/],
    ];
    for (const [name, text, message] of cases) expect(() => parseSeed(text, 'seed.yaml'), name).toThrow(message);
  });

  it("refuses a file the service would refuse, before applying any of it, with the line and the service's reason", async () => {
    const app = `principals:\n  - arn: ${APP}\n    accessKeys:\n      - { id: ${APP_KEY}, secret: ${APP_SECRET} }\n`;
    const first = `keys:\n  - id: ${PAYMENTS}\n    aliases: [alias/first]\n`;
    const cases: Array<[string, string, RegExp]> = [
      ['identity policy with an unknown condition key', `principals:\n  - arn: ${APP}\n    policies:\n      p: { Version: "2012-10-17", Statement: [{ Effect: Allow, Action: "kms:*", Resource: "*", Condition: { StringEquals: { "kms:Colour": blue } } }] }\n${first}`, /seed\.yaml:4: principals\.0\.policies\.p: MalformedPolicyDocumentException: .*kms:Colour/],
      ['key policy naming nobody known', `${app}${first}  - id: ${SIGNING}\n    policy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Principal: { AWS: "arn:aws:iam::111122223333:user/ghost" }, Action: "kms:*", Resource: "*" }] }\n`, /seed\.yaml:9: keys\.1\.policy: arn:aws:iam::111122223333:user\/ghost is neither in the service nor declared/],
      ['key policy locking its maker out', `${app}${first}  - id: ${SIGNING}\n    policy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Principal: { AWS: "${APP}" }, Action: "kms:*", Resource: "*" }] }\n`, /seed\.yaml:9: keys\.1\.policy: MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy/],
      ['grant of Sign on an encryption key', `${app}${first}    grants:\n      - { name: g, grantee: ${APP}, operations: [Sign] }\n`, /seed\.yaml:9: keys\.0\.grants\.0: ValidationException: Grant operations Sign are not valid/],
      ['grant to nobody known', `${first}    grants:\n      - { name: g, grantee: "arn:aws:iam::111122223333:role/ghost", operations: [Encrypt] }\n`, /seed\.yaml:5: keys\.0\.grants\.0: arn:aws:iam::111122223333:role\/ghost is neither/],
      ['bad spec and usage', `${first}  - id: ${SIGNING}\n    keySpec: ECC_NIST_P256\n    keyUsage: ENCRYPT_DECRYPT\n`, /seed\.yaml:5: keys\.1\.keySpec: ValidationException: KeyUsage ENCRYPT_DECRYPT is not valid/],
      ['rotation of an asymmetric key', `${first}  - id: ${SIGNING}\n    keySpec: ECC_NIST_P256\n    keyUsage: SIGN_VERIFY\n    rotation: { enabled: true }\n`, /seed\.yaml:7: keys\.1\.rotation: UnsupportedOperationException: .*cannot be rotated/],
      ['reserved tag', `${first}    tags: { "aws:team": x }\n`, /seed\.yaml:4: keys\.0\.tags: TagException/],
    ];
    const dataDir = await scratch('refused');
    const file = path.join(dataDir, 'seed.yaml');
    for (const [name, text, message] of cases) {
      await writeFile(file, text);
      await expect(startTestService({ dataDir, config: { seedFile: file } }), name).rejects.toThrow(message);
    }
    // None of them applied anything: not the principal, not the good first key, nothing in the trail.
    const plain = await startTestService({ dataDir });
    try {
      expect(await aliasesOf(plain)).toEqual({});
      expect(await principalsOf(plain)).not.toContain(APP);
      expect(await seedEvents(plain)).toEqual([]);
    } finally {
      await plain.stop();
    }
  });

  it('refuses a file that contradicts what the service already holds: a changed spec or material, another principal’s access key, a key pending deletion', async () => {
    const dataDir = await scratch('held');
    const file = path.join(dataDir, 'seed.yaml');
    const example = await readmeExample();
    await writeFile(file, example);
    await (await startTestService({ dataDir, config: { seedFile: file } })).stop();
    const cases: Array<[string, string, RegExp]> = [
      ['changed material', example.replace(MATERIAL, Buffer.alloc(32, 7).toString('base64')), /seed\.yaml:\d+: keys\.2\.material: differs from the material key 5eed0000-.* already has/],
      ['changed spec', example.replace('keySpec: ECC_NIST_P256', 'keySpec: ECC_NIST_P384'), /seed\.yaml:27: keys\.1: key 0f9e8d7c-.* exists as ECC_NIST_P256 SIGN_VERIFY .* the file says ECC_NIST_P384/],
      ['an alias moved to a key of another type', example.replace('aliases: [alias/payments]', 'aliases: []').replace('aliases: [alias/signing]', 'aliases: [alias/signing, alias/payments]'), /seed\.yaml:30: keys\.1\.aliases\.1: alias\/payments names 1234abcd-.*, a symmetric ENCRYPT_DECRYPT key: an alias moves only to a key of the same type/],
      ['another principal’s access key', example.replace('user/app', 'user/other'), /seed\.yaml:4: principals\.0\.accessKeys\.0\.id: access key AKIAHSMKMSEXAMPLEAPP belongs to arn:aws:iam::111122223333:user\/app/],
    ];
    const refuse = async ([name, text, message]: [string, string, RegExp]) => {
      await writeFile(file, text);
      await expect(startTestService({ dataDir, config: { seedFile: file } }), name).rejects.toThrow(message);
    };
    for (const c of cases) await refuse(c);
    const kms = await startTestService({ dataDir });
    await kms.client.send(new ScheduleKeyDeletionCommand({ KeyId: PAYMENTS, PendingWindowInDays: 7 }));
    await kms.stop();
    await refuse(['a key pending deletion', example, /seed\.yaml:14: keys\.0: key 1234abcd-.* is pending deletion/]);
  });
});
