import type { z } from 'zod';
import type { CallContext } from '../services/context.js';
import type { AliasService } from '../services/alias-service.js';
import type { CryptoService } from '../services/crypto-service.js';
import type { KeyAdmin } from '../services/key-admin.js';
import type { KeyImporter } from '../services/key-import.js';
import type { KeyRotator } from '../services/key-rotation.js';
import type { MacService } from '../services/mac-service.js';
import type { SignService } from '../services/sign-service.js';
import type { TagService } from '../services/tags.js';
import type { GrantService } from '../services/grant-service.js';
import type { KeyPolicies } from '../services/key-policies.js';
import type { PrincipalAdmin } from '../services/principal-admin.js';

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
  readonly keyPolicies: KeyPolicies;
  readonly grants: GrantService;
  readonly principals: PrincipalAdmin;
}

export type Output = Record<string, unknown>;

/** One AWS KMS operation: its request schema and the mapping to and from the use case. */
export interface Operation<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly input: S;
  handle(services: Services, ctx: CallContext, input: z.output<S>): Promise<Output>;
}

export function defineOperation<S extends z.ZodType>(op: Operation<S>): Operation<S> {
  return op;
}
