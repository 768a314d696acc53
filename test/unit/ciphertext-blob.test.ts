import { describe, expect, it } from 'vitest';
import { BLOB_FORMAT_V1, encodeHeader, HEADER_LENGTH, parseBlob, TAG_LENGTH } from '../../src/domain/ciphertext-blob.js';
import { InvalidCiphertextException } from '../../src/domain/errors.js';

const keyId = '0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3';
const iv = Buffer.from('000000070000000000000005', 'hex');

describe('ciphertext blob v1', () => {
  it('lays out version, key id, key version and IV as documented', () => {
    const header = encodeHeader({ keyId, keyVersion: 258, iv });
    expect(header.length).toBe(HEADER_LENGTH);
    expect(HEADER_LENGTH).toBe(33);
    expect(header[0]).toBe(BLOB_FORMAT_V1);
    expect(header.subarray(1, 17).toString('hex')).toBe('0a1b2c3d4e5f4a6b8c7d8e9fa0b1c2d3');
    expect(header.subarray(17, 21).toString('hex')).toBe('00000102');
    expect(header.subarray(21).equals(iv)).toBe(true);
  });

  it('parses what it encodes', () => {
    const sealed = Buffer.alloc(5 + TAG_LENGTH, 0xab);
    const blob = Buffer.concat([encodeHeader({ keyId, keyVersion: 3, iv }), sealed]);
    const parsed = parseBlob(blob);
    expect(parsed.keyId).toBe(keyId);
    expect(parsed.keyVersion).toBe(3);
    expect(parsed.iv.equals(iv)).toBe(true);
    expect(parsed.header.equals(blob.subarray(0, HEADER_LENGTH))).toBe(true);
    expect(parsed.sealed.equals(sealed)).toBe(true);
  });

  it('refuses blobs that are too short to hold a byte of ciphertext and a tag', () => {
    const header = encodeHeader({ keyId, keyVersion: 1, iv });
    expect(() => parseBlob(Buffer.concat([header, Buffer.alloc(TAG_LENGTH)]))).toThrow(InvalidCiphertextException);
    expect(() => parseBlob(Buffer.alloc(0))).toThrow(InvalidCiphertextException);
    expect(() => parseBlob(Buffer.concat([header, Buffer.alloc(TAG_LENGTH + 1)]))).not.toThrow();
  });

  it('names a multi-Region key with format 0x02: its 32 hex digits, read back with mrk-', () => {
    const mrk = 'mrk-0123456789abcdef0123456789abcdef';
    const header = encodeHeader({ keyId: `${mrk}@eu-west-1`, keyVersion: 3, iv });
    expect(header[0]).toBe(0x02);
    expect(header.subarray(1, 17).toString('hex')).toBe('0123456789abcdef0123456789abcdef');
    const parsed = parseBlob(Buffer.concat([header, Buffer.alloc(32)]));
    expect(parsed.keyId).toBe(mrk);
    expect(parsed.keyVersion).toBe(3);
    // The same bytes under format 0x01 name a UUID, another key: the header is in the AAD, so it cannot be swapped.
    const asUuid = Buffer.concat([header, Buffer.alloc(32)]);
    asUuid[0] = 0x01;
    expect(parseBlob(asUuid).keyId).toBe('01234567-89ab-cdef-0123-456789abcdef');
  });

  it('refuses unknown format versions', () => {
    const blob = Buffer.concat([encodeHeader({ keyId, keyVersion: 1, iv }), Buffer.alloc(32)]);
    for (const version of [0x00, 0x03, 0xff]) {
      const copy = Buffer.from(blob);
      copy[0] = version;
      expect(() => parseBlob(copy)).toThrow(InvalidCiphertextException);
    }
  });

  it('refuses IVs that are not 96 bits', () => {
    expect(() => encodeHeader({ keyId, keyVersion: 1, iv: Buffer.alloc(16) })).toThrow();
  });
});
