import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { kmsClientConfig, testAdmin, useTestService } from '../support/service.js';

// Grants are cached for a very short while here, so that every call below looks them up again.
const kms = useTestService({ config: { metadataCacheTtlMs: 0 } });
const GRANTS = 5_000;

describe('a key with thousands of grants', () => {
  it("costs a caller only its own grants: each call loads the one grant it needs, not the key's thousands", async () => {
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const arn = `arn:aws:kms:us-east-1:111122223333:key/${keyId}`;
    const t0 = performance.now();
    for (let i = 0; i < GRANTS; i++) {
      await kms.service.store.grants.createGrant(
        { grantId: `${String(i).padStart(64, '0')}`, keyId, keyArn: arn, granteePrincipal: `arn:aws:iam::111122223333:user/someone-${i}`, granteeId: `AIDA${i}`, retiringId: undefined, issuingAccount: '111122223333', operations: ['Encrypt'], creationDate: new Date(), name: undefined, retiringPrincipal: undefined, constraints: undefined },
        50_000,
      );
    }
    const setup = performance.now() - t0;
    const user = 'arn:aws:iam::111122223333:user/granted';
    await testAdmin(kms.endpoint)('CreatePrincipal', { Arn: user });
    const { AccessKey } = (await testAdmin(kms.endpoint)('CreateAccessKey', { PrincipalArn: user })) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
    const granteeId = (await kms.service.store.principals.getPrincipal(user))!.uniqueId;
    await kms.service.store.grants.createGrant(
      { grantId: 'f'.repeat(64), keyId, keyArn: arn, granteePrincipal: user, granteeId, retiringId: undefined, issuingAccount: '111122223333', operations: ['Encrypt'], creationDate: new Date(), name: undefined, retiringPrincipal: undefined, constraints: undefined },
      50_000,
    );
    const client = new KMSClient(kmsClientConfig(kms.endpoint, AccessKey.AccessKeyId, AccessKey.SecretAccessKey));
    try {
      const loaded = { rows: 0 };
      const store = kms.service.store.grants;
      const ofKey = store.grantsOfKey.bind(store);
      const ofGrantee = store.grantsOfGrantee.bind(store);
      store.grantsOfKey = async (k) => {
        const g = await ofKey(k);
        loaded.rows += g.length;
        return g;
      };
      store.grantsOfGrantee = async (k, p) => {
        const g = await ofGrantee(k, p);
        loaded.rows += g.length;
        return g;
      };
      const t1 = performance.now();
      for (let i = 0; i < 20; i++) await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('granted') }));
      const perCall = (performance.now() - t1) / 20;
      console.log(`${GRANTS} grants set up in ${setup.toFixed(0)} ms; an Encrypt through a grant: ${perCall.toFixed(2)} ms, grant rows loaded per call: ${loaded.rows / 20}`);
      expect(loaded.rows).toBe(20); // its own grant, once a call (the cache lives 0 ms here)
    } finally {
      client.destroy();
    }
  });
});
