import { describe, expect, it } from 'vitest';
import { formatTable, outcomeOf, queryTrail } from '../../src/audit/query.js';
import { eventLine, GENESIS_HASH, recordHash } from '../../src/audit/trail-format.js';
import type { TrailFile } from '../../src/audit/verify.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const arn = (id: string) => `arn:aws:kms:us-east-1:111122223333:key/${id}`;
const ALICE = 'arn:aws:iam::111122223333:user/alice';

function event(minute: number, eventName: string, keyId: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    eventTime: `2026-11-30T10:${String(minute).padStart(2, '0')}:00Z`,
    eventName,
    userIdentity: { type: 'IAMUser', arn: ALICE, userName: 'alice', accessKeyId: 'AKIAALICE' },
    recipientAccountId: '111122223333',
    requestID: `req-${minute}`,
    ...(keyId ? { resources: [{ ARN: arn(keyId), accountId: '111122223333', type: 'AWS::KMS::Key' }] } : {}),
    ...extra,
  };
}

/** A trail of these events, chained as the service writes them. */
function trail(events: object[]): TrailFile[] {
  let prev = GENESIS_HASH;
  const lines = events.map((e, i) => {
    const line = eventLine(i + 1, prev, JSON.stringify(e), false);
    prev = recordHash(line);
    return line;
  });
  return [{ name: 'trail-000000000001.jsonl', content: Buffer.from(lines.map((l) => `${l}\n`).join('')) }];
}

const files = trail([
  event(1, 'CreateAlias', A, { requestParameters: { aliasName: 'alias/app', targetKeyId: A } }),
  event(2, 'Encrypt', A, { requestParameters: { keyId: 'alias/app' } }),
  event(3, 'UpdateAlias', B, { requestParameters: { aliasName: 'alias/app', targetKeyId: B } }),
  event(4, 'Encrypt', B, { requestParameters: { keyId: B } }),
  event(5, 'Decrypt', A, { requestParameters: {} }),
  event(6, 'Encrypt', A, { errorCode: 'AccessDeniedException', requestParameters: { keyId: A } }),
  event(7, 'Decrypt', A, { errorCode: 'InvalidCiphertextException' }),
  event(8, 'DeleteAlias', undefined, { requestParameters: { aliasName: 'alias/app' } }),
  event(9, 'Encrypt', B, { requestParameters: { keyId: B } }),
]);
const ids = (filter: Parameters<typeof queryTrail>[1]) => queryTrail(files, filter).map((f) => f.event.requestID);

describe('audit query', () => {
  it('follows an alias through the trail: it names the key it pointed to when each event happened', () => {
    expect(ids({ key: 'alias/app' })).toEqual(['req-1', 'req-2', 'req-3', 'req-4', 'req-8']);
    expect(ids({ key: 'arn:aws:kms:us-east-1:111122223333:alias/app' })).toEqual(['req-1', 'req-2', 'req-3', 'req-4', 'req-8']);
  });

  it('finds a key by id or ARN', () => {
    expect(ids({ key: A })).toEqual(['req-1', 'req-2', 'req-5', 'req-6', 'req-7']);
    expect(ids({ key: arn(B) })).toEqual(['req-3', 'req-4', 'req-9']);
  });

  it('filters by outcome, operation, principal, time and request id', () => {
    expect(ids({ outcome: 'denied' })).toEqual(['req-6']);
    expect(ids({ outcome: 'error' })).toEqual(['req-7']);
    expect(ids({ outcome: 'allowed', operation: 'encrypt' })).toEqual(['req-2', 'req-4', 'req-9']);
    expect(ids({ principal: 'alice' })).toHaveLength(9);
    expect(ids({ principal: 'AKIAALICE', from: new Date('2026-11-30T10:04:00Z'), to: new Date('2026-11-30T10:05:00Z') })).toEqual(['req-4', 'req-5']);
    expect(ids({ principal: 'arn:aws:iam::111122223333:user/bob' })).toEqual([]);
    expect(ids({ requestId: 'req-7' })).toEqual(['req-7']);
  });

  it('prints a readable table', () => {
    const table = formatTable(queryTrail(files, { outcome: 'denied' })).split('\n');
    expect(table[0]).toMatch(/^TIME\s+OPERATION\s+CALLER\s+KEYS\s+OUTCOME\s+REQUEST ID$/);
    expect(table[1]).toContain('denied: AccessDeniedException');
    expect(outcomeOf({ errorCode: 'UnrecognizedClientException' })).toBe('denied');
  });
});
