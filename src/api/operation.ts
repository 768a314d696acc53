import type { z } from 'zod';
import type { CallContext } from '../services/context.js';
import type { AliasService } from '../services/keys/alias-service.js';
import type { CryptoService } from '../services/crypto/crypto-service.js';
import type { KeyAdmin } from '../services/keys/key-admin.js';
import type { KeyImporter } from '../services/keys/key-import.js';
import type { KeyRotator } from '../services/keys/key-rotation.js';
import type { MacService } from '../services/crypto/mac-service.js';
import type { KeyAgreement } from '../services/crypto/key-agreement.js';
import type { MultiRegionKeys } from '../services/keys/multi-region-keys.js';
import type { SignService } from '../services/crypto/sign-service.js';
import type { TagService } from '../services/keys/tags.js';
import type { GrantService } from '../services/access/grant-service.js';
import type { KeyPolicies } from '../services/keys/key-policies.js';
import type { PrincipalAdmin } from '../services/access/principal-admin.js';

/** The use cases an operation may call: the API layer reaches nothing else. */
export interface Services {
  readonly keyAdmin: KeyAdmin;
  readonly crypto: CryptoService;
  readonly aliases: AliasService;
  readonly tags: TagService;
  readonly rotation: KeyRotator;
  readonly imports: KeyImporter;
  readonly macs: MacService;
  readonly signer: SignService;
  readonly keyAgreement: KeyAgreement;
  readonly multiRegion: MultiRegionKeys;
  readonly keyPolicies: KeyPolicies;
  readonly grants: GrantService;
  readonly principals: PrincipalAdmin;
  /** The public half of the key that signs the audit trail's digests, for auditors. */
  readonly auditKey: AuditKeyInfo;
  /** KMS_DEV_CONVENIENCES only: a key pending deletion destroyed at once. */
  readonly deleteKeyNow: ((ctx: CallContext, keyId: string) => Promise<void>) | undefined;
}

export interface AuditKeyInfo {
  /** PEM SubjectPublicKeyInfo. */
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly signatureAlgorithm: string;
}

export type Output = Record<string, unknown>;

/** What an operation's audit event holds, and when the call may be answered. */
export interface AuditSpec {
  /**
   * change: it changes state, so it is answered only once its event is on disk (fsync);
   * crypto: a cryptographic use of a key (tracked for GetKeyLastUsage), answered once its event is written;
   * read: answered once its event is written.
   */
  readonly kind: 'change' | 'crypto' | 'read';
  /** The request members CloudTrail logs. Never a plaintext, key, message, signature, import material or secret. */
  readonly request: readonly string[];
  /** The response members CloudTrail logs (none when absent), or a mapping for nested ones. */
  readonly response?: readonly string[] | ((output: Output) => Record<string, unknown> | null);
  /** CloudTrail's readOnly where AWS sets it otherwise than `kind !== 'change'` (GetParametersForImport). */
  readonly readOnly?: boolean;
}

/** One AWS KMS operation: its request schema, its audit event and the mapping to and from the use case. */
export interface Operation<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly input: S;
  readonly audit: AuditSpec;
  handle(services: Services, ctx: CallContext, input: z.output<S>): Promise<Output>;
}

export function defineOperation<S extends z.ZodType>(op: Operation<S>): Operation<S> {
  return op;
}
