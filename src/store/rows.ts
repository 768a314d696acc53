import { keyArn } from '../domain/arn.js';
import type { Grant, GrantConstraints, GrantOperation } from '../domain/grant.js';
import { awsKeyId, type Alias, type KeyState, type KmsKey } from '../domain/key.js';
import type { PrincipalKind } from '../domain/principal-arn.js';
import type { AccessKeyStatus, StoredAccessKey, StoredPrincipal } from '../services/access/access-ports.js';
import type { ImportedMaterial, ImportToken, KeyRotation, Page, RotationStatus, RotationType } from '../services/ports/index.js';
import { page } from './paging.js';

// The rows of the store's tables and how they read, the same in every dialect: dates are
// milliseconds since the epoch, flags 0 or 1, JSON as text, binary values Buffers.

export interface KeyRow {
  key_id: string;
  account_id: string;
  region: string;
  description: string;
  key_usage: string;
  key_spec: string;
  origin: string;
  key_state: string;
  creation_date: number;
  deletion_date: number | null;
  pending_window: number | null;
  current_version: number;
  policy: string;
  policy_principals: string | null;
  expiration_model: string | null;
  valid_to: number | null;
  multi_region_key_id: string | null;
  primary_region: string | null;
}

export interface ImportedMaterialRow {
  key_id: string;
  version: number;
  check_value: Buffer;
  description: string | null;
  expiration_model: string | null;
  valid_to: number | string | null;
  imported: number;
  pending_rotation: number;
  imported_at: number | string;
}

export function toImportedMaterial(r: ImportedMaterialRow): ImportedMaterial {
  return {
    version: r.version,
    check: r.check_value,
    description: r.description ?? undefined,
    expirationModel: (r.expiration_model ?? undefined) as ImportedMaterial['expirationModel'],
    validTo: r.valid_to === null ? undefined : new Date(Number(r.valid_to)),
    imported: r.imported === 1,
    pendingRotation: r.pending_rotation === 1,
    importedAt: new Date(Number(r.imported_at)),
  };
}

/** SQL both stores share (no parameters): an imported key one of whose materials is not in the token, or that never had one, cannot be Enabled. */
export const LACKS_IMPORTED_MATERIAL = `keys.origin = 'EXTERNAL' AND (
  NOT EXISTS (SELECT 1 FROM imported_material m WHERE m.key_id = keys.key_id AND m.pending_rotation = 0)
  OR EXISTS (SELECT 1 FROM imported_material m WHERE m.key_id = keys.key_id AND m.pending_rotation = 0 AND m.imported = 0))`;

/**
 * keys.expiration_model and valid_to (SET clause), as AWS's KeyMetadata has them:
 * the earliest expiry of any imported material of the key (pending rotation
 * aside), for the key is unusable from then on.
 */
export const KEY_MATERIAL_EXPIRY = `expiration_model = CASE
    WHEN EXISTS (SELECT 1 FROM imported_material m WHERE m.key_id = keys.key_id AND m.pending_rotation = 0 AND m.imported = 1 AND m.expiration_model = 'KEY_MATERIAL_EXPIRES') THEN 'KEY_MATERIAL_EXPIRES'
    WHEN EXISTS (SELECT 1 FROM imported_material m WHERE m.key_id = keys.key_id AND m.pending_rotation = 0 AND m.imported = 1) THEN 'KEY_MATERIAL_DOES_NOT_EXPIRE'
    ELSE NULL END,
  valid_to = (SELECT MIN(m.valid_to) FROM imported_material m WHERE m.key_id = keys.key_id AND m.pending_rotation = 0 AND m.imported = 1 AND m.expiration_model = 'KEY_MATERIAL_EXPIRES')`;

/**
 * SQL both stores share (no parameters): this key (keys.*) is the primary of a
 * multi-Region key some other region's key of which is not deleted.
 */
export const PRIMARY_WITH_REPLICAS = `keys.multi_region_key_id IS NOT NULL AND keys.primary_region = keys.region AND EXISTS (
  SELECT 1 FROM keys r WHERE r.multi_region_key_id = keys.multi_region_key_id AND r.key_id <> keys.key_id AND r.deleted_at IS NULL)`;

/**
 * SQL both stores share: the key named by the parameter is not a multi-Region
 * replica (only the primary rotates; checked where the rotation lease is taken).
 */
export const notAReplica = (keyParam: string) =>
  `NOT EXISTS (SELECT 1 FROM keys k WHERE k.key_id = ${keyParam} AND k.primary_region IS NOT NULL AND k.primary_region <> k.region)`;

/**
 * SQL both stores share: the next version number of the key named by the
 * parameter, never handed out before (abandoned versions keep their number), nor
 * in any region of a multi-Region key, so that no two attempts name one token object.
 */
export const nextKeyVersion = (keyParam: string) => `SELECT COALESCE(MAX(v.version), 0) + 1 AS n FROM key_versions v
  WHERE v.key_id = ${keyParam} OR v.key_id IN (SELECT k.key_id FROM keys k
    WHERE k.multi_region_key_id = (SELECT m.multi_region_key_id FROM keys m WHERE m.key_id = ${keyParam}))`;

/** The tables that name a key and are not emptied with it (ON DELETE CASCADE does the others): a deleted replica's row is replaced. */
export const KEY_SIDE_TABLES = ['key_rotation', 'import_tokens', 'key_last_usage'] as const;

/** Material no key version names (a pending rotation's, or a reservation): what may be forgotten once it is out of the token. */
export const NEVER_THE_KEYS = `imported = 0 AND NOT EXISTS (SELECT 1 FROM key_versions v WHERE v.key_id = imported_material.key_id AND v.version = imported_material.version)`;

export interface AliasRow {
  account_id: string;
  region: string;
  alias_name: string;
  target_key_id: string;
  creation_date: number;
  last_updated_date: number;
}

export function toKey(r: KeyRow): KmsKey {
  return {
    keyId: r.key_id,
    accountId: r.account_id,
    region: r.region,
    arn: keyArn({ region: r.region, accountId: r.account_id }, r.key_id),
    description: r.description,
    keyUsage: r.key_usage as KmsKey['keyUsage'],
    keySpec: r.key_spec as KmsKey['keySpec'],
    origin: r.origin as KmsKey['origin'],
    keyState: r.key_state as KeyState,
    creationDate: new Date(r.creation_date),
    deletionDate: r.deletion_date === null ? undefined : new Date(r.deletion_date),
    pendingDeletionWindowInDays: r.pending_window ?? undefined,
    currentVersion: r.current_version,
    policy: r.policy,
    policyPrincipals: r.policy_principals === null ? null : (JSON.parse(r.policy_principals) as Record<string, string>),
    expirationModel: (r.expiration_model ?? undefined) as KmsKey['expirationModel'],
    validTo: r.valid_to === null ? undefined : new Date(r.valid_to),
    primaryRegion: r.primary_region ?? undefined,
  };
}

export interface ImportTokenRow {
  token_id: string;
  key_id: string;
  wrapping_algorithm: string;
  wrapping_key_spec: string;
  created_at: number;
  expires_at: number;
}

export function toImportToken(r: ImportTokenRow): ImportToken {
  return {
    tokenId: r.token_id,
    keyId: r.key_id,
    wrappingAlgorithm: r.wrapping_algorithm as ImportToken['wrappingAlgorithm'],
    wrappingKeySpec: r.wrapping_key_spec as ImportToken['wrappingKeySpec'],
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
  };
}

export function toAlias(r: AliasRow): Alias {
  return {
    accountId: r.account_id,
    region: r.region,
    aliasName: r.alias_name,
    targetKeyId: r.target_key_id,
    creationDate: new Date(r.creation_date),
    lastUpdatedDate: new Date(r.last_updated_date),
  };
}


export function keyRowParams(key: KmsKey) {
  return {
    key_id: key.keyId,
    account_id: key.accountId,
    region: key.region,
    description: key.description,
    key_usage: key.keyUsage,
    key_spec: key.keySpec,
    origin: key.origin,
    key_state: key.keyState,
    creation_date: key.creationDate.getTime(),
    deletion_date: key.deletionDate?.getTime() ?? null,
    pending_window: key.pendingDeletionWindowInDays ?? null,
    current_version: key.currentVersion,
    policy: key.policy,
    policy_principals: key.policyPrincipals === null ? null : JSON.stringify(key.policyPrincipals),
    expiration_model: key.expirationModel ?? null,
    valid_to: key.validTo?.getTime() ?? null,
    multi_region_key_id: key.primaryRegion === undefined ? null : awsKeyId(key.keyId),
    primary_region: key.primaryRegion ?? null,
  };
}


export interface PrincipalRow {
  arn: string;
  unique_id: string;
  account_id: string;
  kind: string;
  name: string;
  enabled: number;
  creation_date: number;
}

export interface AccessKeyRow {
  access_key_id: string;
  principal_arn: string;
  sealed_secret: Buffer;
  status: string;
  creation_date: number;
}

export interface GrantRow {
  grant_id: string;
  key_id: string;
  key_arn: string;
  name: string | null;
  grantee_principal: string;
  grantee_id: string;
  retiring_principal: string | null;
  retiring_id: string | null;
  issuing_account: string;
  operations: string;
  constraints: string | null;
  creation_date: number;
}

export const toPrincipal = (r: PrincipalRow): StoredPrincipal => ({
  arn: r.arn,
  uniqueId: r.unique_id,
  accountId: r.account_id,
  kind: r.kind as PrincipalKind,
  name: r.name,
  enabled: r.enabled === 1,
  creationDate: new Date(r.creation_date),
});

export const toAccessKey = (r: AccessKeyRow): StoredAccessKey => ({
  accessKeyId: r.access_key_id,
  principalArn: r.principal_arn,
  sealedSecret: r.sealed_secret,
  status: r.status as AccessKeyStatus,
  creationDate: new Date(r.creation_date),
});

export const toGrant = (r: GrantRow): Grant => ({
  grantId: r.grant_id,
  keyId: r.key_id,
  keyArn: r.key_arn,
  name: r.name ?? undefined,
  granteePrincipal: r.grantee_principal,
  granteeId: r.grantee_id,
  retiringPrincipal: r.retiring_principal ?? undefined,
  retiringId: r.retiring_id ?? undefined,
  issuingAccount: r.issuing_account,
  operations: JSON.parse(r.operations) as GrantOperation[],
  constraints: r.constraints === null ? undefined : (JSON.parse(r.constraints) as GrantConstraints),
  creationDate: new Date(r.creation_date),
});


/** A grant as its row is written. */
export function grantRowParams(g: Grant) {
  return {
    grantId: g.grantId,
    keyId: g.keyId,
    keyArn: g.keyArn,
    name: g.name ?? null,
    grantee: g.granteePrincipal,
    granteeId: g.granteeId,
    retiring: g.retiringPrincipal ?? null,
    retiringId: g.retiringId ?? null,
    issuingAccount: g.issuingAccount,
    operations: JSON.stringify(g.operations),
    constraints: g.constraints === undefined ? null : JSON.stringify(g.constraints),
    creationDate: g.creationDate.getTime(),
  };
}

export interface RotationRow {
  enabled: number;
  period_days: number;
  next_rotation_date: number | null;
  on_demand_started_at: number | null;
}

export function toRotationStatus(r: RotationRow): RotationStatus {
  return {
    enabled: r.enabled === 1,
    periodDays: r.period_days,
    nextRotationDate: r.enabled === 1 && r.next_rotation_date !== null ? new Date(r.next_rotation_date) : undefined,
    onDemandStartedAt: r.on_demand_started_at === null ? undefined : new Date(r.on_demand_started_at),
  };
}

/** The setting that says when a writer last took a batch of key usage (the single process's keeps its first name). */
export function flushedAtSetting(writer: string): string {
  return writer === '' ? 'key_usage_flushed_at' : `key_usage_flushed_at/${writer}`;
}

export interface VersionRow {
  key_id: string;
  version: number;
  creation_date: number;
  rotation_type: RotationType;
}

/** A page of rotations (the key versions they made), marked by version. */
export function rotationPage(rows: VersionRow[], limit: number): Page<KeyRotation> {
  return page(
    rows,
    limit,
    (r) => ({ keyId: r.key_id, version: r.version, rotationDate: new Date(r.creation_date), rotationType: r.rotation_type }),
    (r) => String(r.version),
  );
}
