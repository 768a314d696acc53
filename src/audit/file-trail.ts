import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditEvent } from './event.js';
import type { TrailFile } from './verify.js';
import type { AuditSink, DigestSigner } from './ports.js';
import {
  eventLine,
  GENESIS_HASH,
  openLine,
  parseRecord,
  recordHash,
  sha256Hex,
  SIGNATURE_ALGORITHM,
  signedDigestLine,
  splitLines,
  sortTrailFiles,
  trailFileName,
  unsignedDigestLine,
  type CutOff,
  type DigestBody,
  type DigestFile,
} from './trail-format.js';

export interface FileTrailOptions {
  readonly dir: string;
  /** How often a signed digest seals what was written (also at rotation and shutdown). */
  readonly digestIntervalMs: number;
  /** A file is closed (with a digest) and a new one begun past this size or age. */
  readonly maxFileBytes: number;
  readonly maxFileAgeMs: number;
  readonly logger: Logger;
  /** How soon a failed write is tried again. */
  readonly retryMs?: number;
  /** Events held while the disk refuses them; past this, calls are refused without being queued. */
  readonly maxPending?: number;
  /** Told how long each fsync of the trail took (metrics). */
  readonly onSync?: (seconds: number) => void;
}

type Waiter = { resolve: () => void; reject: (e: unknown) => void };
const NO_WAITER: Waiter = { resolve: () => undefined, reject: () => undefined };

type EventItem = { kind: 'event'; json: string; durable: boolean; late: boolean; waiter: Waiter };
type Item = EventItem | { kind: 'seal'; reason: DigestBody['reason']; waiter: Waiter };

interface OpenFile {
  readonly name: string;
  readonly handle: FileHandle;
  bytes: number;
  /** SHA-256 of the file's first `bytes` bytes, kept running as lines are written. */
  readonly hash: Hash;
  readonly openedAt: number;
}

interface DigestRef {
  readonly seq: number;
  readonly hash: string;
  readonly signature: string;
  readonly endTime: string;
}

/** The chain as the files on disk leave it. */
interface TrailState {
  readonly trailId: string;
  readonly seq: number;
  readonly lastHash: string;
  readonly lastDigest: DigestRef | undefined;
  /** Files holding records after the last digest, with their hashes through their last whole record. */
  readonly uncoveredFiles: DigestFile[];
  /** When the records since the last digest began (for the next digest's startTime). */
  readonly sinceTime: string | undefined;
  readonly closedCleanly: boolean;
  readonly cutOff: CutOff | undefined;
}

/** Thrown (and mapped to KMSInternalException) when the trail cannot take an event. */
export class AuditUnavailableError extends Error {}

/** Written, but not known to be on disk. */
class SyncFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('fsync failed');
  }
}

/**
 * The audit trail as append-only JSON-lines files under one folder, hash-chained
 * and sealed by signed digests (see trail-format.ts). Writes are grouped: every
 * event appended while a write is under way goes out in the next single write,
 * with one fsync for the group when any of its events asked for durability.
 * A failed write is retried, at the same file position, until the disk takes it;
 * meanwhile `writable` is false and the events stay queued (marked late).
 */
export class FileAuditTrail implements AuditSink {
  /** Records waiting to be written (metrics: the trail's backlog). */
  get backlog(): number {
    return this.queue.length;
  }

  private readonly queue: Item[] = [];
  private draining = false;
  /** The drain under way, if any (close waits for it). */
  private running: Promise<void> | undefined;
  private file: OpenFile | undefined;
  private seq: number;
  private lastHash: string;
  private lastDigest: DigestRef | undefined;
  private uncoveredFiles: DigestFile[];
  /** Whether the open file holds records that no digest covers yet. */
  private fileUncovered = false;
  private sinceTime: string | undefined;
  private failure: unknown;
  private retryTimer: NodeJS.Timeout | undefined;
  private digestTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly closedCleanly: boolean;

  private constructor(
    private readonly options: FileTrailOptions,
    private readonly signer: DigestSigner,
    private readonly now: () => Date,
    private readonly trailId: string,
    state: TrailState,
  ) {
    this.closedCleanly = state.closedCleanly;
    this.seq = state.seq;
    this.lastHash = state.lastHash;
    this.lastDigest = state.lastDigest;
    this.uncoveredFiles = state.uncoveredFiles;
    this.sinceTime = state.sinceTime;
  }

  /**
   * Reads where the chain stands in the folder (a crash may have left a
   * half-written last line, which stays as it is), begins a new file with an
   * `open` record that chains on and names any cut-off tail, and starts the
   * digest timer.
   */
  static async open(options: FileTrailOptions, signer: DigestSigner, now: () => Date = () => new Date()): Promise<FileAuditTrail> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const state = await readTrailState(options.dir);
    const trail = new FileAuditTrail(options, signer, now, state.trailId, state);
    const at = now().toISOString();
    trail.sinceTime ??= at;
    await trail.writeLine((seq, prev) => openLine(seq, prev, { trailId: state.trailId, at, reason: 'start', previousClosed: state.closedCleanly, ...(state.cutOff ? { cutOff: state.cutOff } : {}) }));
    if (state.cutOff) options.logger.warn({ cutOff: state.cutOff }, 'the audit trail ended in a half-written record (a crash); a new file continues the chain');
    if (options.digestIntervalMs > 0) {
      trail.digestTimer = setInterval(() => void trail.seal('interval').catch(() => undefined), options.digestIntervalMs);
      trail.digestTimer.unref();
    }
    return trail;
  }

  /** Whether the trail's last record before this start was a shutdown digest (false after a crash). */
  get previousClosedCleanly(): boolean {
    return this.closedCleanly;
  }

  get writable(): boolean {
    return this.failure === undefined && !this.closed;
  }

  append(event: AuditEvent, durable: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new AuditUnavailableError('the audit trail is closed'));
    if (this.queue.length >= (this.options.maxPending ?? 100_000)) return Promise.reject(new AuditUnavailableError('the audit trail is not writable'));
    const json = JSON.stringify(event);
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'event', json, durable, late: false, waiter: { resolve, reject } });
      this.kick();
    });
  }

  /** Writes a signed digest of everything since the last one (in order with the events). */
  seal(reason: DigestBody['reason']): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'seal', reason, waiter: { resolve, reject } });
      this.kick();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.digestTimer) clearInterval(this.digestTimer);
    try {
      // Bounded: a disk that refuses every write must not hold up the shutdown.
      await Promise.race([this.seal('shutdown'), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 5_000).unref())]);
    } catch (e) {
      this.options.logger.error({ err: e }, 'the audit trail could not be sealed at shutdown');
    }
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const item of this.queue.splice(0)) item.waiter.reject(new AuditUnavailableError('the audit trail is closed'));
    await this.running; // a write under way finishes before its file closes
    await this.closeFile().catch((e: unknown) => this.options.logger.error({ err: e }, 'the audit trail file could not be closed'));
  }

  private kick(): void {
    if (this.draining || this.retryTimer || this.closed || (this.queue.length === 0 && this.failure === undefined)) return;
    this.draining = true;
    // The next turn of the event loop: events appended meanwhile join this write.
    this.running = new Promise((resolve) => setImmediate(() => void this.drain().finally(resolve)));
  }

  /**
   * Writes what is queued, in order: events in groups (one write, and one fsync
   * when any of them asked for it), digests one by one. While writing fails it
   * keeps trying, and the trail counts as writable again only once an fsync has
   * succeeded.
   */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        const head = this.queue[0];
        if (!head) {
          if (this.failure === undefined) return;
          await this.syncFile(); // nothing to write: a probe of the disk
          continue;
        }
        if (head.kind === 'seal') {
          this.queue.shift();
          await this.writeDigest(head.reason).then(head.waiter.resolve, (e: unknown) => {
            head.waiter.reject(e);
            throw e;
          });
          continue;
        }
        const batch: EventItem[] = [];
        while (batch.length < 4096 && this.queue[0]?.kind === 'event') batch.push(this.queue.shift() as EventItem);
        await this.writeEvents(batch).catch((e: unknown) => {
          this.refuse(batch, e);
          throw e;
        });
        for (const item of batch) item.waiter.resolve();
        if (this.rotationDue()) {
          await this.writeDigest('rotation');
          await this.closeFile();
        }
      }
    } catch (e) {
      this.failed(e);
    } finally {
      this.draining = false;
      this.kick();
    }
  }

  /**
   * The callers of a group that failed get an error. Lines that never reached the
   * file go back to the head of the queue, marked late (what they record did
   * happen), to be written once the disk takes them; lines that did reach it but
   * could not be synced stay as they are.
   */
  private refuse(batch: readonly EventItem[], e: unknown): void {
    const error = new AuditUnavailableError('the audit trail is not writable');
    if (e instanceof SyncFailure) {
      for (const item of batch) (item.durable ? item.waiter.reject : item.waiter.resolve)(error);
      return;
    }
    for (const item of batch) item.waiter.reject(error);
    this.queue.unshift(...batch.map((item) => ({ ...item, late: true, waiter: NO_WAITER })));
  }

  /** Writing failed (disk full, read-only, I/O error): calls are refused, and writing is tried again shortly. */
  private failed(e: unknown): void {
    const cause = e instanceof SyncFailure ? e.cause : e;
    if (this.failure === undefined) this.options.logger.error({ err: cause }, 'the audit trail cannot be written; calls are refused until it can');
    this.failure = cause;
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.options.retryMs ?? 500);
    this.retryTimer.unref();
  }

  private async writeEvents(batch: readonly EventItem[]): Promise<void> {
    let seq = this.seq;
    let prev = this.lastHash;
    const lines: string[] = [];
    for (const item of batch) {
      const line = eventLine(++seq, prev, item.json, item.late);
      prev = recordHash(line);
      lines.push(line);
    }
    await this.writeOut(lines, seq, prev);
    // After a failure, only a successful fsync shows the disk is back.
    if (this.failure !== undefined || batch.some((item) => item.durable)) await this.syncFile();
  }

  /** Writes one record built from the next sequence number and the previous hash, and syncs it. */
  private async writeLine(build: (seq: number, prev: string) => string): Promise<void> {
    const line = build(this.seq + 1, this.lastHash);
    await this.writeOut([line], this.seq + 1, recordHash(line));
    await this.syncFile();
  }

  /** Appends whole lines at the file's end and moves the chain on; throws, with nothing moved, if they could not all be written. */
  private async writeOut(lines: readonly string[], seq: number, lastHash: string): Promise<void> {
    const file = await this.openFile();
    const data = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let written = 0;
    try {
      // Positional writes: after a failure the retry overwrites whatever part of this got out.
      while (written < data.length) written += (await file.handle.write(data, written, data.length - written, file.bytes + written)).bytesWritten;
    } catch (e) {
      await file.handle.truncate(file.bytes).catch(() => undefined);
      throw e;
    }
    file.bytes += data.length;
    file.hash.update(data);
    this.seq = seq;
    this.lastHash = lastHash;
    this.fileUncovered = true;
  }

  private async syncFile(): Promise<void> {
    const file = await this.openFile();
    const started = process.hrtime.bigint();
    try {
      await file.handle.datasync();
    } catch (e) {
      throw new SyncFailure(e);
    }
    this.options.onSync?.(Number(process.hrtime.bigint() - started) / 1e9);
    if (this.failure !== undefined) this.options.logger.warn('the audit trail is writable again; calls are served');
    this.failure = undefined;
  }

  private async writeDigest(reason: DigestBody['reason']): Promise<void> {
    const uncovered = this.lastDigest ? this.seq - this.lastDigest.seq : this.seq;
    const files = [...this.uncoveredFiles];
    if (this.file && this.fileUncovered) files.push({ name: this.file.name, bytes: this.file.bytes, sha256: this.file.hash.copy().digest('hex') });
    const endTime = this.now().toISOString();
    const digest: DigestBody = {
      trailId: this.trailId,
      reason,
      firstSeq: uncovered > 0 ? this.seq - uncovered + 1 : null,
      lastSeq: uncovered > 0 ? this.seq : null,
      count: uncovered,
      lastRecordHash: this.lastHash,
      startTime: this.sinceTime ?? endTime,
      endTime,
      files,
      previousDigest: this.lastDigest ? { seq: this.lastDigest.seq, hash: this.lastDigest.hash, signature: this.lastDigest.signature } : null,
      publicKeyFingerprint: this.signer.fingerprint,
      signatureAlgorithm: SIGNATURE_ALGORITHM,
    };
    const seq = this.seq + 1;
    const unsigned = unsignedDigestLine(seq, this.lastHash, digest);
    const signature = await this.signer.sign(Buffer.from(unsigned, 'utf8'));
    const line = signedDigestLine(unsigned, signature);
    await this.writeOut([line], seq, recordHash(line));
    // The digest is in the file: the next one names it, even if the sync below fails.
    this.lastDigest = { seq, hash: this.lastHash, signature: signature.toString('base64'), endTime };
    this.uncoveredFiles = [];
    this.fileUncovered = false;
    this.sinceTime = endTime;
    await this.syncFile();
  }

  private rotationDue(): boolean {
    const f = this.file;
    return f !== undefined && (f.bytes >= this.options.maxFileBytes || this.now().getTime() - f.openedAt >= this.options.maxFileAgeMs);
  }

  private async openFile(): Promise<OpenFile> {
    if (this.file) return this.file;
    for (let generation = 0; ; generation++) {
      const name = trailFileName(this.seq + 1, generation);
      const full = path.join(this.options.dir, name);
      let handle: FileHandle;
      try {
        handle = await open(full, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || generation >= 999) throw e;
        // A file a crash left empty right after creating it is taken over; one holding anything is never touched.
        if ((await stat(full)).size !== 0) continue;
        handle = await open(full, 'r+');
      }
      await syncDirectory(this.options.dir);
      this.file = { name, handle, bytes: 0, hash: createHash('sha256'), openedAt: this.now().getTime() };
      return this.file;
    }
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    if (this.fileUncovered) this.uncoveredFiles.push({ name: file.name, bytes: file.bytes, sha256: file.hash.digest('hex') });
    this.fileUncovered = false;
    await file.handle.truncate(file.bytes).catch(() => undefined);
    await file.handle.close();
  }
}

/** A new file's name must survive a crash too. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot sync a directory; the file's own fsync still holds its content.
  } finally {
    await handle.close();
  }
}

/**
 * The events written since a moment, oldest first: the newest files are read
 * backwards and reading stops at the first event older than that.
 */
export async function readEventsSince(dir: string, since: Date | undefined): Promise<Array<Record<string, unknown>>> {
  const found: Array<Record<string, unknown>> = [];
  const names = await listTrailFiles(dir);
  for (let i = names.length - 1; i >= 0; i--) {
    const { lines } = splitLines(await readFile(path.join(dir, names[i]!)));
    for (let j = lines.length - 1; j >= 0; j--) {
      const record = parseRecord(lines[j]!.text);
      if (record?.kind !== 'event') continue;
      const time = record.event.eventTime;
      if (since && typeof time === 'string' && Date.parse(time) < since.getTime()) return found.reverse();
      found.push(record.event);
    }
  }
  return found.reverse();
}

/**
 * The chains of a trail's folder, each a folder: the folder itself when it holds
 * trail files (one process alone, or the primary of several workers), then each
 * worker's (worker-N), in worker order.
 */
export async function listTrailChains(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const workers = entries
    .filter((e) => e.isDirectory() && /^worker-\d+$/.test(e.name))
    .map((e) => e.name)
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
  const chains = [dir, ...workers.map((name) => path.join(dir, name))];
  const withFiles = await Promise.all(chains.map(async (chain) => (await listTrailFiles(chain)).length > 0));
  return chains.filter((_, i) => withFiles[i]);
}

/** The trail's files in chain order. */
export async function listTrailFiles(dir: string): Promise<string[]> {
  return sortTrailFiles(await readdir(dir));
}

/** The trail's files and their bytes as they are now, in chain order (what verify and query read). */
export async function readTrailFiles(dir: string): Promise<TrailFile[]> {
  const names = await listTrailFiles(dir);
  return Promise.all(names.map(async (name) => ({ name, content: await readFile(path.join(dir, name)) })));
}

/**
 * Where the chain stands: the last whole record (newest file first, skipping
 * empty ones), the last digest and the files written since it. Any whole line
 * that is not a record means the files were altered: the service refuses to
 * start on them rather than chain on from an unknown state.
 */
async function readTrailState(dir: string): Promise<TrailState> {
  const names = await listTrailFiles(dir);
  let head: { seq: number; hash: string } | undefined;
  let cutOff: CutOff | undefined;
  let closedCleanly = false;
  let trailId: string | undefined;
  let sinceTime: string | undefined;
  const uncoveredFiles: DigestFile[] = [];
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i]!;
    const content = await readFile(path.join(dir, name));
    const { lines, rest, restOffset } = splitLines(content);
    if (!head && rest.length > 0) cutOff = { file: name, offset: restOffset, bytes: rest.length, sha256: sha256Hex(rest) };
    for (let j = lines.length - 1; j >= 0; j--) {
      const line = lines[j]!;
      const record = parseRecord(line.text);
      if (!record) throw new Error(`the audit trail is damaged at ${name} line ${line.lineNumber}; run 'npm run admin -- audit verify' to see what changed`);
      if (!head) {
        head = { seq: record.seq, hash: recordHash(line.text) };
        closedCleanly = record.kind === 'digest' && record.digest.reason === 'shutdown' && !cutOff;
      }
      if (record.kind === 'open') {
        trailId ??= record.open.trailId;
        sinceTime = record.open.at;
      }
      if (record.kind === 'digest') {
        if (j < lines.length - 1) uncoveredFiles.unshift(filePrefix(name, content, lines[lines.length - 1]!.end));
        return {
          trailId: trailId ?? record.digest.trailId,
          seq: head.seq,
          lastHash: head.hash,
          lastDigest: { seq: record.seq, hash: recordHash(line.text), signature: record.signature, endTime: record.digest.endTime },
          uncoveredFiles,
          sinceTime: record.digest.endTime,
          closedCleanly,
          cutOff,
        };
      }
    }
    if (lines.length > 0) uncoveredFiles.unshift(filePrefix(name, content, lines[lines.length - 1]!.end));
  }
  return {
    trailId: trailId ?? randomUUID(),
    seq: head?.seq ?? 0,
    lastHash: head?.hash ?? GENESIS_HASH,
    lastDigest: undefined,
    uncoveredFiles,
    sinceTime,
    closedCleanly,
    cutOff,
  };
}

function filePrefix(name: string, content: Buffer, bytes: number): DigestFile {
  return { name, bytes, sha256: sha256Hex(content.subarray(0, bytes)) };
}
