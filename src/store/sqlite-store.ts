import { randomUUID } from 'node:crypto';
import type { Scope } from '../domain/arn.js';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AlreadyExistsException, LimitExceededException } from '../domain/errors.js';
import { awsKeyId, type Alias, type KeyMaterialRef, type KmsKey, type Tag } from '../domain/key.js';
import type {
  DestroyedKeyMaterial,
  ImportedMaterial,
  MaterialReservation,
  ImportToken,
  KeyRotation,
  KeyVersionCheck,
  MetadataStore,
  NewImportedMaterial,
  NewKey,
  Page,
  ProvisioningKey,
  ReplicaInsertion,
  RotationStatus,
  RotationType,
} from '../services/ports/index.js';
import { REPLICABLE_STATES } from '../services/ports/index.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { page } from './paging.js';
import { LocalMutex } from './local-mutex.js';
import {
  KEY_MATERIAL_EXPIRY,
  KEY_SIDE_TABLES,
  NEVER_THE_KEYS,
  nextKeyVersion,
  notAReplica,
  PRIMARY_WITH_REPLICAS,
  keyRowParams,
  LACKS_IMPORTED_MATERIAL,
  rotationPage,
  toAlias,
  toImportedMaterial,
  toImportToken,
  toKey,
  toRotationStatus,
  type AliasRow,
  type ImportedMaterialRow,
  type ImportTokenRow,
  type KeyRow,
  type RotationRow,
  type VersionRow,
} from './rows.js';
import { SqliteGrantStore, SqlitePrincipalStore } from './sqlite-access-store.js';
import { SqliteKeyUsageStore } from './sqlite-usage-store.js';


/** How long an instance that stopped beating still holds a SQLite database. */
const INSTANCE_STALE_MS = 15_000;

/** How long a named lock holds without renewal (renewed every third of it while its work runs), and how often a waiter looks again. */
const NAMED_LOCK_LEASE_MS = 30_000;
const NAMED_LOCK_POLL_MS = 10;
const NAMED_LOCK_MAX_POLL_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The embedded metadata store. better-sqlite3 is synchronous; the service keeps
 * it off the cryptographic hot path with an in-memory cache of key metadata.
 */
export class SqliteStore implements MetadataStore {
  private readonly db: Database.Database;
  private readonly stmt;
  readonly principals: SqlitePrincipalStore;
  readonly grants: SqliteGrantStore;
  readonly usage: SqliteKeyUsageStore;
  private readonly mutex = new LocalMutex();
  /** The renewals of the named locks this store holds, stopped when it closes. */
  private readonly renewals = new Set<NodeJS.Timeout>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    // A lock row under this process's pid is a previous life's (a restart that reused the pid, as in a container): it holds nothing.
    this.db.prepare('DELETE FROM named_locks WHERE pid = ?').run(process.pid);
    this.principals = new SqlitePrincipalStore(this.db);
    this.grants = new SqliteGrantStore(this.db);
    this.usage = new SqliteKeyUsageStore(this.db);
    const db = this.db;
    this.stmt = {
      insertKey: db.prepare(`INSERT INTO keys (key_id, account_id, region, description, key_usage, key_spec, origin, key_state,
        creation_date, deletion_date, pending_window, current_version, policy, policy_principals, expiration_model, valid_to,
        multi_region_key_id, primary_region, provisioning)
        VALUES (@key_id, @account_id, @region, @description, @key_usage, @key_spec, @origin, @key_state,
        @creation_date, @deletion_date, @pending_window, @current_version, @policy, @policy_principals, @expiration_model, @valid_to,
        @multi_region_key_id, @primary_region, 1)`),
      multiRegionKeys: db.prepare('SELECT * FROM keys WHERE multi_region_key_id = ? AND provisioning = 0 AND deleted_at IS NULL ORDER BY region'),
      anyKeyRow: db.prepare('SELECT key_id, deleted_at, provisioning FROM keys WHERE key_id = ?'),
      liveKeyRow: db.prepare('SELECT * FROM keys WHERE key_id = ? AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL'),
      purgeKey: db.prepare('DELETE FROM keys WHERE key_id = ? AND deleted_at IS NOT NULL'),
      purgeSideTables: KEY_SIDE_TABLES.map((t) => db.prepare(`DELETE FROM ${t} WHERE key_id = ?`)),
      copyVersions: db.prepare(`INSERT INTO key_versions (key_id, version, creation_date, rotation_type)
        SELECT ?, version, creation_date, rotation_type FROM key_versions WHERE key_id = ? AND provisioning = 0`),
      setPrimaryRegion: db.prepare('UPDATE keys SET primary_region = ? WHERE multi_region_key_id = ?'),
      dropRotation: db.prepare('DELETE FROM key_rotation WHERE key_id = ?'),
      rotating: db.prepare('SELECT 1 FROM key_rotation WHERE key_id = ? AND lease_until >= ?'),
      scheduleDeletion: db.prepare(`UPDATE keys SET
        key_state = CASE WHEN ${PRIMARY_WITH_REPLICAS} THEN 'PendingReplicaDeletion' ELSE 'PendingDeletion' END,
        deletion_date = CASE WHEN ${PRIMARY_WITH_REPLICAS} THEN NULL ELSE @deletionDate END, pending_window = @window
        WHERE key_id = @keyId AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')
        AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL`),
      moveRotation: db.prepare('UPDATE key_rotation SET key_id = ? WHERE key_id = ?'),
      replicateVersion: db.prepare(`INSERT OR IGNORE INTO key_versions (key_id, version, creation_date, rotation_type)
        SELECT k.key_id, v.version, v.creation_date, v.rotation_type FROM key_versions v
        JOIN keys p ON p.key_id = v.key_id JOIN keys k ON k.multi_region_key_id = p.multi_region_key_id AND k.key_id <> p.key_id AND k.deleted_at IS NULL
        WHERE v.key_id = ? AND v.version = ?`),
      setReplicasCurrentVersion: db.prepare(`UPDATE keys SET current_version = ?
        WHERE multi_region_key_id = (SELECT multi_region_key_id FROM keys WHERE key_id = ?) AND current_version < ?`),
      awaitReplicaDeletion: db.prepare(`UPDATE keys SET key_state = 'PendingReplicaDeletion', deletion_date = NULL
        WHERE key_id = ? AND key_state = 'PendingDeletion' AND destruction_started_at IS NULL AND deleted_at IS NULL AND ${PRIMARY_WITH_REPLICAS}`),
      lastReplicaDeleted: db.prepare(`UPDATE keys SET key_state = 'PendingDeletion', deletion_date = @at + pending_window * 86400000
        WHERE multi_region_key_id = (SELECT multi_region_key_id FROM keys WHERE key_id = @keyId) AND key_state = 'PendingReplicaDeletion'
        AND deleted_at IS NULL AND NOT (${PRIMARY_WITH_REPLICAS})`),
      insertVersion: db.prepare('INSERT INTO key_versions (key_id, version, creation_date) VALUES (?, ?, ?)'),
      activate: db.prepare('UPDATE keys SET provisioning = 0 WHERE key_id = ?'),
      provisioning: db.prepare('SELECT k.key_id, v.version, k.account_id, k.region FROM keys k JOIN key_versions v ON v.key_id = k.key_id WHERE k.provisioning = 1 AND k.creation_date < ?'),
      deleteKey: db.prepare('DELETE FROM keys WHERE key_id = ? AND provisioning = 1'),
      getKey: db.prepare('SELECT * FROM keys WHERE key_id = ? AND provisioning = 0 AND deleted_at IS NULL'),
      countKeys: db.prepare('SELECT COUNT(*) AS n FROM keys WHERE account_id = ? AND deleted_at IS NULL'),
      listKeys: db.prepare('SELECT * FROM keys WHERE account_id = ? AND region = ? AND provisioning = 0 AND deleted_at IS NULL AND key_id > ? ORDER BY key_id LIMIT ?'),
      updateKey: db.prepare(`UPDATE keys SET description = @description, key_state = @key_state, deletion_date = @deletion_date,
        pending_window = @pending_window,
        expiration_model = @expiration_model, valid_to = @valid_to
        WHERE key_id = @key_id AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL`),
      keysByState: db.prepare('SELECT key_state, COUNT(*) AS n FROM keys WHERE provisioning = 0 AND deleted_at IS NULL GROUP BY key_state'),
      ping: db.prepare('SELECT 1'),
      namedLock: db.prepare('SELECT pid, until FROM named_locks WHERE name = ?'),
      takeNamedLock: db.prepare(`INSERT INTO named_locks (name, holder, pid, until) VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, until = excluded.until`),
      renewNamedLock: db.prepare('UPDATE named_locks SET until = ? WHERE name = ? AND holder = ?'),
      releaseNamedLock: db.prepare('DELETE FROM named_locks WHERE name = ? AND holder = ?'),
      unboundPolicies: db.prepare('SELECT * FROM keys WHERE policy_principals IS NULL ORDER BY key_id LIMIT ?'),
      bindPolicy: db.prepare('UPDATE keys SET policy_principals = ? WHERE key_id = ? AND policy_principals IS NULL'),
      updatePolicy: db.prepare('UPDATE keys SET policy = ?, policy_principals = ? WHERE key_id = ? AND provisioning = 0 AND deleted_at IS NULL AND destruction_started_at IS NULL'),
      cancelDeletion: db.prepare(`UPDATE keys SET deletion_date = NULL, pending_window = NULL,
        key_state = CASE WHEN ${LACKS_IMPORTED_MATERIAL} THEN 'PendingImport' ELSE 'Disabled' END
        WHERE key_id = ? AND key_state IN ('PendingDeletion', 'PendingReplicaDeletion') AND destruction_started_at IS NULL AND deleted_at IS NULL`),
      dueForDeletion: db.prepare(`SELECT * FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ?
        AND provisioning = 0 AND deleted_at IS NULL ORDER BY deletion_date LIMIT ?`),
      beginDestruction: db.prepare(`UPDATE keys SET destruction_started_at = COALESCE(destruction_started_at, ?)
        WHERE key_id = ? AND key_state = 'PendingDeletion' AND deletion_date <= ? AND deleted_at IS NULL AND NOT (${PRIMARY_WITH_REPLICAS})`),
      // Every version that may have a token object: an imported key's material pending rotation too.
      versions: db.prepare('SELECT version FROM key_versions WHERE key_id = ? UNION SELECT version FROM imported_material WHERE key_id = ? ORDER BY version'),
      rotationStatus: db.prepare('SELECT * FROM key_rotation WHERE key_id = ?'),
      setRotation: db.prepare(`INSERT INTO key_rotation (key_id, enabled, period_days, next_rotation_date) VALUES (?, ?, ?, ?)
        ON CONFLICT (key_id) DO UPDATE SET enabled = excluded.enabled, period_days = excluded.period_days, next_rotation_date = excluded.next_rotation_date`),
      dueForRotation: db.prepare(`SELECT r.key_id FROM key_rotation r JOIN keys k ON k.key_id = r.key_id
        WHERE r.enabled = 1 AND r.next_rotation_date <= @now AND r.lease_until < @now
        AND k.key_state = 'Enabled' AND k.deleted_at IS NULL AND k.provisioning = 0 ORDER BY r.next_rotation_date LIMIT @limit`),
      leaseAutomatic: db.prepare(`UPDATE key_rotation SET lease_until = @until
        WHERE key_id = @keyId AND enabled = 1 AND next_rotation_date <= @now AND lease_until < @now AND ${notAReplica('@keyId')}`),
      leaseOnDemand: db.prepare(`INSERT INTO key_rotation (key_id, enabled, period_days, lease_until, on_demand_started_at)
        SELECT @keyId, 0, 365, @until, @now WHERE ${notAReplica('@keyId')}
        ON CONFLICT (key_id) DO UPDATE SET lease_until = @until, on_demand_started_at = @now WHERE key_rotation.lease_until < @now`),
      nextVersion: db.prepare(nextKeyVersion('@keyId')),
      releaseLease: db.prepare('UPDATE key_rotation SET lease_until = 0, on_demand_started_at = NULL WHERE key_id = ?'),
      insertRotationVersion: db.prepare('INSERT INTO key_versions (key_id, version, creation_date, rotation_type, provisioning) VALUES (?, ?, ?, ?, 1)'),
      activateVersion: db.prepare('UPDATE key_versions SET provisioning = 0 WHERE key_id = ? AND version = ? AND provisioning = 1'),
      setCurrentVersion: db.prepare('UPDATE keys SET current_version = ? WHERE key_id = ? AND current_version < ?'),
      moveNextRotation: db.prepare('UPDATE key_rotation SET next_rotation_date = CASE WHEN enabled = 1 THEN ? ELSE next_rotation_date END, lease_until = 0, on_demand_started_at = NULL WHERE key_id = ?'),
      provisioningVersions: db.prepare(`SELECT v.key_id, v.version FROM key_versions v JOIN keys k ON k.key_id = v.key_id
        LEFT JOIN key_rotation r ON r.key_id = v.key_id
        WHERE v.provisioning = 1 AND k.provisioning = 0 AND COALESCE(r.lease_until, 0) < ?`),
      abandonVersion: db.prepare('UPDATE key_versions SET provisioning = 2 WHERE key_id = ? AND version = ? AND provisioning = 1'),
      rotations: db.prepare(`SELECT key_id, version, creation_date, rotation_type FROM key_versions
        WHERE key_id = ? AND rotation_type IS NOT NULL AND provisioning = 0 AND version > ? ORDER BY version LIMIT ?`),
      recordDestroyed: db.prepare('INSERT OR IGNORE INTO destroyed_key_material (key_id, version, destroyed_at) VALUES (?, ?, ?)'),
      markDeleted: db.prepare('UPDATE keys SET deleted_at = ? WHERE key_id = ? AND deleted_at IS NULL'),
      deleteAliasesOf: db.prepare('DELETE FROM aliases WHERE target_key_id = ?'),
      deleteGrantsOf: db.prepare('DELETE FROM grants WHERE key_id = ?'),
      saveImportToken: db.prepare(`INSERT INTO import_tokens (token_id, key_id, wrapping_algorithm, wrapping_key_spec, created_at, expires_at)
        VALUES (@tokenId, @keyId, @wrappingAlgorithm, @wrappingKeySpec, @createdAt, @expiresAt)`),
      getImportToken: db.prepare('SELECT * FROM import_tokens WHERE token_id = ?'),
      expiredImportTokens: db.prepare('SELECT * FROM import_tokens WHERE expires_at <= ? LIMIT ?'),
      importTokensOfKey: db.prepare('SELECT * FROM import_tokens WHERE key_id = ? ORDER BY created_at, rowid'),
      deleteImportToken: db.prepare('DELETE FROM import_tokens WHERE token_id = ?'),
      importedMaterial: db.prepare('SELECT * FROM imported_material WHERE key_id = ? ORDER BY version'),
      importedMaterialVersion: db.prepare('SELECT * FROM imported_material WHERE key_id = ? AND version = ?'),
      keyVersionCheck: db.prepare('SELECT check_value, made_in_token FROM key_version_checks WHERE key_id = ? AND version = ?'),
      recordCheckAtCreation: db.prepare(`INSERT OR REPLACE INTO key_version_checks (key_id, version, check_value, made_in_token, recorded_by, recorded_at)
        VALUES (@keyId, @version, @value, @madeInToken, 'CREATION', @at)`),
      recordCheckAtFirstUse: db.prepare(`INSERT OR IGNORE INTO key_version_checks (key_id, version, check_value, made_in_token, recorded_by, recorded_at)
        VALUES (@keyId, @version, @value, @madeInToken, 'FIRST_USE', @at)`),
      // The check value of a material is the one of its first import, ever.
      upsertMaterial: db.prepare(`INSERT INTO imported_material (key_id, version, check_value, description, expiration_model, valid_to, imported, pending_rotation, imported_at)
        VALUES (@keyId, @version, @check, @description, @model, @validTo, 1, @pending, @at)
        ON CONFLICT (key_id, version) DO UPDATE SET imported = 1, expiration_model = excluded.expiration_model, valid_to = excluded.valid_to,
          description = COALESCE(excluded.description, imported_material.description), imported_at = excluded.imported_at`),
      insertMaterialVersion: db.prepare('INSERT OR IGNORE INTO key_versions (key_id, version, creation_date) VALUES (?, ?, ?)'),
      enableImported: db.prepare(`UPDATE keys SET key_state = CASE WHEN key_state = 'PendingImport' AND NOT (${LACKS_IMPORTED_MATERIAL}) THEN 'Enabled' ELSE key_state END,
        ${KEY_MATERIAL_EXPIRY} WHERE key_id = ? AND deleted_at IS NULL`),
      reserveMaterial: db.prepare(`INSERT INTO imported_material (key_id, version, check_value, description, imported, pending_rotation, imported_at)
        VALUES (@keyId, @version, @check, @description, 0, @pending, @at) ON CONFLICT (key_id, version) DO NOTHING`),
      unimportMaterial: db.prepare('UPDATE imported_material SET imported = 0, expiration_model = NULL, valid_to = NULL WHERE key_id = ? AND version = ? AND imported = 1'),
      forgetMaterial: db.prepare(`DELETE FROM imported_material WHERE key_id = ? AND version = ? AND ${NEVER_THE_KEYS}`),
      // A key pending deletion stays so (AWS); CancelKeyDeletion then finds it without material.
      markPendingImport: db.prepare(`UPDATE keys SET key_state = CASE WHEN key_state = 'PendingDeletion' THEN key_state ELSE 'PendingImport' END,
        ${KEY_MATERIAL_EXPIRY}
        WHERE key_id = ? AND origin = 'EXTERNAL' AND key_state IN ('Enabled', 'Disabled', 'PendingImport', 'PendingDeletion') AND deleted_at IS NULL`),
      expiredMaterial: db.prepare(`SELECT k.*, m.version AS material_version FROM imported_material m JOIN keys k ON k.key_id = m.key_id
        WHERE m.imported = 1 AND m.expiration_model = 'KEY_MATERIAL_EXPIRES' AND m.valid_to <= ? AND k.deleted_at IS NULL AND k.provisioning = 0 LIMIT ?`),
      associatePendingMaterial: db.prepare('UPDATE imported_material SET pending_rotation = 0 WHERE key_id = ? AND version = ? AND pending_rotation = 1 AND imported = 1'),
      insertRotatedVersion: db.prepare("INSERT INTO key_versions (key_id, version, creation_date, rotation_type) VALUES (?, ?, ?, 'ON_DEMAND')"),
      rotateImported: db.prepare(`UPDATE keys SET current_version = @version WHERE key_id = @keyId`),
      currentMaterialExpiry: db.prepare(`UPDATE keys SET ${KEY_MATERIAL_EXPIRY} WHERE key_id = ?`),
      freeRotationLease: db.prepare('UPDATE key_rotation SET lease_until = 0, on_demand_started_at = NULL WHERE key_id = ?'),
      destroyed: db.prepare('SELECT key_id AS keyId, version, destroyed_at AS destroyedAt FROM destroyed_key_material WHERE key_id = ? ORDER BY version'),
      getAlias: db.prepare('SELECT * FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?'),
      listAliases: db.prepare('SELECT * FROM aliases WHERE account_id = ? AND region = ? AND alias_name > ? ORDER BY alias_name LIMIT ?'),
      listAliasesForKey: db.prepare('SELECT * FROM aliases WHERE account_id = ? AND region = ? AND target_key_id = ? AND alias_name > ? ORDER BY alias_name LIMIT ?'),
      insertAlias: db.prepare('INSERT INTO aliases (account_id, region, alias_name, target_key_id, creation_date, last_updated_date) VALUES (?, ?, ?, ?, ?, ?)'),
      updateAlias: db.prepare('UPDATE aliases SET target_key_id = ?, last_updated_date = ? WHERE account_id = ? AND region = ? AND alias_name = ?'),
      deleteAlias: db.prepare('DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?'),
      listTags: db.prepare('SELECT tag_key AS TagKey, tag_value AS TagValue FROM tags WHERE key_id = ? ORDER BY tag_key'),
      countTags: db.prepare('SELECT COUNT(*) AS n FROM tags WHERE key_id = ?'),
      putTag: db.prepare('INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?) ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value'),
      removeTag: db.prepare('DELETE FROM tags WHERE key_id = ? AND tag_key = ?'),
      allocateIv: db.prepare('INSERT INTO iv_instances (started_at) VALUES (?)'),
      lastIv: db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'iv_instances'), 0) AS n"),
      advanceIv: db.prepare('INSERT INTO iv_instances (id, started_at) VALUES (?, ?)'),
    };
  }

  private migrate(): void {
    const applied = this.db.pragma('user_version', { simple: true }) as number;
    for (let i = applied; i < SQLITE_MIGRATIONS.length; i++) {
      this.db.transaction(() => {
        this.db.exec(SQLITE_MIGRATIONS[i]!);
        this.db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  async insertProvisioningKey({ key, tags }: NewKey, maxKeysInAccount = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.db.transaction(() => {
      // Keys being created count too (destroyed ones do not), so that concurrent creations cannot overshoot.
      if ((this.stmt.countKeys.get(key.accountId) as { n: number }).n >= maxKeysInAccount) return false;
      this.stmt.insertKey.run(keyRowParams(key));
      // An imported key has no version until its material is imported.
      if (key.origin === 'AWS_KMS') this.stmt.insertVersion.run(key.keyId, key.currentVersion, key.creationDate.getTime());
      for (const t of tags) this.stmt.putTag.run(key.keyId, t.TagKey, t.TagValue);
      return true;
    }).immediate();
  }

  async listMultiRegionKeys(multiRegionKeyId: string): Promise<KmsKey[]> {
    return (this.stmt.multiRegionKeys.all(multiRegionKeyId) as KeyRow[]).map(toKey);
  }

  async insertReplicaKey({ key, tags }: NewKey, primaryKeyId: string, maxKeysInAccount = Number.POSITIVE_INFINITY): Promise<ReplicaInsertion> {
    return this.db.transaction((): ReplicaInsertion => {
      const primary = this.stmt.liveKeyRow.get(primaryKeyId) as KeyRow | undefined;
      if (!primary || primary.primary_region !== primary.region || !REPLICABLE_STATES.includes(primary.key_state)) return 'primary-changed';
      const existing = this.stmt.anyKeyRow.get(key.keyId) as { deleted_at: number | null } | undefined;
      if (existing && existing.deleted_at === null) return 'exists';
      if (existing) {
        for (const purge of this.stmt.purgeSideTables) purge.run(key.keyId);
        this.stmt.purgeKey.run(key.keyId);
      }
      if ((this.stmt.countKeys.get(key.accountId) as { n: number }).n >= maxKeysInAccount) return 'quota';
      this.stmt.insertKey.run(keyRowParams({ ...key, currentVersion: primary.current_version, primaryRegion: primary.region }));
      this.stmt.copyVersions.run(key.keyId, primaryKeyId);
      for (const t of tags) this.stmt.putTag.run(key.keyId, t.TagKey, t.TagValue);
      this.stmt.activate.run(key.keyId);
      return 'created';
    }).immediate();
  }

  async updatePrimaryRegion(primaryKeyId: string, newPrimaryKeyId: string, now: Date): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmt.rotating.get(primaryKeyId, now.getTime())) return false;
      const primary = this.stmt.liveKeyRow.get(primaryKeyId) as KeyRow | undefined;
      const replica = this.stmt.liveKeyRow.get(newPrimaryKeyId) as KeyRow | undefined;
      if (!primary || !replica || primary.primary_region !== primary.region || replica.multi_region_key_id !== primary.multi_region_key_id) return false;
      if (primary.key_state !== 'Enabled' || replica.key_state !== 'Enabled') return false;
      this.stmt.setPrimaryRegion.run(replica.region, primary.multi_region_key_id);
      // Automatic rotation is the primary's to run.
      this.stmt.dropRotation.run(newPrimaryKeyId);
      this.stmt.moveRotation.run(newPrimaryKeyId, primaryKeyId);
      return true;
    }).immediate();
  }

  async activateKey(keyId: string): Promise<boolean> {
    return this.stmt.activate.run(keyId).changes === 1;
  }

  async listProvisioningKeys(createdBefore: Date): Promise<ProvisioningKey[]> {
    const rows = this.stmt.provisioning.all(createdBefore.getTime()) as Array<{ key_id: string; version: number; account_id: string; region: string }>;
    return rows.map((r) => ({ keyId: r.key_id, version: r.version, accountId: r.account_id, region: r.region }));
  }

  async deleteProvisioningKey(keyId: string): Promise<void> {
    this.stmt.deleteKey.run(keyId);
  }

  async getKey(keyId: string): Promise<KmsKey | undefined> {
    const row = this.stmt.getKey.get(keyId) as KeyRow | undefined;
    return row && toKey(row);
  }

  async listKeys(scope: Scope, after: string | undefined, limit: number): Promise<Page<KmsKey>> {
    const rows = this.stmt.listKeys.all(scope.accountId, scope.region, after ?? '', limit + 1) as KeyRow[];
    return page(rows, limit, toKey, (r) => r.key_id);
  }

  async updateKey(key: KmsKey): Promise<void> {
    this.stmt.updateKey.run(keyRowParams(key));
  }

  async updateKeyPolicy(keyId: string, policy: string, principals: Readonly<Record<string, string>>): Promise<boolean> {
    return this.stmt.updatePolicy.run(policy, JSON.stringify(principals), keyId).changes === 1;
  }

  async countKeysByState(): Promise<Record<string, number>> {
    const rows = this.stmt.keysByState.all() as Array<{ key_state: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.key_state, r.n]));
  }

  async ping(): Promise<void> {
    this.stmt.ping.get();
  }

  async listKeysWithUnboundPolicies(limit: number): Promise<KmsKey[]> {
    return (this.stmt.unboundPolicies.all(limit) as KeyRow[]).map(toKey);
  }

  async bindKeyPolicyPrincipals(keyId: string, principals: Readonly<Record<string, string>>): Promise<void> {
    this.stmt.bindPolicy.run(JSON.stringify(principals), keyId);
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays: number, deletionDate: Date): Promise<boolean> {
    return this.db.transaction(() => this.stmt.scheduleDeletion.run({ keyId, window: pendingWindowInDays, deletionDate: deletionDate.getTime() }).changes > 0).immediate();
  }

  async cancelKeyDeletion(keyId: string): Promise<boolean> {
    return this.stmt.cancelDeletion.run(keyId).changes > 0;
  }

  async listKeysDueForDeletion(now: Date, limit: number): Promise<KmsKey[]> {
    return (this.stmt.dueForDeletion.all(now.getTime(), limit) as KeyRow[]).map(toKey);
  }

  async beginKeyDestruction(keyId: string, now: Date): Promise<boolean> {
    return this.db.transaction(() => {
      // A primary key replicated meanwhile waits for its replicas: its material is theirs too.
      this.stmt.awaitReplicaDeletion.run(keyId);
      return this.stmt.beginDestruction.run(now.getTime(), keyId, now.getTime()).changes > 0;
    }).immediate();
  }

  async listKeyVersions(keyId: string): Promise<number[]> {
    return (this.stmt.versions.all(keyId, keyId) as Array<{ version: number }>).map((r) => r.version);
  }

  async completeKeyDestruction(keyId: string, versions: readonly number[], at: Date): Promise<void> {
    this.db.transaction(() => {
      for (const v of versions) this.stmt.recordDestroyed.run(keyId, v, at.getTime());
      this.stmt.deleteAliasesOf.run(keyId);
      this.stmt.deleteGrantsOf.run(keyId);
      this.stmt.markDeleted.run(at.getTime(), keyId);
      // The last replica gone: a primary waiting for it starts its own waiting period.
      this.stmt.lastReplicaDeleted.run({ at: at.getTime(), keyId });
    })();
  }

  async listDestroyedKeyMaterial(keyId: string): Promise<DestroyedKeyMaterial[]> {
    return (this.stmt.destroyed.all(keyId) as Array<{ keyId: string; version: number; destroyedAt: number }>).map((r) => ({
      keyId: r.keyId,
      version: r.version,
      destroyedAt: new Date(r.destroyedAt),
    }));
  }

  async getRotationStatus(keyId: string): Promise<RotationStatus | undefined> {
    const r = this.stmt.rotationStatus.get(keyId) as RotationRow | undefined;
    return r && toRotationStatus(r);
  }

  async setRotation(keyId: string, enabled: boolean, periodDays: number, nextRotationDate: Date | undefined): Promise<void> {
    this.stmt.setRotation.run(keyId, enabled ? 1 : 0, periodDays, nextRotationDate?.getTime() ?? null);
  }

  async listKeysDueForRotation(now: Date, limit: number): Promise<string[]> {
    return (this.stmt.dueForRotation.all({ now: now.getTime(), limit }) as Array<{ key_id: string }>).map((r) => r.key_id);
  }

  async acquireRotationLease(keyId: string, now: Date, leaseMs: number, type: RotationType): Promise<boolean> {
    const params = { keyId, now: now.getTime(), until: now.getTime() + leaseMs };
    const statement = type === 'AUTOMATIC' ? this.stmt.leaseAutomatic : this.stmt.leaseOnDemand;
    return statement.run(params).changes > 0;
  }

  async releaseRotationLease(keyId: string): Promise<void> {
    this.stmt.releaseLease.run(keyId);
  }

  async insertProvisioningVersion(keyId: string, at: Date, type: RotationType): Promise<number> {
    return this.db
      .transaction(() => {
        const { n } = this.stmt.nextVersion.get({ keyId }) as { n: number };
        this.stmt.insertRotationVersion.run(keyId, n, at.getTime(), type);
        return n;
      })
      .immediate();
  }

  async commitKeyVersion(keyId: string, version: number, nextRotationDate: Date | undefined): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmt.activateVersion.run(keyId, version).changes === 0) return false;
      this.stmt.setCurrentVersion.run(version, keyId, version);
      // A multi-Region key's regions share its material: each has the new version at once.
      this.stmt.replicateVersion.run(keyId, version);
      this.stmt.setReplicasCurrentVersion.run(version, keyId, version);
      this.stmt.moveNextRotation.run(nextRotationDate?.getTime() ?? null, keyId);
      return true;
    }).immediate();
  }

  async listProvisioningVersions(now: Date): Promise<KeyMaterialRef[]> {
    return (this.stmt.provisioningVersions.all(now.getTime()) as Array<{ key_id: string; version: number }>).map((r) => ({ keyId: r.key_id, version: r.version }));
  }

  async abandonProvisioningVersion(ref: KeyMaterialRef): Promise<void> {
    this.db.transaction(() => {
      this.stmt.abandonVersion.run(ref.keyId, ref.version);
      this.stmt.releaseLease.run(ref.keyId);
    })();
  }

  async listRotations(keyId: string, afterVersion: number, limit: number): Promise<Page<KeyRotation>> {
    const rows = this.stmt.rotations.all(keyId, afterVersion, limit + 1) as VersionRow[];
    return rotationPage(rows, limit);
  }

  async saveImportToken(token: ImportToken): Promise<void> {
    this.stmt.saveImportToken.run({ ...token, createdAt: token.createdAt.getTime(), expiresAt: token.expiresAt.getTime() });
  }

  async getImportToken(tokenId: string): Promise<ImportToken | undefined> {
    const r = this.stmt.getImportToken.get(tokenId) as ImportTokenRow | undefined;
    return r && toImportToken(r);
  }

  async listExpiredImportTokens(now: Date, limit: number): Promise<ImportToken[]> {
    return (this.stmt.expiredImportTokens.all(now.getTime(), limit) as ImportTokenRow[]).map(toImportToken);
  }

  async listImportTokensOfKey(keyId: string): Promise<ImportToken[]> {
    return (this.stmt.importTokensOfKey.all(keyId) as ImportTokenRow[]).map(toImportToken);
  }

  async deleteImportToken(tokenId: string): Promise<void> {
    this.stmt.deleteImportToken.run(tokenId);
  }

  async listImportedMaterial(keyId: string): Promise<ImportedMaterial[]> {
    return (this.stmt.importedMaterial.all(keyId) as ImportedMaterialRow[]).map(toImportedMaterial);
  }

  async getKeyVersionCheck(ref: KeyMaterialRef): Promise<KeyVersionCheck | undefined> {
    const r = this.stmt.keyVersionCheck.get(awsKeyId(ref.keyId), ref.version) as { check_value: Buffer; made_in_token: number } | undefined;
    return r && { value: r.check_value, madeInToken: r.made_in_token === 1 };
  }

  async saveKeyVersionCheck(ref: KeyMaterialRef, check: KeyVersionCheck, recordedBy: 'CREATION' | 'FIRST_USE', at: Date): Promise<void> {
    const statement = recordedBy === 'CREATION' ? this.stmt.recordCheckAtCreation : this.stmt.recordCheckAtFirstUse;
    statement.run({ keyId: awsKeyId(ref.keyId), version: ref.version, value: check.value, madeInToken: check.madeInToken ? 1 : 0, at: at.getTime() });
  }

  async recordImportedMaterial(keyId: string, m: NewImportedMaterial, at: Date): Promise<void> {
    this.db.transaction(() => {
      this.stmt.upsertMaterial.run({
        keyId,
        version: m.version,
        check: m.check,
        description: m.description ?? null,
        model: m.expirationModel,
        validTo: m.validTo?.getTime() ?? null,
        pending: m.pendingRotation ? 1 : 0,
        at: at.getTime(),
      });
      if (!m.pendingRotation) this.stmt.insertMaterialVersion.run(keyId, m.version, at.getTime());
      this.stmt.enableImported.run(keyId);
    })();
  }

  async markImportedMaterialDeleted(keyId: string, version: number): Promise<void> {
    this.db.transaction(() => {
      const material = this.stmt.importedMaterialVersion.get(keyId, version) as ImportedMaterialRow | undefined;
      if (this.stmt.unimportMaterial.run(keyId, version).changes > 0 && material?.pending_rotation === 0) this.stmt.markPendingImport.run(keyId);
    })();
  }

  async reserveImportedMaterial(keyId: string, m: MaterialReservation, at: Date): Promise<void> {
    this.stmt.reserveMaterial.run({ keyId, version: m.version, check: m.check, description: m.description ?? null, pending: m.pendingRotation ? 1 : 0, at: at.getTime() });
  }

  async forgetImportedMaterial(keyId: string, version: number): Promise<void> {
    this.stmt.forgetMaterial.run(keyId, version);
  }

  async listExpiredImportedMaterial(now: Date, limit: number): Promise<Array<{ key: KmsKey; version: number }>> {
    return (this.stmt.expiredMaterial.all(now.getTime(), limit) as Array<KeyRow & { material_version: number }>).map((r) => ({ key: toKey(r), version: r.material_version }));
  }

  async commitImportedRotation(keyId: string, version: number, at: Date): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmt.associatePendingMaterial.run(keyId, version).changes === 0) return false;
      this.stmt.insertRotatedVersion.run(keyId, version, at.getTime());
      this.stmt.rotateImported.run({ keyId, version });
      this.stmt.currentMaterialExpiry.run(keyId);
      this.stmt.freeRotationLease.run(keyId);
      return true;
    })();
  }

  async getAlias(scope: Scope, aliasName: string): Promise<Alias | undefined> {
    const row = this.stmt.getAlias.get(scope.accountId, scope.region, aliasName) as AliasRow | undefined;
    return row && toAlias(row);
  }

  async listAliases(scope: Scope, targetKeyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>> {
    const rows = (
      targetKeyId === undefined
        ? this.stmt.listAliases.all(scope.accountId, scope.region, after ?? '', limit + 1)
        : this.stmt.listAliasesForKey.all(scope.accountId, scope.region, targetKeyId, after ?? '', limit + 1)
    ) as AliasRow[];
    return page(rows, limit, toAlias, (r) => r.alias_name);
  }

  async createAlias(alias: Alias): Promise<void> {
    try {
      this.stmt.insertAlias.run(alias.accountId, alias.region, alias.aliasName, alias.targetKeyId, alias.creationDate.getTime(), alias.lastUpdatedDate.getTime());
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AlreadyExistsException(`An alias with the name ${alias.aliasName} already exists`);
      }
      throw e;
    }
  }

  async updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date): Promise<void> {
    this.stmt.updateAlias.run(targetKeyId, at.getTime(), scope.accountId, scope.region, aliasName);
  }

  async deleteAlias(scope: Scope, aliasName: string): Promise<boolean> {
    return this.stmt.deleteAlias.run(scope.accountId, scope.region, aliasName).changes > 0;
  }

  async listTags(keyId: string): Promise<Tag[]> {
    return this.stmt.listTags.all(keyId) as Tag[];
  }

  async putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<void> {
    this.db.transaction(() => {
      for (const t of tags) this.stmt.putTag.run(keyId, t.TagKey, t.TagValue);
      const { n } = this.stmt.countTags.get(keyId) as { n: number };
      if (n > maxTags) throw new LimitExceededException(`A key can have at most ${maxTags} tags.`);
    })();
  }

  async removeTags(keyId: string, tagKeys: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const k of tagKeys) this.stmt.removeTag.run(keyId, k);
    })();
  }

  async allocateIvInstance(): Promise<number> {
    return Number(this.stmt.allocateIv.run(Date.now()).lastInsertRowid);
  }

  async lastIvInstance(): Promise<number> {
    return (this.stmt.lastIv.get() as { n: number }).n;
  }

  /** A row at that very fixed field: AUTOINCREMENT hands out only greater ones after it. */
  async advanceIvInstancesPast(fixedField: number): Promise<void> {
    if (fixedField > (await this.lastIvInstance())) this.stmt.advanceIv.run(fixedField, Date.now());
  }

  /**
   * One instance per SQLite file: its caches hear only its own workers' changes,
   * so a second instance would serve a disabled key for a cache lifetime. The
   * holder beats every few seconds; one that stopped beating, or whose process is
   * gone on this host, has let go.
   */
  async holdInstance(): Promise<void> {
    const me = { host: os.hostname(), pid: process.pid };
    this.db.transaction(() => {
      const holder = this.db.prepare('SELECT host, pid, heartbeat_at FROM instance_holder WHERE slot = 1').get() as { host: string; pid: number; heartbeat_at: number } | undefined;
      const itself = holder?.host === me.host && holder.pid === me.pid;
      const alive = holder !== undefined && !itself && Date.now() - holder.heartbeat_at < INSTANCE_STALE_MS && (holder.host !== me.host || processAlive(holder.pid));
      if (alive) {
        throw new Error(
          `another instance (pid ${holder.pid} on ${holder.host}) uses this SQLite database; SQLite serves one instance (KMS_WORKERS gives it several processes). ` +
            'For several instances, use PostgreSQL (KMS_DATABASE=postgres://...)',
        );
      }
      this.db.prepare('INSERT INTO instance_holder (slot, host, pid, heartbeat_at) VALUES (1, ?, ?, ?) ON CONFLICT (slot) DO UPDATE SET host = excluded.host, pid = excluded.pid, heartbeat_at = excluded.heartbeat_at').run(me.host, me.pid, Date.now());
    }).immediate();
    this.heartbeat ??= setInterval(() => {
      this.db.prepare('UPDATE instance_holder SET heartbeat_at = ? WHERE slot = 1 AND host = ? AND pid = ?').run(Date.now(), me.host, me.pid);
    }, INSTANCE_STALE_MS / 3);
    this.heartbeat.unref();
  }

  /** One instance per SQLite database, in several processes (its workers): a turn in this process, then a lock row in the file. */
  async exclusive<T>(name: string, work: () => Promise<T>, wait = true): Promise<{ ran: true; value: T } | { ran: false }> {
    if (!wait && this.mutex.held(name)) return { ran: false };
    // In turn within this process first, then across the processes sharing the file (the service's workers).
    return this.mutex.run(name, async () => {
      const holder = `${process.pid}/${randomUUID()}`;
      for (let pause = NAMED_LOCK_POLL_MS; !this.takeNamedLock(name, holder); pause = Math.min(pause * 2, NAMED_LOCK_MAX_POLL_MS)) {
        if (!wait) return { ran: false };
        await sleep(pause);
      }
      const renewal = setInterval(() => {
        // A failed renewal is retried at the next tick; the lease outlasts two of them.
        try {
          this.stmt.renewNamedLock.run(Date.now() + NAMED_LOCK_LEASE_MS, name, holder);
        } catch {
          /* retried */
        }
      }, NAMED_LOCK_LEASE_MS / 3);
      renewal.unref();
      this.renewals.add(renewal);
      try {
        return { ran: true, value: await work() };
      } finally {
        clearInterval(renewal);
        this.renewals.delete(renewal);
        // The work's outcome stands; a row left by a failed release is taken over when its lease ends.
        try {
          if (this.db.open) this.stmt.releaseNamedLock.run(name, holder);
        } catch {
          /* lapses */
        }
      }
    });
  }

  /** The lock is free, or its holder died or stopped renewing it: it is this holder's now. Looked at first without taking the write lock. */
  private takeNamedLock(name: string, holder: string): boolean {
    const held = (current: { pid: number; until: number } | undefined) => current !== undefined && current.until > Date.now() && processAlive(current.pid);
    if (held(this.stmt.namedLock.get(name) as { pid: number; until: number } | undefined)) return false;
    return this.db
      .transaction(() => {
        if (held(this.stmt.namedLock.get(name) as { pid: number; until: number } | undefined)) return false;
        this.stmt.takeNamedLock.run(name, holder, process.pid, Date.now() + NAMED_LOCK_LEASE_MS);
        return true;
      })
      .immediate();
  }

  changeFeed(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    for (const renewal of this.renewals) clearInterval(renewal);
    if (this.heartbeat) {
      clearInterval(this.heartbeat);
      this.db.prepare('DELETE FROM instance_holder WHERE slot = 1 AND host = ? AND pid = ?').run(os.hostname(), process.pid);
    }
    this.db.close();
  }
}
