import { describe, expect, it } from 'vitest';
import { parseKeyReference } from '../../src/domain/arn.js';
import { NotFoundException } from '../../src/domain/errors.js';

const scope = { region: 'us-east-1', accountId: '111122223333' };
const id = '1234abcd-12ab-34cd-56ef-1234567890ab';

describe('parseKeyReference', () => {
  it('accepts the four forms AWS documents for KeyId', () => {
    expect(parseKeyReference(id, scope, true)).toEqual({ kind: 'keyId', keyId: id });
    expect(parseKeyReference(`arn:aws:kms:us-east-1:111122223333:key/${id}`, scope, true)).toEqual({ kind: 'keyId', keyId: id });
    expect(parseKeyReference('alias/ExampleAlias', scope, true)).toEqual({ kind: 'alias', aliasName: 'alias/ExampleAlias' });
    expect(parseKeyReference('arn:aws:kms:us-east-1:111122223333:alias/ExampleAlias', scope, true)).toEqual({ kind: 'alias', aliasName: 'alias/ExampleAlias' });
  });

  it('refuses aliases where only key ids and ARNs are allowed', () => {
    expect(() => parseKeyReference('alias/x', scope, false)).toThrow(NotFoundException);
    expect(() => parseKeyReference('arn:aws:kms:us-east-1:111122223333:alias/x', scope, false)).toThrow(NotFoundException);
  });

  it('finds nothing in another region or account, or in a malformed id', () => {
    expect(() => parseKeyReference(`arn:aws:kms:eu-west-1:111122223333:key/${id}`, scope, true)).toThrow(NotFoundException);
    expect(() => parseKeyReference(`arn:aws:kms:us-east-1:444455556666:key/${id}`, scope, true)).toThrow(NotFoundException);
    expect(() => parseKeyReference('arn:aws:s3:::bucket', scope, true)).toThrow(NotFoundException);
    expect(() => parseKeyReference(id.toUpperCase(), scope, true)).toThrow(NotFoundException);
    expect(() => parseKeyReference('1234', scope, true)).toThrow(NotFoundException);
  });
});
