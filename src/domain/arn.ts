import { NotFoundException } from './errors.js';
import { awsKeyId, MULTI_REGION_KEY_ID, SINGLE_REGION_KEY_ID } from './key.js';

/** A KeyId: a single-Region key's UUID, or a multi-Region key's mrk- id. */
export const isKeyId = (body: string): boolean => SINGLE_REGION_KEY_ID.test(body) || MULTI_REGION_KEY_ID.test(body);

export interface Scope {
  readonly region: string;
  readonly accountId: string;
}

/** A key's ARN, from its KeyId or its store id. */
export const keyArn = (s: Scope, keyId: string) => `arn:aws:kms:${s.region}:${s.accountId}:key/${awsKeyId(keyId)}`;
export const aliasArn = (s: Scope, aliasName: string) => `arn:aws:kms:${s.region}:${s.accountId}:${aliasName}`;

/** What a caller's KeyId names, before it is looked up, and in which account. */
export type KeyReference =
  | { readonly kind: 'keyId'; readonly keyId: string; readonly accountId: string }
  | { readonly kind: 'alias'; readonly aliasName: string; readonly accountId: string };

export interface ReferenceRules {
  readonly allowAlias: boolean;
  /** Whether a key ARN or alias ARN of another account may be named (AWS: "Cross-account use: Yes"). */
  readonly crossAccount: boolean;
}

const ARN = /^arn:aws:kms:([^:]*):(\d{12}):(key\/.+|alias\/.+)$/;

/**
 * Parses a key id, key ARN, alias name or alias ARN as AWS accepts them. An ARN
 * for another region, or for another account where the operation is not
 * cross-account, names nothing here: NotFoundException.
 */
export function parseKeyReference(input: string, scope: Scope, rules: ReferenceRules): KeyReference {
  let body = input;
  let accountId = scope.accountId;
  const { allowAlias } = rules;
  const arn = ARN.exec(input);
  if (arn) {
    if (arn[1] !== scope.region || (arn[2] !== scope.accountId && !rules.crossAccount)) throw new NotFoundException(`Key '${input}' does not exist`);
    accountId = arn[2]!;
    body = arn[3]!;
    if (body.startsWith('key/')) body = body.slice(4);
  } else if (input.startsWith('arn:')) {
    throw new NotFoundException(`Invalid arn ${input}`);
  }
  if (body.startsWith('alias/')) {
    if (!allowAlias) throw new NotFoundException(`Invalid keyId ${input}`);
    return { kind: 'alias', aliasName: body, accountId };
  }
  if (!isKeyId(body)) throw new NotFoundException(`Invalid keyId ${input}`);
  return { kind: 'keyId', keyId: body, accountId };
}
