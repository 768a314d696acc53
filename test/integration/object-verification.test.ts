import { rm } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateMacCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { hmacKeyTemplate, objectId, signingKeyPairTemplates, symmetricRootKeyTemplate } from '../../src/hsm/templates.js';
import type { KeyMaterialRef } from '../../src/domain/key.js';
import { openAsPinHolder, type PinHolder } from '../support/pin-holder.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * A PIN holder puts objects of their own in the token under the ids of the
 * service's key versions, while the service is stopped; after a restart none of
 * them is used. (One data folder for the whole file: SoftHSM, initialised once
 * per process, keeps the first token it was pointed at.)
 */
let dataDir: string;
const keys: Record<'replaced' | 'regenerated' | 'duplicated' | 'hmac' | 'untouched' | 'legacy', string> = {} as never;
let sealed: Uint8Array;
let untouchedBlob: Uint8Array;

const ref = (keyId: string): KeyMaterialRef => ({ keyId, version: 1 });
const errorName = (p: Promise<unknown>) => p.then(() => 'no error', (e: { name?: string }) => e.name);

function destroyAll(holder: PinHolder, keyId: string): void {
  for (const handle of holder.find([{ type: pkcs11js.CKA_ID, value: objectId(ref(keyId)) }])) holder.lib.C_DestroyObject(holder.session, handle);
}

/** A secret key object of known value made from the service's own template, as only C_CreateObject can make one. */
function knownValueKey(template: ReturnType<typeof symmetricRootKeyTemplate>, value: Buffer) {
  return [...template.filter((a) => a.type !== pkcs11js.CKA_VALUE_LEN), { type: pkcs11js.CKA_VALUE, value }];
}

async function restart(logLines?: string[]): Promise<TestService> {
  return startTestService({ dataDir, logLines });
}

beforeAll(async () => {
  const first = await startTestService();
  dataDir = first.dataDir;
  const create = async (client: KMSClient, input = {}) => (await client.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
  for (const name of ['replaced', 'duplicated', 'untouched', 'legacy'] as const) keys[name] = await create(first.client);
  keys.regenerated = await create(first.client, { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
  keys.hmac = await create(first.client, { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
  sealed = (await first.client.send(new EncryptCommand({ KeyId: keys.replaced, Plaintext: Buffer.from('made under the real key') }))).CiphertextBlob!;
  untouchedBlob = (await first.client.send(new EncryptCommand({ KeyId: keys.untouched, Plaintext: Buffer.from('still fine') }))).CiphertextBlob!;
  await first.stop();

  const holder = await openAsPinHolder(dataDir);
  try {
    const { lib, session } = holder;
    // 1. A root key replaced by an AES key of known value, with every attribute the service gives its own.
    destroyAll(holder, keys.replaced);
    lib.C_CreateObject(session, knownValueKey(symmetricRootKeyTemplate(ref(keys.replaced)), Buffer.alloc(32, 7)));
    // 2. A key pair replaced by one the token made with the service's own templates: perfect attributes, other key.
    destroyAll(holder, keys.regenerated);
    const ecParams = Buffer.from('06082a8648ce3d030107', 'hex');
    const pair = signingKeyPairTemplates(ref(keys.regenerated), { kind: 'EC', ecParams }, { rawRsaDecrypt: false });
    lib.C_GenerateKeyPair(session, { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN }, pair.publicKey, pair.privateKey);
    // 3. A second object under a key version's id, beside the real one.
    lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, symmetricRootKeyTemplate(ref(keys.duplicated)));
    // 4. An HMAC key replaced by a generic secret of known value.
    destroyAll(holder, keys.hmac);
    lib.C_CreateObject(session, knownValueKey(hmacKeyTemplate(ref(keys.hmac), 'HMAC_256'), Buffer.alloc(32, 9)));
  } finally {
    holder.close();
  }
});

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('nothing in the token is trusted by its id alone', () => {
  it('never uses an object put under a key version\'s id, answers KeyUnavailableException, and says why in the log', async () => {
    const log: string[] = [];
    const kms = await restart(log);
    try {
      const { client } = kms;
      expect(await errorName(client.send(new EncryptCommand({ KeyId: keys.replaced, Plaintext: Buffer.from('new data') })))).toBe('KeyUnavailableException');
      expect(await errorName(client.send(new DecryptCommand({ CiphertextBlob: sealed })))).toBe('KeyUnavailableException');
      expect(await errorName(client.send(new SignCommand({ KeyId: keys.regenerated, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })))).toBe('KeyUnavailableException');
      expect(await errorName(client.send(new EncryptCommand({ KeyId: keys.duplicated, Plaintext: Buffer.from('x') })))).toBe('KeyUnavailableException');
      expect(await errorName(client.send(new GenerateMacCommand({ KeyId: keys.hmac, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })))).toBe('KeyUnavailableException');
      // Asked again, still refused (and not verified again).
      expect(await errorName(client.send(new EncryptCommand({ KeyId: keys.replaced, Plaintext: Buffer.from('again') })))).toBe('KeyUnavailableException');

      // The key nobody touched works as before.
      const plain = await client.send(new DecryptCommand({ CiphertextBlob: untouchedBlob }));
      expect(Buffer.from(plain.Plaintext!).toString()).toBe('still fine');

      const errors = log.map((l) => JSON.parse(l) as { level: number; keyId?: string; problems?: string[] }).filter((e) => e.level === 50 && e.problems);
      const problemsOf = (keyId: string) => errors.filter((e) => e.keyId === keyId).flatMap((e) => e.problems!).join(' | ');
      // Made outside the token, and another key: the attributes say the first, the check value the second.
      expect(problemsOf(keys.replaced)).toMatch(/not the object this service made|recorded as made in the token/);
      expect(problemsOf(keys.regenerated)).toMatch(/check value is not the one recorded/);
      expect(problemsOf(keys.duplicated)).toMatch(/carried by 2 secret/);
      expect(problemsOf(keys.hmac)).toMatch(/not the object this service made|recorded as made in the token/);
      // Each refusal is logged once, however often the key is asked for.
      expect(errors.filter((e) => e.keyId === keys.replaced)).toHaveLength(1);
    } finally {
      await kms.stop();
    }
  });

  it('verifies a version made before check values were recorded and records its check value on first use', async () => {
    const database = new Database(path.join(dataDir, 'kms.sqlite'));
    try {
      expect(database.prepare('DELETE FROM key_version_checks WHERE key_id = ?').run(keys.legacy).changes).toBe(1);
    } finally {
      database.close();
    }
    const log: string[] = [];
    const kms = await restart(log);
    try {
      await kms.client.send(new EncryptCommand({ KeyId: keys.legacy, Plaintext: Buffer.from('first use') }));
      expect(log.some((l) => l.includes(keys.legacy) && l.includes('made before check values were recorded'))).toBe(true);
    } finally {
      await kms.stop();
    }
    const reopened = new Database(path.join(dataDir, 'kms.sqlite'), { readonly: true });
    try {
      const row = reopened.prepare('SELECT recorded_by, made_in_token, length(check_value) AS bytes FROM key_version_checks WHERE key_id = ?').get(keys.legacy);
      expect(row).toEqual({ recorded_by: 'FIRST_USE', made_in_token: 1, bytes: 32 });
    } finally {
      reopened.close();
    }
  });

  it('checks a key pair\'s halves against each other: a public half of another key is refused even without a record', async () => {
    const first = await restart();
    const pairKey = (await first.client.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
    await first.stop();
    const holder = await openAsPinHolder(dataDir);
    try {
      const [publicHalf] = holder.find([
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_ID, value: objectId(ref(pairKey)) },
      ]);
      holder.lib.C_DestroyObject(holder.session, publicHalf!);
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
      const { publicKey } = signingKeyPairTemplates(ref(pairKey), { kind: 'RSA', modulusBits: 2048, usage: 'SIGN_VERIFY' }, { rawRsaDecrypt: false });
      holder.lib.C_CreateObject(holder.session, [
        ...publicKey.filter((a) => a.type !== pkcs11js.CKA_MODULUS_BITS && a.type !== pkcs11js.CKA_PUBLIC_EXPONENT),
        { type: pkcs11js.CKA_MODULUS, value: Buffer.from(other.n!, 'base64url') },
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from(other.e!, 'base64url') },
      ]);
    } finally {
      holder.close();
    }
    const database = new Database(path.join(dataDir, 'kms.sqlite'));
    try {
      database.prepare('DELETE FROM key_version_checks WHERE key_id = ?').run(pairKey);
    } finally {
      database.close();
    }
    const log: string[] = [];
    const kms = await restart(log);
    try {
      expect(await errorName(kms.client.send(new SignCommand({ KeyId: pairKey, Message: Buffer.from('m'), SigningAlgorithm: 'RSASSA_PSS_SHA_256' })))).toBe('KeyUnavailableException');
      expect(log.some((l) => l.includes(pairKey) && l.includes('different moduli or curves'))).toBe(true);
    } finally {
      await kms.stop();
    }
  });
});
