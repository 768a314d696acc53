import { keyMaterialId, type KmsKey } from '../domain/key.js';

/** How an allowed call was authorized, for the audit trail. */
export type AuthorizationBasis = 'key-policy' | 'identity-policy' | 'grant';

export interface RecordedResource {
  readonly arn: string;
  readonly accountId: string;
  /** The key id when the resource is a key (an alias ARN has none). */
  readonly keyId: string | undefined;
}

/**
 * What the domain learns about one call while it runs and the audit event needs:
 * the keys it touched, the key material it used, and how it was authorized. It
 * travels in the call context; the authorizer and the use cases write to it, the
 * protocol edge reads it once the call is answered. It never holds request data.
 */
export class CallRecord {
  private readonly byArn = new Map<string, RecordedResource>();
  /** Key material in the order it was used (ReEncrypt: source, then destination). */
  readonly keyMaterialIds: string[] = [];
  authorizedBy: AuthorizationBasis | undefined;
  /** The grant that allowed the call, when the policies alone did not. */
  grantId: string | undefined;

  addKey(key: Pick<KmsKey, 'arn' | 'accountId' | 'keyId'>): void {
    if (!this.byArn.has(key.arn)) this.byArn.set(key.arn, { arn: key.arn, accountId: key.accountId, keyId: key.keyId });
  }

  /** A resource that is not a key (an alias ARN of an alias operation). */
  addResource(arn: string, accountId: string): void {
    if (!this.byArn.has(arn)) this.byArn.set(arn, { arn, accountId, keyId: undefined });
  }

  usedKeyMaterial(keyId: string, version: number): void {
    this.keyMaterialIds.push(keyMaterialId({ keyId, version }));
  }

  get resources(): readonly RecordedResource[] {
    return [...this.byArn.values()];
  }

  /** Key ids of the keys the call touched, in the order it touched them. */
  get keyIds(): string[] {
    return this.resources.flatMap((r) => (r.keyId === undefined ? [] : [r.keyId]));
  }
}
