/** Schema migrations, applied in order, each once; the applied count is SQLite's user_version. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE keys (
    key_id          TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    region          TEXT NOT NULL,
    description     TEXT NOT NULL,
    key_usage       TEXT NOT NULL,
    key_spec        TEXT NOT NULL,
    origin          TEXT NOT NULL,
    key_state       TEXT NOT NULL,
    creation_date   INTEGER NOT NULL,
    deletion_date   INTEGER,
    pending_window  INTEGER,
    current_version INTEGER NOT NULL,
    policy          TEXT NOT NULL,
    -- 1 while the token object may not exist yet: invisible to every API call.
    provisioning    INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX keys_by_account ON keys (account_id, key_id);

  CREATE TABLE key_versions (
    key_id        TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    creation_date INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
  );

  CREATE TABLE aliases (
    account_id        TEXT NOT NULL,
    alias_name        TEXT NOT NULL,
    target_key_id     TEXT NOT NULL REFERENCES keys (key_id),
    creation_date     INTEGER NOT NULL,
    last_updated_date INTEGER NOT NULL,
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
  CREATE TABLE iv_instances (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL
  );
  `,
  `
  -- Set when the deletion job starts destroying the key's token objects: from then on
  -- CancelKeyDeletion is refused, so a key can never come back without its material.
  ALTER TABLE keys ADD COLUMN destruction_started_at INTEGER;
  -- Set when every token object is destroyed: the key is gone for every API call,
  -- but its row stays as a record for the audit trail.
  ALTER TABLE keys ADD COLUMN deleted_at INTEGER;
  CREATE INDEX keys_due_for_deletion ON keys (key_state, deletion_date);

  CREATE TABLE destroyed_key_material (
    key_id       TEXT NOT NULL,
    version      INTEGER NOT NULL,
    destroyed_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  `,
  `
  -- Rotation: each rotation adds a key version (a new token object); versions stay for decryption.
  ALTER TABLE key_versions ADD COLUMN rotation_type TEXT;            -- NULL for the original material
  ALTER TABLE key_versions ADD COLUMN provisioning INTEGER NOT NULL DEFAULT 0;

  CREATE TABLE key_rotation (
    key_id               TEXT PRIMARY KEY REFERENCES keys (key_id),
    enabled              INTEGER NOT NULL,
    period_days          INTEGER NOT NULL,
    next_rotation_date   INTEGER,
    on_demand_started_at INTEGER,
    -- One instance at a time rotates a key: it holds the lease until it commits or the lease expires.
    lease_until          INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX key_rotation_due ON key_rotation (enabled, next_rotation_date);
  `,
  `
  -- Imported key material (Origin EXTERNAL).
  ALTER TABLE keys ADD COLUMN expiration_model TEXT;
  ALTER TABLE keys ADD COLUMN valid_to INTEGER;
  -- A check value of the imported material (a GCM tag under it, made in the token), to tell
  -- the same material from different material at re-import without ever seeing it.
  ALTER TABLE keys ADD COLUMN material_check BLOB;

  CREATE TABLE import_tokens (
    token_id           TEXT PRIMARY KEY,
    key_id             TEXT NOT NULL REFERENCES keys (key_id),
    wrapping_algorithm TEXT NOT NULL,
    wrapping_key_spec  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
  );
  CREATE INDEX import_tokens_expiry ON import_tokens (expires_at);
  `,
  `
  -- Principals (IAM-style users, roles and account roots) and their access keys.
  CREATE TABLE principals (
    arn           TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    creation_date INTEGER NOT NULL
  );
  CREATE INDEX principals_by_account ON principals (account_id, arn);

  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    principal_arn TEXT NOT NULL REFERENCES principals (arn) ON DELETE CASCADE,
    -- The secret sealed under a token key (AES-256-GCM in the HSM); never stored in the clear.
    sealed_secret BLOB NOT NULL,
    status        TEXT NOT NULL,
    creation_date INTEGER NOT NULL
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
    retiring_principal TEXT,
    issuing_account    TEXT NOT NULL,
    operations         TEXT NOT NULL,   -- JSON array
    constraints        TEXT,            -- JSON object
    creation_date      INTEGER NOT NULL
  );
  CREATE INDEX grants_by_key ON grants (key_id, grant_id);
  CREATE INDEX grants_by_retiring ON grants (retiring_principal, grant_id);
  `,
  `
  -- The last successful cryptographic use of each key (GetKeyLastUsage), written in batches, never per request.
  CREATE TABLE key_last_usage (
    key_id     TEXT PRIMARY KEY,
    operation  TEXT NOT NULL,
    used_at    INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    request_id TEXT NOT NULL
  );
  CREATE TABLE service_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  -- Key usage is known from the moment this schema exists: GetKeyLastUsage's TrackingStartDate.
  INSERT INTO service_settings (name, value) VALUES ('key_usage_tracking_started_at', CAST(CAST(strftime('%s', 'now') AS INTEGER) * 1000 AS TEXT));
  `,
  `
  -- The authorizer looks up a key's grants to one grantee: a key with thousands of grants costs nothing extra.
  CREATE INDEX grants_by_key_grantee ON grants (key_id, grantee_principal, grant_id);
  `,
  `
  -- What identifies each key version's token object, recorded when it is made: a check value computed in the
  -- token, and whether the token made the key or it was imported. Compared on the version's first use in each
  -- process, so that an object put in the token under the same id is never used. Not secret: a GCM tag or an
  -- HMAC of fixed input under the key, or a hash of a public key. Also the service's own keys, which have no row in keys.
  CREATE TABLE key_version_checks (
    key_id        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    check_value   BLOB NOT NULL,
    made_in_token INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,   -- CREATION, or FIRST_USE for versions made before check values were recorded
    recorded_at   INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
  );
  `,
  `
  -- Principals have immutable unique ids, as IAM's (AIDA... users, AROA... roles; a root is its account), and key
  -- policies and grants bind to the id a principal had when they were written: a namesake made after a deletion
  -- inherits nothing. Existing principals get theirs now, and existing grants bind to the principal of the time.
  ALTER TABLE principals ADD COLUMN unique_id TEXT;
  UPDATE principals SET unique_id = CASE kind
    WHEN 'root' THEN account_id
    WHEN 'role' THEN 'AROA' || substr(upper(hex(randomblob(9))), 1, 17)
    ELSE 'AIDA' || substr(upper(hex(randomblob(9))), 1, 17) END;
  CREATE UNIQUE INDEX principals_by_unique_id ON principals (unique_id);

  ALTER TABLE grants ADD COLUMN grantee_id TEXT;
  ALTER TABLE grants ADD COLUMN retiring_id TEXT;
  -- A root is its account (arn:aws:iam::ACCOUNT:root); a user or role gone already binds to no principal at all.
  UPDATE grants SET grantee_id = COALESCE((SELECT unique_id FROM principals WHERE arn = grantee_principal),
    CASE WHEN grantee_principal LIKE '%:root' THEN substr(grantee_principal, 14, 12) ELSE 'NONE' END);
  UPDATE grants SET retiring_id = COALESCE((SELECT unique_id FROM principals WHERE arn = retiring_principal),
    CASE WHEN retiring_principal LIKE '%:root' THEN substr(retiring_principal, 14, 12) ELSE 'NONE' END)
    WHERE retiring_principal IS NOT NULL;

  -- JSON {ARN: unique id} of the users and roles the key policy names; NULL for policies written before, which
  -- the start-up binds (until then their named users and roles count in a Deny and never in an Allow).
  ALTER TABLE keys ADD COLUMN policy_principals TEXT;
  `,
  `
  -- The instance using this database: SQLite serves one instance (and its workers) only.
  CREATE TABLE instance_holder (
    slot         INTEGER PRIMARY KEY CHECK (slot = 1),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
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
    check_value      BLOB NOT NULL,
    description      TEXT,
    expiration_model TEXT,
    valid_to         INTEGER,
    imported         INTEGER NOT NULL,
    pending_rotation INTEGER NOT NULL,
    imported_at      INTEGER NOT NULL,
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
  CREATE TABLE aliases_by_region (
    account_id        TEXT NOT NULL,
    region            TEXT NOT NULL,
    alias_name        TEXT NOT NULL,
    target_key_id     TEXT NOT NULL REFERENCES keys (key_id),
    creation_date     INTEGER NOT NULL,
    last_updated_date INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
  );
  INSERT INTO aliases_by_region (account_id, region, alias_name, target_key_id, creation_date, last_updated_date)
    SELECT a.account_id, k.region, a.alias_name, a.target_key_id, a.creation_date, a.last_updated_date FROM aliases a JOIN keys k ON k.key_id = a.target_key_id;
  DROP TABLE aliases;
  ALTER TABLE aliases_by_region RENAME TO aliases;
  CREATE INDEX aliases_by_key ON aliases (target_key_id);
  `,
  `
  -- Multi-Region keys: one row in each of the key's regions (key_id "mrk-...@region"), all sharing one KeyId and one
  -- key material (its token objects are named by the KeyId). The primary region is kept on every row, changed together.
  ALTER TABLE keys ADD COLUMN multi_region_key_id TEXT;
  ALTER TABLE keys ADD COLUMN primary_region TEXT;
  CREATE INDEX keys_by_multi_region_key ON keys (multi_region_key_id);
  `,
  `
  -- Work of one name runs in one process of this database at a time (imports into a key, the background jobs):
  -- the service's worker processes share the file. A holder that died (its pid gone) or stopped renewing loses it.
  CREATE TABLE named_locks (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    pid    INTEGER NOT NULL,
    until  INTEGER NOT NULL
  );
  `,
];
