import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { GENESIS_HASH, parseRecord, recordHash, sha256Hex, splitLines, type ParsedRecord } from './trail-format.js';

export interface TrailFile {
  readonly name: string;
  readonly content: Buffer;
}

/**
 * What is wrong with a trail. `tampering` is false for what a crash or an
 * unfinished trail explains (a cut-off tail, a tail not sealed as far as asked).
 */
export interface Finding {
  readonly kind: 'altered' | 'removed' | 'inserted' | 'reordered' | 'digest-missing' | 'digest-altered' | 'digest-wrong-key' | 'file-mismatch' | 'cut-off' | 'truncated';
  /** `file line N (seq S)`: the record the finding is about. */
  readonly where: string;
  readonly message: string;
  readonly tampering: boolean;
}

export interface Verification {
  readonly files: number;
  readonly records: number;
  readonly events: number;
  readonly digests: number;
  readonly lastSeq: number | undefined;
  /** The last digest whose signature verified, and how far it seals the trail. */
  readonly sealedThrough: { readonly seq: number; readonly endTime: string } | undefined;
  readonly findings: readonly Finding[];
  /** Facts that are not findings: crash cut-offs the service acknowledged, records not sealed yet, late events. */
  readonly notes: readonly string[];
}

export interface VerifyOptions {
  /** Fail unless a digest seals the trail through this time (when the copy was taken, or the service stopped). */
  readonly sealedThrough?: Date;
}

interface Entry {
  readonly file: string;
  readonly lineNumber: number;
  readonly hash: string;
  readonly record: ParsedRecord | undefined;
}

interface Rest {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  readonly sha256: string;
  /** Index of the first entry after it (entries.length when it ends the trail). */
  readonly before: number;
}

const where = (e: Entry) => `${e.file} line ${e.lineNumber}${e.record ? ` (seq ${e.record.seq})` : ''}`;

/**
 * Checks a copy of a trail offline with nothing but the signing key's public
 * half: every chain link, every sequence number, every digest's signature, its
 * place in the digest chain, and the file hashes it vouches for.
 */
export function verifyTrail(files: readonly TrailFile[], publicKey: KeyObject, fingerprint: string, options: VerifyOptions = {}): Verification {
  const findings: Finding[] = [];
  const notes: string[] = [];
  const entries: Entry[] = [];
  const rests: Rest[] = [];
  for (const f of files) {
    const { lines, rest, restOffset } = splitLines(f.content);
    for (const line of lines) entries.push({ file: f.name, lineNumber: line.lineNumber, hash: recordHash(line.text), record: parseRecord(line.text) });
    if (rest.length > 0) rests.push({ file: f.name, offset: restOffset, bytes: rest.length, sha256: sha256Hex(rest), before: entries.length });
  }
  const add = (kind: Finding['kind'], at: string, message: string, tampering = true) => findings.push({ kind, where: at, message, tampering });

  checkChain(entries, add);
  for (const rest of rests) {
    const next = entries[rest.before]?.record;
    const ack = next?.kind === 'open' ? next.open.cutOff : undefined;
    const acknowledged = ack !== undefined && ack.file === rest.file && ack.offset === rest.offset && ack.bytes === rest.bytes && ack.sha256 === rest.sha256;
    const at = `${rest.file} byte ${rest.offset}`;
    if (acknowledged) notes.push(`${at}: ${rest.bytes} bytes of a half-written record, cut off by a crash and acknowledged when the service restarted (seq ${next!.seq})`);
    else if (rest.before === entries.length) add('cut-off', at, `the trail ends in ${rest.bytes} bytes of a half-written record (a crash, or the tail was cut)`, false);
    else add('altered', at, `${rest.bytes} bytes that are not a whole record, not acknowledged by the next record`);
  }

  const digests = checkDigests(entries, files, publicKey, fingerprint, add);
  const last = entries[entries.length - 1]?.record;
  const sealed = digests.sealedThrough;
  const unsealed = entries.length - (digests.lastIndex + 1);
  if (unsealed > 0) notes.push(`${unsealed} record${unsealed === 1 ? '' : 's'} after the last digest ${last ? `(through seq ${last.seq}) ` : ''}are not sealed by a digest yet`);
  if (options.sealedThrough && (!sealed || Date.parse(sealed.endTime) < options.sealedThrough.getTime())) {
    const tail = entries[entries.length - 1];
    add(
      'truncated',
      tail ? where(tail) : '(no records)',
      `the trail is sealed only through ${sealed ? `${sealed.endTime} (digest seq ${sealed.seq})` : 'nothing (no digest)'}, not through ${options.sealedThrough.toISOString()}: its tail was cut off, or the service stopped without a digest`,
      false,
    );
  }
  const late = entries.filter((e) => e.record?.kind === 'event' && e.record.late).length;
  if (late > 0) notes.push(`${late} event${late === 1 ? ' was' : 's were'} written late, after a write failure (the caller was answered with an error)`);
  return {
    files: files.length,
    records: entries.length,
    events: entries.filter((e) => e.record?.kind === 'event').length,
    digests: digests.count,
    lastSeq: last?.seq,
    sealedThrough: sealed,
    findings,
    notes,
  };
}

type Add = (kind: Finding['kind'], at: string, message: string, tampering?: boolean) => void;

/**
 * Sequence numbers and hash links, naming the record each break is about. Links
 * are looked at before numbers: a record the next one skips over was inserted, a
 * record that chains correctly but carries the wrong number had its number edited.
 */
function checkChain(entries: readonly Entry[], add: Add): void {
  let prev: Entry | undefined;
  /** The sequence number the next record must have (an edited number does not move it). */
  let expectedSeq = 1;
  /** The next record's link is not checked: the record before it was already found edited. */
  let skipLink = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const r = e.record;
    if (!r) {
      add('altered', where(e), 'this line is not a well-formed record: it was edited');
      prev = e;
      expectedSeq++;
      skipLink = true;
      continue;
    }
    const expectedPrev = prev ? prev.hash : GENESIS_HASH;
    const linked = skipLink || r.prev === expectedPrev;
    const numbered = r.seq === expectedSeq;
    const next = entries[i + 1];
    skipLink = false;
    if (linked && numbered) {
      prev = e;
      expectedSeq++;
      continue;
    }
    if (r.seq === expectedSeq + 1 && next?.record?.seq === expectedSeq && next.record.prev === expectedPrev && r.prev === next.hash) {
      add('reordered', where(e), `records seq ${expectedSeq} and ${r.seq} are in the wrong order`);
      prev = e;
      expectedSeq += 2;
      i++;
      continue;
    }
    if (next?.record && next.record.prev === expectedPrev && (!prev || next.record.seq === expectedSeq)) {
      add('inserted', where(e), `this record was inserted: the record after it (${where(next)}) chains to the one before it`);
      continue;
    }
    const before = prev?.record;
    if (before && r.seq === before.seq && r.prev === before.prev && (!next?.record || next.record.prev === e.hash)) {
      // Two records claim one place and the chain goes on from this one: the other was inserted, forged to chain correctly.
      add('inserted', where(prev!), `this record was inserted: it takes the place of ${where(e)}, to which the rest of the trail chains`);
      prev = e;
      expectedSeq = r.seq + 1;
      continue;
    }
    if (linked) {
      add('altered', where(e), `this record's sequence number was edited: ${expectedSeq} was expected`);
      prev = e;
      expectedSeq++;
      skipLink = true; // edited, so the next record's link to it is broken too
      continue;
    }
    if (numbered) {
      if (next?.record && next.record.prev !== e.hash) {
        add('altered', where(e), 'this record was edited: it does not chain to the record before it, nor the next record to it');
        skipLink = true;
      } else if (prev) add('altered', where(prev), `this record was edited: the next record (${where(e)}) chains to a different hash`);
      else add('removed', where(e), 'the trail does not begin at its first record: the records before this one were removed');
      prev = e;
      expectedSeq++;
      continue;
    }
    const later = r.seq > expectedSeq ? entries.slice(i + 1).find((x) => x.record?.seq === expectedSeq) : undefined;
    if (later) add('reordered', where(e), `this record (seq ${r.seq}) is out of place: seq ${expectedSeq} comes later, at ${where(later)}`);
    else if (r.seq > expectedSeq) {
      const missing = r.seq - expectedSeq === 1 ? `seq ${expectedSeq} is` : `seq ${expectedSeq} to ${r.seq - 1} are`;
      const boundary = prev && prev.file !== e.file ? ` (at the start of ${e.file}: ${prev.file} may have been cut short or replaced by an older copy)` : '';
      add('removed', where(e), `record ${missing} missing before this one${boundary}`);
    } else add('inserted', where(e), `a record with seq ${r.seq} was inserted or moved here (seq ${expectedSeq} was expected)`);
    // Carry on from this record, so that later, independent breaks are found too.
    prev = e;
    expectedSeq = r.seq + 1;
  }
}

/** Each digest's signature and key, its link to the digest before it, the range it covers and the file hashes it vouches for. */
function checkDigests(entries: readonly Entry[], files: readonly TrailFile[], publicKey: KeyObject, fingerprint: string, add: Add) {
  let previous: { entry: Entry; signature: string } | undefined;
  let previousIndex = -1;
  let sealedThrough: Verification['sealedThrough'];
  let count = 0;
  const content = new Map(files.map((f) => [f.name, f.content]));
  entries.forEach((e, i) => {
    const r = e.record;
    if (r?.kind !== 'digest') return;
    count++;
    const d = r.digest;
    let signed = false;
    if (d.publicKeyFingerprint !== fingerprint) {
      add('digest-wrong-key', where(e), `this digest was signed by a different key (fingerprint ${d.publicKeyFingerprint}, not ${fingerprint})`);
    } else if (!safeVerify(r.unsigned, r.signature, publicKey)) {
      add('digest-altered', where(e), 'this digest\'s signature does not verify with the public key: it was altered, or signed by a different key');
    } else signed = true;

    const named = d.previousDigest;
    if (!previous && named) add('digest-missing', where(e), `the digest it names as previous (seq ${named.seq}) is missing`);
    else if (previous && (!named || named.seq !== previous.entry.record!.seq)) {
      add('digest-missing', where(e), named && named.seq > previous.entry.record!.seq ? `the digest it names as previous (seq ${named.seq}) is missing` : `it does not name the digest before it (${where(previous.entry)}) as its previous digest`);
    } else if (previous && named && (named.hash !== previous.entry.hash || named.signature !== previous.signature)) {
      add('digest-altered', where(previous.entry), `this digest differs from what the next digest (${where(e)}) vouches for`);
    }

    const covered = entries.slice(previousIndex + 1, i);
    const firstSeq = covered[0]?.record?.seq ?? null;
    if (d.count !== covered.length || d.firstSeq !== firstSeq || d.lastSeq !== (covered.length > 0 ? r.seq - 1 : null)) {
      add('digest-altered', where(e), `this digest covers seq ${d.firstSeq}..${d.lastSeq} (${d.count} records), but ${covered.length} records lie between it and the digest before it`);
    }
    for (const f of d.files) {
      const bytes = content.get(f.name);
      if (!bytes) add('file-mismatch', where(e), `${f.name}, which this digest vouches for, is missing`);
      else if (bytes.length < f.bytes) add('file-mismatch', where(e), `${f.name} is shorter (${bytes.length} bytes) than this digest vouches for (${f.bytes}): cut short or replaced by an older copy`);
      else if (sha256Hex(bytes.subarray(0, f.bytes)) !== f.sha256) add('file-mismatch', where(e), `${f.name} does not match the hash this digest vouches for: altered or replaced by another copy`);
    }
    if (signed) sealedThrough = { seq: r.seq, endTime: d.endTime };
    previous = { entry: e, signature: r.signature };
    previousIndex = i;
  });
  return { count, sealedThrough, lastIndex: previousIndex };
}

function safeVerify(unsigned: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return verifySignature('sha256', Buffer.from(unsigned, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
