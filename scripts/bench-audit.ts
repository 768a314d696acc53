/**
 * What the audit trail itself costs per event, in-process: CloudTrail events of an
 * Encrypt appended to a real file trail under a throwaway folder, 64 in flight as
 * from 64 connections, with the service's group commit. Prints CPU time per event
 * (user + system of this process, which includes the libuv thread doing the
 * writes) and events per second, for written events (what a cryptographic call
 * waits for) and for fsynced ones (what a state change waits for).
 *
 *   node --import tsx scripts/bench-audit.ts [events=100000]
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { AuditEvent } from '../src/audit/event.js';
import { FileAuditTrail } from '../src/audit/file-trail.js';
import { sha256Hex } from '../src/audit/trail-format.js';

const total = Number(process.argv[2] ?? 100_000);
const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const der = keys.publicKey.export({ format: 'der', type: 'spki' });
const signer = { publicKey: der, fingerprint: sha256Hex(der), sign: async (payload: Buffer) => sign('sha256', payload, keys.privateKey) };
const keyArn = 'arn:aws:kms:us-east-1:111122223333:key/295159d1-deb9-4add-81fe-e44c2fc0929d';

function encryptEvent(): AuditEvent {
  return {
    eventVersion: '1.11',
    userIdentity: { type: 'IAMUser', principalId: '111122223333:alice', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333', accessKeyId: 'AKIAEXAMPLE000000001', userName: 'alice' },
    eventTime: new Date().toISOString().slice(0, 19) + 'Z',
    eventSource: 'kms.amazonaws.com',
    eventName: 'Encrypt',
    awsRegion: 'us-east-1',
    sourceIPAddress: '127.0.0.1',
    userAgent: 'aws-sdk-js/3.1164.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2 api/kms#3.1164.0',
    requestParameters: { keyId: keyArn, encryptionContext: { tenant: 'acme', purpose: 'invoices' } },
    responseElements: null,
    additionalEventData: { keyMaterialId: '295159d1deb94add81fee44c2fc0929d00000000000000000000000000000001', authorizedBy: 'key-policy' },
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: true,
    resources: [{ ARN: keyArn, accountId: '111122223333', type: 'AWS::KMS::Key' }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '111122223333',
    eventCategory: 'Management',
  };
}

async function measure(name: string, count: number, durable: boolean): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hsm-kms-bench-audit-'));
  const trail = await FileAuditTrail.open({ dir, digestIntervalMs: 0, maxFileBytes: 64 * 1024 * 1024, maxFileAgeMs: 86_400_000, logger: pino({ level: 'silent' }) }, signer);
  try {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next++ < count) await trail.append(encryptEvent(), durable);
    }));
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const us = (used.user + used.system) / count;
    console.log(`${name.padEnd(34)} ${us.toFixed(1).padStart(6)} µs CPU per event   ${(count / seconds).toFixed(0).padStart(7)} events/s`);
  } finally {
    await trail.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await measure('warm-up', 20_000, false);
await measure('written (cryptographic calls)', total, false);
await measure('fsynced (state changes)', Math.max(1_000, Math.floor(total / 10)), true);
const cpu = process.cpuUsage();
for (let i = 0; i < total; i++) JSON.stringify(encryptEvent());
const used = process.cpuUsage(cpu);
console.log(`${'of which building + JSON.stringify'.padEnd(34)} ${((used.user + used.system) / total).toFixed(1).padStart(6)} µs CPU per event`);
