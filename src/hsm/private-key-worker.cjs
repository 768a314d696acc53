'use strict';
// The private-key thread (see private-key-thread.ts): RSA signatures and
// decryptions with private keys in the token, one at a time, synchronously, at
// the lowest priority. The object handle comes from the main thread.
const { parentPort, workerData } = require('node:worker_threads');
const token = require('./thread-token.cjs')(workerData);

parentPort.on('message', ({ id, job: { operation, handle, mechanism, input } }) => {
  try {
    const { lib } = token;
    const data = token.asBuffer(input);
    // A buffer of its own (not node's shared pool), moved to the caller with the answer: no copy stays here.
    let result;
    if (operation === 'sign') {
      lib.C_SignInit(token.session(), mechanism, token.asBuffer(handle));
      result = lib.C_Sign(token.session(), data, Buffer.alloc(512));
    } else {
      lib.C_DecryptInit(token.session(), mechanism, token.asBuffer(handle));
      result = lib.C_Decrypt(token.session(), data, Buffer.alloc(data.length));
    }
    parentPort.postMessage({ id, result }, [result.buffer]);
  } catch (e) {
    parentPort.postMessage(token.failure(id, e));
  }
});
