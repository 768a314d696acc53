import {
  CreateAliasCommand,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
  CancelKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAwsError } from '../support/errors.js';
import { createKey } from '../support/keys.js';
import { useTestService } from '../support/service.js';

let client: KMSClient;
let keyId: string;
let keyArn: string;
const ctx = { tenant: 'acme', purpose: 'invoices' };

const kms = useTestService();
beforeAll(async () => {
  client = kms.client;
  ({ keyId, keyArn } = await newKey());
});

async function newKey(): Promise<{ keyId: string; keyArn: string }> {
  const metadata = await createKey(client);
  return { keyId: metadata.KeyId!, keyArn: metadata.Arn! };
}

async function encrypt(plaintext: Buffer, context?: Record<string, string>, key = keyId): Promise<Uint8Array> {
  const out = await client.send(new EncryptCommand({ KeyId: key, Plaintext: plaintext, EncryptionContext: context }));
  return out.CiphertextBlob!;
}

const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString('utf8');

describe('Encrypt and Decrypt', () => {
  it('round-trips without a KeyId on Decrypt and names the key by ARN', async () => {
    const out = await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('attack at dawn') }));
    expect(out.KeyId).toBe(keyArn);
    expect(out.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    expect(Buffer.from(out.CiphertextBlob!).includes(Buffer.from('attack at dawn'))).toBe(false);
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob }));
    expect(text(dec.Plaintext)).toBe('attack at dawn');
    expect(dec.KeyId).toBe(keyArn);
    expect(dec.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
  });

  it('accepts the key as id, ARN, alias name and alias ARN, on Encrypt and on Decrypt', async () => {
    await client.send(new CreateAliasCommand({ AliasName: 'alias/crypto', TargetKeyId: keyId }));
    const refs = [keyId, keyArn, 'alias/crypto', 'arn:aws:kms:us-east-1:111122223333:alias/crypto'];
    for (const ref of refs) {
      const blob = await encrypt(Buffer.from(ref), undefined, ref);
      const dec = await client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: ref }));
      expect(text(dec.Plaintext)).toBe(ref);
    }
  });

  it('takes plaintexts of 1 to 4096 bytes and refuses others', async () => {
    for (const size of [1, 4096]) {
      const pt = Buffer.alloc(size, 7);
      const dec = await client.send(new DecryptCommand({ CiphertextBlob: await encrypt(pt) }));
      expect(Buffer.from(dec.Plaintext!).equals(pt)).toBe(true);
    }
    await expectAwsError(encrypt(Buffer.alloc(4097)), 'ValidationException');
  });

  it('gives a different ciphertext each time for the same plaintext', async () => {
    const a = Buffer.from(await encrypt(Buffer.from('same')));
    const b = Buffer.from(await encrypt(Buffer.from('same')));
    expect(a.equals(b)).toBe(false);
  });

  it('refuses asymmetric encryption algorithms for a symmetric key', async () => {
    await expectAwsError(
      client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      'InvalidKeyUsageException',
    );
  });
});

describe('encryption context binding', () => {
  it('decrypts with the same pairs in any order', async () => {
    const blob = await encrypt(Buffer.from('bound'), ctx);
    const reordered = { purpose: 'invoices', tenant: 'acme' };
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: reordered }));
    expect(text(dec.Plaintext)).toBe('bound');
  });

  it('fails when the context is missing, has an extra pair, or a changed pair', async () => {
    const blob = await encrypt(Buffer.from('bound'), ctx);
    const wrong: Array<Record<string, string> | undefined> = [undefined, {}, { ...ctx, extra: '1' }, { ...ctx, tenant: 'evil' }, { tenant: 'acme' }, { tenant: 'acme', Purpose: 'invoices' }];
    for (const context of wrong) {
      await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: context })), 'InvalidCiphertextException');
    }
  });

  it('fails when a context was given that encryption did not have', async () => {
    const blob = await encrypt(Buffer.from('unbound'));
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: 'b' } })), 'InvalidCiphertextException');
  });
});

describe('tampered and foreign ciphertexts', () => {
  it('refuses a flipped bit anywhere in the blob', async () => {
    const blob = Buffer.from(await encrypt(Buffer.from('integrity matters'), ctx));
    // Every header byte (version, key id, key version, IV), a ciphertext byte and a tag byte.
    const positions = [0, 1, 10, 16, 17, 20, 21, 32, 33, blob.length - 17, blob.length - 1];
    for (const at of positions) {
      const tampered = Buffer.from(blob);
      tampered[at]! ^= 0x01;
      const err = await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: ctx })), 'InvalidCiphertextException');
      expect(err.$metadata?.httpStatusCode).toBe(400);
    }
  });

  it('refuses truncated, extended and garbage blobs', async () => {
    const blob = Buffer.from(await encrypt(Buffer.from('shape'), ctx));
    for (const bad of [blob.subarray(0, blob.length - 1), Buffer.concat([blob, Buffer.from([0])]), blob.subarray(0, 20), Buffer.from('hello world, not a blob at all, really not'), Buffer.alloc(1)]) {
      await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: bad, EncryptionContext: ctx })), 'InvalidCiphertextException');
    }
  });

  it('answers IncorrectKeyException when the KeyId is another key, NotFound when it does not exist', async () => {
    const other = await newKey();
    const blob = await encrypt(Buffer.from('mine'));
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: other.keyId })), 'IncorrectKeyException');
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: '00000000-0000-4000-8000-000000000000' })), 'NotFoundException');
  });

  it('answers InvalidCiphertextException for a blob naming a key this service does not hold', async () => {
    const blob = Buffer.from(await encrypt(Buffer.from('orphan')));
    // Rewrite the key id in the header to one that does not exist: the header no longer authenticates either way.
    Buffer.from('0123456789abcdef0123456789abcdef', 'hex').copy(blob, 1);
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob })), 'InvalidCiphertextException');
    // A key version the key does not have.
    const future = Buffer.from(await encrypt(Buffer.from('future')));
    future.writeUInt32BE(9, 17);
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: future })), 'InvalidCiphertextException');
  });

  it('keeps serving after a failed authentication', async () => {
    const blob = Buffer.from(await encrypt(Buffer.from('still here')));
    const bad = Buffer.from(blob);
    bad[bad.length - 1]! ^= 0xff;
    for (let i = 0; i < 20; i++) await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: bad })), 'InvalidCiphertextException');
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: blob }));
    expect(text(dec.Plaintext)).toBe('still here');
  });
});

describe('key states in cryptography', () => {
  it('refuses a disabled key with DisabledException on every operation, and works again once enabled', async () => {
    const k = await newKey();
    const blob = await encrypt(Buffer.from('before'), undefined, k.keyId);
    await client.send(new DisableKeyCommand({ KeyId: k.keyId }));
    await expectAwsError(encrypt(Buffer.from('x'), undefined, k.keyId), 'DisabledException');
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob })), 'DisabledException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: k.keyId, KeySpec: 'AES_256' })), 'DisabledException');
    await expectAwsError(client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k.keyId, NumberOfBytes: 16 })), 'DisabledException');
    await expectAwsError(client.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: keyId })), 'DisabledException');
    await client.send(new EnableKeyCommand({ KeyId: k.keyId }));
    expect(text((await client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext)).toBe('before');
  });

  it('refuses a key pending deletion with KMSInvalidStateException, and a cancelled one stays Disabled', async () => {
    const k = await newKey();
    const blob = await encrypt(Buffer.from('doomed'), undefined, k.keyId);
    await client.send(new ScheduleKeyDeletionCommand({ KeyId: k.keyId, PendingWindowInDays: 7 }));
    await expectAwsError(encrypt(Buffer.from('x'), undefined, k.keyId), 'KMSInvalidStateException');
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob })), 'KMSInvalidStateException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: k.keyId, NumberOfBytes: 32 })), 'KMSInvalidStateException');
    await client.send(new CancelKeyDeletionCommand({ KeyId: k.keyId }));
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob })), 'DisabledException');
  });
});

describe('data keys', () => {
  it('GenerateDataKey returns a plaintext key and its ciphertext, bound to the context', async () => {
    for (const [params, length] of [[{ KeySpec: 'AES_256' as const }, 32], [{ KeySpec: 'AES_128' as const }, 16], [{ NumberOfBytes: 1 }, 1], [{ NumberOfBytes: 1024 }, 1024]] as const) {
      const out = await client.send(new GenerateDataKeyCommand({ KeyId: 'alias/crypto', EncryptionContext: ctx, ...params }));
      expect(out.KeyId).toBe(keyArn);
      expect(out.Plaintext!.length).toBe(length);
      const dec = await client.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: ctx }));
      expect(Buffer.from(dec.Plaintext!).equals(Buffer.from(out.Plaintext!))).toBe(true);
      await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob })), 'InvalidCiphertextException');
    }
  });

  it('gives a fresh data key every call', async () => {
    const a = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    const b = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
  });

  it('needs exactly one of KeySpec and NumberOfBytes, within limits', async () => {
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: keyId })), 'ValidationException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 32 })), 'ValidationException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 1025 })), 'ValidationException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 0 })), 'ValidationException');
  });

  it('GenerateDataKeyWithoutPlaintext returns only the ciphertext, which decrypts to a key of the asked length', async () => {
    const out = await client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_128', EncryptionContext: ctx }));
    expect((out as { Plaintext?: unknown }).Plaintext).toBeUndefined();
    expect(out.KeyId).toBe(keyArn);
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: ctx }));
    expect(dec.Plaintext!.length).toBe(16);
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context without exposing the plaintext', async () => {
    const dest = await newKey();
    const blob = await encrypt(Buffer.from('moving'), ctx);
    const out = await client.send(
      new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: ctx, DestinationKeyId: dest.keyId, DestinationEncryptionContext: { new: 'ctx' } }),
    );
    expect(out.SourceKeyId).toBe(keyArn);
    expect(out.KeyId).toBe(dest.keyArn);
    expect(out.SourceEncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    expect(out.DestinationEncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const dec = await client.send(new DecryptCommand({ CiphertextBlob: out.CiphertextBlob, EncryptionContext: { new: 'ctx' } }));
    expect(text(dec.Plaintext)).toBe('moving');
    expect(dec.KeyId).toBe(dest.keyArn);
  });

  it('checks the source context and SourceKeyId', async () => {
    const blob = await encrypt(Buffer.from('checked'), ctx);
    const dest = await newKey();
    await expectAwsError(client.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: dest.keyId })), 'InvalidCiphertextException');
    await expectAwsError(
      client.send(new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: ctx, SourceKeyId: dest.keyId, DestinationKeyId: dest.keyId })),
      'IncorrectKeyException',
    );
    await expectAwsError(
      client.send(new ReEncryptCommand({ CiphertextBlob: blob, SourceEncryptionContext: ctx, DestinationKeyId: 'alias/missing' })),
      'NotFoundException',
    );
  });
});

describe('DryRun', () => {
  it('answers DryRunOperationException when the call would succeed, and the real error when it would not', async () => {
    const blob = await encrypt(Buffer.from('dry'));
    await expectAwsError(client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), DryRun: true })), 'DryRunOperationException');
    await expectAwsError(client.send(new DecryptCommand({ CiphertextBlob: blob, DryRun: true })), 'DryRunOperationException');
    await expectAwsError(client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', DryRun: true })), 'DryRunOperationException');
    await expectAwsError(client.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_256', DryRun: true })), 'DryRunOperationException');
    await expectAwsError(client.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: keyId, DryRun: true })), 'DryRunOperationException');
    const k = await newKey();
    await client.send(new DisableKeyCommand({ KeyId: k.keyId }));
    await expectAwsError(client.send(new EncryptCommand({ KeyId: k.keyId, Plaintext: Buffer.from('x'), DryRun: true })), 'DisabledException');
  });
});

describe('GenerateRandom', () => {
  it('returns the asked number of random bytes from the token', async () => {
    const a = await client.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    const b = await client.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    expect(a.Plaintext!.length).toBe(1024);
    expect(Buffer.from(a.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(false);
    expect((await client.send(new GenerateRandomCommand({ NumberOfBytes: 1 }))).Plaintext!.length).toBe(1);
    await expectAwsError(client.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })), 'ValidationException');
    await expectAwsError(client.send(new GenerateRandomCommand({ NumberOfBytes: 0 })), 'ValidationException');
  });
});

describe('concurrency', () => {
  it('serves many concurrent cryptographic calls through the session pool', async () => {
    const results = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const blob = await encrypt(Buffer.from(`message ${i}`), { i: String(i) });
        const dec = await client.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { i: String(i) } }));
        return text(dec.Plaintext);
      }),
    );
    expect(results).toEqual(Array.from({ length: 64 }, (_, i) => `message ${i}`));
  });
});
