import type { EncryptionContext } from '../encryption-context.js';
import type { KmsKey, Tag } from '../key.js';
import { parsePrincipalArn } from '../principal-arn.js';
import { ENCRYPTION_CONTEXT_PREFIX, REQUEST_TAG_PREFIX, RESOURCE_TAG_PREFIX, type ConditionValues } from './conditions.js';

/** Everything a request may tell its policies' conditions. */
export interface RequestConditionFacts {
  readonly principalArn: string;
  readonly principalAccount: string;
  /** The caller's unique id (aws:userid): AIDA... for a user, AROA... for a role, the account id for a root. */
  readonly principalUniqueId?: string;
  /** The Region the request is made in (aws:RequestedRegion). */
  readonly region: string;
  readonly now: Date;
  readonly sourceIp: string | undefined;
  readonly secureTransport: boolean;
  readonly key?: Pick<KmsKey, 'keySpec' | 'keyUsage' | 'origin' | 'region' | 'primaryRegion'>;
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
 * Values are worked out only for the keys a policy asks about.
 */
export function requestConditions(f: RequestConditionFacts): ConditionValues {
  return new RequestConditionValues(f);
}

class RequestConditionValues implements ConditionValues {
  private context: Map<string, string[]> | undefined;

  constructor(private readonly f: RequestConditionFacts) {}

  get(key: string): readonly string[] | undefined {
    const f = this.f;
    const extra = f.extra?.get(key);
    if (extra !== undefined) return extra;
    switch (key) {
      case 'aws:principalarn':
        return [f.principalArn];
      case 'aws:principalaccount':
      case 'kms:calleraccount':
        return [f.principalAccount];
      case 'aws:principaltype': {
        // Roles here are used with their own access keys; in AWS a role calls as an assumed-role session.
        const kind = parsePrincipalArn(f.principalArn)?.kind;
        return one(kind === 'root' ? 'Account' : kind === 'user' ? 'User' : kind === 'role' ? 'AssumedRole' : undefined);
      }
      case 'aws:userid':
        return one(f.principalUniqueId);
      case 'aws:requestedregion':
        return [f.region];
      case 'aws:username':
        // IAM users only (not roots, not roles), as in IAM: the last segment of the user's ARN.
        return one(/^arn:aws:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(f.principalArn)?.[1]);
      case 'kms:customermasterkeyspec':
        return this.get('kms:keyspec');
      case 'kms:customermasterkeyusage':
        return this.get('kms:keyusage');
      case 'aws:currenttime':
        return [f.now.toISOString()];
      case 'aws:epochtime':
        return [String(Math.floor(f.now.getTime() / 1000))];
      case 'aws:securetransport':
        return [String(f.secureTransport)];
      case 'aws:sourceip':
        return one(f.sourceIp);
      case 'kms:keyspec':
        return one(f.key?.keySpec);
      case 'kms:keyusage':
        return one(f.key?.keyUsage);
      case 'kms:keyorigin':
        return one(f.key?.origin);
      case 'kms:multiregion':
        return one(f.key && String(f.key.primaryRegion !== undefined));
      case 'kms:multiregionkeytype':
        return one(f.key?.primaryRegion && (f.key.primaryRegion === f.key.region ? 'PRIMARY' : 'REPLICA'));
      case 'kms:requestalias':
        return one(f.requestAlias);
      case 'kms:encryptionalgorithm':
        return one(f.encryptionAlgorithm);
      case 'kms:encryptioncontextkeys': {
        const keys = Object.keys(f.encryptionContext ?? {});
        return keys.length > 0 ? keys : undefined;
      }
      case 'kms:resourcealiases':
        return f.resourceAliases && f.resourceAliases.length > 0 ? f.resourceAliases : undefined;
    }
    if (key.startsWith(ENCRYPTION_CONTEXT_PREFIX)) return this.contextValues().get(key);
    if (key.startsWith(RESOURCE_TAG_PREFIX)) {
      const tag = f.resourceTags?.find((t) => t.TagKey.toLowerCase() === key.slice(RESOURCE_TAG_PREFIX.length));
      return one(tag?.TagValue);
    }
    return undefined;
  }

  /** kms:EncryptionContext:<key> by lower-cased key: context keys that differ only in case share one name. */
  private contextValues(): Map<string, string[]> {
    if (!this.context) {
      this.context = new Map();
      for (const [k, v] of Object.entries(this.f.encryptionContext ?? {})) {
        const name = ENCRYPTION_CONTEXT_PREFIX + k.toLowerCase();
        this.context.set(name, [...(this.context.get(name) ?? []), v]);
      }
    }
    return this.context;
  }
}

const one = (value: string | undefined) => (value === undefined ? undefined : [value]);

/** The alias name a KeyId parameter used (alias name or alias ARN), for kms:RequestAlias. */
export function requestAliasOf(keyRef: string | undefined): string | undefined {
  if (keyRef === undefined) return undefined;
  if (keyRef.startsWith('alias/')) return keyRef;
  const m = /^arn:aws:kms:[^:]*:\d{12}:(alias\/.+)$/.exec(keyRef);
  return m?.[1];
}

/** What a new key will be, as kms:CreateKey's condition keys tell policies (CreateKey, and ReplicateKey for its replica). */
export interface NewKeyFacts {
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly origin: string;
  readonly multiRegionKeyType: 'PRIMARY' | 'REPLICA' | undefined;
  readonly bypassPolicyLockoutSafetyCheck: boolean;
  readonly tags: readonly Tag[];
}

export function createKeyConditions(k: NewKeyFacts): Map<string, string[]> {
  return new Map([
    ['kms:keyspec', [k.keySpec]],
    ['kms:keyusage', [k.keyUsage]],
    ['kms:keyorigin', [k.origin]],
    ['kms:bypasspolicylockoutsafetycheck', [String(k.bypassPolicyLockoutSafetyCheck)]],
    ['kms:multiregion', [String(k.multiRegionKeyType !== undefined)]],
    ...(k.multiRegionKeyType ? [['kms:multiregionkeytype', [k.multiRegionKeyType]] as [string, string[]]] : []),
    ...requestTagConditions(k.tags),
  ]);
}

/** aws:RequestTag/<key> and aws:TagKeys for requests that carry tags (CreateKey, TagResource). */
export function requestTagConditions(tags: readonly Tag[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  if (tags.length === 0) return values;
  values.set('aws:tagkeys', tags.map((t) => t.TagKey));
  for (const t of tags) values.set(`${REQUEST_TAG_PREFIX}${t.TagKey.toLowerCase()}`, [t.TagValue]);
  return values;
}
