import { describe, expect, it } from 'vitest';
import { normalizeConditionKey } from '../../src/domain/policy/conditions.js';
import { requestAliasOf, requestConditions, requestTagConditions } from '../../src/domain/policy/request-conditions.js';

const base = {
  principalArn: 'arn:aws:iam::111122223333:user/alice',
  principalAccount: '111122223333',
  region: 'eu-west-1',
  now: new Date('2026-11-23T10:00:00.000Z'),
  sourceIp: '10.1.2.3',
  secureTransport: false,
};
const get = (values: ReturnType<typeof requestConditions>, name: string) => values.get(normalizeConditionKey(name));

describe('requestConditions', () => {
  it('gives the global keys of every request', () => {
    const v = requestConditions(base);
    expect(get(v, 'aws:PrincipalArn')).toEqual([base.principalArn]);
    expect(get(v, 'kms:CallerAccount')).toEqual(['111122223333']);
    expect(get(v, 'aws:PrincipalAccount')).toEqual(['111122223333']);
    expect(get(v, 'aws:CurrentTime')).toEqual(['2026-11-23T10:00:00.000Z']);
    expect(get(v, 'aws:EpochTime')).toEqual(['1795428000']);
    expect(get(v, 'aws:SecureTransport')).toEqual(['false']);
    expect(get(v, 'aws:SourceIp')).toEqual(['10.1.2.3']);
    expect(get(v, 'aws:RequestedRegion')).toEqual(['eu-west-1']);
    expect(get(v, 'aws:username')).toEqual(['alice']);
  });

  it('gives aws:username for IAM users only, by the last segment of the ARN', () => {
    expect(get(requestConditions({ ...base, principalArn: 'arn:aws:iam::111122223333:user/team/bob' }), 'aws:username')).toEqual(['bob']);
    expect(get(requestConditions({ ...base, principalArn: 'arn:aws:iam::111122223333:root' }), 'aws:username')).toBeUndefined();
    expect(get(requestConditions({ ...base, principalArn: 'arn:aws:iam::111122223333:role/app' }), 'aws:username')).toBeUndefined();
  });

  it('leaves absent what does not apply (so Null and IfExists see it missing)', () => {
    const v = requestConditions({ ...base, sourceIp: undefined });
    for (const key of ['aws:SourceIp', 'kms:KeySpec', 'kms:RequestAlias', 'kms:EncryptionAlgorithm', 'kms:EncryptionContextKeys', 'kms:EncryptionContext:a', 'kms:ResourceAliases', 'aws:ResourceTag/team', 'kms:ViaService']) {
      expect(get(v, key), key).toBeUndefined();
    }
    expect(get(requestConditions({ ...base, encryptionContext: {}, resourceAliases: [] }), 'kms:EncryptionContextKeys')).toBeUndefined();
  });

  it('gives the key, encryption context, alias and resource keys', () => {
    const v = requestConditions({
      ...base,
      key: { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', origin: 'EXTERNAL', region: 'us-east-1' },
      requestAlias: 'alias/app',
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      encryptionContext: { Project: 'alpha', stage: 'prod' },
      resourceTags: [{ TagKey: 'Team', TagValue: 'Red' }],
      resourceAliases: ['alias/app', 'alias/other'],
    });
    expect(get(v, 'kms:KeySpec')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(get(v, 'kms:KeyUsage')).toEqual(['ENCRYPT_DECRYPT']);
    expect(get(v, 'kms:KeyOrigin')).toEqual(['EXTERNAL']);
    // The deprecated names of kms:KeySpec and kms:KeyUsage, still in AWS's documentation.
    expect(get(v, 'kms:CustomerMasterKeySpec')).toEqual(['SYMMETRIC_DEFAULT']);
    expect(get(v, 'kms:CustomerMasterKeyUsage')).toEqual(['ENCRYPT_DECRYPT']);
    expect(get(v, 'kms:RequestAlias')).toEqual(['alias/app']);
    expect(get(v, 'kms:EncryptionAlgorithm')).toEqual(['SYMMETRIC_DEFAULT']);
    // The context-key part of the condition key is not case-sensitive; the values keep their case.
    expect(get(v, 'kms:EncryptionContext:project')).toEqual(['alpha']);
    expect(get(v, 'KMS:ENCRYPTIONCONTEXT:PROJECT')).toEqual(['alpha']);
    expect(get(v, 'kms:EncryptionContextKeys')).toEqual(['Project', 'stage']);
    expect(get(v, 'aws:ResourceTag/team')).toEqual(['Red']);
    expect(get(v, 'kms:ResourceAliases')).toEqual(['alias/app', 'alias/other']);
  });

  it('joins context keys that differ only in case under one condition key', () => {
    const v = requestConditions({ ...base, encryptionContext: { a: '1', A: '2' } });
    expect(get(v, 'kms:EncryptionContext:a')).toEqual(['1', '2']);
  });

  it('lets operation-specific keys in, and over the defaults', () => {
    const extra = new Map([...requestTagConditions([{ TagKey: 'Env', TagValue: 'dev' }]), ['kms:keyspec', ['HMAC_256']]]);
    const v = requestConditions({ ...base, key: { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', origin: 'AWS_KMS', region: 'us-east-1' }, extra });
    expect(get(v, 'aws:RequestTag/env')).toEqual(['dev']);
    expect(get(v, 'aws:TagKeys')).toEqual(['Env']);
    expect(get(v, 'kms:KeySpec')).toEqual(['HMAC_256']);
  });
});

describe('requestAliasOf', () => {
  it('is the alias name for an alias name or alias ARN, and nothing for a key id or key ARN', () => {
    expect(requestAliasOf('alias/app')).toBe('alias/app');
    expect(requestAliasOf('arn:aws:kms:us-east-1:111122223333:alias/app')).toBe('alias/app');
    expect(requestAliasOf('1234abcd-12ab-34cd-56ef-1234567890ab')).toBeUndefined();
    expect(requestAliasOf('arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toBeUndefined();
    expect(requestAliasOf(undefined)).toBeUndefined();
  });
});
