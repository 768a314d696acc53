import { NotFoundException } from './errors.js';

export const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Scope {
  readonly region: string;
  readonly accountId: string;
}

export const keyArn = (s: Scope, keyId: string) => `arn:aws:kms:${s.region}:${s.accountId}:key/${keyId}`;
export const aliasArn = (s: Scope, aliasName: string) => `arn:aws:kms:${s.region}:${s.accountId}:${aliasName}`;

/** What a caller's KeyId names, before it is looked up. */
export type KeyReference =
  | { readonly kind: 'keyId'; readonly keyId: string }
  | { readonly kind: 'alias'; readonly aliasName: string };

const ARN = /^arn:aws:kms:([^:]*):(\d{12}):(key\/.+|alias\/.+)$/;

/**
 * Parses a key id, key ARN, alias name or alias ARN as AWS accepts them.
 * An ARN for another region or account names nothing here: NotFoundException.
 */
export function parseKeyReference(input: string, scope: Scope, allowAlias: boolean): KeyReference {
  let body = input;
  const arn = ARN.exec(input);
  if (arn) {
    if (arn[1] !== scope.region || arn[2] !== scope.accountId) throw new NotFoundException(`Key '${input}' does not exist`);
    body = arn[3]!;
    if (body.startsWith('key/')) body = body.slice(4);
  } else if (input.startsWith('arn:')) {
    throw new NotFoundException(`Invalid arn ${input}`);
  }
  if (body.startsWith('alias/')) {
    if (!allowAlias) throw new NotFoundException(`Invalid keyId ${input}`);
    return { kind: 'alias', aliasName: body };
  }
  if (!KEY_ID_PATTERN.test(body)) throw new NotFoundException(`Invalid keyId ${input}`);
  return { kind: 'keyId', keyId: body };
}
