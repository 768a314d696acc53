import { InvalidCiphertextException } from './errors.js';
import { isMultiRegionKeyId, keyIdBytes } from './key.js';

/**
 * The versioned, self-describing ciphertext this service returns (docs/ciphertext-format.md).
 *
 *   offset  size  field
 *   0       1     format version (0x01: a single-Region key; 0x02: a multi-Region key)
 *   1       16    key id (the UUID's bytes; a multi-Region key's 32 hex digits after mrk-)
 *   17      4     key version (uint32, big-endian)
 *   21      12    AES-GCM IV
 *   33      n     ciphertext
 *   33+n    16    AES-GCM tag
 *
 * Bytes 0..33 are the header; it is authenticated as part of the AAD.
 */
export const BLOB_FORMAT_V1 = 0x01;
/** The same layout, naming a multi-Region key: any of its regions opens it. */
export const BLOB_FORMAT_V2_MULTI_REGION = 0x02;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const HEADER_LENGTH = 1 + 16 + 4 + IV_LENGTH;

export interface BlobHeader {
  readonly keyId: string;
  readonly keyVersion: number;
  readonly iv: Buffer;
}

export interface ParsedBlob extends BlobHeader {
  readonly header: Buffer;
  /** Ciphertext followed by the tag, as the token's AES-GCM decrypt expects it. */
  readonly sealed: Buffer;
}

export function encodeHeader({ keyId, keyVersion, iv }: BlobHeader): Buffer {
  if (iv.length !== IV_LENGTH) throw new Error('IV must be 12 bytes');
  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  header[0] = isMultiRegionKeyId(keyId) ? BLOB_FORMAT_V2_MULTI_REGION : BLOB_FORMAT_V1;
  keyIdBytes(keyId).copy(header, 1);
  header.writeUInt32BE(keyVersion, 17);
  iv.copy(header, 21);
  return header;
}

export function parseBlob(blob: Buffer): ParsedBlob {
  if (blob.length < HEADER_LENGTH + TAG_LENGTH + 1 || (blob[0] !== BLOB_FORMAT_V1 && blob[0] !== BLOB_FORMAT_V2_MULTI_REGION)) {
    throw new InvalidCiphertextException('The ciphertext is invalid or was not produced by this service.');
  }
  const hex = blob.subarray(1, 17).toString('hex');
  const keyId = blob[0] === BLOB_FORMAT_V2_MULTI_REGION ? `mrk-${hex}` : `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return {
    keyId,
    keyVersion: blob.readUInt32BE(17),
    iv: blob.subarray(21, HEADER_LENGTH),
    header: blob.subarray(0, HEADER_LENGTH),
    sealed: blob.subarray(HEADER_LENGTH),
  };
}
