import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyState, type KmsKey } from '../../src/domain/key.js';
import type { Grant } from '../../src/domain/grant.js';
import type { MetadataStore } from '../../src/services/ports/index.js';
import { keyFixture } from './keys.js';

const ACCOUNT = '111122223333';
const SCOPE = { accountId: ACCOUNT, region: 'us-east-1' };
const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function provisioning(n: number, over: Partial<KmsKey> = {}): KmsKey {
  return keyFixture(id(n), { accountId: ACCOUNT, creationDate: T0, keyState: KeyState.Enabled, ...over });
}

async function made(store: MetadataStore, n: number, over: Partial<KmsKey> = {}): Promise<KmsKey> {
  const key = provisioning(n, over);
  expect(await store.insertProvisioningKey({ key, tags: [] })).toBe(true);
  expect(await store.activateKey(key.keyId)).toBe(true);
  return key;
}

function grant(n: number, keyId: string, over: Partial<Grant> = {}): Grant {
  return {
    grantId: String(n).padStart(64, '0'),
    keyId,
    keyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/${keyId}`,
    name: undefined,
    granteePrincipal: `arn:aws:iam::${ACCOUNT}:user/u${n % 3}`,
    granteeId: `AIDAU${n % 3}`,
    retiringPrincipal: undefined,
    retiringId: undefined,
    issuingAccount: ACCOUNT,
    operations: ['Encrypt'],
    constraints: undefined,
    creationDate: T0,
    ...over,
  };
}

/**
 * One contract for every implementation of the metadata store: the same calls
 * must give the same answers on SQLite and on PostgreSQL. `open` makes a new,
 * empty store for each case.
 */
export function describeStoreContract(name: string, open: () => Promise<MetadataStore>): void {
  describe(`the metadata store contract: ${name}`, () => {
    let store: MetadataStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps a key invisible until activated, counts it against the quota meanwhile, and lists pages', async () => {
      const key = provisioning(1);
      expect(await store.insertProvisioningKey({ key, tags: [{ TagKey: 'a', TagValue: '1' }] }, 2)).toBe(true);
      expect(await store.getKey(key.keyId)).toBeUndefined();
      expect(await store.listProvisioningKeys(at(1))).toEqual([{ keyId: key.keyId, version: 1, accountId: ACCOUNT, region: 'us-east-1' }]);
      expect(await store.insertProvisioningKey({ key: provisioning(2), tags: [] }, 2)).toBe(true);
      expect(await store.insertProvisioningKey({ key: provisioning(3), tags: [] }, 2)).toBe(false);
      expect(await store.activateKey(key.keyId)).toBe(true);
      expect(await store.getKey(key.keyId)).toEqual(key);
      await store.deleteProvisioningKey(id(2));
      expect(await store.listProvisioningKeys(at(1))).toEqual([]);
      for (const n of [4, 5, 6]) await made(store, n);
      await made(store, 7, { region: 'eu-west-1' }); // another region's: never listed here
      const first = await store.listKeys(SCOPE, undefined, 2);
      expect(first.items.map((k) => k.keyId)).toEqual([id(1), id(4)]);
      const second = await store.listKeys(SCOPE, first.next, 2);
      expect(second.items.map((k) => k.keyId)).toEqual([id(5), id(6)]);
      expect(second.next).toBeUndefined();
      expect(await store.listTags(key.keyId)).toEqual([{ TagKey: 'a', TagValue: '1' }]);
      expect(await store.countKeysByState()).toEqual({ Enabled: 5 });
      await store.ping();
    });

    it('updates a key and its policy, binds an unbound policy once, and keeps the bindings', async () => {
      const key = await made(store, 1, { policyPrincipals: null });
      await store.updateKey({ ...key, description: 'changed', keyState: KeyState.Disabled });
      expect(await store.getKey(key.keyId)).toMatchObject({ description: 'changed', keyState: KeyState.Disabled });
      expect((await store.listKeysWithUnboundPolicies(10)).map((k) => k.keyId)).toEqual([key.keyId]);
      await store.bindKeyPolicyPrincipals(key.keyId, { 'arn:aws:iam::111122223333:user/a': 'AIDAA' });
      await store.bindKeyPolicyPrincipals(key.keyId, { other: 'binding' }); // bound already: kept
      expect((await store.getKey(key.keyId))!.policyPrincipals).toEqual({ 'arn:aws:iam::111122223333:user/a': 'AIDAA' });
      expect(await store.listKeysWithUnboundPolicies(10)).toEqual([]);
      expect(await store.updateKeyPolicy(key.keyId, '{"Statement":[]}', {})).toBe(true);
      expect(await store.getKey(key.keyId)).toMatchObject({ policy: '{"Statement":[]}', policyPrincipals: {} });
      expect(await store.updateKeyPolicy(id(99), '{}', {})).toBe(false);
    });

    it('deletes a key in steps: due, destruction begun (no cancel then), destroyed with its aliases and grants', async () => {
      const key = await made(store, 1);
      const pending = { ...key, keyState: KeyState.PendingDeletion, deletionDate: at(1_000), pendingDeletionWindowInDays: 7 };
      await store.updateKey(pending);
      await store.createAlias({ ...SCOPE, aliasName: 'alias/a', targetKeyId: key.keyId, creationDate: T0, lastUpdatedDate: T0 });
      await store.grants.createGrant(grant(1, key.keyId), 10);
      expect(await store.listKeysDueForDeletion(at(999), 10)).toEqual([]);
      expect((await store.listKeysDueForDeletion(at(1_000), 10)).map((k) => k.keyId)).toEqual([key.keyId]);
      expect(await store.cancelKeyDeletion(key.keyId)).toBe(true);
      expect((await store.getKey(key.keyId))!.keyState).toBe(KeyState.Disabled);
      await store.updateKey(pending);
      expect(await store.beginKeyDestruction(key.keyId, at(500))).toBe(false);
      expect(await store.beginKeyDestruction(key.keyId, at(1_000))).toBe(true);
      expect(await store.cancelKeyDeletion(key.keyId)).toBe(false);
      expect(await store.listKeyVersions(key.keyId)).toEqual([1]);
      await store.completeKeyDestruction(key.keyId, [1], at(2_000));
      await store.completeKeyDestruction(key.keyId, [1], at(3_000)); // again after a crash: nothing changes
      expect(await store.getKey(key.keyId)).toBeUndefined();
      expect(await store.getAlias(SCOPE, 'alias/a')).toBeUndefined();
      expect(await store.grants.grantsOfKey(key.keyId)).toEqual([]);
      expect(await store.listDestroyedKeyMaterial(key.keyId)).toEqual([{ keyId: key.keyId, version: 1, destroyedAt: at(2_000) }]);
      expect(await store.countKeysByState()).toEqual({});
    });

    it('keeps a multi-Region key\'s regions in step: replicas, versions, the primary region, deletion after the replicas', async () => {
      const MRK = 'mrk-0123456789abcdef0123456789abcdef';
      const inRegion = (region: string) => `${MRK}@${region}`;
      const primary = await made(store, 1, { keyId: inRegion('us-east-1'), primaryRegion: 'us-east-1' });
      const replicaOf = (region: string, over: Partial<KmsKey> = {}) => ({ key: { ...primary, keyId: inRegion(region), region, description: region, ...over }, tags: [{ TagKey: 'r', TagValue: region }] });
      await store.setRotation(primary.keyId, true, 90, at(1_000));
      expect(await store.insertReplicaKey(replicaOf('eu-west-1'), primary.keyId)).toBe('created');
      expect(await store.insertReplicaKey(replicaOf('eu-west-1'), primary.keyId)).toBe('exists');
      // Only from an Enabled primary, and within the account's quota.
      expect(await store.insertReplicaKey(replicaOf('ap-south-1'), inRegion('eu-west-1'))).toBe('primary-changed');
      expect(await store.insertReplicaKey(replicaOf('ap-south-1'), primary.keyId, 2)).toBe('quota');
      await store.updateKey({ ...primary, keyState: KeyState.Disabled });
      expect(await store.insertReplicaKey(replicaOf('ap-south-1'), primary.keyId)).toBe('primary-changed');
      await store.updateKey(primary);
      const eu = (await store.getKey(inRegion('eu-west-1')))!;
      expect([eu.region, eu.primaryRegion, eu.description, eu.currentVersion, eu.keyState]).toEqual(['eu-west-1', 'us-east-1', 'eu-west-1', 1, KeyState.Enabled]);
      expect(eu.arn).toBe(`arn:aws:kms:eu-west-1:${ACCOUNT}:key/${MRK}`);
      expect(await store.listTags(eu.keyId)).toEqual([{ TagKey: 'r', TagValue: 'eu-west-1' }]);
      expect((await store.listMultiRegionKeys(MRK)).map((k) => k.region)).toEqual(['eu-west-1', 'us-east-1']);

      // A version committed on the primary is every region's, in the same transaction.
      // Only the primary takes the rotation lease.
      expect(await store.acquireRotationLease(eu.keyId, at(1_000), 60_000, 'ON_DEMAND')).toBe(false);
      expect(await store.insertProvisioningVersion(primary.keyId, at(1_000), 'AUTOMATIC')).toBe(2);
      expect(await store.commitKeyVersion(primary.keyId, 2, at(5_000))).toBe(true);
      expect(await store.commitKeyVersion(primary.keyId, 2, at(5_000))).toBe(false); // no longer being made
      expect((await store.getKey(eu.keyId))!.currentVersion).toBe(2);

      // A primary with replicas waits for them when scheduled for deletion; a replica does not.
      expect(await store.scheduleKeyDeletion(primary.keyId, 7, at(9_000))).toBe(true);
      expect(await store.scheduleKeyDeletion(primary.keyId, 7, at(9_000))).toBe(false);
      const waitingPrimary = (await store.getKey(primary.keyId))!;
      expect([waitingPrimary.keyState, waitingPrimary.deletionDate, waitingPrimary.pendingDeletionWindowInDays]).toEqual([KeyState.PendingReplicaDeletion, undefined, 7]);
      expect(await store.cancelKeyDeletion(primary.keyId)).toBe(true);
      expect(await store.scheduleKeyDeletion(eu.keyId, 7, at(9_000))).toBe(true);
      expect([(await store.getKey(eu.keyId))!.keyState, (await store.getKey(eu.keyId))!.deletionDate]).toEqual([KeyState.PendingDeletion, at(9_000)]);
      expect(await store.cancelKeyDeletion(eu.keyId)).toBe(true);
      await store.updateKey({ ...(await store.getKey(primary.keyId))!, keyState: KeyState.Enabled });
      await store.updateKey({ ...(await store.getKey(eu.keyId))!, keyState: KeyState.Enabled });
      // Not while the primary rotates.
      expect(await store.acquireRotationLease(primary.keyId, at(6_000), 60_000, 'ON_DEMAND')).toBe(true);
      expect(await store.updatePrimaryRegion(primary.keyId, eu.keyId, at(7_000))).toBe(false);
      await store.releaseRotationLease(primary.keyId);
      expect((await store.listRotations(eu.keyId, 0, 10)).items.map((r) => r.version)).toEqual([2]);

      // The primary moves, with the rotation schedule; only Enabled keys move.
      await store.updateKey({ ...eu, keyState: KeyState.Disabled });
      expect(await store.updatePrimaryRegion(primary.keyId, eu.keyId, at(0))).toBe(false);
      await store.updateKey(eu);
      expect(await store.updatePrimaryRegion(eu.keyId, primary.keyId, at(0))).toBe(false); // not the primary
      expect(await store.updatePrimaryRegion(primary.keyId, eu.keyId, at(0))).toBe(true);
      expect((await store.listMultiRegionKeys(MRK)).map((k) => k.primaryRegion)).toEqual(['eu-west-1', 'eu-west-1']);
      expect(await store.getRotationStatus(primary.keyId)).toBeUndefined();
      expect((await store.getRotationStatus(eu.keyId))!.periodDays).toBe(90);

      // The primary (now eu) scheduled for deletion meanwhile replicated: it waits for its replica, then starts its own period.
      const euPrimary = (await store.getKey(eu.keyId))!;
      await store.updateKey({ ...euPrimary, keyState: KeyState.PendingDeletion, deletionDate: at(1_000), pendingDeletionWindowInDays: 7 });
      expect(await store.beginKeyDestruction(eu.keyId, at(1_000))).toBe(false);
      expect((await store.getKey(eu.keyId))!.keyState).toBe(KeyState.PendingReplicaDeletion);
      expect((await store.getKey(eu.keyId))!.deletionDate).toBeUndefined();
      const us = (await store.getKey(primary.keyId))!;
      await store.updateKey({ ...us, keyState: KeyState.PendingDeletion, deletionDate: at(1_000), pendingDeletionWindowInDays: 7 });
      expect(await store.beginKeyDestruction(us.keyId, at(1_000))).toBe(true);
      await store.completeKeyDestruction(us.keyId, [], at(2_000));
      const waiting = (await store.getKey(eu.keyId))!;
      expect([waiting.keyState, waiting.deletionDate]).toEqual([KeyState.PendingDeletion, at(2_000 + 7 * 86_400_000)]);

      // A deleted replica's region takes a new replica (the deleted row is replaced).
      await store.cancelKeyDeletion(eu.keyId);
      await store.updateKey({ ...(await store.getKey(eu.keyId))!, keyState: KeyState.Enabled });
      expect(await store.insertReplicaKey(replicaOf('us-east-1', { description: 'again' }), eu.keyId)).toBe('created');
      const again = (await store.getKey(primary.keyId))!;
      expect([again.description, again.currentVersion, again.primaryRegion]).toEqual(['again', 2, 'eu-west-1']);
      expect(await store.listKeyVersions(again.keyId)).toEqual([1, 2]);
    });

    it('rotates under a lease: one holder at a time, versions committed or left for clean-up', async () => {
      const key = await made(store, 1);
      await store.setRotation(key.keyId, true, 90, at(1_000));
      expect(await store.getRotationStatus(key.keyId)).toEqual({ enabled: true, periodDays: 90, nextRotationDate: at(1_000), onDemandStartedAt: undefined });
      expect(await store.listKeysDueForRotation(at(999), 10)).toEqual([]);
      expect(await store.listKeysDueForRotation(at(1_000), 10)).toEqual([key.keyId]);
      expect(await store.acquireRotationLease(key.keyId, at(1_000), 60_000, 'AUTOMATIC')).toBe(true);
      expect(await store.acquireRotationLease(key.keyId, at(1_001), 60_000, 'ON_DEMAND')).toBe(false);
      expect(await store.insertProvisioningVersion(key.keyId, at(1_000), 'AUTOMATIC')).toBe(2);
      expect(await store.listProvisioningVersions(at(2_000))).toEqual([]); // the lease still holds
      expect(await store.listProvisioningVersions(at(70_000))).toEqual([{ keyId: key.keyId, version: 2 }]);
      await store.commitKeyVersion(key.keyId, 2, at(5_000));
      expect((await store.getKey(key.keyId))!.currentVersion).toBe(2);
      expect((await store.getRotationStatus(key.keyId))!.nextRotationDate).toEqual(at(5_000));
      expect((await store.listRotations(key.keyId, 0, 10)).items).toEqual([{ keyId: key.keyId, version: 2, rotationDate: at(1_000), rotationType: 'AUTOMATIC' }]);
      expect(await store.acquireRotationLease(key.keyId, at(6_000), 60_000, 'ON_DEMAND')).toBe(true);
      expect(await store.insertProvisioningVersion(key.keyId, at(6_000), 'ON_DEMAND')).toBe(3);
      await store.abandonProvisioningVersion({ keyId: key.keyId, version: 3 });
      expect((await store.getRotationStatus(key.keyId))!.onDemandStartedAt).toBeUndefined();
      // An abandoned version keeps its number (its object, if a late attempt made one, goes with the key); it is never committed.
      expect(await store.listKeyVersions(key.keyId)).toEqual([1, 2, 3]);
      expect(await store.commitKeyVersion(key.keyId, 3, at(7_000))).toBe(false);
      expect(await store.insertProvisioningVersion(key.keyId, at(7_000), 'ON_DEMAND')).toBe(4);
      expect((await store.listRotations(key.keyId, 0, 10)).items.map((r) => r.version)).toEqual([2]);
      expect((await store.getKey(key.keyId))!.currentVersion).toBe(2);
    });

    it('imports material: tokens in order, materials and their versions, the state, check values, expiry, rotation and deletion', async () => {
      const key = await made(store, 1, { origin: 'EXTERNAL', keyState: KeyState.PendingImport });
      for (const n of [1, 2, 3]) {
        await store.saveImportToken({ tokenId: `t${n}`, keyId: key.keyId, wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappingKeySpec: 'RSA_2048', createdAt: T0, expiresAt: at(n * 1_000) });
      }
      expect((await store.listImportTokensOfKey(key.keyId)).map((t) => t.tokenId)).toEqual(['t1', 't2', 't3']);
      expect((await store.listExpiredImportTokens(at(2_000), 10)).map((t) => t.tokenId).sort()).toEqual(['t1', 't2']);
      await store.deleteImportToken('t1');
      expect(await store.getImportToken('t1')).toBeUndefined();
      expect(await store.getImportToken('t2')).toMatchObject({ keyId: key.keyId, expiresAt: at(2_000) });
      const material = (version: number, check: string, pendingRotation = false) => ({ version, check: Buffer.from(check), description: undefined, expirationModel: 'KEY_MATERIAL_EXPIRES' as const, validTo: at(10_000), pendingRotation });
      await store.recordImportedMaterial(key.keyId, material(1, 'check'), at(1));
      await store.recordImportedMaterial(key.keyId, material(1, 'other'), at(2)); // re-import: the first check stays
      expect(await store.getKey(key.keyId)).toMatchObject({ keyState: KeyState.Enabled, expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: at(10_000) });
      expect((await store.listImportedMaterial(key.keyId)).map((m) => [m.version, m.check.toString(), m.imported, m.pendingRotation])).toEqual([[1, 'check', true, false]]);
      expect(await store.listKeyVersions(key.keyId)).toEqual([1]);
      expect((await store.listExpiredImportedMaterial(at(10_000), 10)).map((e) => [e.key.keyId, e.version])).toEqual([[key.keyId, 1]]);

      // New material waits for a rotation; the key does not use it until then.
      await store.recordImportedMaterial(key.keyId, { ...material(2, 'second', true), description: 'next', validTo: at(20_000) }, at(3));
      expect(await store.getKey(key.keyId)).toMatchObject({ keyState: KeyState.Enabled, currentVersion: 1 });
      expect(await store.listKeyVersions(key.keyId)).toEqual([1, 2]); // its token object is one of the key's
      expect(await store.commitImportedRotation(key.keyId, 3, at(4))).toBe(false);
      expect(await store.commitImportedRotation(key.keyId, 2, at(4))).toBe(true);
      expect(await store.getKey(key.keyId)).toMatchObject({ currentVersion: 2, expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: at(10_000) });
      expect((await store.listRotations(key.keyId, 0, 10)).items).toEqual([{ keyId: key.keyId, version: 2, rotationDate: at(4), rotationType: 'ON_DEMAND' }]);
      expect((await store.listImportedMaterial(key.keyId)).map((m) => [m.version, m.description, m.pendingRotation])).toEqual([[1, undefined, false], [2, 'next', false]]);

      // Either material gone leaves the key PendingImport; both back make it Enabled.
      await store.markImportedMaterialDeleted(key.keyId, 1);
      // The key's expiry is its materials' earliest (AWS's ValidTo).
      expect(await store.getKey(key.keyId)).toMatchObject({ keyState: KeyState.PendingImport, expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: at(20_000) });
      await store.markImportedMaterialDeleted(key.keyId, 2);
      expect(await store.getKey(key.keyId)).toMatchObject({ keyState: KeyState.PendingImport, expirationModel: undefined, validTo: undefined });
      await store.recordImportedMaterial(key.keyId, material(2, 'second'), at(5));
      expect((await store.getKey(key.keyId))!.keyState).toBe(KeyState.PendingImport);
      await store.recordImportedMaterial(key.keyId, material(1, 'check'), at(6));
      expect((await store.getKey(key.keyId))!.keyState).toBe(KeyState.Enabled);
      // A pending rotation's material, once deleted, is forgotten altogether.
      await store.recordImportedMaterial(key.keyId, material(3, 'third', true), at(7));
      await store.markImportedMaterialDeleted(key.keyId, 3);
      // Named, not imported, until its token object is gone; then forgotten. A material of the key is never forgotten.
      expect((await store.listImportedMaterial(key.keyId)).map((m) => [m.version, m.imported])).toEqual([[1, true], [2, true], [3, false]]);
      await store.forgetImportedMaterial(key.keyId, 3);
      await store.forgetImportedMaterial(key.keyId, 1);
      expect((await store.listImportedMaterial(key.keyId)).map((m) => m.version)).toEqual([1, 2]);
      // A reservation names a version before its token object exists; a failed import forgets it.
      await store.reserveImportedMaterial(key.keyId, { version: 4, check: Buffer.from('fourth'), description: undefined, pendingRotation: true }, at(8));
      expect(await store.listKeyVersions(key.keyId)).toEqual([1, 2, 4]);
      await store.forgetImportedMaterial(key.keyId, 4);
      expect(await store.listKeyVersions(key.keyId)).toEqual([1, 2]);
      expect((await store.getKey(key.keyId))!.keyState).toBe(KeyState.Enabled);
    });

    it('keeps aliases unique per account and region, lists them by key and in pages, retargets and deletes them', async () => {
      const [a, b] = [await made(store, 1), await made(store, 2)];
      const alias = (aliasName: string, targetKeyId: string, region = SCOPE.region) => ({ accountId: ACCOUNT, region, aliasName, targetKeyId, creationDate: T0, lastUpdatedDate: T0 });
      await store.createAlias(alias('alias/x', a.keyId));
      await store.createAlias(alias('alias/y', a.keyId));
      await store.createAlias(alias('alias/z', b.keyId));
      await expect(store.createAlias(alias('alias/x', b.keyId))).rejects.toMatchObject({ name: 'AlreadyExistsException' });
      // The same name in another region is another alias.
      const other = await made(store, 3, { region: 'eu-west-1' });
      const EU = { accountId: ACCOUNT, region: 'eu-west-1' };
      await store.createAlias(alias('alias/x', other.keyId, 'eu-west-1'));
      expect(await store.getAlias(EU, 'alias/x')).toMatchObject({ targetKeyId: other.keyId, region: 'eu-west-1' });
      expect((await store.listAliases(EU, undefined, undefined, 10)).items.map((x) => x.aliasName)).toEqual(['alias/x']);
      expect((await store.listAliases(SCOPE, a.keyId, undefined, 10)).items.map((x) => x.aliasName)).toEqual(['alias/x', 'alias/y']);
      const page = await store.listAliases(SCOPE, undefined, undefined, 2);
      expect(page.items.map((x) => x.aliasName)).toEqual(['alias/x', 'alias/y']);
      expect((await store.listAliases(SCOPE, undefined, page.next, 2)).items.map((x) => x.aliasName)).toEqual(['alias/z']);
      await store.updateAlias(SCOPE, 'alias/x', b.keyId, at(5));
      expect(await store.getAlias(SCOPE, 'alias/x')).toMatchObject({ targetKeyId: b.keyId, lastUpdatedDate: at(5) });
      expect(await store.getAlias(EU, 'alias/x')).toMatchObject({ targetKeyId: other.keyId });
      expect(await store.deleteAlias(SCOPE, 'alias/x')).toBe(true);
      expect(await store.deleteAlias(SCOPE, 'alias/x')).toBe(false);
      expect(await store.getAlias(EU, 'alias/x')).toBeDefined();
    });

    it('puts tags up to the limit and changes nothing past it; removes them', async () => {
      const key = await made(store, 1);
      await store.putTags(key.keyId, [{ TagKey: 'b', TagValue: '1' }, { TagKey: 'a', TagValue: '1' }], 3);
      await store.putTags(key.keyId, [{ TagKey: 'a', TagValue: '2' }], 3);
      await expect(store.putTags(key.keyId, [{ TagKey: 'c', TagValue: '1' }, { TagKey: 'd', TagValue: '1' }], 3)).rejects.toMatchObject({ name: 'LimitExceededException' });
      expect(await store.listTags(key.keyId)).toEqual([{ TagKey: 'a', TagValue: '2' }, { TagKey: 'b', TagValue: '1' }]);
      await store.removeTags(key.keyId, ['a', 'missing']);
      expect(await store.listTags(key.keyId)).toEqual([{ TagKey: 'b', TagValue: '1' }]);
    });

    it('hands out IV fixed fields once each, in order, and never again below a mark it was moved past', async () => {
      expect(await store.lastIvInstance()).toBe(0);
      const first = await store.allocateIvInstance();
      const second = await store.allocateIvInstance();
      expect(second).toBeGreaterThan(first);
      expect(await store.lastIvInstance()).toBe(second);
      await store.advanceIvInstancesPast(second + 10);
      expect(await store.lastIvInstance()).toBe(second + 10);
      expect(await store.allocateIvInstance()).toBeGreaterThan(second + 10);
      await store.advanceIvInstancesPast(1); // behind already: nothing moves back
      expect(await store.lastIvInstance()).toBeGreaterThan(second + 10);
    });

    it('records a key version\'s check value: at creation it replaces, at first use it never does', async () => {
      const ref = { keyId: id(1), version: 1 };
      await store.saveKeyVersionCheck(ref, { value: Buffer.from('a'), madeInToken: true }, 'CREATION', T0);
      await store.saveKeyVersionCheck(ref, { value: Buffer.from('b'), madeInToken: false }, 'FIRST_USE', T0);
      expect(await store.getKeyVersionCheck(ref)).toEqual({ value: Buffer.from('a'), madeInToken: true });
      await store.saveKeyVersionCheck(ref, { value: Buffer.from('c'), madeInToken: false }, 'CREATION', T0);
      expect(await store.getKeyVersionCheck(ref)).toEqual({ value: Buffer.from('c'), madeInToken: false });
      expect(await store.getKeyVersionCheck({ keyId: id(1), version: 2 })).toBeUndefined();
    });

    it('keeps principals unique, with their access keys and identity policies, gone with them', async () => {
      const p = store.principals;
      const alice = { arn: `arn:aws:iam::${ACCOUNT}:user/alice`, uniqueId: 'AIDAALICE', accountId: ACCOUNT, kind: 'user' as const, name: 'alice', enabled: true, creationDate: T0 };
      await p.createPrincipal(alice);
      await expect(p.createPrincipal({ ...alice, uniqueId: 'AIDAOTHER' })).rejects.toMatchObject({ name: 'AlreadyExistsException' });
      expect(await p.getPrincipal(alice.arn)).toEqual(alice);
      expect(await p.uniqueIdsOf([alice.arn, 'arn:aws:iam::111122223333:user/none'])).toEqual(new Map([[alice.arn, 'AIDAALICE']]));
      expect(await p.setPrincipalEnabled(alice.arn, false)).toBe(true);
      expect((await p.listPrincipals(ACCOUNT)).map((x) => x.enabled)).toEqual([false]);
      await p.createAccessKey({ accessKeyId: 'AKIAALICE0000001', principalArn: alice.arn, sealedSecret: Buffer.from([1, 2]), status: 'Active', creationDate: T0 });
      expect(await p.setAccessKeyStatus('AKIAALICE0000001', 'Inactive')).toBe(true);
      expect(await p.replaceSecret('AKIAALICE0000001', Buffer.from([3]))).toBe(true);
      expect(await p.getAccessKey('AKIAALICE0000001')).toMatchObject({ status: 'Inactive', sealedSecret: Buffer.from([3]) });
      await p.putIdentityPolicy(alice.arn, { policyName: 'p', document: '{"a":1}' });
      await p.putIdentityPolicy(alice.arn, { policyName: 'p', document: '{"a":2}' });
      expect(await p.listIdentityPolicies(alice.arn)).toEqual([{ policyName: 'p', document: '{"a":2}' }]);
      expect(await p.deletePrincipal(alice.arn)).toBe(true);
      expect(await p.getAccessKey('AKIAALICE0000001')).toBeUndefined();
      expect(await p.listIdentityPolicies(alice.arn)).toEqual([]);
      expect(await p.deletePrincipal(alice.arn)).toBe(false);
    });

    it('keeps grants to the per-key limit, finds them by grantee and retiring principal, in pages', async () => {
      const key = await made(store, 1);
      for (let n = 1; n <= 4; n++) await store.grants.createGrant(grant(n, key.keyId, n === 2 ? { retiringPrincipal: 'arn:aws:iam::111122223333:root', retiringId: ACCOUNT } : {}), 4);
      await expect(store.grants.createGrant(grant(5, key.keyId), 4)).rejects.toMatchObject({ name: 'LimitExceededException' });
      expect(await store.grants.getGrant(grant(2, key.keyId).grantId)).toEqual(grant(2, key.keyId, { retiringPrincipal: 'arn:aws:iam::111122223333:root', retiringId: ACCOUNT }));
      expect((await store.grants.grantsOfGrantee(key.keyId, grant(1, key.keyId).granteePrincipal)).map((g) => g.grantId)).toEqual([grant(1, key.keyId).grantId, grant(4, key.keyId).grantId]);
      const first = await store.grants.listGrants(key.keyId, {}, undefined, 3);
      expect(first.items).toHaveLength(3);
      expect((await store.grants.listGrants(key.keyId, {}, first.next, 3)).items).toHaveLength(1);
      expect((await store.grants.listGrants(key.keyId, { grantId: grant(3, key.keyId).grantId }, undefined, 10)).items).toHaveLength(1);
      expect((await store.grants.listRetirableGrants('arn:aws:iam::111122223333:root', undefined, 10)).items.map((g) => g.grantId)).toEqual([grant(2, key.keyId).grantId]);
      expect(await store.grants.deleteGrant(grant(2, key.keyId).grantId)).toBe(true);
      expect(await store.grants.deleteGrant(grant(2, key.keyId).grantId)).toBe(false);
    });

    it('keeps the later use of each key, and when each writer last wrote a batch', async () => {
      const use = (ms: number, op: string) => ({ operation: op, timestamp: at(ms), eventId: `e${ms}`, requestId: `r${ms}` });
      await store.usage.recordUsage(new Map([[id(1), use(10, 'Encrypt')]]), at(11), '');
      await store.usage.recordUsage(new Map([[id(1), use(5, 'Decrypt')]]), at(12), 'worker-1');
      expect(await store.usage.lastUsage(id(1))).toEqual(use(10, 'Encrypt'));
      expect(await store.usage.flushedAt('')).toEqual(at(11));
      expect(await store.usage.flushedAt('worker-1')).toEqual(at(12));
      expect(await store.usage.flushedAt('worker-2')).toBeUndefined();
      expect(await store.usage.trackingStart()).toBeInstanceOf(Date);
    });
  });
}
