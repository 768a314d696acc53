import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import helmet from 'helmet';
import type { TlsDetails } from '../audit/event.js';
import { RequestEntityTooLargeException, SerializationException, UnknownOperationException, type KmsError } from '../domain/errors.js';
import type { CallHandler } from './call-handler.js';

/** What the operator's routes tell: nothing but whether the process is ready, and its metrics. */
export interface OperatorRoutes {
  readonly ready: () => Promise<boolean>;
  readonly metrics: () => Promise<{ readonly contentType: string; readonly text: string }>;
}

export interface HttpDeps {
  readonly handler: CallHandler;
  readonly operator: OperatorRoutes;
  /** false: the operator's routes have a port of their own (KMS_OPERATOR_PORT) and are not served here. */
  readonly operatorHere: boolean;
  /** Larger request bodies are refused with 413; AWS's largest KMS request (a 32 KiB policy) fits. */
  readonly maxBodyBytes?: number;
}

/** The operator's routes: served by express with helmet, off the KMS hot path, unauthenticated and telling nothing else. */
const OPERATOR_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
const EMPTY = Buffer.alloc(0);

export function operatorApp(routes: OperatorRoutes): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(helmet({ contentSecurityPolicy: false }));
  app.use((_req, res, next) => {
    res.setHeader('x-amzn-RequestId', randomUUID());
    res.setHeader('cache-control', 'no-store');
    next();
  });
  // Alive: the process answers.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Ready: the database, the token and a canary in it (checked at most once a second); why not is in the operational log only.
  app.get('/readyz', (_req, res) => {
    routes.ready().then(
      (ready) => res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready' }),
      () => res.status(503).json({ status: 'unready' }),
    );
  });
  app.get('/metrics', (_req, res) => {
    routes.metrics().then(
      ({ contentType, text }) => res.type(contentType).send(text),
      () => res.status(503).type('text/plain').send('metrics unavailable\n'),
    );
  });
  return app;
}

/**
 * The HTTP transport on node:http: KMS calls go straight to the call handler (no
 * framework on the hot path), the operator's routes to express. Every request
 * that is not an operator route is an API call and gets its audit event, those
 * refused here (wrong method or path, body too large or unreadable) too.
 */
export function httpRequestListener(deps: HttpDeps): RequestListener {
  const operator = operatorApp(deps.operator);
  const limit = deps.maxBodyBytes ?? 64 * 1024;
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (deps.operatorHere && req.method === 'GET' && OPERATOR_PATHS.has(path)) {
      operator(req, res);
      return;
    }
    serveCall(deps.handler, req, res, url, path === '/' && req.method === 'POST' ? limit : undefined).catch(() => {
      // The handler answers (and logs) every failure itself; this only keeps the socket from hanging.
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

/** `limit` undefined: the request is not a KMS call (wrong method or path), refused without reading its body. */
async function serveCall(handler: CallHandler, req: IncomingMessage, res: ServerResponse, url: string, limit: number | undefined): Promise<void> {
  let read: { body: Buffer; error?: KmsError };
  if (limit === undefined) {
    req.resume();
    read = { body: EMPTY, error: new UnknownOperationException('Only POST / with an X-Amz-Target header is served.') };
  } else read = await readBody(req, limit);
  const answer = await handler.handle({
    method: req.method ?? 'GET',
    url,
    headers: req.headers,
    body: read.body,
    bodyError: read.error,
    sourceIp: sourceIpOf(req),
    tls: tlsDetailsOf(req),
  });
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
  res.end(answer.body);
}

/** The body, up to the limit; past it the rest is read and dropped (within reason) so the answer reaches the caller. */
function readBody(req: IncomingMessage, limit: number): Promise<{ body: Buffer; error?: KmsError }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length']) > limit;
    let settled = false;
    const settle = (result: { body: Buffer; error?: KmsError }) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > 16 * limit) req.destroy();
    });
    req.on('end', () => {
      if (tooLarge) settle({ body: EMPTY, error: new RequestEntityTooLargeException('Request entity too large.') });
      else settle({ body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    });
    // 'close' follows every request, read or not: an error is made only when the body was not read whole.
    const broken = () => {
      if (!settled) settle({ body: EMPTY, error: tooLarge ? new RequestEntityTooLargeException('Request entity too large.') : new SerializationException('The request body could not be read.') });
    };
    req.on('error', broken);
    req.on('close', broken);
  });
}

function sourceIpOf(req: IncomingMessage): string | undefined {
  const address = req.socket.remoteAddress;
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

function tlsDetailsOf(req: IncomingMessage): TlsDetails | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.encrypted || !socket.getProtocol || !socket.getCipher) return undefined;
  return { tlsVersion: socket.getProtocol() ?? 'unknown', cipherSuite: socket.getCipher().standardName, clientProvidedHostHeader: req.headers.host ?? '' };
}
