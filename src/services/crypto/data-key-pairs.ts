import { throttled } from '../../domain/errors.js';
import { ECC_SPECS, isRsaSpec, RSA_SPECS, type EccKeySpec, type RsaKeySpec } from '../../domain/key-spec.js';
import { BackgroundThread } from '../../threads/background-thread.js';

export type KeyPairSpec = RsaKeySpec | EccKeySpec;

interface KeyPairJob {
  readonly type: 'rsa' | 'ec';
  readonly options: { modulusLength?: number; publicExponent?: number; namedCurve?: string };
}

/**
 * GenerateDataKeyPair's key pairs (made with Node's crypto: they leave the
 * service, so the token need not make them), one at a time on a background
 * thread at the lowest priority: an RSA_4096 pair takes a second and more of
 * CPU, which must not be taken from the calls that wait for the cores.
 */
export class DataKeyPairs {
  private readonly thread = new BackgroundThread<KeyPairJob, { privateKey: Uint8Array; publicKey: Uint8Array }>(new URL('./key-pair-worker.cjs', import.meta.url), undefined, 64, throttled);

  async generate(spec: KeyPairSpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
    const job: KeyPairJob = isRsaSpec(spec) ? { type: 'rsa', options: { modulusLength: RSA_SPECS[spec].modulusBits, publicExponent: 65537 } } : { type: 'ec', options: { namedCurve: ECC_SPECS[spec].jwkCurve } };
    const pair = await this.thread.run(job);
    return { privateKey: Buffer.from(pair.privateKey.buffer, pair.privateKey.byteOffset, pair.privateKey.byteLength), publicKey: Buffer.from(pair.publicKey.buffer, pair.publicKey.byteOffset, pair.publicKey.byteLength) };
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
