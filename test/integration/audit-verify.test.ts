import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHash, sha256Hex, signedDigestLine, splitLines } from '../../src/audit/trail-format.js';
import { verifyTrail, type Finding, type TrailFile } from '../../src/audit/verify.js';
import { readTrailFiles } from '../support/audit.js';
import { startTestService } from '../support/service.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

let files: TrailFile[];
/** The first file as it was while the service was still writing to it. */
let earlyFirstFile: TrailFile;
let publicKey: KeyObject;
let fingerprint: string;
let stoppedAt: Date;
let dataDir: string;
const scratch: string[] = [];

beforeAll(async () => {
  // Small files: the trail rotates (a digest closes each file) several times.
  const kms = await startTestService({ config: { audit: { maxFileBytes: 8192 } } });
  dataDir = kms.dataDir;
  try {
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (let i = 0; i < 40; i++) {
      const blob = (await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`message ${i}`) }))).CiphertextBlob!;
      await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }));
      if (i === 0) earlyFirstFile = (await readTrailFiles(kms.service.audit.dir))[0]!;
    }
    publicKey = createPublicKey(kms.service.audit.publicKey);
    fingerprint = sha256Hex(publicKey.export({ format: 'der', type: 'spki' }));
  } finally {
    stoppedAt = new Date();
    await kms.stop();
  }
  files = await readTrailFiles(path.join(dataDir, 'audit'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

const lineTexts = (f: TrailFile) => splitLines(f.content).lines.map((l) => l.text);
const join = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
/** The trail with one file's lines changed. */
function withLines(index: number, change: (lines: string[]) => string[]): TrailFile[] {
  return files.map((f, i) => (i === index ? { name: f.name, content: join(change(lineTexts(f))) } : f));
}
const verify = (trail: TrailFile[], sealedThrough?: Date) => verifyTrail(trail, publicKey, fingerprint, { sealedThrough });
const first = (findings: readonly Finding[]) => findings[0];
const isEvent = (line: string) => line.includes('"event":');

describe('audit verify', () => {
  it('passes an untouched trail of several files, each closed by a signed digest', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    const result = verify(files, stoppedAt);
    expect(result.findings).toEqual([]);
    expect(result.events).toBe(81);
    expect(result.digests).toBe(files.length); // one per rotation, and the shutdown digest
    expect(result.sealedThrough?.seq).toBe(result.lastSeq);
  });

  it('names the record in which one byte was edited', () => {
    const trail = withLines(1, (lines) => {
      const i = lines.findIndex(isEvent);
      lines[i] = lines[i]!.replace('"eventName":"Encrypt"', '"eventName":"Encrypu"').replace('"eventName":"Decrypt"', '"eventName":"Decrypu"');
      return lines;
    });
    const seq = JSON.parse(lineTexts(trail[1]!).find(isEvent)!).seq as number;
    expect(first(verify(trail).findings)).toMatchObject({ kind: 'altered', tampering: true, where: `${files[1]!.name} line ${lineTexts(files[1]!).findIndex(isEvent) + 1} (seq ${seq})` });
  });

  it('names the record that was deleted', () => {
    const lines = lineTexts(files[1]!);
    const i = lines.findIndex(isEvent) + 1;
    const deletedSeq = JSON.parse(lines[i]!).seq as number;
    const finding = first(verify(withLines(1, (l) => l.filter((_, j) => j !== i))).findings);
    expect(finding).toMatchObject({ kind: 'removed', tampering: true });
    expect(finding!.message).toContain(`seq ${deletedSeq} is missing`);
  });

  it('names two records that were swapped', () => {
    const lines = lineTexts(files[1]!);
    const i = lines.findIndex(isEvent) + 1;
    const [a, b] = [JSON.parse(lines[i]!).seq as number, JSON.parse(lines[i + 1]!).seq as number];
    const finding = first(verify(withLines(1, (l) => [...l.slice(0, i), l[i + 1]!, l[i]!, ...l.slice(i + 2)])).findings);
    expect(finding).toMatchObject({ kind: 'reordered', where: `${files[1]!.name} line ${i + 1} (seq ${b})` });
    expect(finding!.message).toContain(`seq ${a} and ${b}`);
  });

  it('names a record that was inserted, even one that chains correctly to the record before it', () => {
    const lines = lineTexts(files[1]!);
    const i = lines.findIndex(isEvent) + 1;
    const before = JSON.parse(lines[i - 1]!) as { seq: number };
    const forged = JSON.stringify({ seq: before.seq + 1, prev: recordHash(lines[i - 1]!), event: { ...JSON.parse(lines[i]!).event, eventName: 'DisableKey' } });
    const finding = first(verify(withLines(1, (l) => [...l.slice(0, i), forged, ...l.slice(i)])).findings);
    expect(finding).toMatchObject({ kind: 'inserted', tampering: true, where: `${files[1]!.name} line ${i + 1} (seq ${before.seq + 1})` });
  });

  it('reports a tail cut in the middle of a record, and a tail cut at a record boundary when asked how far the trail must be sealed', () => {
    const last = files.length - 1;
    const cut = files.map((f, i) => (i === last ? { name: f.name, content: f.content.subarray(0, f.content.length - 100) } : f));
    const midRecord = verify(cut);
    expect(first(midRecord.findings)).toMatchObject({ kind: 'cut-off', tampering: false, where: expect.stringContaining(files[last]!.name) });

    // Whole records removed, the shutdown digest with them: what is left is a shorter trail, sealed only as far as an earlier digest.
    const shorter = withLines(last, (lines) => lines.slice(0, -1));
    expect(verify(shorter).findings).toEqual([]);
    expect(verify(shorter).notes.join('\n')).toContain('not sealed by a digest yet');
    expect(first(verify(shorter, stoppedAt).findings)).toMatchObject({ kind: 'truncated', where: expect.stringContaining(files[last]!.name) });
  });

  it('names a digest that was removed', () => {
    // The digest that closed the first file.
    const result = verify(withLines(0, (lines) => lines.slice(0, -1)));
    expect(result.findings.map((f) => f.kind)).toContain('digest-missing');
    expect(result.findings.find((f) => f.kind === 'digest-missing')!.where).toContain(files[1]!.name);
  });

  it('refuses a trail edited and then re-signed with another key', () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerFingerprint = sha256Hex(attacker.publicKey.export({ format: 'der', type: 'spki' }));
    const last = files.length - 1;
    const forge = (claimedFingerprint: string) =>
      withLines(last, (lines) => {
        // Edit an event after the last rotation, chain every later record to it again, and sign the shutdown digest anew.
        const i = lines.findIndex(isEvent);
        lines[i] = lines[i]!.replace('"eventName":"Decrypt"', '"eventName":"Decrypu"').replace('"eventName":"Encrypt"', '"eventName":"Encrypu"');
        for (let j = i + 1; j < lines.length; j++) {
          const record = JSON.parse(lines[j]!) as Record<string, unknown>;
          record.prev = recordHash(lines[j - 1]!);
          if (!record.digest) {
            lines[j] = JSON.stringify(record);
            continue;
          }
          const content = join(lines.slice(0, j));
          const digest = record.digest as { lastRecordHash: string; files: Array<{ name: string; bytes: number; sha256: string }>; publicKeyFingerprint: string };
          digest.lastRecordHash = record.prev as string;
          digest.files = digest.files.map((f) => (f.name === files[last]!.name ? { ...f, bytes: content.length, sha256: sha256Hex(content) } : f));
          digest.publicKeyFingerprint = claimedFingerprint;
          const unsigned = JSON.stringify({ seq: record.seq, prev: record.prev, digest });
          lines[j] = signedDigestLine(unsigned, sign('sha256', Buffer.from(unsigned), createPrivateKey(attacker.privateKey.export({ format: 'pem', type: 'pkcs8' }))));
        }
        return lines;
      });
    // The chain itself is consistent again: only the signature tells.
    expect(verify(forge(attackerFingerprint)).findings.map((f) => f.kind)).toEqual(['digest-wrong-key']);
    expect(verify(forge(fingerprint)).findings.map((f) => f.kind)).toEqual(['digest-altered']);
    // And it verifies with the attacker's own key, which is why the auditor's public key must come from the service.
    expect(verifyTrail(forge(attackerFingerprint), attacker.publicKey, attackerFingerprint).findings.map((f) => f.kind)).toContain('digest-wrong-key');
  });

  it('names a file replaced by an older copy of itself', () => {
    const trail = [earlyFirstFile, ...files.slice(1)];
    const result = verify(trail);
    expect(first(result.findings)).toMatchObject({ kind: 'removed', where: expect.stringContaining(files[1]!.name) });
    expect(first(result.findings)!.message).toContain(`${files[0]!.name} may have been cut short or replaced by an older copy`);
    // The digest that closed the first file went with the newer copy: the next digest names it as missing.
    expect(result.findings.find((f) => f.kind === 'digest-missing')?.where).toContain(files[1]!.name);
  });

  it('seals the trail at every digest interval, also when nothing happened (a heartbeat)', async () => {
    const kms = await startTestService({ config: { audit: { digestIntervalMs: 150 } } });
    scratch.push(kms.dataDir);
    const keyId = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await new Promise((r) => setTimeout(r, 700));
    await kms.client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('between heartbeats') }));
    await new Promise((r) => setTimeout(r, 400));
    const live = await readTrailFiles(kms.service.audit.dir);
    await kms.stop();
    const key = createPublicKey(kms.service.audit.publicKey);
    const result = verifyTrail(live, key, sha256Hex(key.export({ format: 'der', type: 'spki' })));
    expect(result.findings).toEqual([]);
    expect(result.digests).toBeGreaterThanOrEqual(4);
    const digests = live.flatMap((f) => lineTexts(f)).map((l) => JSON.parse(l) as { digest?: { count: number; reason: string } }).flatMap((r) => (r.digest ? [r.digest] : []));
    expect(digests.every((d) => d.reason === 'interval')).toBe(true);
    expect(digests.some((d) => d.count === 0)).toBe(true);
    expect(digests.some((d) => d.count > 0)).toBe(true);
  });

  it('runs from the admin CLI with only a copy of the files and the public key: exit 0 when verified, 1 naming the record when not', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-audit-copy-'));
    scratch.push(dir);
    const pem = path.join(dir, 'audit-public-key.pem');
    await writeFile(pem, publicKey.export({ format: 'pem', type: 'spki' }));
    const trail = path.join(dir, 'trail');
    await import('node:fs/promises').then((fs) => fs.mkdir(trail));
    for (const f of files) await writeFile(path.join(trail, f.name), f.content);
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', 'audit', ...args], { cwd: root, env: { PATH: process.env.PATH, KMS_DATA_DIR: dir } });

    const ok = await cli('verify', '--trail', trail, '--public-key', pem, '--sealed-through', stoppedAt.toISOString());
    expect(ok.stdout).toContain('VERIFIED');

    const lines = lineTexts(files[1]!);
    const i = lines.findIndex(isEvent);
    await writeFile(path.join(trail, files[1]!.name), join(lines.map((l, j) => (j === i ? l.replace('"readOnly":true', '"readOnly":false') : l))));
    const failed = await cli('verify', '--trail', trail, '--public-key', pem).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain(`TAMPERED: ${files[1]!.name} line ${i + 1}`);

    const query = await cli('query', '--trail', trail, '--operation', 'Decrypt', '--json');
    expect(query.stdout.trim().split('\n')).toHaveLength(40);
  });
});
