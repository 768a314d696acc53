import type Database from 'better-sqlite3';
import { AlreadyExistsException, LimitExceededException } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import type {
  AccessKeyStatus,
  GrantStore,
  IdentityPolicyDocument,
  PrincipalStore,
  StoredAccessKey,
  StoredPrincipal,
} from '../services/access/access-ports.js';
import type { Page } from '../services/ports/index.js';
import { page } from './paging.js';
import { grantRowParams, toAccessKey, toGrant, toPrincipal, type AccessKeyRow, type GrantRow, type PrincipalRow } from './rows.js';

const grantPage = (rows: GrantRow[], limit: number): Page<Grant> => page(rows, limit, toGrant, (r) => r.grant_id);

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class SqlitePrincipalStore implements PrincipalStore {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      insertPrincipal: db.prepare('INSERT INTO principals (arn, unique_id, account_id, kind, name, enabled, creation_date) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      getPrincipal: db.prepare('SELECT * FROM principals WHERE arn = ?'),
      allPrincipals: db.prepare('SELECT * FROM principals ORDER BY account_id, arn'),
      principalsOf: db.prepare('SELECT * FROM principals WHERE account_id = ? ORDER BY arn'),
      setEnabled: db.prepare('UPDATE principals SET enabled = ? WHERE arn = ?'),
      deletePrincipal: db.prepare('DELETE FROM principals WHERE arn = ?'),
      insertKey: db.prepare('INSERT INTO access_keys (access_key_id, principal_arn, sealed_secret, status, creation_date) VALUES (?, ?, ?, ?, ?)'),
      getKey: db.prepare('SELECT * FROM access_keys WHERE access_key_id = ?'),
      keysOf: db.prepare('SELECT * FROM access_keys WHERE principal_arn = ? ORDER BY creation_date, access_key_id'),
      setStatus: db.prepare('UPDATE access_keys SET status = ? WHERE access_key_id = ?'),
      setSecret: db.prepare('UPDATE access_keys SET sealed_secret = ? WHERE access_key_id = ?'),
      deleteKey: db.prepare('DELETE FROM access_keys WHERE access_key_id = ?'),
      putPolicy: db.prepare(`INSERT INTO identity_policies (principal_arn, policy_name, document) VALUES (?, ?, ?)
        ON CONFLICT (principal_arn, policy_name) DO UPDATE SET document = excluded.document`),
      deletePolicy: db.prepare('DELETE FROM identity_policies WHERE principal_arn = ? AND policy_name = ?'),
      policiesOf: db.prepare('SELECT policy_name AS policyName, document FROM identity_policies WHERE principal_arn = ? ORDER BY policy_name'),
    };
  }

  async createPrincipal(p: StoredPrincipal): Promise<void> {
    try {
      this.stmt.insertPrincipal.run(p.arn, p.uniqueId, p.accountId, p.kind, p.name, p.enabled ? 1 : 0, p.creationDate.getTime());
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExistsException(`Principal ${p.arn} already exists.`);
      throw e;
    }
  }

  async getPrincipal(arn: string): Promise<StoredPrincipal | undefined> {
    const row = this.stmt.getPrincipal.get(arn) as PrincipalRow | undefined;
    return row && toPrincipal(row);
  }

  async uniqueIdsOf(arns: readonly string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (const arn of arns) {
      const row = this.stmt.getPrincipal.get(arn) as PrincipalRow | undefined;
      if (row) ids.set(arn, row.unique_id);
    }
    return ids;
  }

  async listPrincipals(accountId: string | undefined): Promise<StoredPrincipal[]> {
    const rows = (accountId === undefined ? this.stmt.allPrincipals.all() : this.stmt.principalsOf.all(accountId)) as PrincipalRow[];
    return rows.map(toPrincipal);
  }

  async setPrincipalEnabled(arn: string, enabled: boolean): Promise<boolean> {
    return this.stmt.setEnabled.run(enabled ? 1 : 0, arn).changes === 1;
  }

  async deletePrincipal(arn: string): Promise<boolean> {
    return this.stmt.deletePrincipal.run(arn).changes === 1;
  }

  async createAccessKey(k: StoredAccessKey): Promise<void> {
    this.stmt.insertKey.run(k.accessKeyId, k.principalArn, k.sealedSecret, k.status, k.creationDate.getTime());
  }

  async getAccessKey(accessKeyId: string): Promise<StoredAccessKey | undefined> {
    const row = this.stmt.getKey.get(accessKeyId) as AccessKeyRow | undefined;
    return row && toAccessKey(row);
  }

  async listAccessKeys(principalArn: string): Promise<StoredAccessKey[]> {
    return (this.stmt.keysOf.all(principalArn) as AccessKeyRow[]).map(toAccessKey);
  }

  async setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<boolean> {
    return this.stmt.setStatus.run(status, accessKeyId).changes === 1;
  }

  async replaceSecret(accessKeyId: string, sealedSecret: Buffer): Promise<boolean> {
    return this.stmt.setSecret.run(sealedSecret, accessKeyId).changes === 1;
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.stmt.deleteKey.run(accessKeyId).changes === 1;
  }

  async putIdentityPolicy(principalArn: string, policy: IdentityPolicyDocument): Promise<void> {
    this.stmt.putPolicy.run(principalArn, policy.policyName, policy.document);
  }

  async deleteIdentityPolicy(principalArn: string, policyName: string): Promise<boolean> {
    return this.stmt.deletePolicy.run(principalArn, policyName).changes === 1;
  }

  async listIdentityPolicies(principalArn: string): Promise<IdentityPolicyDocument[]> {
    return this.stmt.policiesOf.all(principalArn) as IdentityPolicyDocument[];
  }
}

export class SqliteGrantStore implements GrantStore {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      count: db.prepare('SELECT COUNT(*) AS n FROM grants WHERE key_id = ?'),
      insert: db.prepare(`INSERT INTO grants (grant_id, key_id, key_arn, name, grantee_principal, grantee_id, retiring_principal, retiring_id, issuing_account, operations, constraints, creation_date)
        VALUES (@grantId, @keyId, @keyArn, @name, @grantee, @granteeId, @retiring, @retiringId, @issuingAccount, @operations, @constraints, @creationDate)`),
      get: db.prepare('SELECT * FROM grants WHERE grant_id = ?'),
      ofKey: db.prepare('SELECT * FROM grants WHERE key_id = ? ORDER BY grant_id'),
      ofGrantee: db.prepare('SELECT * FROM grants WHERE key_id = ? AND grantee_principal = ? ORDER BY grant_id'),
      list: db.prepare(`SELECT * FROM grants WHERE key_id = @keyId AND grant_id > @after
        AND (@grantId IS NULL OR grant_id = @grantId) AND (@grantee IS NULL OR grantee_principal = @grantee)
        ORDER BY grant_id LIMIT @limit`),
      retirable: db.prepare('SELECT * FROM grants WHERE retiring_principal = ? AND grant_id > ? ORDER BY grant_id LIMIT ?'),
      delete: db.prepare('DELETE FROM grants WHERE grant_id = ?'),
    };
  }

  async createGrant(g: Grant, maxGrants: number): Promise<void> {
    this.db.transaction(() => {
      if ((this.stmt.count.get(g.keyId) as { n: number }).n >= maxGrants) throw new LimitExceededException(`A key can have at most ${maxGrants} grants.`);
      this.stmt.insert.run(grantRowParams(g));
    })();
  }

  async getGrant(grantId: string): Promise<Grant | undefined> {
    const row = this.stmt.get.get(grantId) as GrantRow | undefined;
    return row && toGrant(row);
  }

  async grantsOfKey(keyId: string): Promise<Grant[]> {
    return (this.stmt.ofKey.all(keyId) as GrantRow[]).map(toGrant);
  }

  async grantsOfGrantee(keyId: string, granteePrincipal: string): Promise<Grant[]> {
    return (this.stmt.ofGrantee.all(keyId, granteePrincipal) as GrantRow[]).map(toGrant);
  }

  async listGrants(keyId: string, filter: { grantId?: string; granteePrincipal?: string }, after: string | undefined, limit: number): Promise<Page<Grant>> {
    const rows = this.stmt.list.all({ keyId, after: after ?? '', grantId: filter.grantId ?? null, grantee: filter.granteePrincipal ?? null, limit: limit + 1 }) as GrantRow[];
    return grantPage(rows, limit);
  }

  async listRetirableGrants(retiringPrincipal: string, after: string | undefined, limit: number): Promise<Page<Grant>> {
    return grantPage(this.stmt.retirable.all(retiringPrincipal, after ?? '', limit + 1) as GrantRow[], limit);
  }

  async deleteGrant(grantId: string): Promise<boolean> {
    return this.stmt.delete.run(grantId).changes === 1;
  }
}
