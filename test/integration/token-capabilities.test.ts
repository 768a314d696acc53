import type * as P11 from 'pkcs11js';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, GenerateMacCommand, SignCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { moduleForFaults } from '../support/fault-injection.js';
import { pkcs11js } from '../../src/hsm/pkcs11js.js';
import { startTestService } from '../support/service.js';

/**
 * Fault injection: SoftHSM as a token that refuses CKA_ALLOWED_MECHANISMS (as some
 * HSMs do), by a wrapper on the process's one loaded module. The service must
 * find it out, say so, make its objects without the attribute, and work.
 */
describe('a token that refuses CKA_ALLOWED_MECHANISMS', () => {
  it('is recorded as such at start-up, warned about, and served with objects locked by their usage alone', async () => {
    const { dataDir, lib, release } = await moduleForFaults();
    const refusing = (template: P11.Template) => {
      if (template.some((a) => a.type === pkcs11js.CKA_ALLOWED_MECHANISMS)) throw new pkcs11js.Pkcs11Error('CKR_ATTRIBUTE_TYPE_INVALID', pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID, 'C_GenerateKey');
    };
    const original = { generate: lib.C_GenerateKey.bind(lib), unwrap: lib.C_UnwrapKey.bind(lib), pair: lib.C_GenerateKeyPair.bind(lib) };
    lib.C_GenerateKey = ((session: Buffer, mechanism: P11.Mechanism, template: P11.Template) => {
      refusing(template);
      return original.generate(session, mechanism, template);
    }) as typeof lib.C_GenerateKey;
    lib.C_UnwrapKey = ((session: Buffer, mechanism: P11.Mechanism, key: Buffer, wrapped: Buffer, template: P11.Template) => {
      refusing(template);
      return original.unwrap(session, mechanism, key, wrapped, template);
    }) as typeof lib.C_UnwrapKey;
    lib.C_GenerateKeyPair = ((session: Buffer, mechanism: P11.Mechanism, pub: P11.Template, priv: P11.Template) => {
      refusing(pub);
      refusing(priv);
      return original.pair(session, mechanism, pub, priv);
    }) as typeof lib.C_GenerateKeyPair;
    const log: string[] = [];
    const kms = await startTestService({ dataDir, logLines: log });
    try {
      expect(kms.service.token.capabilities.allowedMechanismsAttribute).toBe(false);
      expect(log.some((l) => l.includes('does not keep CKA_ALLOWED_MECHANISMS'))).toBe(true);
      const symmetric = (await kms.client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const blob = (await kms.client.send(new EncryptCommand({ KeyId: symmetric, Plaintext: Buffer.from('still served') }))).CiphertextBlob!;
      expect(Buffer.from((await kms.client.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe('still served');
      const hmac = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }))).KeyMetadata!.KeyId!;
      await kms.client.send(new GenerateMacCommand({ KeyId: hmac, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }));
      const signing = (await kms.client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
      await kms.client.send(new SignCommand({ KeyId: signing, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' }));
    } finally {
      await kms.cleanup();
      Object.assign(lib, { C_GenerateKey: original.generate, C_UnwrapKey: original.unwrap, C_GenerateKeyPair: original.pair });
      release();
    }
  });
});
