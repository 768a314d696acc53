import type { EncryptionContext } from '../encryption-context.js';
import type { KmsKey, Tag } from '../key.js';
import { ENCRYPTION_CONTEXT_PREFIX, type ConditionValues } from './conditions.js';

/** Everything a request may tell its policies' conditions. */
export interface RequestConditionFacts {
  readonly principalArn: string;
  readonly principalAccount: string;
  readonly now: Date;
  readonly sourceIp: string | undefined;
  readonly secureTransport: boolean;
  readonly key?: Pick<KmsKey, 'keySpec' | 'keyUsage' | 'origin'>;
  /** The alias name the request used for the key (kms:RequestAlias), never an ARN. */
  readonly requestAlias?: string;
  readonly encryptionContext?: EncryptionContext;
  readonly encryptionAlgorithm?: string;
  /** Read only when a policy asks for them. */
  readonly resourceTags?: readonly Tag[];
  readonly resourceAliases?: readonly string[];
  /** Operation-specific keys (kms:GrantOperations, aws:RequestTag/..., ...), already normalised. */
  readonly extra?: ConditionValues;
}

/**
 * The request context of AWS KMS's condition keys (AWS KMS condition keys; IAM
 * global condition context keys). Keys that do not apply are absent, never empty.
 */
export function requestConditions(f: RequestConditionFacts): ConditionValues {
  const values = new Map<string, string[]>([
    ['aws:principalarn', [f.principalArn]],
    ['aws:principalaccount', [f.principalAccount]],
    ['kms:calleraccount', [f.principalAccount]],
    ['aws:currenttime', [f.now.toISOString()]],
    ['aws:epochtime', [String(Math.floor(f.now.getTime() / 1000))]],
    ['aws:securetransport', [String(f.secureTransport)]],
  ]);
  if (f.sourceIp !== undefined) values.set('aws:sourceip', [f.sourceIp]);
  if (f.key) {
    values.set('kms:keyspec', [f.key.keySpec]);
    values.set('kms:keyusage', [f.key.keyUsage]);
    values.set('kms:keyorigin', [f.key.origin]);
  }
  if (f.requestAlias !== undefined) values.set('kms:requestalias', [f.requestAlias]);
  if (f.encryptionAlgorithm !== undefined) values.set('kms:encryptionalgorithm', [f.encryptionAlgorithm]);
  const context = Object.entries(f.encryptionContext ?? {});
  if (context.length > 0) {
    values.set('kms:encryptioncontextkeys', context.map(([k]) => k));
    for (const [k, v] of context) {
      const name = ENCRYPTION_CONTEXT_PREFIX + k.toLowerCase();
      values.set(name, [...(values.get(name) ?? []), v]);
    }
  }
  for (const t of f.resourceTags ?? []) values.set(`aws:resourcetag/${t.TagKey.toLowerCase()}`, [t.TagValue]);
  if (f.resourceAliases && f.resourceAliases.length > 0) values.set('kms:resourcealiases', [...f.resourceAliases]);
  for (const [k, v] of f.extra ?? []) values.set(k, [...v]);
  return values;
}

/** The alias name a KeyId parameter used (alias name or alias ARN), for kms:RequestAlias. */
export function requestAliasOf(keyRef: string | undefined): string | undefined {
  if (keyRef === undefined) return undefined;
  if (keyRef.startsWith('alias/')) return keyRef;
  const m = /^arn:aws:kms:[^:]*:\d{12}:(alias\/.+)$/.exec(keyRef);
  return m?.[1];
}

/** aws:RequestTag/<key> and aws:TagKeys for requests that carry tags (CreateKey, TagResource). */
export function requestTagConditions(tags: readonly Tag[]): ConditionValues {
  const values = new Map<string, string[]>();
  if (tags.length === 0) return values;
  values.set('aws:tagkeys', tags.map((t) => t.TagKey));
  for (const t of tags) values.set(`aws:requesttag/${t.TagKey.toLowerCase()}`, [t.TagValue]);
  return values;
}
