import { derElement } from './der.js';

/**
 * ECDSA signatures: PKCS#11 speaks raw r||s (each coordinate-sized), AWS KMS
 * speaks DER (SEQUENCE { INTEGER r, INTEGER s }). Both directions, strictly.
 */

function derInteger(value: Buffer): Buffer {
  let v = value;
  while (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) v = v.subarray(1);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return derElement(0x02, v);
}

export function rawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return derElement(0x30, body);
}

/** Undefined for anything that is not a well-formed DER ECDSA signature of this size. */
export function derToRaw(der: Buffer, coordinateBytes: number): Buffer | undefined {
  let at = 0;
  const readLength = (): number | undefined => {
    const first = der[at++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) return undefined;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const b = der[at++];
      if (b === undefined) return undefined;
      n = (n << 8) | b;
    }
    return n;
  };
  if (der[at++] !== 0x30) return undefined;
  const total = readLength();
  if (total === undefined || at + total !== der.length) return undefined;
  const parts: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[at++] !== 0x02) return undefined;
    const len = readLength();
    if (len === undefined || len === 0 || at + len > der.length) return undefined;
    let v = der.subarray(at, at + len);
    at += len;
    if (v[0]! & 0x80) return undefined; // negative
    while (v.length > 1 && v[0] === 0) v = v.subarray(1);
    if (v.length > coordinateBytes) return undefined;
    parts.push(Buffer.concat([Buffer.alloc(coordinateBytes - v.length), v]));
  }
  if (at !== der.length) return undefined;
  return Buffer.concat(parts);
}
