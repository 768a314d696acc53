import { randomUUID } from 'node:crypto';
import { CallRecord } from '../../audit/call-record.js';
import { rootArn } from '../../domain/principal-arn.js';
import { KmsError } from '../../domain/errors.js';
import type { ApiCallFacts } from '../audit/audit-recorder.js';
import type { CallContext } from '../context.js';

/** What the audit trail says sent a seeding call (its userAgent). */
export const SEED_USER_AGENT = 'hsm-kms seed file';

/**
 * The seed file's calls: made as the operator (the account root), counted
 * against no request quota, and each change recorded in the audit trail as
 * the API call it is (CreateKey, CreateAlias, CreatePrincipal...), with the
 * seed file as its user agent, before the start goes on.
 */
export class SeedCalls {
  constructor(
    private readonly audit: { apiCall(facts: ApiCallFacts): Promise<void> },
    private readonly accountId: string,
    private readonly region: string,
  ) {}

  /** A context for reads (nothing recorded). */
  context(record = new CallRecord()): CallContext {
    return {
      requestId: 'seed',
      principal: { accountId: this.accountId, arn: rootArn(this.accountId), uniqueId: this.accountId, accessKeyId: 'seed', identityPolicies: [], operator: true },
      scope: { accountId: this.accountId, region: this.region },
      request: { sourceIp: undefined, secureTransport: true, grantTokens: [] },
      record,
      quotasCharged: new Set(),
      ownWork: true,
    };
  }

  /**
   * One change, recorded whatever its outcome. The parameters are the ones the
   * API's own event would carry, never a secret or key material.
   */
  async change<T>(eventSource: string, eventName: string, requestParameters: Record<string, unknown>, run: (ctx: CallContext) => Promise<T>): Promise<T> {
    let result: T | undefined;
    await this.changeIf(eventSource, eventName, requestParameters, async (ctx) => {
      result = await run(ctx);
      return true;
    });
    return result as T;
  }

  /** A call that may find nothing to change (it says so): recorded only when it changed something or failed. */
  async changeIf(eventSource: string, eventName: string, requestParameters: Record<string, unknown>, run: (ctx: CallContext) => Promise<boolean>): Promise<boolean> {
    const ctx = this.context();
    const at = new Date();
    let changed: boolean;
    try {
      changed = await run(ctx);
    } catch (e) {
      const error = e instanceof KmsError ? { code: e.awsName, message: e.message } : { code: 'KMSInternalException', message: (e as Error).message };
      await this.record(eventSource, eventName, at, requestParameters, ctx, error);
      throw e;
    }
    if (changed) await this.record(eventSource, eventName, at, requestParameters, ctx, undefined);
    return changed;
  }

  private record(
    eventSource: string,
    eventName: string,
    at: Date,
    requestParameters: Record<string, unknown>,
    ctx: CallContext,
    error: { code: string; message: string } | undefined,
  ): Promise<void> {
    return this.audit.apiCall({
      requestId: randomUUID(),
      eventSource,
      eventName,
      at,
      region: this.region,
      recipientAccountId: this.accountId,
      principal: ctx.principal,
      claimedAccessKeyId: undefined,
      sourceIp: undefined,
      userAgent: SEED_USER_AGENT,
      tls: undefined,
      requestParameters,
      responseElements: null,
      readOnly: false,
      durable: true,
      cryptographic: false,
      record: ctx.record,
      error,
    });
  }
}
