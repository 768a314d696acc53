/**
 * A bare server for the benchmark's comparison: it reads the request body and
 * answers the JSON an Encrypt answers, and nothing else. `node` is node:http
 * alone; `express` is express 5 with express.raw, as a framework-based endpoint
 * would be. Prints its port on stdout.
 *
 *   node --import tsx scripts/bare-server.ts node|express
 */
import http from 'node:http';
import express from 'express';

const ANSWER = JSON.stringify({
  CiphertextBlob: Buffer.alloc(101, 7).toString('base64'),
  KeyId: 'arn:aws:kms:us-east-1:111122223333:key/295159d1-deb9-4add-81fe-e44c2fc0929d',
  EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
});
const HEADERS = { 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(ANSWER)) };

const mode = process.argv[2];
let server: http.Server;
if (mode === 'express') {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.post('/', express.raw({ type: () => true, limit: 64 * 1024 }), (_req, res) => {
    res.status(200).set(HEADERS).send(ANSWER);
  });
  server = http.createServer(app);
} else if (mode === 'node') {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, HEADERS);
      res.end(ANSWER);
    });
  });
} else {
  process.stderr.write('usage: bare-server.ts node|express\n');
  process.exit(2);
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
