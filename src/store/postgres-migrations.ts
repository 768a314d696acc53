/**
 * The PostgreSQL schema, as migrations applied in order, each once, recorded in
 * schema_migrations and applied under an advisory lock, so that instances
 * starting together apply each exactly once. The tables and columns are those of
 * the SQLite store's (src/store/migrations.ts) after all of its migrations, with
 * PostgreSQL's types: the rows read the same in both (src/store/rows.ts).
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE keys (
    key_id                 TEXT PRIMARY KEY,
    account_id             TEXT NOT NULL,
    region                 TEXT NOT NULL,
    description            TEXT NOT NULL,
    key_usage              TEXT NOT NULL,
    key_spec               TEXT NOT NULL,
    origin                 TEXT NOT NULL,
    key_state              TEXT NOT NULL,
    creation_date          BIGINT NOT NULL,
    deletion_date          BIGINT,
    pending_window         INTEGER,
    current_version        INTEGER NOT NULL,
    policy                 TEXT NOT NULL,
    -- JSON {ARN: unique id} of the users and roles the key policy names (see the SQLite migrations).
    policy_principals      TEXT,
    -- 1 while the token object may not exist yet: invisible to every API call.
    provisioning           INTEGER NOT NULL DEFAULT 1,
    destruction_started_at BIGINT,
    deleted_at             BIGINT,
    expiration_model       TEXT,
    valid_to               BIGINT,
    material_check         BYTEA
  );
  CREATE INDEX keys_by_account ON keys (account_id, key_id);
  CREATE INDEX keys_due_for_deletion ON keys (key_state, deletion_date);

  CREATE TABLE key_versions (
    key_id        TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    creation_date BIGINT NOT NULL,
    rotation_type TEXT,
    provisioning  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, version)
  );

  CREATE TABLE aliases (
    account_id        TEXT NOT NULL,
    alias_name        TEXT NOT NULL,
    target_key_id     TEXT NOT NULL REFERENCES keys (key_id),
    creation_date     BIGINT NOT NULL,
    last_updated_date BIGINT NOT NULL,
    PRIMARY KEY (account_id, alias_name)
  );
  CREATE INDEX aliases_by_key ON aliases (target_key_id);

  CREATE TABLE tags (
    key_id    TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (key_id, tag_key)
  );

  -- Each row is one fixed field of deterministic AES-GCM IVs, never handed out twice.
  CREATE SEQUENCE iv_instance_ids;
  CREATE TABLE iv_instances (
    id         BIGINT PRIMARY KEY,
    started_at BIGINT NOT NULL
  );

  CREATE TABLE destroyed_key_material (
    key_id       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    destroyed_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
  );

  CREATE TABLE key_rotation (
    key_id               TEXT PRIMARY KEY REFERENCES keys (key_id),
    enabled              INTEGER NOT NULL,
    period_days          INTEGER NOT NULL,
    next_rotation_date   BIGINT,
    on_demand_started_at BIGINT,
    lease_until          BIGINT NOT NULL DEFAULT 0
  );
  CREATE INDEX key_rotation_due ON key_rotation (enabled, next_rotation_date);

  CREATE TABLE import_tokens (
    token_id           TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL REFERENCES keys (key_id),
    wrapping_algorithm TEXT NOT NULL,
    wrapping_key_spec  TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    -- The order tokens were issued in, for tokens made in the same millisecond.
    issued             BIGSERIAL
  );
  CREATE INDEX import_tokens_expiry ON import_tokens (expires_at);

  CREATE TABLE principals (
    arn           TEXT PRIMARY KEY,
    unique_id     TEXT NOT NULL UNIQUE,
    account_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    creation_date BIGINT NOT NULL
  );
  CREATE INDEX principals_by_account ON principals (account_id, arn);

  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    principal_arn TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    status        TEXT NOT NULL,
    creation_date BIGINT NOT NULL
  );
  CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);

  CREATE TABLE identity_policies (
    principal_arn TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    policy_name   TEXT NOT NULL,
    document      TEXT NOT NULL,
    PRIMARY KEY (principal_arn, policy_name)
  );

  CREATE TABLE grants (
    grant_id           TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL REFERENCES keys (key_id),
    key_arn            TEXT NOT NULL,
    name               TEXT,
    grantee_principal  TEXT NOT NULL,
    grantee_id         TEXT,
    retiring_principal TEXT,
    retiring_id        TEXT,
    issuing_account    TEXT NOT NULL,
    operations         TEXT NOT NULL,
    constraints        TEXT,
    creation_date      BIGINT NOT NULL
  );
  CREATE INDEX grants_by_key ON grants (key_id, grant_id);
  CREATE INDEX grants_by_retiring ON grants (retiring_principal, grant_id);
  CREATE INDEX grants_by_key_grantee ON grants (key_id, grantee_principal, grant_id);

  CREATE TABLE key_last_usage (
    key_id     TEXT PRIMARY KEY,
    operation  TEXT NOT NULL,
    used_at    BIGINT NOT NULL,
    event_id   TEXT NOT NULL,
    request_id TEXT NOT NULL
  );
  CREATE TABLE service_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO service_settings (name, value) VALUES ('key_usage_tracking_started_at', (floor(extract(epoch FROM now())) * 1000)::bigint::text);

  CREATE TABLE key_version_checks (
    key_id        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    check_value   BYTEA NOT NULL,
    made_in_token INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  `,
  `
  -- Imported key material, one row per material of a key (Origin EXTERNAL): its check value, description and
  -- expiry, whether it is in the token now, and whether it waits for an on-demand rotation (PENDING_ROTATION,
  -- not yet part of the key). Supersedes keys.material_check; keys.expiration_model and valid_to now show the
  -- current material's. Versions of imported keys stay in key_versions whether or not their material is imported.
  CREATE TABLE imported_material (
    key_id           TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    check_value      BYTEA NOT NULL,
    description      TEXT,
    expiration_model TEXT,
    valid_to         BIGINT,
    imported         INTEGER NOT NULL,
    pending_rotation INTEGER NOT NULL,
    imported_at      BIGINT NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  INSERT INTO imported_material (key_id, version, check_value, expiration_model, valid_to, imported, pending_rotation, imported_at)
    SELECT key_id, 1, material_check, expiration_model, valid_to,
      CASE WHEN EXISTS (SELECT 1 FROM key_versions v WHERE v.key_id = keys.key_id) THEN 1 ELSE 0 END, 0, creation_date
    FROM keys WHERE origin = 'EXTERNAL' AND material_check IS NOT NULL;
  INSERT INTO key_versions (key_id, version, creation_date)
    SELECT key_id, 1, imported_at FROM imported_material m
    WHERE NOT EXISTS (SELECT 1 FROM key_versions v WHERE v.key_id = m.key_id AND v.version = 1);
  `,
  `
  -- Each region's aliases are apart (several regions per deployment): an alias belongs to its target key's region.
  ALTER TABLE aliases ADD COLUMN region TEXT;
  UPDATE aliases a SET region = k.region FROM keys k WHERE k.key_id = a.target_key_id;
  ALTER TABLE aliases ALTER COLUMN region SET NOT NULL;
  ALTER TABLE aliases DROP CONSTRAINT aliases_pkey;
  ALTER TABLE aliases ADD PRIMARY KEY (account_id, region, alias_name);
  `,
  `
  -- Multi-Region keys: one row in each of the key's regions (key_id "mrk-...@region"), all sharing one KeyId and one
  -- key material (its token objects are named by the KeyId). The primary region is kept on every row, changed together.
  ALTER TABLE keys ADD COLUMN multi_region_key_id TEXT;
  ALTER TABLE keys ADD COLUMN primary_region TEXT;
  CREATE INDEX keys_by_multi_region_key ON keys (multi_region_key_id);
  `,
];
