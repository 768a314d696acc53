import type { Scope } from '../domain/arn.js';
import type { Principal } from './ports.js';

/** Facts about the request itself that policies may test (aws:SourceIp, aws:SecureTransport) and its grant tokens. */
export interface RequestFacts {
  readonly sourceIp: string | undefined;
  readonly secureTransport: boolean;
  readonly grantTokens: readonly string[];
}

/** Who is calling and where: passed to every use case. */
export interface CallContext {
  readonly principal: Principal;
  /** The region this service answers for and the caller's account. */
  readonly scope: Scope;
  readonly request: RequestFacts;
}
