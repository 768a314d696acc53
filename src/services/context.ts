import type { CallRecord } from '../audit/call-record.js';
import type { Scope } from '../domain/arn.js';
import type { Principal } from './ports/index.js';

/** Facts about the request itself that policies may test (aws:SourceIp, aws:SecureTransport) and its grant tokens. */
export interface RequestFacts {
  readonly sourceIp: string | undefined;
  readonly secureTransport: boolean;
  readonly grantTokens: readonly string[];
}

/** Who is calling and where: passed to every use case. */
export interface CallContext {
  /** The id the caller sees in x-amzn-RequestId and the audit event's requestID. */
  readonly requestId: string;
  readonly principal: Principal;
  /** The region this service answers for and the caller's account. */
  readonly scope: Scope;
  readonly request: RequestFacts;
  /** What the call touched and how it was authorized, for its audit event. */
  readonly record: CallRecord;
  /** The request quotas this call was counted against (each once, whatever the number of checks). */
  readonly quotasCharged: Set<string>;
  /** The service's own start-up work (the seed file), not a caller's request: no request quota counts it. */
  readonly ownWork?: boolean;
}
