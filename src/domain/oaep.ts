import { createHash } from 'node:crypto';

export type OaepHash = 'sha1' | 'sha256';

function mgf1(hash: OaepHash, seed: Buffer, length: number): Buffer {
  const hLen = createHash(hash).digest().length;
  const out = Buffer.alloc(Math.ceil(length / hLen) * hLen);
  const counter = Buffer.alloc(4);
  for (let i = 0; i * hLen < length; i++) {
    counter.writeUInt32BE(i);
    createHash(hash).update(seed).update(counter).digest().copy(out, i * hLen);
  }
  return out.subarray(0, length);
}

/**
 * EME-OAEP decoding (RFC 8017 section 7.1.2, empty label) of the k-byte block that
 * a raw RSA decryption (CKM_RSA_X_509) gives, for tokens that cannot do OAEP with
 * this hash themselves. Written to take the same steps whatever the block holds:
 * every check is folded into one flag and the message's start is found by a full
 * scan without early exit, so failures cannot be told apart by time or message.
 */
export function oaepDecode(em: Buffer, hash: OaepHash): Buffer | undefined {
  const hLen = createHash(hash).digest().length;
  const k = em.length;
  if (k < 2 * hLen + 2) return undefined; // depends on the key size only, not on secrets
  const lHash = createHash(hash).digest();
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = Buffer.alloc(hLen);
  const seedMask = mgf1(hash, maskedDb, hLen);
  for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1(hash, seed, k - hLen - 1);
  const db = Buffer.alloc(k - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i] = maskedDb[i]! ^ dbMask[i]!;

  let bad = em[0]!; // Y must be 0
  for (let i = 0; i < hLen; i++) bad |= db[i]! ^ lHash[i]!;
  // Find the 0x01 separator after the zero padding, touching every byte.
  let found = 0; // becomes 1 at the separator
  let index = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const isOne = ((b ^ 1) - 1) >>> 31; // 1 when b === 1
    const isZero = (b - 1) >>> 31; // 1 when b === 0
    const first = isOne & (found ^ 1);
    index |= -first & i; // record i at the first separator
    // Before the separator only zeros are allowed.
    bad |= (found ^ 1) & (isZero ^ 1) & (isOne ^ 1);
    found |= isOne;
  }
  bad |= found ^ 1;
  const start = index + 1;
  // One allocation whatever happened; the result is chosen only at the end.
  const message = Buffer.from(db.subarray(Math.min(start, db.length)));
  return bad === 0 ? message : undefined;
}
