import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import { FileAuditTrail } from '../../src/audit/file-trail.js';
import { sha256Hex, splitLines } from '../../src/audit/trail-format.js';
import { verifyTrail, type TrailFile } from '../../src/audit/verify.js';
import { readTrailFiles } from '../support/audit.js';

/**
 * The file trail and the verifier on their own: a key pair made here stands in
 * for the token's signing key, and file-system faults are injected where a real
 * disk cannot be made to fail on demand (a failing fsync).
 */
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const der = keys.publicKey.export({ format: 'der', type: 'spki' });
const signer = { publicKey: der, fingerprint: sha256Hex(der), sign: async (payload: Buffer) => sign('sha256', payload, keys.privateKey) };
const logger = pino({ level: 'silent' });
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function trailDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-trail-'));
  dirs.push(dir);
  return dir;
}
const options = (dir: string) => ({ dir, digestIntervalMs: 0, maxFileBytes: 1 << 20, maxFileAgeMs: 1e9, logger, retryMs: 20 });
const event = (i: number) => ({ eventVersion: '1.11', eventName: 'Encrypt', eventTime: '2026-11-30T10:00:00Z', requestID: `r${i}`, eventID: `e${i}` }) as unknown as AuditEvent;
const verify = (files: TrailFile[]) => verifyTrail(files, keys.publicKey, signer.fingerprint);

const proto = await (async () => {
  const dir = await trailDir();
  const handle = await open(path.join(dir, 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle) as { datasync: (this: unknown) => Promise<void> };
})();
const originalDatasync = proto.datasync;

/** A closed trail of n events in one file, and its lines. */
async function trailOf(n: number): Promise<{ name: string; lines: string[] }> {
  const dir = await trailDir();
  const trail = await FileAuditTrail.open(options(dir), signer);
  for (let i = 0; i < n; i++) await trail.append(event(i), false);
  await trail.close();
  const [file] = await readTrailFiles(dir);
  return { name: file!.name, lines: splitLines(file!.content).lines.map((l) => l.text) };
}
const asFile = (name: string, lines: string[]): TrailFile[] => [{ name, content: Buffer.from(lines.map((l) => `${l}\n`).join('')) }];
const seqOf = (line: string) => (JSON.parse(line) as { seq: number }).seq;
/** What the verifier says about records (the digest and file-hash findings that follow from the same change are left out). */
const aboutRecords = (files: TrailFile[]) => verify(files).findings.filter((f) => ['altered', 'removed', 'inserted', 'reordered'].includes(f.kind));

describe('the verifier names the record', () => {
  it('whose sequence number was edited, and not its neighbours', async () => {
    const { name, lines } = await trailOf(8);
    lines[4] = lines[4]!.replace(`"seq":${seqOf(lines[4]!)},`, `"seq":${seqOf(lines[4]!) + 3},`);
    expect(aboutRecords(asFile(name, lines))).toMatchObject([{ kind: 'altered', where: `${name} line 5 (seq ${seqOf(lines[4]!)})` }]);
  });

  it('whose link to the record before it was edited, and not the record before it', async () => {
    const { name, lines } = await trailOf(8);
    lines[4] = lines[4]!.replace(/"prev":"(.)/, (_, c: string) => `"prev":"${c === '0' ? '1' : '0'}`);
    expect(aboutRecords(asFile(name, lines))).toMatchObject([{ kind: 'altered', where: `${name} line 5 (seq 5)` }]);
  });

  it('that was inserted with a far-off number, and none of the genuine ones after it', async () => {
    const { name, lines } = await trailOf(8);
    const forged = JSON.stringify({ seq: 1000, prev: sha256Hex(lines[3]!), event: { eventName: 'DisableKey' } });
    expect(aboutRecords(asFile(name, [...lines.slice(0, 4), forged, ...lines.slice(4)]))).toMatchObject([{ kind: 'inserted', where: `${name} line 5 (seq 1000)` }]);
  });

  it('that was moved out of place, when two records far apart were swapped', async () => {
    const { name, lines } = await trailOf(8);
    const swapped = [...lines];
    [swapped[2], swapped[5]] = [lines[5]!, lines[2]!];
    expect(aboutRecords(asFile(name, swapped))[0]).toMatchObject({ kind: 'reordered', where: `${name} line 3 (seq 6)` });
  });
});

describe('the file trail on a bad day', () => {
  afterEach(() => restoreDatasync());

  it('starts again after a crash cut off the first record of a new file, in a file of its own', async () => {
    const dir = await trailDir();
    const first = await FileAuditTrail.open(options(dir), signer);
    for (let i = 0; i < 3; i++) await first.append(event(i), true);
    await first.close(); // seq 1 open, 2-4 events, 5 digest
    await writeFile(path.join(dir, 'trail-000000000006.jsonl'), '{"seq":6,"prev":"ab'); // a start cut short by a crash
    const second = await FileAuditTrail.open(options(dir), signer);
    await second.append(event(3), true);
    await second.close();
    expect(await readdir(dir)).toEqual(['trail-000000000001.jsonl', 'trail-000000000006-1.jsonl', 'trail-000000000006.jsonl']);
    const result = verify(await readTrailFiles(dir));
    expect(result.findings).toEqual([]);
    expect(result.notes.join('\n')).toContain('trail-000000000006.jsonl byte 0: 19 bytes of a half-written record, cut off by a crash and acknowledged');
  });

  it('keeps the digest chain whole when the fsync after a digest fails, and is writable again only after an fsync succeeds', async () => {
    const dir = await trailDir();
    const trail = await FileAuditTrail.open(options(dir), signer);
    await trail.append(event(0), true);
    failDatasync(true);
    await expect(trail.seal('interval')).rejects.toThrow();
    expect(trail.writable).toBe(false);
    // A durable event cannot be promised while fsync fails; one that is only written is.
    await expect(trail.append(event(1), true)).rejects.toThrow(/not writable/);
    await trail.append(event(2), false);
    expect(trail.writable).toBe(false);
    failDatasync(false);
    await new Promise((r) => setTimeout(r, 100)); // the retry syncs, and succeeds
    expect(trail.writable).toBe(true);
    await trail.append(event(3), true);
    await trail.close();
    expect(verify(await readTrailFiles(dir)).findings).toEqual([]);
  });
});

/** Makes every FileHandle's datasync fail (EIO) or work again: the one fault a real disk cannot be asked for. */
function failDatasync(fail: boolean): void {
  proto.datasync = fail ? () => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })) : originalDatasync;
}
function restoreDatasync(): void {
  failDatasync(false);
}
