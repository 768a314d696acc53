import { describe, expect, it } from 'vitest';
import { encodeEncryptionContext } from '../../src/domain/encryption-context.js';

describe('encryption context encoding', () => {
  it('does not depend on pair order', () => {
    expect(encodeEncryptionContext({ a: '1', b: '2', c: '3' }).equals(encodeEncryptionContext({ c: '3', a: '1', b: '2' }))).toBe(true);
  });

  it('encodes an empty and an absent context alike, and differently from any pair', () => {
    expect(encodeEncryptionContext(undefined).equals(encodeEncryptionContext({}))).toBe(true);
    expect(encodeEncryptionContext({}).toString('hex')).toBe('0000');
    expect(encodeEncryptionContext({ '': '' }).equals(encodeEncryptionContext({}))).toBe(false);
  });

  it('is length-prefixed, so shifting characters between key and value changes it', () => {
    expect(encodeEncryptionContext({ ab: 'c' }).equals(encodeEncryptionContext({ a: 'bc' }))).toBe(false);
    expect(encodeEncryptionContext({ a: 'b', c: 'd' }).equals(encodeEncryptionContext({ a: 'bc', '': 'd' }))).toBe(false);
  });

  it('is case-sensitive and byte-exact for non-ASCII strings', () => {
    expect(encodeEncryptionContext({ Key: 'v' }).equals(encodeEncryptionContext({ key: 'v' }))).toBe(false);
    expect(encodeEncryptionContext({ 'ключ': 'значение' }).toString('hex')).toBe(
      '0001' + '0008' + Buffer.from('ключ').toString('hex') + '0010' + Buffer.from('значение').toString('hex'),
    );
  });

  it('sorts by UTF-8 bytes', () => {
    const encoded = encodeEncryptionContext({ b: '2', a: '1', B: '0' });
    expect(encoded.toString('hex')).toBe('0003' + '0001' + '42' + '0001' + '30' + '0001' + '61' + '0001' + '31' + '0001' + '62' + '0001' + '32');
  });
});
