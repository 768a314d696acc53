import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';
import type { KeyMaterialRef } from '../domain/key.js';

/** CKA_ID: the 16 key-id bytes followed by the version as uint32 big-endian. */
export function objectId(ref: KeyMaterialRef): Buffer {
  const id = Buffer.alloc(20);
  Buffer.from(ref.keyId.replace(/-/g, ''), 'hex').copy(id, 0);
  id.writeUInt32BE(ref.version, 16);
  return id;
}

export function objectLabel(ref: KeyMaterialRef): string {
  return `kms/${ref.keyId}/v${ref.version}`;
}

/**
 * The one template builder: every attribute of every object this service
 * creates is decided here. Root keys are token objects, private, sensitive and
 * never extractable, with only the usage they need.
 */
export function symmetricRootKeyTemplate(ref: KeyMaterialRef): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_MODIFIABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_WRAP, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_SIGN, value: false },
    { type: pkcs11js.CKA_VERIFY, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    { type: pkcs11js.CKA_ID, value: objectId(ref) },
    { type: pkcs11js.CKA_LABEL, value: objectLabel(ref) },
  ];
}

export function findByIdTemplate(ref: KeyMaterialRef): P11.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_ID, value: objectId(ref) },
  ];
}

export function aesGcmMechanism(iv: Buffer, aad: Buffer): P11.Mechanism {
  const parameter: P11.AesGCM = { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad, ivBits: iv.length * 8, tagBits: 128 };
  return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
}
