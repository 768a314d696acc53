import type { Scope } from '../domain/arn.js';
import type { Principal } from './ports.js';

/** Who is calling and where: passed to every use case. */
export interface CallContext {
  readonly principal: Principal;
  /** The region this service answers for and the caller's account. */
  readonly scope: Scope;
}
