/** AWS KMS's encryption context: string pairs bound to a ciphertext as additional authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * A canonical byte encoding, so that pair order never matters and no two
 * different contexts encode alike: count, then each pair sorted by key bytes,
 * every string length-prefixed.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const pairs = Object.entries(context ?? {}).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 2;
  for (const [k, v] of pairs) size += 4 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt16BE(pairs.length, 0);
  for (const [k, v] of pairs) {
    at = out.writeUInt16BE(k.length, at);
    at += k.copy(out, at);
    at = out.writeUInt16BE(v.length, at);
    at += v.copy(out, at);
  }
  return out;
}
