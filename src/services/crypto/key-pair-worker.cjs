'use strict';
// The data-key-pair thread (see data-key-pairs.ts): RSA and ECC key pairs made
// with Node's crypto, one at a time, at the lowest priority, answered as DER.
const { parentPort } = require('node:worker_threads');
const { generateKeyPairSync } = require('node:crypto');
require('../../threads/lowest-priority.cjs')();

parentPort.on('message', ({ id, job: { type, options } }) => {
  try {
    const { privateKey, publicKey } = generateKeyPairSync(type, {
      ...options,
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      publicKeyEncoding: { type: 'spki', format: 'der' },
    });
    // Into buffers of their own, moved with the message; the private key's first copy is wiped.
    const own = (bytes) => {
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      bytes.fill(0);
      return copy;
    };
    const result = { privateKey: own(privateKey), publicKey: own(publicKey) };
    parentPort.postMessage({ id, result }, [result.privateKey.buffer, result.publicKey.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: { message: e.message } });
  }
});
