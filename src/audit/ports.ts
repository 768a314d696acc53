import type { AuditEvent } from './event.js';

/**
 * Where audit events go. The file trail (file-trail.ts) is the reference; a
 * database or log-shipper sink can implement the same port.
 */
export interface AuditSink {
  /**
   * Appends one event. Resolves once it is written, and with `durable` once it
   * is on disk (fsync); rejects when it could not be written.
   */
  append(event: AuditEvent, durable: boolean): Promise<void>;
  /** False while writing fails: calls are refused until a write succeeds again. */
  readonly writable: boolean;
  /** Seals what was written with a final digest and closes. */
  close(): Promise<void>;
}

/** Signs the trail's digests with a key that never leaves the HSM. */
export interface DigestSigner {
  /** A DER ECDSA signature over SHA-256 of the payload. */
  sign(payload: Buffer): Promise<Buffer>;
  /** The public key as DER SubjectPublicKeyInfo. */
  readonly publicKey: Buffer;
  /** SHA-256 of the public key's DER, hex. */
  readonly fingerprint: string;
}

/** An auditing switched off (benchmark comparison only): nothing is written, nothing is refused. */
export const DISABLED_AUDIT: AuditSink = {
  append: () => Promise.resolve(),
  writable: true,
  close: () => Promise.resolve(),
};
