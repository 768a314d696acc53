import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DisableKeyCommand,
  EncryptCommand,
  KMSClient,
  ListKeysCommand,
  RevokeGrantCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { objectId } from '../../src/hsm/templates.js';
import { CREDENTIALS_KEY } from '../../src/services/access/credential-sealer.js';
import { AUDIT_SIGNING_KEY } from '../../src/services/audit/audit-signing-key.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { openAsPinHolder } from '../support/pin-holder.js';
import { freshPostgresDatabase } from '../support/postgres.js';
import { spawnService, type SpawnedService } from '../support/process.js';
import { kmsClientConfig, testAdmin } from '../support/service.js';

/**
 * Two instances of the service in processes of their own, on one PostgreSQL
 * database and one token (the embedded SoftHSM token of one data folder), as
 * behind a load balancer: what one changes, the other sees within a second;
 * what must exist once is made once; a kill of one leaves the other serving and
 * the database whole.
 */
let dataDir: string;
let database: string;
const instances: SpawnedService[] = [];
const clients: KMSClient[] = [];
let a: KMSClient;
let b: KMSClient;

function client(endpoint: string, credentials?: { accessKeyId: string; secretAccessKey: string }): KMSClient {
  const c = new KMSClient({
    ...kmsClientConfig(endpoint, credentials?.accessKeyId, credentials?.secretAccessKey),
    requestHandler: { httpAgent: new http.Agent({ keepAlive: false }) },
  });
  clients.push(c);
  return c;
}

const start = () => {
  // A cache lifetime of five minutes: only the database's notifications can make a change count within a second.
  const instance = spawnService(dataDir, undefined, { KMS_DATABASE: database, KMS_METADATA_CACHE_TTL_MS: '300000' });
  instances.push(instance);
  return instance;
};

const outcome = (p: Promise<unknown>) => p.then(() => 'served', (e: Error) => e.name);

/** How long until the call on the other instance answers this, or Infinity after five seconds. */
async function seenAfter(call: () => Promise<unknown>, expected: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 5_000) {
    if ((await outcome(call())) === expected) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Number.POSITIVE_INFINITY;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-instances-'));
  database = await freshPostgresDatabase();
  // Both fresh, starting together: the token's once-only objects must still be made once.
  const [first, second] = [start(), start()];
  a = client(await first.url);
  b = client(await second.url);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const instance of instances) await instance.stop().catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
});

describe('two instances on one PostgreSQL and one token', () => {
  it('serve each other\'s keys, and see DisableKey and ScheduleKeyDeletion within a second', async () => {
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const { CiphertextBlob } = await b.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('made on a, sealed on b') }));
    expect(Buffer.from((await a.send(new DecryptCommand({ CiphertextBlob }))).Plaintext!).toString()).toBe('made on a, sealed on b');
    await a.send(new DisableKeyCommand({ KeyId: keyId }));
    expect(await seenAfter(() => b.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })), 'DisabledException')).toBeLessThan(1_000);

    const other = (await b.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await a.send(new EncryptCommand({ KeyId: other, Plaintext: Buffer.from('cached on a') }));
    await b.send(new ScheduleKeyDeletionCommand({ KeyId: other, PendingWindowInDays: 7 }));
    expect(await seenAfter(() => a.send(new EncryptCommand({ KeyId: other, Plaintext: Buffer.from('x') })), 'KMSInvalidStateException')).toBeLessThan(1_000);
  });

  it('see an alias retargeted, a grant revoked and an access key disabled within a second', async () => {
    const [first, second] = [(await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!, (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!];
    await a.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: first }));
    const viaAlias = async () => {
      const { KeyId } = await b.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('x') }));
      return KeyId;
    };
    expect(await viaAlias()).toContain(first);
    await a.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: second }));
    const started = performance.now();
    while (!(await viaAlias())!.includes(second)) expect(performance.now() - started).toBeLessThan(1_000);

    const user = 'arn:aws:iam::111122223333:user/shared';
    const adminA = testAdmin(await instances[0]!.url);
    await adminA('CreatePrincipal', { Arn: user });
    const { AccessKey } = (await adminA('CreateAccessKey', { PrincipalArn: user })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const userOnB = client(await instances[1]!.url, { accessKeyId: AccessKey.AccessKeyId, secretAccessKey: AccessKey.SecretAccessKey });
    const { GrantId } = await a.send(new CreateGrantCommand({ KeyId: first, GranteePrincipal: user, Operations: ['Encrypt'] }));
    expect(await seenAfter(() => userOnB.send(new EncryptCommand({ KeyId: first, Plaintext: Buffer.from('granted') })), 'served')).toBeLessThan(1_000);
    await a.send(new RevokeGrantCommand({ KeyId: first, GrantId }));
    expect(await seenAfter(() => userOnB.send(new EncryptCommand({ KeyId: first, Plaintext: Buffer.from('revoked') })), 'AccessDeniedException')).toBeLessThan(1_000);
    await adminA('UpdateAccessKey', { AccessKeyId: AccessKey.AccessKeyId, Status: 'Inactive' });
    expect(await seenAfter(() => userOnB.send(new ListKeysCommand({})), 'UnrecognizedClientException')).toBeLessThan(1_000);
  });

  it('keep serving on one when the other is killed under load, with the database whole afterwards', async () => {
    const keys = await Promise.all([0, 1, 2].map(async () => (await a.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!));
    // Load on both: key creations and encryptions, while one is killed.
    let stop = false;
    const load = (c: KMSClient) =>
      (async () => {
        let served = 0;
        while (!stop) {
          const answer = await outcome(Promise.all([c.send(new CreateKeyCommand({})), c.send(new EncryptCommand({ KeyId: keys[served % 3], Plaintext: Buffer.from('load') }))]));
          if (answer === 'served') served++;
        }
        return served;
      })();
    const onA = load(a);
    const onB = load(b);
    await new Promise((r) => setTimeout(r, 1_000));
    await instances[0]!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    const servedByBAfterTheKill = await (async () => {
      const before = performance.now();
      let n = 0;
      while (performance.now() - before < 500) {
        await b.send(new EncryptCommand({ KeyId: keys[0], Plaintext: Buffer.from('still here') }));
        n++;
      }
      return n;
    })();
    stop = true;
    await Promise.all([onA, onB]);
    expect(servedByBAfterTheKill).toBeGreaterThan(0);

    // The database is whole: every key it lists works on the survivor, and nothing half-made stays visible.
    let listed = 0;
    let marker: string | undefined;
    do {
      const page = await b.send(new ListKeysCommand({ Marker: marker }));
      for (const k of page.Keys ?? []) {
        listed++;
        const state = await outcome(b.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('check') })));
        expect(['served', 'DisabledException', 'KMSInvalidStateException']).toContain(state);
      }
      marker = page.NextMarker;
    } while (marker);
    expect(listed).toBeGreaterThan(5);
  });

  it('made the token\'s once-only objects once, though both started fresh together', async () => {
    for (const instance of instances) await instance.stop();
    // Half-made keys of the killed instance are the survivor's recovery's, at its next start; none is visible meanwhile.
    const store = await PostgresStore.open(database);
    try {
      await store.ping();
    } finally {
      await store.close();
    }
    const holder = await openAsPinHolder(dataDir);
    try {
      const count = (id: Buffer, objectClass: number) => holder.find([{ type: pkcs11js.CKA_ID, value: id }, { type: pkcs11js.CKA_CLASS, value: objectClass }]).length;
      expect(count(objectId(CREDENTIALS_KEY), pkcs11js.CKO_SECRET_KEY)).toBe(1);
      expect(count(objectId(AUDIT_SIGNING_KEY), pkcs11js.CKO_PRIVATE_KEY)).toBe(1);
      expect(count(objectId(AUDIT_SIGNING_KEY), pkcs11js.CKO_PUBLIC_KEY)).toBe(1);
    } finally {
      holder.close();
    }
  });
});
