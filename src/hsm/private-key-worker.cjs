'use strict';
// The private-key thread (see private-key-thread.ts): RSA signatures and
// decryptions with private keys in the token, one at a time, synchronously on a
// session of this thread's own, at the lowest priority. The object handle comes
// from the main thread: handles and the login belong to the process.
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
let session;

parentPort.on('message', ({ id, job: { operation, handle, mechanism, input } }) => {
  try {
    session ??= lib.C_OpenSession(asBuffer(workerData.slot), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    const data = asBuffer(input);
    let result;
    if (operation === 'sign') {
      lib.C_SignInit(session, mechanism, asBuffer(handle));
      result = lib.C_Sign(session, data, Buffer.allocUnsafe(512));
    } else {
      lib.C_DecryptInit(session, mechanism, asBuffer(handle));
      result = lib.C_Decrypt(session, data, Buffer.allocUnsafe(data.length));
    }
    parentPort.postMessage({ id, result });
    if (operation === 'decrypt') result.fill(0); // the copy sent is the caller's; this one is wiped
  } catch (e) {
    const lost = e instanceof pkcs11js.Pkcs11Error && (e.code === pkcs11js.CKR_SESSION_HANDLE_INVALID || e.code === pkcs11js.CKR_SESSION_CLOSED);
    if (lost) session = undefined; // a fresh one next time
    parentPort.postMessage({ id, error: { message: e.message, code: e.code, method: e.method, pkcs11: e instanceof pkcs11js.Pkcs11Error } });
  }
});
