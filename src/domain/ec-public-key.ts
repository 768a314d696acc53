import type { EccKeySpec } from './key-spec.js';

/**
 * Short-Weierstrass curve arithmetic on public values only (not constant-time:
 * nothing secret goes through it), for one job: finding the public point of an
 * imported ECC private key that the token holds and will not tell, from ECDSA
 * signatures the token made with it (public-key recovery, SEC 1 section 4.1.6).
 */
interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly n: bigint;
  readonly g: Point;
}
type Point = { readonly x: bigint; readonly y: bigint } | null;

const h = (s: string) => BigInt(`0x${s.replace(/\s+/g, '')}`);

const CURVES: Readonly<Record<EccKeySpec, Curve>> = {
  ECC_NIST_P256: {
    p: h('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff'),
    a: h('ffffffff00000001000000000000000000000000fffffffffffffffffffffffc'),
    b: h('5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b'),
    n: h('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
    g: { x: h('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'), y: h('4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5') },
  },
  ECC_NIST_P384: {
    p: h('fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff'),
    a: h('fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc'),
    b: h('b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef'),
    n: h('ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'),
    g: {
      x: h('aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7'),
      y: h('3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f'),
    },
  },
  ECC_NIST_P521: {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    b: h('0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00'),
    n: h('01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409'),
    g: {
      x: h('00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66'),
      y: h('011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650'),
    },
  },
  ECC_SECG_P256K1: {
    p: h('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f'),
    a: 0n,
    b: 7n,
    n: h('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'),
    g: { x: h('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798'), y: h('483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8') },
  },
};

const mod = (v: bigint, m: bigint) => ((v % m) + m) % m;

function pow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** Modular inverse (extended Euclid: far quicker than Fermat's exponentiation for these sizes). */
function inv(v: bigint, m: bigint): bigint {
  let [a, b, x0, x1] = [mod(v, m), m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b] = [b, a - q * b];
    [x0, x1] = [x1, x0 - q * x1];
  }
  return mod(x0, m);
}

/** Jacobian coordinates (X/Z², Y/Z³): additions without an inversion each, one inversion at the end. */
type Jacobian = { readonly X: bigint; readonly Y: bigint; readonly Z: bigint };
const INFINITY: Jacobian = { X: 0n, Y: 1n, Z: 0n };

function double(c: Curve, P: Jacobian): Jacobian {
  if (P.Z === 0n || P.Y === 0n) return INFINITY;
  const { p } = c;
  const YY = mod(P.Y * P.Y, p);
  const S = mod(4n * P.X * YY, p);
  const ZZ = mod(P.Z * P.Z, p);
  const M = mod(3n * P.X * P.X + c.a * ZZ * ZZ, p);
  const X = mod(M * M - 2n * S, p);
  return { X, Y: mod(M * (S - X) - 8n * YY * YY, p), Z: mod(2n * P.Y * P.Z, p) };
}

function addJacobian(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P.Z === 0n) return Q;
  if (Q.Z === 0n) return P;
  const { p } = c;
  const Z1Z1 = mod(P.Z * P.Z, p);
  const Z2Z2 = mod(Q.Z * Q.Z, p);
  const U1 = mod(P.X * Z2Z2, p);
  const U2 = mod(Q.X * Z1Z1, p);
  const S1 = mod(P.Y * Q.Z * Z2Z2, p);
  const S2 = mod(Q.Y * P.Z * Z1Z1, p);
  if (U1 === U2) return S1 === S2 ? double(c, P) : INFINITY;
  const H = mod(U2 - U1, p);
  const R = mod(S2 - S1, p);
  const HH = mod(H * H, p);
  const HHH = mod(H * HH, p);
  const V = mod(U1 * HH, p);
  const X = mod(R * R - HHH - 2n * V, p);
  return { X, Y: mod(R * (V - X) - S1 * HHH, p), Z: mod(P.Z * Q.Z * H, p) };
}

const toJacobian = (P: Point): Jacobian => (P ? { X: P.x, Y: P.y, Z: 1n } : INFINITY);

function toAffine(c: Curve, P: Jacobian): Point {
  if (P.Z === 0n) return null;
  const zInverse = inv(P.Z, c.p);
  const zz = mod(zInverse * zInverse, c.p);
  return { x: mod(P.X * zz, c.p), y: mod(P.Y * zz * zInverse, c.p) };
}

function multiply(c: Curve, k: bigint, P: Point): Jacobian {
  let result = INFINITY;
  let addend = toJacobian(P);
  for (let e = mod(k, c.n); e > 0n; e >>= 1n) {
    if (e & 1n) result = addJacobian(c, result, addend);
    addend = double(c, addend);
  }
  return result;
}

/** The curve's points with this x coordinate (every prime here is 3 mod 4, so a square root is one exponentiation). */
function pointsAt(c: Curve, x: bigint): Point[] {
  const rhs = mod(x * x * x + c.a * x + c.b, c.p);
  const y = pow(rhs, (c.p + 1n) / 4n, c.p);
  if ((y * y) % c.p !== rhs) return [];
  return [{ x, y }, { x, y: mod(-y, c.p) }];
}

/** The digest as ECDSA reads it: its leftmost bits, as many as the order has. */
function digestInteger(c: Curve, digest: Buffer): bigint {
  const bits = c.n.toString(2).length;
  const e = BigInt(`0x${digest.toString('hex') || '0'}`);
  const excess = digest.length * 8 - bits;
  return excess > 0 ? e >> BigInt(excess) : e;
}

/**
 * Every public point whose ECDSA signature (r, s) over this digest is valid: at
 * most four, one of which is the key's. A second signature tells them apart.
 */
export function recoverPublicPoints(spec: EccKeySpec, digest: Buffer, r: bigint, s: bigint): Array<{ x: bigint; y: bigint }> {
  const c = CURVES[spec];
  const e = digestInteger(c, digest);
  const rInverse = inv(r, c.n);
  const found: Array<{ x: bigint; y: bigint }> = [];
  for (const x of [r, r + c.n]) {
    if (x >= c.p) continue;
    for (const R of pointsAt(c, x)) {
      const sum = toAffine(c, addJacobian(c, multiply(c, s, R), multiply(c, mod(-e, c.n), c.g)));
      const Q = toAffine(c, multiply(c, rInverse, sum));
      if (Q) found.push(Q);
    }
  }
  return found;
}

/** The uncompressed encoding of a point, 04 || x || y, each coordinate as wide as the field. */
export function encodePoint(point: { x: bigint; y: bigint }, coordinateBytes: number): Buffer {
  const pad = (v: bigint) => Buffer.from(v.toString(16).padStart(coordinateBytes * 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([4]), pad(point.x), pad(point.y)]);
}
