import { createCipheriv } from 'node:crypto';

/**
 * The check value of symmetric key material: AES-256-GCM over fixed input, made
 * in the token for every key version (src/hsm) and recorded, so that material
 * can be compared without ever being read back. Node computes the same value
 * only for material it was given itself (the seed file's, in development).
 */
/** Fixed field 0, which the IV sequence never hands out. */
export const MATERIAL_CHECK_IV = Buffer.alloc(12);
export const MATERIAL_CHECK_AAD = Buffer.from('hsm-kms material check v1', 'utf8');
export const MATERIAL_CHECK_PLAINTEXT = Buffer.alloc(16);

/** The check value the token computes for this material (ciphertext and 16-byte tag). */
export function materialCheckValue(material: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', material, MATERIAL_CHECK_IV);
  cipher.setAAD(MATERIAL_CHECK_AAD);
  return Buffer.concat([cipher.update(MATERIAL_CHECK_PLAINTEXT), cipher.final(), cipher.getAuthTag()]);
}
