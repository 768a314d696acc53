import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import {
  KmsError,
  RequestEntityTooLargeException,
  SerializationException,
  UnknownOperationException,
} from '../domain/errors.js';
import type { CallContext } from '../services/context.js';
import type { Clock, CredentialDirectory } from '../services/ports.js';
import type { Operation, Output, Services } from './operation.js';
import { ADMIN_OPERATIONS, ADMIN_TARGET_PREFIX } from './admin/admin-operations.js';
import { OPERATIONS } from './operations/index.js';
import { asKmsError, encodeError, encodeOutput, JSON_CONTENT_TYPE, TARGET_PREFIX, validationError } from './protocol.js';
import { claimedAccessKeyId, verifySigV4 } from './sigv4.js';

export interface HttpDeps {
  readonly services: Services;
  readonly credentials: CredentialDirectory;
  readonly region: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Larger request bodies are refused with 413; AWS's largest KMS request (a 32 KiB policy) fits. */
  readonly maxBodyBytes?: number;
}

interface RequestLog {
  op?: string;
  keyId?: string;
  principal?: string;
}

/**
 * The AWS JSON 1.1 protocol: authenticate, parse, dispatch, serialise. No
 * domain decision is taken here.
 */
export function buildHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use((_req, res, next) => {
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res.locals.startedAt = process.hrtime.bigint();
    res.locals.log = {} satisfies RequestLog;
    res.setHeader('x-amzn-RequestId', requestId);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post('/', express.raw({ type: () => true, limit: deps.maxBodyBytes ?? 64 * 1024 }), (req, res) => {
    handle(deps, req, res).then(
      ({ status, body }) => send(deps, res, status, body),
      (e: unknown) => fail(deps, res, e),
    );
  });

  app.use((_req: Request, res: Response) => {
    fail(deps, res, new UnknownOperationException('Only POST / with an X-Amz-Target header is served.'));
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') fail(deps, res, new RequestEntityTooLargeException('Request entity too large.'));
    else fail(deps, res, new SerializationException('The request body could not be read.'));
  });
  return app;
}

async function handle(deps: HttpDeps, req: Request, res: Response): Promise<{ status: number; body: string }> {
  const log = res.locals.log as RequestLog;
  const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const url = req.originalUrl;
  const q = url.indexOf('?');
  // Authentication comes before anything else, as in AWS: an unsigned request learns nothing.
  const claimed = claimedAccessKeyId(req.headers);
  const credential = claimed === undefined ? undefined : await deps.credentials.lookup(claimed);
  verifySigV4(
    { method: req.method, path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), headers: req.headers, body },
    {
      region: deps.region,
      service: 'kms',
      now: deps.clock.now(),
      secretFor: (id) => (id === claimed ? credential?.secretAccessKey : undefined),
    },
  );
  const principal = credential!.principal;
  log.principal = principal.arn;

  const operation = resolveOperation(req.headers['x-amz-target']);
  log.op = operation.name;
  const input = parseBody(body);
  const parsed = operation.input.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error, input);
  if (typeof input.KeyId === 'string') log.keyId = input.KeyId;

  const ctx: CallContext = {
    principal,
    scope: { region: deps.region, accountId: principal.accountId },
    request: {
      sourceIp: sourceIpOf(req),
      secureTransport: req.secure,
      grantTokens: (parsed.data as { GrantTokens?: string[] }).GrantTokens ?? [],
    },
  };
  const output: Output = await operation.handle(deps.services, ctx, parsed.data);
  const keyId = output.KeyId ?? (output.KeyMetadata as { Arn?: string } | undefined)?.Arn;
  if (typeof keyId === 'string') log.keyId = keyId;
  return { status: 200, body: encodeOutput(output) };
}

function sourceIpOf(req: Request): string | undefined {
  const address = req.socket.remoteAddress;
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

function resolveOperation(target: string | string[] | undefined): Operation {
  const value = Array.isArray(target) ? target[0] : target;
  const op = value?.startsWith(TARGET_PREFIX)
    ? OPERATIONS.get(value.slice(TARGET_PREFIX.length))
    : value?.startsWith(ADMIN_TARGET_PREFIX)
      ? ADMIN_OPERATIONS.get(value.slice(ADMIN_TARGET_PREFIX.length))
      : undefined;
  if (!op) throw new UnknownOperationException(value ? `Unknown operation ${value}` : 'Missing X-Amz-Target header');
  return op;
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new SerializationException('Start of structure or map found where not expected, or the body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SerializationException('The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

function send(deps: HttpDeps, res: Response, status: number, body: string, error?: KmsError): void {
  res.status(status).type(JSON_CONTENT_TYPE).send(body);
  const log = res.locals.log as RequestLog;
  const latencyMs = Number(process.hrtime.bigint() - (res.locals.startedAt as bigint)) / 1e6;
  const line = {
    requestId: res.locals.requestId as string,
    op: log.op,
    keyId: log.keyId,
    principal: log.principal,
    status,
    outcome: error ? error.awsName : 'ok',
    latencyMs: Math.round(latencyMs * 1000) / 1000,
  };
  if (error && error.httpStatus >= 500) deps.logger.error({ ...line, message: error.message, detail: error.detail }, 'request failed');
  else deps.logger.info(line, 'request');
}

function fail(deps: HttpDeps, res: Response, e: unknown): void {
  const error = asKmsError(e);
  if (!(e instanceof KmsError)) deps.logger.error({ requestId: res.locals.requestId, err: e }, 'unexpected error');
  res.setHeader('x-amzn-ErrorType', error.awsName);
  send(deps, res, error.httpStatus, encodeError(error), error);
}
