import type { Policy } from '../../domain/policy/policy.js';

/** The caller, once authenticated. */
export interface Principal {
  readonly accountId: string;
  readonly arn: string;
  /** Immutable (AIDA..., AROA...; a root's is its account id): what key policies and grants bound to it match. */
  readonly uniqueId: string;
  readonly accessKeyId: string;
  /** Its identity policies, parsed once when its credential was loaded. */
  readonly identityPolicies: readonly Policy[];
  /** The bootstrap administrator: it alone manages accounts (the root of the service's default account). */
  readonly operator: boolean;
}

export interface Credential {
  readonly secretAccessKey: string;
  /** KMS_DEV_CONVENIENCES: an access key nobody made, taken as the account root, its signature unchecked. */
  readonly anyKey?: true;
  readonly principal: Principal;
}

export interface CredentialDirectory {
  /** The active credential for an access key id, or undefined when unknown, inactive or disabled. */
  lookup(accessKeyId: string): Promise<Credential | undefined>;
}
