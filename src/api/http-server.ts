import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { TlsDetails } from '../audit/event.js';
import { RequestEntityTooLargeException, SerializationException, UnknownOperationException, type KmsError } from '../domain/errors.js';
import type { CallAnswer, CallHandler, RawCall } from './call-handler.js';

export interface HttpDeps {
  readonly handler: CallHandler;
  /** Larger request bodies are refused with 413; AWS's largest KMS request (a 32 KiB policy) fits. */
  readonly maxBodyBytes?: number;
}

/**
 * The HTTP transport: express turns each request into a RawCall for the call
 * handler and writes its answer back. Every request except the health route is
 * an API call and gets its audit event there, those refused here too.
 */
export function buildHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(helmet({ contentSecurityPolicy: false }));

  app.get('/healthz', (_req, res) => {
    res.setHeader('x-amzn-RequestId', randomUUID());
    res.json({ status: 'ok' });
  });

  app.post('/', express.raw({ type: () => true, limit: deps.maxBodyBytes ?? 64 * 1024 }), (req, res) => {
    answer(deps, req, res, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
  });

  app.use((req: Request, res: Response) => {
    answer(deps, req, res, Buffer.alloc(0), new UnknownOperationException('Only POST / with an X-Amz-Target header is served.'));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: string }).type;
    const refusal = type === 'entity.too.large' ? new RequestEntityTooLargeException('Request entity too large.') : new SerializationException('The request body could not be read.');
    answer(deps, req, res, Buffer.alloc(0), refusal);
  });
  return app;
}

function answer(deps: HttpDeps, req: Request, res: Response, body: Buffer, bodyError?: KmsError): void {
  const call: RawCall = { method: req.method, url: req.originalUrl, headers: req.headers, body, bodyError, sourceIp: sourceIpOf(req), tls: tlsDetailsOf(req) };
  deps.handler.handle(call).then(
    (a: CallAnswer) => {
      res.status(a.status).set(a.headers).send(a.body);
    },
    () => {
      // The handler answers every failure itself (and logs it); this only keeps the socket from hanging.
      res.status(500).end();
    },
  );
}

function sourceIpOf(req: Request): string | undefined {
  const address = req.socket.remoteAddress;
  return address?.startsWith('::ffff:') ? address.slice(7) : address;
}

function tlsDetailsOf(req: Request): TlsDetails | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.encrypted || !socket.getProtocol || !socket.getCipher) return undefined;
  return { tlsVersion: socket.getProtocol() ?? 'unknown', cipherSuite: socket.getCipher().standardName, clientProvidedHostHeader: req.headers.host ?? '' };
}
