'use strict';
// The key-generation thread (see keygen-thread.ts): key pairs are generated here,
// synchronously, one at a time, at the lowest priority, so that a generation
// that takes seconds (RSA-4096) never holds up the event loop and yields the
// cores to it.
const { parentPort, workerData } = require('node:worker_threads');
const token = require('./thread-token.cjs')(workerData);

const template = (t) => t.map((a) => ({ type: a.type, value: token.asBuffer(a.value) }));

parentPort.on('message', ({ id, job: { mechanism, publicTemplate, privateTemplate } }) => {
  try {
    const pair = token.lib.C_GenerateKeyPair(token.session(), mechanism, template(publicTemplate), template(privateTemplate));
    parentPort.postMessage({ id, result: { publicKey: pair.publicKey, privateKey: pair.privateKey } });
  } catch (e) {
    parentPort.postMessage(token.failure(id, e));
  }
});
