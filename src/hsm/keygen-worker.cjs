'use strict';
// The key-generation thread (see keygen-thread.ts): key pairs are generated here,
// synchronously, on a session of this thread's own, at the lowest priority, so
// that a generation that takes seconds (RSA-4096) never holds up the event loop
// and yields the cores to it. The module is the one the service already
// initialised: handles and the login are the process's.
const { parentPort, workerData } = require('node:worker_threads');
const pkcs11js = require('pkcs11js');
require('../threads/lowest-priority.cjs')();

const lib = new pkcs11js.PKCS11();
lib.load(workerData.modulePath);
try {
  lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
} catch (e) {
  if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw e;
}

// Structured cloning turns Buffers into Uint8Arrays; pkcs11js wants Buffers.
const asBuffer = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);
const template = (t) => t.map((a) => ({ type: a.type, value: asBuffer(a.value) }));
let session;

parentPort.on('message', ({ id, job: { mechanism, publicTemplate, privateTemplate } }) => {
  try {
    session ??= lib.C_OpenSession(asBuffer(workerData.slot), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    const pair = lib.C_GenerateKeyPair(session, mechanism, template(publicTemplate), template(privateTemplate));
    parentPort.postMessage({ id, result: { publicKey: pair.publicKey, privateKey: pair.privateKey } });
  } catch (e) {
    const lost = e instanceof pkcs11js.Pkcs11Error && (e.code === pkcs11js.CKR_SESSION_HANDLE_INVALID || e.code === pkcs11js.CKR_SESSION_CLOSED);
    if (lost) session = undefined; // a fresh one next time
    parentPort.postMessage({ id, error: { message: e.message, code: e.code, method: e.method, pkcs11: e instanceof pkcs11js.Pkcs11Error } });
  }
});
