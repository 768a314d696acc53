import { createHash } from 'node:crypto';

/**
 * The audit trail's file format: JSON lines, one record per line, in files
 * named by the sequence number of their first record. Every record carries its
 * sequence number and the SHA-256 of the line before it (a chain that runs
 * across files and restarts). Three kinds of record:
 *
 *   {"seq":N,"prev":H,"event":{...CloudTrail event...}}            (+ "late":true, see below)
 *   {"seq":N,"prev":H,"open":{trailId, at, reason, cutOff?}}      the service (re)opened the trail
 *   {"seq":N,"prev":H,"digest":{...},"signature":B64}             a signed digest of what came before
 *
 * A digest's signature is over the record's own line without its signature
 * member: `{"seq":N,"prev":H,"digest":{...}}`.
 */

export const GENESIS_HASH = '0'.repeat(64);
export const SIGNATURE_ALGORITHM = 'SHA256withECDSA';
const FILE_NAME = /^trail-(\d{12})(?:-(\d{1,6}))?\.jsonl$/;

/**
 * A trail file's name: the sequence number of its first record, and a generation
 * when a file of that name already exists (a crash cut off its first record, and
 * it is kept as it is).
 */
export function trailFileName(firstSeq: number, generation = 0): string {
  return `trail-${String(firstSeq).padStart(12, '0')}${generation > 0 ? `-${generation}` : ''}.jsonl`;
}

/** Where a trail file goes in the chain, by its name; undefined for any other file. */
function trailFileOrder(name: string): [number, number] | undefined {
  const m = FILE_NAME.exec(name);
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : undefined;
}

/** The trail's files among a folder's names, in chain order. */
export function sortTrailFiles(names: readonly string[]): string[] {
  const ordered = names.flatMap((name) => {
    const order = trailFileOrder(name);
    return order ? [{ name, order }] : [];
  });
  return ordered.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]).map((f) => f.name);
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hash the next record chains to: SHA-256 of the line's UTF-8 bytes, without its newline. */
export const recordHash = (line: string): string => sha256Hex(line);

/** A half-written record that a crash (or a failed write) left at the end of a file. */
export interface CutOff {
  readonly file: string;
  /** Where the half-written bytes start: the end of the file's last whole record. */
  readonly offset: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface OpenBody {
  readonly trailId: string;
  readonly at: string;
  /** start: the service started; resume: writing resumed in a new file after a write failure. */
  readonly reason: 'start' | 'resume';
  /** Whether the trail's last record before this one was a shutdown digest. */
  readonly previousClosed: boolean;
  readonly cutOff?: CutOff;
}

export interface DigestFile {
  readonly name: string;
  /** The file's length through the last record this digest covers. */
  readonly bytes: number;
  /** SHA-256 of the file's first `bytes` bytes. */
  readonly sha256: string;
}

export interface DigestBody {
  readonly trailId: string;
  readonly reason: 'interval' | 'rotation' | 'shutdown';
  /** The records since the previous digest; null and 0 when there were none. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly count: number;
  readonly lastRecordHash: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly files: readonly DigestFile[];
  readonly previousDigest: { readonly seq: number; readonly hash: string; readonly signature: string } | null;
  readonly publicKeyFingerprint: string;
  readonly signatureAlgorithm: string;
}

export type ParsedRecord =
  | { readonly kind: 'event'; readonly seq: number; readonly prev: string; readonly late: boolean; readonly event: Record<string, unknown> }
  | { readonly kind: 'open'; readonly seq: number; readonly prev: string; readonly open: OpenBody }
  | { readonly kind: 'digest'; readonly seq: number; readonly prev: string; readonly digest: DigestBody; readonly signature: string; readonly unsigned: string };

/** The event JSON is serialised once by the caller; the chain members are put in front of it. */
export function eventLine(seq: number, prev: string, eventJson: string, late: boolean): string {
  return `{"seq":${seq},"prev":"${prev}",${late ? '"late":true,' : ''}"event":${eventJson}}`;
}

export function openLine(seq: number, prev: string, open: OpenBody): string {
  return JSON.stringify({ seq, prev, open });
}

export function unsignedDigestLine(seq: number, prev: string, digest: DigestBody): string {
  return JSON.stringify({ seq, prev, digest });
}

export function signedDigestLine(unsigned: string, signature: Buffer): string {
  return `${unsigned.slice(0, -1)},"signature":"${signature.toString('base64')}"}`;
}

const SIGNATURE_MEMBER = ',"signature":"';

/** Parses one line; undefined when it is not a well-formed record. */
export function parseRecord(line: string): ParsedRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || typeof r.prev !== 'string') return undefined;
  const seq = r.seq as number;
  const prev = r.prev;
  if (isObject(r.event)) return { kind: 'event', seq, prev, late: r.late === true, event: r.event };
  if (isObject(r.open) && isOpenBody(r.open)) return { kind: 'open', seq, prev, open: r.open };
  if (isObject(r.digest) && isDigestBody(r.digest) && typeof r.signature === 'string') {
    const at = line.lastIndexOf(SIGNATURE_MEMBER);
    if (at < 0) return undefined;
    return { kind: 'digest', seq, prev, digest: r.digest, signature: r.signature, unsigned: `${line.slice(0, at)}}` };
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

// The verifier reads files an attacker may have written: every member it uses is checked for its type.
function isOpenBody(v: Record<string, unknown>): v is Record<string, unknown> & OpenBody {
  const c = v.cutOff as Record<string, unknown> | undefined;
  return isString(v.trailId) && isString(v.at) && (c === undefined || (isObject(c) && isString(c.file) && isCount(c.offset) && isCount(c.bytes) && isString(c.sha256)));
}

function isDigestBody(v: Record<string, unknown>): v is Record<string, unknown> & DigestBody {
  const p = v.previousDigest as Record<string, unknown> | null;
  return (
    isString(v.trailId) && isString(v.reason) && (v.firstSeq === null || isCount(v.firstSeq)) && (v.lastSeq === null || isCount(v.lastSeq)) && isCount(v.count) &&
    isString(v.lastRecordHash) && isString(v.startTime) && isString(v.endTime) && isString(v.publicKeyFingerprint) && isString(v.signatureAlgorithm) &&
    Array.isArray(v.files) && v.files.every((f: unknown) => isObject(f) && isString(f.name) && isCount(f.bytes) && isString(f.sha256)) &&
    (p === null || (isObject(p) && isCount(p.seq) && isString(p.hash) && isString(p.signature)))
  );
}

/** One whole line of a trail file and where it lies. */
export interface TrailLine {
  readonly text: string;
  /** Byte offset of the line's first byte, and of the byte after its newline. */
  readonly start: number;
  readonly end: number;
  /** 1-based line number within the file. */
  readonly lineNumber: number;
}

/** Splits a trail file into whole lines and the half-written rest (empty when the file ends in a newline). */
export function splitLines(content: Buffer): { lines: TrailLine[]; rest: Buffer; restOffset: number } {
  const lines: TrailLine[] = [];
  let start = 0;
  for (let nl = content.indexOf(0x0a, start); nl >= 0; nl = content.indexOf(0x0a, start)) {
    lines.push({ text: content.toString('utf8', start, nl), start, end: nl + 1, lineNumber: lines.length + 1 });
    start = nl + 1;
  }
  return { lines, rest: content.subarray(start), restOffset: start };
}
