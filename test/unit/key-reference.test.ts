import { describe, expect, it } from 'vitest';
import { parseKeyReference } from '../../src/domain/arn.js';
import { NotFoundException } from '../../src/domain/errors.js';
import { awsKeyId, keyIdBytes, keyMaterialId, materialRef, storeKeyId } from '../../src/domain/key.js';

const scope = { region: 'us-east-1', accountId: '111122223333' };
const id = '1234abcd-12ab-34cd-56ef-1234567890ab';
const both = { allowAlias: true, crossAccount: false };
const keysOnly = { allowAlias: false, crossAccount: false };

describe('parseKeyReference', () => {
  it('accepts the four forms AWS documents for KeyId', () => {
    expect(parseKeyReference(id, scope, both)).toEqual({ kind: 'keyId', keyId: id, accountId: '111122223333' });
    expect(parseKeyReference(`arn:aws:kms:us-east-1:111122223333:key/${id}`, scope, both)).toEqual({ kind: 'keyId', keyId: id, accountId: '111122223333' });
    expect(parseKeyReference('alias/ExampleAlias', scope, both)).toEqual({ kind: 'alias', aliasName: 'alias/ExampleAlias', accountId: '111122223333' });
    expect(parseKeyReference('arn:aws:kms:us-east-1:111122223333:alias/ExampleAlias', scope, both)).toEqual({ kind: 'alias', aliasName: 'alias/ExampleAlias', accountId: '111122223333' });
  });

  it('refuses aliases where only key ids and ARNs are allowed', () => {
    expect(() => parseKeyReference('alias/x', scope, keysOnly)).toThrow(NotFoundException);
    expect(() => parseKeyReference('arn:aws:kms:us-east-1:111122223333:alias/x', scope, keysOnly)).toThrow(NotFoundException);
  });

  it('finds nothing in another region or account, or in a malformed id', () => {
    expect(() => parseKeyReference(`arn:aws:kms:eu-west-1:111122223333:key/${id}`, scope, both)).toThrow(NotFoundException);
    expect(() => parseKeyReference(`arn:aws:kms:us-east-1:444455556666:key/${id}`, scope, both)).toThrow(NotFoundException);
    expect(() => parseKeyReference('arn:aws:s3:::bucket', scope, both)).toThrow(NotFoundException);
    expect(() => parseKeyReference(id.toUpperCase(), scope, both)).toThrow(NotFoundException);
    expect(() => parseKeyReference('1234', scope, both)).toThrow(NotFoundException);
  });

  it('names another account\'s key or alias by ARN where the operation is cross-account', () => {
    const crossAccount = { allowAlias: true, crossAccount: true };
    expect(parseKeyReference(`arn:aws:kms:us-east-1:444455556666:key/${id}`, scope, crossAccount)).toEqual({ kind: 'keyId', keyId: id, accountId: '444455556666' });
    expect(parseKeyReference('arn:aws:kms:us-east-1:444455556666:alias/shared', scope, crossAccount)).toEqual({ kind: 'alias', aliasName: 'alias/shared', accountId: '444455556666' });
    expect(() => parseKeyReference(`arn:aws:kms:eu-west-1:444455556666:key/${id}`, scope, crossAccount)).toThrow(NotFoundException);
  });
});

describe('multi-Region key ids', () => {
  const mrk = 'mrk-1234abcd12ab34cd56ef1234567890ab';

  it('are KeyIds, by id and by ARN; an id in the store\'s own form is not', () => {
    expect(parseKeyReference(mrk, scope, both)).toEqual({ kind: 'keyId', keyId: mrk, accountId: '111122223333' });
    expect(parseKeyReference(`arn:aws:kms:us-east-1:111122223333:key/${mrk}`, scope, both)).toEqual({ kind: 'keyId', keyId: mrk, accountId: '111122223333' });
    for (const bad of [`${mrk}@us-east-1`, 'mrk-1234', `${mrk}0`, mrk.toUpperCase(), `mrk-${id}`]) expect(() => parseKeyReference(bad, scope, both), bad).toThrow(NotFoundException);
  });

  it('are kept once per region, and name one key material in every region', () => {
    expect(storeKeyId(mrk, 'eu-west-1')).toBe(`${mrk}@eu-west-1`);
    expect(storeKeyId(id, 'eu-west-1')).toBe(id);
    expect(awsKeyId(`${mrk}@eu-west-1`)).toBe(mrk);
    expect(awsKeyId(id)).toBe(id);
    expect(materialRef({ keyId: `${mrk}@eu-west-1` }, 3)).toEqual({ keyId: mrk, version: 3 });
    expect(keyIdBytes(`${mrk}@eu-west-1`).toString('hex')).toBe('1234abcd12ab34cd56ef1234567890ab');
    expect(keyIdBytes(id).toString('hex')).toBe('1234abcd12ab34cd56ef1234567890ab');
    expect(keyMaterialId({ keyId: `${mrk}@ap-south-1`, version: 2 })).toBe(keyMaterialId({ keyId: mrk, version: 2 }));
    expect(keyMaterialId({ keyId: mrk, version: 2 })).toBe(`1234abcd12ab34cd56ef1234567890ab${'2'.padStart(32, '0')}`);
    expect(() => keyIdBytes('not-a-key')).toThrow();
  });
});
