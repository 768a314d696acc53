import { createPublicKey } from 'node:crypto';
import { CreateKeyCommand, GetPublicKeyCommand, SignCommand } from '@aws-sdk/client-kms';
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak_256 } from '@noble/hashes/sha3';
import { describe, expect, it } from 'vitest';
import { useTestService } from '../support/service.js';

const kms = useTestService();

/** An Ethereum address: the last 20 bytes of keccak-256 of the uncompressed public point without its 0x04 prefix. */
function address(uncompressedPoint: Uint8Array): string {
  return Buffer.from(keccak_256(uncompressedPoint.subarray(1)).subarray(12)).toString('hex');
}

describe('Ethereum-style signing with a secp256k1 key', () => {
  it('signs a 32-byte digest whose recovered address is the key’s address', async () => {
    const { KeyMetadata } = await kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' }));
    const keyId = KeyMetadata!.KeyId!;
    const spki = Buffer.from((await kms.client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!);
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const expected = address(point);

    for (let i = 0; i < 5; i++) {
      // What an Ethereum signer hashes: keccak-256 of the transaction; here of a message.
      const digest = Buffer.from(keccak_256(Buffer.from(`transfer ${i} ether`)));
      const der = (await kms.client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }))).Signature!;
      // KMS signatures may have a high s; Ethereum wants low s, which is the same signature mirrored.
      const signature = secp256k1.Signature.fromDER(der).normalizeS();
      const recovered = [0, 1].map((v) => address(signature.addRecoveryBit(v).recoverPublicKey(digest).toRawBytes(false)));
      expect(recovered).toContain(expected);
      expect(secp256k1.verify(signature.toCompactRawBytes(), digest, point)).toBe(true);
      const other = Buffer.from(keccak_256(Buffer.from('a different transaction')));
      expect(secp256k1.verify(signature.toCompactRawBytes(), other, point)).toBe(false);
    }
  });
});
